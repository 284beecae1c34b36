// The records quota's counts, without actors.
#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "actors/record_quota.hpp"

namespace stockgrid::actors {

TEST_CASE("record quota: a tenant takes slots up to its limit, then gets the limit back", "[quota]") {
  record_quota q;
  CHECK(q.take("acme", 2) == 0);
  CHECK(q.take("acme", 2) == 0);
  CHECK(q.take("acme", 2) == 2);  // refused: nothing counted
  CHECK(q.count("acme") == 2);
  CHECK(q.take("other", 2) == 0);  // another tenant has its own count
  q.give_back("acme");
  CHECK(q.count("acme") == 1);
  CHECK(q.take("acme", 2) == 0);
}

TEST_CASE("record quota: a tenant's own limit replaces the node's; 0 goes back to it", "[quota]") {
  record_quota q;
  q.set_limit("acme", 1);
  CHECK(q.take("acme", 100) == 0);
  CHECK(q.take("acme", 100) == 1);
  q.set_limit("acme", 0);
  CHECK(q.take("acme", 100) == 0);
}

TEST_CASE("record quota: recovered records count, even beyond the limit", "[quota]") {
  record_quota q;
  q.add_existing("acme", 3);
  q.add_existing("acme", 2);  // a second partition
  CHECK(q.count("acme") == 5);
  CHECK(q.take("acme", 4) == 4);
  CHECK(q.count("acme") == 5);
  q.forget("acme");
  CHECK(q.count("acme") == 0);
  CHECK(q.take("acme", 4) == 0);
}

TEST_CASE("record quota: threads racing for the last slots never pass the limit", "[quota]") {
  record_quota q;
  constexpr int threads = 4;
  constexpr int tries = 1000;
  std::atomic<int> taken{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = 0; i < tries; ++i)
        if (q.take("acme", 100) == 0) taken.fetch_add(1);
    });
  for (auto& t : pool) t.join();
  CHECK(taken.load() == 100);
  CHECK(q.count("acme") == 100);
}

}  // namespace stockgrid::actors
