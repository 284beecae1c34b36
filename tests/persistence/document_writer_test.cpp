// The document writer against a real SQLite file (and the twin where only
// the queueing matters).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "persistence/document_writer.hpp"
#include "persistence/testing/powercut_vfs.hpp"
#include "tests/persistence/test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::persistence;
using namespace stockgrid::persistence::testing;

namespace {

document doc(std::string id, std::string body, bool open = true, std::string idem = "") {
  document d;
  d.kind = document_kind::order;
  d.tenant = "acme";
  d.id = std::move(id);
  d.idem = std::move(idem);
  d.open = open;
  d.body = std::move(body);
  return d;
}

std::unique_ptr<document_store> open_sqlite(const std::string& path) {
  status st;
  auto store = open_sqlite_document_store(path, "", &st);
  INFO(st.to_string());
  REQUIRE(st);
  return store;
}

// Holds the writer thread inside a callback until released.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool released = false;

  void block() {
    std::unique_lock lk(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lk, [&] { return released; });
  }
  void wait_entered() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return entered; });
  }
  void release() {
    std::lock_guard lk(mu);
    released = true;
    cv.notify_all();
  }
};

// A store that records the size of every put() transaction.
class counting_store final : public document_store {
 public:
  explicit counting_store(std::vector<std::size_t>* sizes) : inner_(make_memory_document_store()), sizes_(sizes) {}
  status put(const std::vector<document>& docs, bool sync) override {
    sizes_->push_back(docs.size());
    return inner_->put(docs, sync);
  }
  status sync() override { return inner_->sync(); }
  status get(document_kind k, std::string_view t, std::string_view id, std::optional<document>* out) override {
    return inner_->get(k, t, id, out);
  }
  status find_idem(document_kind k, std::string_view t, std::string_view idem,
                   std::optional<document>* out) override {
    return inner_->find_idem(k, t, idem, out);
  }
  status list_open(std::vector<document>* out) override { return inner_->list_open(out); }
  status lease_ids(std::uint64_t count, std::uint64_t* first) override { return inner_->lease_ids(count, first); }
  status prune(epoch_ms before, std::uint64_t* removed) override { return inner_->prune(before, removed); }
  status delete_tenant(std::string_view tenant, std::uint64_t* removed) override {
    return inner_->delete_tenant(tenant, removed);
  }
  const std::string& name() const override { return inner_->name(); }

 private:
  std::unique_ptr<document_store> inner_;
  std::vector<std::size_t>* sizes_;  // written on the writer thread; read after stop()
};

}  // namespace

TEST_CASE("queued puts are committed together, at most batch_max per transaction",
          "[document_writer]") {
  std::vector<std::size_t> sizes;
  document_writer_options o;
  o.batch_max = 4;
  document_writer writer(std::make_unique<counting_store>(&sizes), o);
  gate g;
  REQUIRE(writer.put(doc("blocker", "b"), [&](const status&) { g.block(); }));
  g.wait_entered();
  for (int i = 0; i < 9; ++i) REQUIRE(writer.put(doc("O" + std::to_string(i), "b"), {}));
  REQUIRE(writer.put(doc("O1", "later wins"), {}));  // same key as an earlier put of the batch
  std::optional<document> seen;
  REQUIRE(writer.get(document_kind::order, "acme", "O1", [&](const status&, std::optional<document> d) { seen = d; }));
  g.release();
  writer.stop();
  const std::vector<std::size_t> expected = {1, 4, 4, 2};
  CHECK(sizes == expected);
  REQUIRE(seen);
  CHECK(seen->body == "later wins");
}

TEST_CASE("puts from four threads all complete and are on disk after reopening", "[document_writer]") {
  const bool sync = GENERATE(true, false);
  INFO("sync " << sync);
  temp_dir dir;
  const auto path = dir.file("documents.db");
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  std::atomic<int> ok{0}, failed{0};
  {
    document_writer_options o;
    o.sync = sync;
    o.batch_max = 64;
    document_writer writer(open_sqlite(path), o);
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
      producers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const auto id = format_document_id('O', static_cast<std::uint64_t>(t * per_thread + i));
          while (!writer.put(doc(id, "body of " + id), [&](const status& s) { (s ? ok : failed).fetch_add(1); }))
            std::this_thread::yield();  // queue full: try again
        }
      });
    }
    for (auto& p : producers) p.join();
    writer.stop();
    CHECK(ok == threads * per_thread);
    CHECK(failed == 0);
  }
  auto store = open_sqlite(path);
  std::vector<document> open;
  REQUIRE(store->list_open(&open));
  CHECK(open.size() == threads * per_thread);
  std::optional<document> got;
  REQUIRE(store->get(document_kind::order, "acme", format_document_id('O', 1234), &got));
  REQUIRE(got);
  CHECK(got->body == "body of O4d2");
  CHECK(got->updated_ms > 0);  // stamped by the writer
}

TEST_CASE("reads see every earlier put, in queue order", "[document_writer]") {
  temp_dir dir;
  document_writer writer(open_sqlite(dir.file("documents.db")), {});
  std::mutex mu;
  std::vector<std::string> events;
  auto note = [&](std::string e) {
    std::lock_guard lk(mu);
    events.push_back(std::move(e));
  };
  auto read = [&](const char* tag) {
    return [&, tag](const status& st, std::optional<document> d) {
      note(std::string(tag) + (st ? "" : " error") + ":" + (d ? d->body : "none"));
    };
  };
  REQUIRE(writer.get(document_kind::order, "acme", "O1", read("get")));
  REQUIRE(writer.put(doc("O1", "v1", true, "req-1"), [&](const status& st) { note(st ? "put v1" : "put v1 error"); }));
  REQUIRE(writer.get(document_kind::order, "acme", "O1", read("get")));
  REQUIRE(writer.put(doc("O1", "v2", false, "req-1"), [&](const status& st) { note(st ? "put v2" : "put v2 error"); }));
  REQUIRE(writer.find_idem(document_kind::order, "acme", "req-1", read("idem")));
  REQUIRE(writer.put(doc("O1", "v3"), {}));  // no callback wanted
  REQUIRE(writer.get(document_kind::order, "acme", "O1", read("get")));
  writer.stop();
  const std::vector<std::string> expected = {"get:none", "put v1", "get:v1", "put v2", "idem:v2", "get:v3"};
  CHECK(events == expected);
}

TEST_CASE("a document breaking a limit fails alone, not its batch", "[document_writer]") {
  document_writer writer(make_memory_document_store(), {});
  std::vector<status> results(3);
  REQUIRE(writer.put(doc("O1", "a"), [&](const status& st) { results[0] = st; }));
  REQUIRE(writer.put(doc("O2", std::string(document_body_bytes_max + 1, 'x')),
                     [&](const status& st) { results[1] = st; }));
  REQUIRE(writer.put(doc("O3", "c"), [&](const status& st) { results[2] = st; }));
  writer.stop();
  CHECK(results[0]);
  CHECK(results[1].kind() == status::code::invalid);
  CHECK(results[2]);
  std::vector<document> open;
  REQUIRE(writer.list_open(&open));
  CHECK(open.size() == 2);
}

TEST_CASE("a full queue refuses jobs without calling them back", "[document_writer]") {
  document_writer_options o;
  o.queue_max = 8;
  o.batch_max = 4;
  document_writer writer(make_memory_document_store(), o);
  gate g;
  REQUIRE(writer.put(doc("blocker", "b"), [&](const status&) { g.block(); }));
  g.wait_entered();  // the writer thread holds the blocker's callback
  std::atomic<int> called{0};
  for (int i = 0; i < 8; ++i)
    CHECK(writer.put(doc("O" + std::to_string(i), "b"), [&](const status&) { called.fetch_add(1); }));
  CHECK(writer.queued() == 8);
  CHECK(!writer.put(doc("late", "b"), [&](const status&) { called.fetch_add(100); }));
  CHECK(!writer.get(document_kind::order, "acme", "late",
                    [&](const status&, std::optional<document>) { called.fetch_add(100); }));
  g.release();
  writer.stop();
  CHECK(called == 8);
  CHECK(writer.queued() == 0);
}

TEST_CASE("stop() finishes queued work and later calls are refused", "[document_writer]") {
  temp_dir dir;
  const auto path = dir.file("documents.db");
  document_writer_options o;
  o.sync = false;
  o.fsync_interval_ms = 60'000;  // only stop() syncs
  std::atomic<int> done{0};
  {
    document_writer writer(open_sqlite(path), o);
    gate g;
    REQUIRE(writer.put(doc("blocker", "b"), [&](const status&) { g.block(); }));
    g.wait_entered();
    for (int i = 0; i < 1000; ++i)
      REQUIRE(writer.put(doc(format_document_id('O', static_cast<std::uint64_t>(i)), "b"),
                         [&](const status& st) { done.fetch_add(st ? 1 : 1000); }));
    std::thread stopper([&] { writer.stop(); });
    // stop() waits for the blocked callback, then drains everything queued.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    g.release();
    stopper.join();
    CHECK(done == 1000);
    CHECK(!writer.put(doc("after", "b"), [&](const status&) { done.fetch_add(1); }));
    writer.stop();  // idempotent
    std::uint64_t first = 0;
    CHECK(writer.lease_ids(1, &first));  // the store stays usable for blocking helpers
  }
  CHECK(done == 1000);
  CHECK(raw_int(path, "SELECT count(*) FROM documents") == 1001);
}

TEST_CASE("leases from other threads interleave with puts", "[document_writer]") {
  temp_dir dir;
  document_writer writer(open_sqlite(dir.file("documents.db")), {});
  std::atomic<bool> stop_puts{false};
  std::thread producer([&] {
    for (int i = 0; !stop_puts; ++i)
      writer.put(doc(format_document_id('O', static_cast<std::uint64_t>(i)), "b"), {});
  });
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    std::uint64_t first = 0;
    REQUIRE(writer.lease_ids(16, &first));
    CHECK(first >= last + 16 * (i > 0));
    last = first;
  }
  stop_puts = true;
  producer.join();
}

TEST_CASE("final documents past the retention window are pruned in the background",
          "[document_writer]") {
  document_writer_options o;
  o.retention_ms = 60'000;
  o.prune_interval_ms = 10;
  document_writer writer(make_memory_document_store(), o);
  auto old_final = doc("O1", "old", false);
  old_final.updated_ms = 1;  // long ago
  auto old_open = doc("O2", "still going", true);
  old_open.updated_ms = 1;
  REQUIRE(writer.put(old_final, {}));
  REQUIRE(writer.put(old_open, {}));
  REQUIRE(writer.put(doc("O3", "new", false), {}));  // stamped now

  auto exists = [&](const std::string& id) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<bool> found;
    REQUIRE(writer.get(document_kind::order, "acme", id, [&](const status& st, std::optional<document> d) {
      std::lock_guard lk(mu);
      found = st && d.has_value();
      cv.notify_all();
    }));
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return found.has_value(); });
    return *found;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (exists("O1") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(!exists("O1"));
  CHECK(exists("O2"));
  CHECK(exists("O3"));
}

TEST_CASE("after a full disk refused a put, puts fail until a probe write succeeds, then work again",
          "[document_writer][disk]") {
  powercut::install();
  temp_dir dir;
  const auto path = dir.file("documents.db");
  document_writer_options o;
  o.probe_interval_ms = 20;
  {
    status st;
    document_writer writer(open_sqlite_document_store(path, powercut::vfs_name, &st), o);
    REQUIRE(st);
    auto put = [&](const std::string& id) {
      auto done = std::make_shared<std::promise<status>>();
      auto f = done->get_future();
      REQUIRE(writer.put(doc(id, "body"), [done](const status& s) { done->set_value(s); }));
      REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
      return f.get();
    };
    REQUIRE(put("before"));
    {
      powercut::full_disk disk;
      CHECK_FALSE(put("refused"));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // probes fail meanwhile
      CHECK_FALSE(put("still refused"));
    }
    bool healed = false;
    for (int i = 0; i < 500 && !healed; ++i) {
      healed = put("after").is_ok();
      if (!healed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(healed);
    writer.stop();
  }
  auto store = open_sqlite(path);
  for (const auto& [id, stored] : {std::pair{"before", true}, {"refused", false}, {"still refused", false},
                                   {"after", true}}) {
    std::optional<document> found;
    REQUIRE(store->get(document_kind::order, "acme", id, &found));
    INFO(id);
    CHECK(found.has_value() == stored);
  }
}
