// Orders and transfers under SIGKILL: a worker process runs the order crash
// workload (order_crash_ops.hpp) and is killed at random points, four times.
// After each kill the grid is reopened in this process, which resumes every
// open order and transfer, and:
//   - every answered call, retried with its idempotency key, gets the answer
//     the worker saw (the one true outcome), and unanswered ones settle;
//   - no order is left half done: each is held, committed, released or
//     failed, and each record's `reserved` is exactly what held orders hold
//     there (all_or_nothing: a failed order holds nothing anywhere);
//   - stock is conserved: on_hand + incoming over all records, plus what
//     committed orders sold, equals what was stocked.
#include <map>
#include <random>
#include <sstream>

#include "persistence/check.hpp"
#include "tests/support/grid_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/system/order_crash_ops.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;

namespace {

struct seen_line {
  std::string kind, code, id, status;
};

// Runs the worker from step `first`, kills it after `kill_after` lines, and
// returns every line it printed, by (kind, step).
std::map<std::pair<std::string, long>, seen_line> run_and_kill(const std::string& dir, long first,
                                                               int kill_after) {
  child_process worker({built_program("tests/system/order_crash_worker"), dir, std::to_string(first)});
  std::map<std::pair<std::string, long>, seen_line> seen;
  int lines = 0;
  auto take = [&](const std::string& line) {
    std::istringstream in(line);
    seen_line s;
    long i = -1;
    in >> s.kind >> i >> s.code;
    if (i < 0) return;
    if (s.kind == "ORDER" || s.kind == "TRANSFER") in >> s.id;
    in >> s.status;
    seen[{s.kind, i}] = s;
  };
  while (lines < kill_after) {
    auto line = worker.read_line();
    REQUIRE(line);  // the worker must not die on its own
    take(*line);
    ++lines;
  }
  worker.kill(SIGKILL);
  REQUIRE(worker.wait_exit(std::chrono::seconds(10)) == 128 + SIGKILL);
  while (auto line = worker.read_line()) take(*line);
  return seen;
}

orders::order_request get_order(const std::string& id) {
  orders::order_request r;
  r.kind = orders::order_op::get;
  r.who = order_crash_caller();
  r.order = id;
  return r;
}

bool settled(orders::order_status s) {
  return s == orders::order_status::held || orders::is_final(s);
}

}  // namespace

TEST_CASE("orders and transfers survive SIGKILL at any point with one outcome each",
          "[crash][orders][system]") {
  temp_dir dir;
  std::mt19937 rng(std::random_device{}());
  const auto seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);
  std::map<std::pair<std::string, long>, seen_line> answered;
  long next = 0;
  for (int round = 0; round < 4; ++round) {
    const int kill_after = std::uniform_int_distribution<int>(20, 300)(rng);
    INFO("round " << round << ", kill after " << kill_after << " lines");
    auto seen = run_and_kill(dir.path(), next, kill_after);
    long last = next;
    for (const auto& [key, line] : seen) last = std::max(last, key.second);
    answered.insert(seen.begin(), seen.end());
    const long end = last + 17;  // past every step that was in flight (window 16)
    next = end;

    for (std::uint32_t p = 0; p < 4; ++p) {
      persistence::check_report report;
      auto st = persistence::check_partition(partition_path(dir.path(), p), &report);
      INFO(st.to_string());
      CHECK(st.is_ok());
    }
    auto s = test_settings(dir.path());
    auto g = open_grid(s);

    // Every step so far, retried with its key: answered ones replay what the
    // worker saw; the others settle now (or are applied for the first time).
    std::map<std::string, long> orders_by_id;
    std::vector<std::string> transfers;
    for (long i = 0; i < end; ++i) {
      if (is_transfer_step(i)) {
        auto t = call_transfer(*g, order_crash_transfer(i));
        INFO("transfer step " << i << ": " << t.message);
        REQUIRE((t.code == outcome::ok || t.code == outcome::insufficient_stock));
        if (auto it = answered.find({"TRANSFER", i}); it != answered.end()) {
          CHECK(it->second.code == std::string(to_code(t.code)));
          if (t.code == outcome::ok) CHECK(it->second.id == t.doc.id);
        }
        if (t.code == outcome::ok) transfers.push_back(t.doc.id);
        continue;
      }
      auto o = call_order(*g, order_crash_reserve(i));
      INFO("order step " << i << ": " << o.message);
      REQUIRE((o.code == outcome::ok || o.code == outcome::insufficient_stock));
      if (auto it = answered.find({"ORDER", i}); it != answered.end()) {
        CHECK(it->second.code == std::string(to_code(o.code)));
        if (o.code == outcome::ok) CHECK(it->second.id == o.doc.id);
        CHECK(o.replayed);
      }
      if (o.code == outcome::ok) orders_by_id[o.doc.id] = i;
    }
    // Answered follow-ups stuck.
    for (const auto& [id, i] : orders_by_id) {
      auto it = answered.find({"FOLLOW", i});
      if (it == answered.end() || it->second.code != "OK") continue;
      auto o = call_order(*g, get_order(id));
      CHECK(std::string(orders::wire_status(o.doc.status)) == it->second.status);
    }

    // Nothing half done; reserved is exactly what held orders hold.
    std::vector<orders::order> settled_orders;
    for (const auto& [id, i] : orders_by_id) {
      orders::order_reply o;
      REQUIRE(eventually([&] {
        o = call_order(*g, get_order(id));
        return o.code == outcome::ok && settled(o.doc.status);
      }));
      settled_orders.push_back(o.doc);
    }
    check_records_match(*g, settled_orders);
    for (const auto& id : transfers) {
      orders::transfer_request r;
      r.kind = orders::transfer_op::get;
      r.who = order_crash_caller();
      r.transfer = id;
      auto t = call_transfer(*g, r);
      CHECK(t.doc.status != orders::transfer_status::creating);
    }
  }
}
