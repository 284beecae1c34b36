// The journal writer against a real SQLite file.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "persistence/journal_writer.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence/testing/powercut_vfs.hpp"
#include "tests/persistence/test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::persistence;
using namespace stockgrid::persistence::testing;

namespace {

std::vector<std::unique_ptr<partition_store>> one_store(const std::string& path) {
  status st;
  std::vector<std::unique_ptr<partition_store>> stores;
  stores.push_back(open_sqlite_store({path, {}}, &st));
  REQUIRE(st);
  return stores;
}

}  // namespace

TEST_CASE("a run longer than the seq lease raises the lease instead of failing",
          "[persistence][journal_writer]") {
  temp_dir dir;
  const auto path = dir.file("p-0000.db");
  journal_writer_options o;
  o.threads = 1;
  o.seq_lease_step = 16;  // a real node leases 2^20 at a time
  std::atomic<int> ok{0}, failed{0};
  {
    status st;
    journal_writer writer(one_store(path), o, &st, nullptr);
    REQUIRE(st);
    journal_sim sim;
    for (int i = 0; i < 100; ++i) {
      REQUIRE(sim.adjust(key_of("sku"), 1));
      auto e = std::move(sim.batch.back());
      sim.batch.clear();
      REQUIRE(writer.append(0, std::move(e), [&](const status& s, const journal_entry*) {
        (s ? ok : failed).fetch_add(1);
      }) == static_cast<std::uint64_t>(i + 1));
    }
    writer.stop();
  }
  CHECK(ok == 100);
  CHECK(failed == 0);

  auto stores = one_store(path);
  recovery_report rep;
  REQUIRE(stores[0]->recover(&rep));
  CHECK(rep.last_seq == 100);
  CHECK(stores[0]->seq_lease() > 100);
}

// ---- disk trouble: degraded partitions and probes ------------------------------

namespace {

using namespace std::chrono_literals;

// What a completion reported, waited for with a bound.
struct outcome_box {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<status> st;
  std::optional<journal_entry> entry;

  journal_writer::completion done() {
    return [this](const status& s, const journal_entry* e) {
      std::lock_guard lk(mu);
      st = s;
      if (e) entry = *e;
      cv.notify_all();
    };
  }
  status wait() {
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, 10s, [&] { return st.has_value(); }));
    return *st;
  }
};

// One adjust of +1 on its own record (so every record's version chain stays
// whole whichever appends fail), with an idempotency key.
journal_entry one_adjust(journal_sim& sim, const std::string& sku) {
  REQUIRE(sim.adjust(key_of(sku), 1, "idem-" + sku));
  auto e = std::move(sim.batch.back());
  sim.batch.clear();
  return e;
}

// Polls `cond` every 10 ms for at most `limit`.
template <class Cond>
bool eventually(Cond cond, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Health reports of the writer, in order (true = healthy again).
struct health_log {
  std::mutex mu;
  std::vector<std::pair<std::uint32_t, status>> events;
  void operator()(std::uint32_t p, const status& st) {
    std::lock_guard lk(mu);
    events.emplace_back(p, st);
  }
  std::vector<std::pair<std::uint32_t, status>> seen() {
    std::lock_guard lk(mu);
    return events;
  }
};

// A writer of one partition, its store at `path` through the power-cut VFS.
std::unique_ptr<journal_writer> open_vfs_writer(const std::string& path, const journal_writer_options& o) {
  status st;
  std::vector<std::unique_ptr<partition_store>> stores;
  stores.push_back(open_sqlite_store({path, powercut::vfs_name}, &st));
  REQUIRE(st);
  auto writer = std::make_unique<journal_writer>(std::move(stores), o, &st, nullptr);
  REQUIRE(st);
  return writer;
}

// Appends adjusts of sku-0..n-1 to partition 0, each acknowledged before the next.
void append_acknowledged(journal_writer& writer, journal_sim& sim, int n) {
  for (int i = 0; i < n; ++i) {
    outcome_box box;
    REQUIRE(writer.append(0, one_adjust(sim, "sku-" + std::to_string(i)), box.done()) != 0);
    REQUIRE(box.wait());
  }
}

// Reopens the store at `path`: it recovers up to `last_seq`, and record
// sku-i (0 <= i <= last_sku) is there exactly when `present(i)`.
void check_file(const std::string& path, std::uint64_t last_seq, int last_sku,
                const std::function<bool(int)>& present) {
  auto stores = one_store(path);
  recovery_report rep;
  REQUIRE(stores[0]->recover(&rep));
  CHECK(rep.last_seq == last_seq);
  for (int i = 0; i <= last_sku; ++i) {
    record_image image;
    bool found = false;
    REQUIRE(stores[0]->load_record(key_of("sku-" + std::to_string(i)), &image, &found));
    INFO("sku-" << i);
    CHECK(found == present(i));
  }
}

}  // namespace

TEST_CASE("a disk that refuses writes degrades the partition until a probe write succeeds; "
          "nothing acknowledged is lost and seqs keep increasing",
          "[persistence][journal_writer][disk]") {
  powercut::install();
  powercut::fail_writes(false);
  temp_dir dir;
  const auto path = dir.file("p-0000.db");
  auto log = std::make_shared<health_log>();
  journal_writer_options o;
  o.threads = 1;
  o.disk_retry_interval_ms = 50;
  o.on_health = [log](std::uint32_t p, const status& st) { (*log)(p, st); };
  journal_sim sim;
  std::uint64_t failed_seq = 0, after_seq = 0;
  {
    auto writer_ptr = open_vfs_writer(path, o);
    auto& writer = *writer_ptr;
    append_acknowledged(writer, sim, 10);  // sku-0..9

    // The disk fills: the change in flight is refused with `unavailable`.
    std::optional<powercut::full_disk> disk;
    disk.emplace();
    const auto refused_before = powercut::refused_writes();
    outcome_box failed;
    failed_seq = writer.append(0, one_adjust(sim, "sku-10"), failed.done());
    REQUIRE(failed_seq == 11);
    const status failure = failed.wait();
    CHECK(failure.kind() == status::code::unavailable);
    CHECK(powercut::refused_writes() > refused_before);
    CHECK(writer.degraded_partitions() == 1);
    CHECK(writer.failures() == 1);
    REQUIRE(log->seen().size() == 1);
    CHECK_FALSE(log->seen()[0].second);

    // Degraded: appends and barriers are refused at once...
    CHECK(writer.append(0, one_adjust(sim, "sku-x"), {}) == 0);
    outcome_box barrier;
    writer.barrier(0, barrier.done());
    CHECK(barrier.wait().kind() == status::code::unavailable);
    // ...the failed change's idempotency key is not remembered (it never
    // reached the disk), and reads see exactly the disk.
    std::promise<std::optional<journal_entry>> looked_up;
    writer.lookup_idempotent(0, key_of("sku-10"), 0, "idem-sku-10",
                             [&](const status& s, std::optional<journal_entry> found) {
                               CHECK(s);
                               looked_up.set_value(std::move(found));
                             });
    auto lookup = looked_up.get_future();
    REQUIRE(lookup.wait_for(10s) == std::future_status::ready);
    CHECK_FALSE(lookup.get().has_value());
    std::promise<std::pair<bool, bool>> loaded;
    writer.run(0, [&](partition_store& store) {
      record_image image;
      bool old_found = false, failed_found = false;
      CHECK(store.load_record(key_of("sku-3"), &image, &old_found));
      CHECK(image.on_hand == 1);
      CHECK(store.load_record(key_of("sku-10"), &image, &failed_found));
      loaded.set_value({old_found, failed_found});
    });
    auto reads = loaded.get_future();
    REQUIRE(reads.wait_for(10s) == std::future_status::ready);
    CHECK(reads.get() == std::pair{true, false});

    // Probes keep failing while the disk is full.
    std::this_thread::sleep_for(300ms);
    CHECK(writer.degraded_partitions() == 1);
    CHECK(log->seen().size() == 1);

    // Space returns: a probe succeeds, writes work, seqs never go back.
    disk.reset();
    REQUIRE(eventually([&] { return writer.degraded_partitions() == 0; }));
    REQUIRE(log->seen().size() == 2);
    CHECK(log->seen()[1].second);
    outcome_box after;
    after_seq = writer.append(0, one_adjust(sim, "sku-11"), after.done());
    CHECK(after_seq > failed_seq);  // the failed change's seq is never handed out again
    CHECK(after.wait());
    CHECK(writer.failures() == 1);
    writer.stop();
  }

  // The file reopens and recovers with every acknowledged change, and only those.
  check_file(path, after_seq, 11, [](int i) { return i != 10; });
}

TEST_CASE("a disk whose fsync fails (EIO) stops the partition's writes until a restart; the change in flight "
          "is not acknowledged, and after the restart it is on disk exactly when its idempotency key finds it",
          "[persistence][journal_writer][disk]") {
  powercut::install();
  powercut::fail_writes(false);
  powercut::fail_syncs(false);
  temp_dir dir;
  const auto path = dir.file("p-0000.db");
  journal_writer_options o;
  o.threads = 1;
  o.sync = true;
  o.disk_retry_interval_ms = 50;
  journal_sim sim;
  std::uint64_t failed_seq = 0, after_seq = 0;
  {
    auto writer_ptr = open_vfs_writer(path, o);
    auto& writer = *writer_ptr;
    append_acknowledged(writer, sim, 5);  // sku-0..4

    // fsync fails: the change in flight is answered `unavailable`, never ok.
    powercut::fail_syncs(true);
    const auto failed_before = powercut::failed_syncs();
    outcome_box failed;
    failed_seq = writer.append(0, one_adjust(sim, "sku-5"), failed.done());
    REQUIRE(failed_seq == 6);
    CHECK(failed.wait().kind() == status::code::unavailable);
    CHECK(powercut::failed_syncs() > failed_before);
    CHECK(writer.degraded_partitions() == 1);

    // Syncs work again, but no probe heals a failed fsync: what it was to
    // make durable may be lost from the page cache, so only a restart, which
    // recovers from the disk, makes the store trustworthy again.
    powercut::fail_syncs(false);
    std::this_thread::sleep_for(300ms);
    CHECK(writer.degraded_partitions() == 1);
    CHECK(writer.append(0, one_adjust(sim, "sku-x"), {}) == 0);
    writer.stop();
  }

  // The restart: writes work, seqs go on, and the failed change's unknown
  // outcome is settled by what is on disk; a resend with its idempotency key
  // finds exactly that (a replay, never a second change).
  bool failed_on_disk = false;
  {
    auto writer_ptr = open_vfs_writer(path, o);
    auto& writer = *writer_ptr;
    std::promise<bool> looked_up;
    writer.lookup_idempotent(0, key_of("sku-5"), 0, "idem-sku-5",
                             [&](const status& s, std::optional<journal_entry> found) {
                               CHECK(s);
                               looked_up.set_value(found.has_value());
                             });
    auto lookup = looked_up.get_future();
    REQUIRE(lookup.wait_for(10s) == std::future_status::ready);
    failed_on_disk = lookup.get();
    outcome_box after;
    after_seq = writer.append(0, one_adjust(sim, "sku-6"), after.done());
    CHECK(after_seq > failed_seq);
    CHECK(after.wait());
    writer.stop();
  }
  check_file(path, after_seq, 6, [&](int i) { return i != 5 || failed_on_disk; });
}

TEST_CASE("appends queued behind a failed batch fail with it; the next probe heals the partition",
          "[persistence][journal_writer][disk]") {
  auto store = std::make_unique<memory_store>();
  auto* raw = store.get();
  journal_writer_options o;
  o.threads = 1;
  o.commit_delay_us = 20'000;  // appends pile up behind the first commit
  o.disk_retry_interval_ms = 20;
  std::vector<std::unique_ptr<partition_store>> stores;
  stores.push_back(std::move(store));
  status st;
  journal_writer writer(std::move(stores), o, &st, nullptr);
  REQUIRE(st);
  journal_sim sim;
  raw->fail_writes(1, status::io_error("disk full"));
  std::vector<std::unique_ptr<outcome_box>> boxes;
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    boxes.push_back(std::make_unique<outcome_box>());
    last = writer.append(0, one_adjust(sim, "q-" + std::to_string(i)), boxes.back()->done());
    REQUIRE(last != 0);
  }
  for (auto& box : boxes) CHECK(box->wait().kind() == status::code::unavailable);
  REQUIRE(eventually([&] { return writer.degraded_partitions() == 0; }));
  outcome_box after;
  CHECK(writer.append(0, one_adjust(sim, "q-after"), after.done()) > last);
  CHECK(after.wait());
  writer.stop();
}
