// The primitives of journal replication: partial snapshots, recovery without
// folding and truncation of the partition stores (SQLite and the memory
// twin), and the journal writer's replicated appends, commit point, epochs,
// promotion, completion gate and truncation, against real SQLite files.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <sqlite3.h>

#include "persistence/check.hpp"
#include "persistence/journal_writer.hpp"
#include "persistence/memory_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using namespace std::chrono_literals;
using testing::journal_sim;
using testing::key_of;
using testing::temp_dir;

std::unique_ptr<partition_store> open_file(const std::string& path) {
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st.to_string() == "ok");
  return store;
}

// A store of either kind; reopen() closes and reopens an SQLite file and
// leaves the memory twin as it is (it has nothing to reopen).
struct store_under_test {
  explicit store_under_test(std::string k) : kind(std::move(k)) {
    store = kind == "sqlite" ? open_file(dir.file("p.db")) : make_memory_store();
  }
  void reopen() {
    if (kind != "sqlite") return;
    store.reset();
    store = open_file(dir.file("p.db"));
  }
  partition_store& operator*() { return *store; }
  partition_store* operator->() { return store.get(); }

  std::string kind;
  temp_dir dir;
  std::unique_ptr<partition_store> store;
};

record_image load(partition_store& store, const record_key& key) {
  record_image image;
  bool found = false;
  REQUIRE(store.load_record(key, &image, &found));
  return image;
}

std::uint64_t last_journal_seq(partition_store& store) {
  std::vector<journal_entry> entries;
  REQUIRE(store.read_journal(0, 1000, &entries));
  return entries.empty() ? 0 : entries.back().seq;
}

std::optional<journal_entry> find_idem(partition_store& store, const record_key& key, const std::string& idem) {
  std::optional<journal_entry> found;
  REQUIRE(store.find_idempotent(key, idem, 0, &found));
  return found;
}

// Ten adjusts of +1 to `apple` (seq n leaves on_hand n), idempotency keys i-1..i-10.
void append_ten(journal_sim& sim, partition_store& store) {
  for (int i = 1; i <= 10; ++i) sim.adjust(key_of("apple"), 1, "i-" + std::to_string(i));
  REQUIRE(sim.flush(store));
}

// ---- partition stores ----------------------------------------------------------

TEST_CASE("a partial snapshot folds up to a seq, the tail above stays applied, and truncate_after "
          "drops the tail but never folded entries",
          "[persistence][replication]") {
  const std::string kind = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(kind);
  store_under_test store(kind);
  journal_sim sim;
  const auto apple = key_of("apple");
  append_ten(sim, *store);

  snapshot_report rep;
  REQUIRE(store->snapshot(0, 6, &rep));
  CHECK(rep.folded_entries == 6);
  CHECK(store->entries_since_snapshot() == 4);
  if (kind == "sqlite")
    CHECK(testing::raw_int(store.dir.file("p.db"), "SELECT value FROM meta WHERE key='snapshot_seq'") == 6);

  store.reopen();
  if (kind == "sqlite") {  // the file is as `stockgrid check` expects it
    check_report checked;
    REQUIRE(check_partition(store.dir.file("p.db"), &checked).to_string() == "ok");
    CHECK(checked.snapshot_seq == 6);
    CHECK(checked.tail_entries == 4);
  }
  CHECK(store->entries_since_snapshot() == 4);
  CHECK(load(*store, apple).on_hand == 10);
  CHECK(load(*store, apple).last_seq == 10);
  std::vector<journal_entry> events;
  REQUIRE(store->history(apple, 0, 100, &events));
  CHECK(events.size() == 10);
  CHECK(find_idem(*store, apple, "i-8").has_value());
  REQUIRE(store->snapshot(0, 6, &rep));  // nothing new to fold
  CHECK(rep.folded_entries == 0);
  CHECK(store->entries_since_snapshot() == 4);

  // Entries up to 6 are folded: no truncation below that.
  CHECK(store->truncate_after(3).kind() == status::code::invalid);
  CHECK(load(*store, apple).on_hand == 10);
  CHECK(last_journal_seq(*store) == 10);

  REQUIRE(store->truncate_after(6));
  for (int reopened = 0; reopened < 2; ++reopened) {
    INFO("reopened " << reopened);
    const record_image image = load(*store, apple);
    CHECK(image.on_hand == 6);
    CHECK(image.version == 6);
    CHECK(store->entries_since_snapshot() == 0);
    CHECK(last_journal_seq(*store) == 6);
    CHECK_FALSE(find_idem(*store, apple, "i-8").has_value());
    CHECK(find_idem(*store, apple, "i-5").has_value());
    REQUIRE(store->history(apple, 0, 100, &events));
    CHECK(events.size() == 6);
    check_report checked;
    if (kind == "sqlite") CHECK(check_partition(store.dir.file("p.db"), &checked).to_string() == "ok");
    store.reopen();
  }
  REQUIRE(store->truncate_after(20));  // nothing above: nothing to do
  CHECK(load(*store, apple).on_hand == 6);

  // The new leader's entry 7 follows the truncated journal.
  journal_sim leader;
  for (int i = 0; i < 6; ++i) leader.adjust(apple, 1);
  leader.batch.clear();
  leader.epoch = 2;
  leader.adjust(apple, 5, "i-8");
  REQUIRE(leader.flush(*store));
  CHECK(load(*store, apple).on_hand == 11);
  CHECK(find_idem(*store, apple, "i-8")->epoch == 2);
}

TEST_CASE("compaction after a partial snapshot deletes only folded entries", "[persistence][replication]") {
  const std::string kind = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(kind);
  store_under_test store(kind);
  journal_sim sim;
  append_ten(sim, *store);
  snapshot_report rep;
  REQUIRE(store->snapshot(sim.now + 1'000'000, 6, &rep));  // every folded entry is old enough
  CHECK(rep.compacted_entries == 6);
  CHECK(store->compacted_below() == 7);
  std::vector<journal_entry> entries;
  REQUIRE(store->read_journal(0, 100, &entries));
  REQUIRE(entries.size() == 4);
  CHECK(entries.front().seq == 7);
  store.reopen();
  CHECK(load(*store, key_of("apple")).on_hand == 10);
  CHECK(store->entries_since_snapshot() == 4);
}

journal_position end_of(partition_store& store) {
  journal_position end;
  REQUIRE(store.journal_end(&end));
  return end;
}

TEST_CASE("a journal compacted to nothing ends at the last entry it held, after a reopen too",
          "[persistence][replication]") {
  const std::string kind = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(kind);
  store_under_test store(kind);
  CHECK(end_of(*store) == journal_position{0, 0});
  journal_sim sim;
  sim.epoch = 3;
  append_ten(sim, *store);
  CHECK(end_of(*store) == journal_position{3, 10});
  snapshot_report rep;
  REQUIRE(store->snapshot(sim.now + 1'000'000, &rep));  // every entry folded and old enough
  CHECK(rep.compacted_entries == 10);
  CHECK(last_journal_seq(*store) == 0);
  CHECK(end_of(*store) == journal_position{3, 10});
  store.reopen();
  CHECK(end_of(*store) == journal_position{3, 10});
  // A later entry ends it again.
  sim.epoch = 4;
  sim.adjust(key_of("apple"), 1);
  REQUIRE(sim.flush(*store));
  CHECK(end_of(*store) == journal_position{4, 11});
}

TEST_CASE("a file compacted before the compacted position was kept ends at (0, snapshot_seq)",
          "[persistence][replication]") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  {
    auto store = open_file(path);
    journal_sim sim;
    sim.epoch = 3;
    append_ten(sim, *store);
    snapshot_report rep;
    REQUIRE(store->snapshot(sim.now + 1'000'000, &rep));
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "DELETE FROM meta WHERE key IN ('compacted_epoch', 'compacted_seq')", nullptr, nullptr,
                     nullptr) == SQLITE_OK);
  CHECK(sqlite3_changes(db) == 2);
  sqlite3_close(db);
  auto store = open_file(path);
  CHECK(end_of(*store) == journal_position{0, 10});
}

std::set<std::string> skus_with_holds(const recovery_report& rep) {
  std::set<std::string> skus;
  for (const record_image& image : rep.with_holds) skus.insert(image.key.sku);
  return skus;
}

TEST_CASE("recover without fold verifies and reports the snapshot with the tail applied, writing nothing; "
          "it can be called again on the open store",
          "[persistence][replication]") {
  const std::string kind = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(kind);
  store_under_test store(kind);
  journal_sim sim;
  const auto a = key_of("a"), b = key_of("b"), c = key_of("c");
  const record_key paris{"acme", "paris", "d"};
  sim.adjust(a, 10);
  const auto hold_a = sim.reserve(a, 2);
  sim.adjust(b, 10);
  sim.reserve(b, 3);
  sim.adjust(c, 5);
  REQUIRE(sim.flush(*store));
  snapshot_report folded;
  REQUIRE(store->snapshot(0, &folded));
  // The tail: a's hold goes, c gets one, a record appears in another warehouse.
  sim.release(a, hold_a);
  const auto hold_c = sim.reserve(c, 1);
  sim.adjust(paris, 1);
  REQUIRE(sim.flush(*store));

  for (int call = 0; call < 3; ++call) {
    INFO("call " << call);
    recovery_report rep;
    REQUIRE(store->recover(&rep, false));
    CHECK(rep.replayed_entries == 3);
    CHECK(rep.last_seq == sim.next_seq - 1);
    CHECK(skus_with_holds(rep) == std::set<std::string>{"b", "c"});
    for (const record_image& image : rep.with_holds)
      if (image.key == c) CHECK((image.holds.size() == 1 && image.holds[0].seq == hold_c));
    CHECK(rep.warehouses == std::vector<std::pair<std::string, std::string>>{{"acme", "berlin"}, {"acme", "paris"}});
    CHECK(store->entries_since_snapshot() == 3);
    if (call == 1) store.reopen();
  }
  CHECK(load(*store, c).reserved == 1);

  recovery_report rep;
  REQUIRE(store->recover(&rep));  // folds
  CHECK(skus_with_holds(rep) == std::set<std::string>{"b", "c"});
  CHECK(store->entries_since_snapshot() == 0);
}

TEST_CASE("a store appends a leader's seqs above its last one, also below its own lease, "
          "and fences older epochs",
          "[persistence][replication]") {
  const std::string kind = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(kind);
  store_under_test store(kind);
  REQUIRE(store->extend_seq_lease(1000));
  REQUIRE(store->set_epoch(2));
  journal_sim leader;
  leader.epoch = 2;
  leader.adjust(key_of("a"), 1);
  REQUIRE(leader.flush(*store));
  leader.next_seq = 500;  // the leader's seqs jumped (its restart)
  leader.adjust(key_of("a"), 1);
  REQUIRE(leader.flush(*store));
  CHECK(last_journal_seq(*store) == 500);

  leader.next_seq = 400;  // not above the last seq
  leader.adjust(key_of("b"), 1);
  CHECK(leader.flush(*store).kind() == status::code::invalid);
  leader.next_seq = 501;
  leader.epoch = 1;  // a deposed leader
  leader.adjust(key_of("c"), 1);
  CHECK(leader.flush(*store).kind() == status::code::fenced);
  CHECK(last_journal_seq(*store) == 500);
}

// ---- the journal writer ------------------------------------------------------------

// Completions in the order they ran: a label, the status and the entry.
class completion_log {
 public:
  struct event {
    std::string label;
    status st;
    std::uint64_t seq = 0;  // 0: no entry
    std::uint64_t epoch = 0;
  };

  journal_writer::completion done(std::string label) {
    return [this, label = std::move(label)](const status& st, const journal_entry* e) {
      std::lock_guard lk(mu_);
      events_.push_back({label, st, e ? e->seq : 0, e ? e->epoch : 0});
      cv_.notify_all();
    };
  }
  // Waits until `n` completions ran; returns them all.
  std::vector<event> wait(std::size_t n) {
    std::unique_lock lk(mu_);
    REQUIRE(cv_.wait_for(lk, 10s, [&] { return events_.size() >= n; }));
    return events_;
  }
  std::vector<std::string> labels() {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (const event& e : events_) out.push_back(e.label);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<event> events_;
};

// Runs `fn` on p's writer thread (after every earlier append) and returns its result.
template <class Fn>
auto on_writer(journal_writer& writer, Fn fn) {
  std::promise<decltype(fn(std::declval<partition_store&>()))> result;
  writer.run(0, [&](partition_store& store) { result.set_value(fn(store)); });
  auto future = result.get_future();
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  return future.get();
}

std::uint64_t pending_entries(journal_writer& writer) {
  return on_writer(writer, [](partition_store& store) { return store.entries_since_snapshot(); });
}

std::unique_ptr<journal_writer> open_writer(std::unique_ptr<partition_store> store, journal_writer_options o) {
  std::vector<std::unique_ptr<partition_store>> stores;
  stores.push_back(std::move(store));
  status st;
  auto writer = std::make_unique<journal_writer>(std::move(stores), o, &st, nullptr);
  REQUIRE(st.to_string() == "ok");
  return writer;
}

journal_writer_options one_thread(bool replicated) {
  journal_writer_options o;
  o.threads = 1;
  o.replicated = replicated;
  return o;
}

// The next change of `sim` as one entry (the writer numbers it).
journal_entry next_entry(journal_sim& sim, const std::string& sku, std::int64_t delta = 1) {
  REQUIRE(sim.adjust(key_of(sku), delta, "idem-" + sku + "-" + std::to_string(sim.next_seq)));
  auto e = std::move(sim.batch.back());
  sim.batch.clear();
  return e;
}

template <class Cond>
bool eventually(Cond cond) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST_CASE("a replicated writer recovers without folding, folds only up to the commit point, and "
          "truncates the tail above it",
          "[persistence][replication][journal_writer]") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto o = one_thread(true);
  o.snapshot_every_entries = 1;
  o.snapshot_interval_ms = 0;
  journal_sim sim;
  {
    auto writer = open_writer(open_file(path), o);
    completion_log log;
    for (std::uint64_t i = 1; i <= 10; ++i) REQUIRE(writer->append(0, next_entry(sim, "apple"), log.done("a")) == i);
    log.wait(10);
    std::this_thread::sleep_for(300ms);  // housekeeping passes: no commit point, no fold
    CHECK(pending_entries(*writer) == 10);
    writer->set_commit_point(0, 6);
    writer->set_commit_point(0, 2);  // ignored: the commit point only rises
    CHECK(writer->commit_point(0) == 6);
    REQUIRE(eventually([&] { return pending_entries(*writer) == 4; }));
    writer->stop();  // folds up to the commit point only
  }
  CHECK(testing::raw_int(path, "SELECT value FROM meta WHERE key='snapshot_seq'") == 6);
  CHECK(load(*open_file(path), key_of("apple")).on_hand == 10);

  auto writer = open_writer(open_file(path), o);
  CHECK(pending_entries(*writer) == 4);  // recovery folded nothing
  CHECK(writer->last_seq(0) == 10);
  completion_log log;
  writer->truncate_after(0, 3, log.done("refused"));
  CHECK(log.wait(1)[0].st.kind() == status::code::invalid);
  CHECK(writer->degraded_partitions() == 0);
  CHECK(writer->last_seq(0) == 10);
  writer->truncate_after(0, 6, log.done("truncated"));
  CHECK(log.wait(2)[1].st);
  CHECK(writer->last_seq(0) == 6);
  CHECK(writer->durable_seq(0) == 6);
  CHECK(on_writer(*writer, [](partition_store& s) { return load(s, key_of("apple")).on_hand; }) == 6);
  journal_sim after;  // the record as truncated: version 6
  for (int i = 0; i < 6; ++i) after.adjust(key_of("apple"), 1);
  after.batch.clear();
  const auto seq = writer->append(0, next_entry(after, "apple"), log.done("after"));
  CHECK(seq > 10);  // seqs are never handed out again
  CHECK(log.wait(3)[2].st);
  writer->stop();
  CHECK(load(*open_file(path), key_of("apple")).on_hand == 7);
}

TEST_CASE("append_replicated keeps the leader's seqs and epochs, skips redelivered entries, raises next_seq, "
          "and a fenced call fails alone",
          "[persistence][replication][journal_writer]") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  auto o = one_thread(true);
  o.seq_lease_step = 16;  // the leader's seqs lie above this follower's lease
  std::atomic<std::size_t> published{0};
  o.on_committed = [&](std::uint32_t, const std::vector<journal_entry>& batch) { published += batch.size(); };
  auto writer = open_writer(open_file(path), o);
  journal_sim leader;
  leader.epoch = 3;
  leader.next_seq = 100;
  for (int i = 0; i < 7; ++i) leader.adjust(key_of("sku-" + std::to_string(i % 3)), 1, "r-" + std::to_string(i));
  const std::vector<journal_entry> sent = leader.batch;  // seqs 100..106
  leader.batch.clear();
  completion_log log;

  writer->append_replicated(0, 3, std::vector<journal_entry>(sent.begin(), sent.begin() + 5), log.done("first"));
  auto events = log.wait(1);
  REQUIRE(events[0].st);
  CHECK(events[0].seq == 104);
  CHECK(events[0].epoch == 3);
  // 102..104 redelivered, 105 and 106 new.
  writer->append_replicated(0, 3, std::vector<journal_entry>(sent.begin() + 2, sent.end()), log.done("again"));
  events = log.wait(2);
  REQUIRE(events[1].st);
  CHECK(events[1].seq == 106);
  writer->append_replicated(0, 3, sent, log.done("all again"));
  events = log.wait(3);
  CHECK(events[2].st);
  CHECK(events[2].seq == 0);  // all skipped
  CHECK(published == 7);
  CHECK(writer->last_seq(0) == 106);
  const auto journal = on_writer(*writer, [](partition_store& s) {
    std::vector<journal_entry> out;
    REQUIRE(s.read_journal(0, 100, &out));
    return out;
  });
  REQUIRE(journal.size() == 7);
  for (std::size_t i = 0; i < journal.size(); ++i) CHECK(testing::same_entry(journal[i], sent[i]));
  std::promise<std::optional<journal_entry>> looked_up;
  writer->lookup_idempotent(0, key_of("sku-0"), 0, "r-3",
                            [&](const status&, std::optional<journal_entry> e) { looked_up.set_value(e); });
  const auto found = looked_up.get_future().get();
  CHECK((found && found->seq == 103));

  // Promoted: new appends go above every seq the leader used, in the new epoch.
  std::promise<std::pair<status, std::uint64_t>> promoted;
  writer->promote(0, 4, [&](const status& st, std::uint64_t last) { promoted.set_value({st, last}); });
  const auto [promote_status, last] = promoted.get_future().get();
  REQUIRE(promote_status);
  CHECK(last == 106);
  journal_sim own;
  const auto own_seq = writer->append(0, next_entry(own, "own"), log.done("own"));
  CHECK(own_seq > 106);
  events = log.wait(4);
  CHECK(events[3].st);
  CHECK(events[3].epoch == 4);

  // A leader of epoch 3 is fenced; the partition goes on.
  leader.next_seq = own_seq + 1;
  leader.adjust(key_of("sku-9"), 1);
  writer->append_replicated(0, 3, leader.batch, log.done("stale"));
  events = log.wait(5);
  CHECK(events[4].st.kind() == status::code::fenced);
  CHECK(writer->degraded_partitions() == 0);
  // A leader of epoch 5 shipping the same entries of epoch 3 (its
  // predecessor's, which it holds) is not: entries keep their epochs.
  writer->append_replicated(0, 5, leader.batch, log.done("current"));
  events = log.wait(6);
  CHECK(events[5].st);
  CHECK(events[5].seq == own_seq + 1);
  CHECK(writer->append(0, next_entry(own, "own"), log.done("own again")) > own_seq + 1);
  CHECK(log.wait(7)[6].st);
  writer->stop();
}

bool gated(std::uint32_t, const journal_entry& e) { return e.key.sku.starts_with("gated"); }

TEST_CASE("gated completions wait for release in seq order, barriers wait behind them, others complete at once",
          "[persistence][replication][journal_writer]") {
  temp_dir dir;
  auto o = one_thread(true);
  o.must_wait = gated;
  auto writer = open_writer(open_file(dir.file("p.db")), o);
  journal_sim sim;
  completion_log log;
  const auto g1 = writer->append(0, next_entry(sim, "gated-1"), log.done("g1"));
  writer->append(0, next_entry(sim, "plain-2"), log.done("p2"));
  writer->barrier(0, log.done("b1"));
  const auto g3 = writer->append(0, next_entry(sim, "gated-3"), log.done("g3"));
  writer->barrier(0, log.done("b2"));
  log.wait(1);
  REQUIRE(eventually([&] { return writer->parked(0) == 4; }));
  CHECK(log.labels() == std::vector<std::string>{"p2"});
  writer->barrier(0, log.done("b3"));  // nothing pending, but behind parked appends
  REQUIRE(eventually([&] { return writer->parked(0) == 5; }));

  writer->release(0, g1);
  auto events = log.wait(3);
  CHECK(log.labels() == std::vector<std::string>{"p2", "g1", "b1"});
  CHECK(events[1].st);
  CHECK(events[1].seq == g1);
  CHECK(writer->parked(0) == 3);
  writer->release(0, g3);
  events = log.wait(6);
  CHECK(log.labels() == std::vector<std::string>{"p2", "g1", "b1", "g3", "b2", "b3"});
  CHECK(events[3].seq == g3);
  CHECK(writer->parked(0) == 0);

  // A majority may acknowledge before the local commit: released seqs never park.
  writer->release(0, g3 + 1);
  const auto next = writer->append(0, next_entry(sim, "gated-4"), log.done("g4"));
  REQUIRE(next == g3 + 1);
  CHECK(log.wait(7)[6].seq == next);
  CHECK(writer->parked(0) == 0);

  writer->append(0, next_entry(sim, "gated-5"), log.done("g5"));
  writer->barrier(0, log.done("b5"));
  REQUIRE(eventually([&] { return writer->parked(0) == 2; }));
  writer->fail_parked(0, status::unavailable("deposed"));
  events = log.wait(9);
  CHECK(events[7].st.to_string() == status::unavailable("deposed").to_string());
  CHECK(events[8].label == "b5");
  CHECK(events[8].st.kind() == status::code::unavailable);

  writer->append(0, next_entry(sim, "gated-6"), log.done("g6"));
  REQUIRE(eventually([&] { return writer->parked(0) == 1; }));
  writer->stop();
  events = log.wait(10);
  CHECK(events[9].label == "g6");
  CHECK(events[9].st.kind() == status::code::io_error);  // the stopped status
  CHECK(writer->parked(0) == 0);
}

TEST_CASE("a degraded partition and a truncation fail parked completions",
          "[persistence][replication][journal_writer]") {
  auto memory = std::make_unique<memory_store>();
  auto* raw = memory.get();
  auto o = one_thread(true);
  o.must_wait = gated;
  o.disk_retry_interval_ms = 20;
  auto writer = open_writer(std::move(memory), o);
  journal_sim sim;
  completion_log log;
  writer->append(0, next_entry(sim, "gated-1"), log.done("g1"));
  REQUIRE(eventually([&] { return writer->parked(0) == 1; }));
  // On the writer thread, the store's only user while the writer runs.
  on_writer(*writer, [raw](partition_store&) {
    raw->fail_writes(1, status::io_error("disk full"));
    return 0;
  });
  writer->append(0, next_entry(sim, "plain-2"), log.done("p2"));
  auto events = log.wait(2);
  CHECK(log.labels() == std::vector<std::string>{"g1", "p2"});  // the parked one first
  CHECK(events[0].st.kind() == status::code::unavailable);
  CHECK(events[1].st.kind() == status::code::unavailable);
  CHECK(writer->parked(0) == 0);
  REQUIRE(eventually([&] { return writer->degraded_partitions() == 0; }));

  journal_sim fresh;  // plain-2 never reached the store
  auto entry = next_entry(fresh, "gated-3");
  const std::string idem = entry.idem;
  const auto g3 = writer->append(0, std::move(entry), log.done("g3"));
  REQUIRE(eventually([&] { return writer->parked(0) == 1; }));
  writer->truncate_after(0, g3 - 1, log.done("truncate"));
  events = log.wait(4);
  CHECK(events[2].label == "g3");
  CHECK(events[2].st.kind() == status::code::unavailable);
  CHECK(events[3].st);
  CHECK(writer->last_seq(0) == g3 - 1);
  CHECK(on_writer(*writer, [](partition_store& s) { return load(s, key_of("gated-3")).version; }) == 0);
  // The idempotency cache forgot the truncated entry's key.
  std::promise<bool> looked_up;
  writer->lookup_idempotent(0, key_of("gated-3"), 0, idem,
                            [&](const status&, std::optional<journal_entry> e) { looked_up.set_value(e.has_value()); });
  CHECK_FALSE(looked_up.get_future().get());
  writer->stop();
}

TEST_CASE("set_epoch votes once per epoch; promote raises the epoch new appends carry, durably",
          "[persistence][replication][journal_writer]") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim;
  completion_log log;
  {
    auto writer = open_writer(open_file(path), one_thread(true));
    CHECK(writer->epoch(0) == 1);
    writer->set_epoch(0, 1, log.done("equal"));
    writer->set_epoch(0, 0, log.done("lower"));
    writer->set_epoch(0, 5, log.done("vote"));
    writer->set_epoch(0, 5, log.done("vote again"));
    auto events = log.wait(4);
    CHECK(events[0].st.kind() == status::code::invalid);
    CHECK(events[1].st.kind() == status::code::invalid);
    CHECK(events[2].st);
    CHECK(events[3].st.kind() == status::code::invalid);
    CHECK(writer->epoch(0) == 5);
    CHECK(on_writer(*writer, [](partition_store& s) { return s.epoch(); }) == 5);
    writer->append(0, next_entry(sim, "a"), log.done("append"));
    CHECK(log.wait(5)[4].epoch == 5);

    auto promote = [&](std::uint64_t epoch) {
      std::promise<status> done;
      writer->promote(0, epoch, [&](const status& st, std::uint64_t) { done.set_value(st); });
      return done.get_future().get();
    };
    CHECK(promote(5));  // the epoch it voted in
    CHECK(promote(4).kind() == status::code::invalid);
    CHECK(promote(7));
    CHECK(writer->epoch(0) == 7);
    writer->append(0, next_entry(sim, "a"), log.done("append"));
    CHECK(log.wait(6)[5].epoch == 7);
    writer->stop();
    writer->set_epoch(0, 9, log.done("stopped"));
    CHECK(log.wait(7)[6].st.kind() == status::code::io_error);
  }
  CHECK(open_file(path)->epoch() == 7);
  auto writer = open_writer(open_file(path), one_thread(true));
  CHECK(writer->epoch(0) == 7);
  writer->stop();
}

TEST_CASE("a follower's replicated entries complete at once, whatever must_wait says of them",
          "[persistence][replication][journal_writer]") {
  // The gate holds back a leader's own acknowledgements; a follower answers
  // its leader as soon as the entries are durable here, or no quorum forms.
  temp_dir dir;
  auto o = one_thread(true);
  o.must_wait = [](std::uint32_t, const journal_entry&) { return true; };
  o.seq_lease_step = 16;
  auto writer = open_writer(open_file(dir.file("p.db")), o);
  journal_sim leader;
  leader.epoch = 2;
  leader.next_seq = 100;
  for (int i = 0; i < 3; ++i) leader.adjust(key_of("sku-" + std::to_string(i)), 1, "r-" + std::to_string(i));
  completion_log log;
  writer->append_replicated(0, 2, leader.batch, log.done("replicated"));
  writer->barrier(0, log.done("behind"));
  const auto events = log.wait(2);
  CHECK(events[0].st);
  CHECK(events[0].seq == 102);
  CHECK(events[1].label == "behind");
  CHECK(writer->parked(0) == 0);
  // The node's own append is still gated.
  leader.batch.clear();
  writer->append(0, next_entry(leader, "own"), log.done("own"));
  REQUIRE(eventually([&] { return writer->parked(0) == 1; }));
  CHECK(log.labels().size() == 2);
  writer->stop();
}

TEST_CASE("a follower's store replaced by a copy of its leader's file serves the copy, keeps its own epoch and "
          "seq lease, and goes on from the copy's end; a failed swap changes nothing",
          "[persistence][replication][journal_writer]") {
  temp_dir dir;
  // The leader's file: ten changes in epoch 3 (seqs 100..109), the first six
  // folded and compacted away, then open while the copy is taken.
  const auto leader_path = dir.file("leader.db");
  auto leader_store = open_file(leader_path);
  journal_sim leader;
  leader.epoch = 3;
  leader.next_seq = 100;
  // Idempotency keys are looked up within the retention: recent entries.
  leader.now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  REQUIRE(leader_store->set_epoch(3));
  append_ten(leader, *leader_store);
  snapshot_report rep;
  REQUIRE(leader_store->snapshot(leader.now + 1, 105, &rep));
  CHECK(rep.compacted_entries == 6);
  const auto copy_path = dir.file("copy.db");
  REQUIRE(copy_sqlite_store(leader_path, "", copy_path));
  CHECK(copy_sqlite_store(leader_path, "", copy_path).kind() == status::code::io_error);  // never overwrites

  // The follower: three entries of its own in epoch 1, then a vote in epoch 5.
  const auto path = dir.file("p.db");
  auto o = one_thread(true);
  o.seq_lease_step = 1000;  // its lease (about 1,000) lies above the leader's seqs
  auto writer = open_writer(open_file(path), o);
  journal_sim own;
  completion_log log;
  for (int i = 0; i < 3; ++i) writer->append(0, next_entry(own, "own"), log.done("own"));
  log.wait(3);
  writer->set_epoch(0, 5, log.done("vote"));
  REQUIRE(log.wait(4)[3].st);

  // A swap that fails leaves the store as it was.
  std::promise<status> failed;
  writer->replace_store(
      0, [](std::unique_ptr<partition_store>&) { return status::io_error("refused by the test"); },
      [&](const status& st, const recovery_report&) { failed.set_value(st); });
  CHECK(failed.get_future().get().kind() == status::code::io_error);
  CHECK(on_writer(*writer, [](partition_store& s) { return load(s, key_of("own")).on_hand; }) == 3);

  std::promise<std::pair<status, recovery_report>> replaced;
  writer->replace_store(
      0,
      [&](std::unique_ptr<partition_store>& store) {
        store.reset();
        std::filesystem::rename(copy_path, path);
        std::filesystem::remove(path + "-wal");
        std::filesystem::remove(path + "-shm");
        store = open_file(path);
        return status::ok();
      },
      [&](const status& st, const recovery_report& r) { replaced.set_value({st, r}); });
  const auto [st, report] = replaced.get_future().get();
  REQUIRE(st.to_string() == "ok");
  CHECK(report.last_seq == 109);
  CHECK(report.warehouses == std::vector<std::pair<std::string, std::string>>{{"acme", "berlin"}});
  CHECK(writer->last_seq(0) == 109);
  CHECK(writer->durable_seq(0) == 109);
  CHECK(writer->epoch(0) == 5);  // its vote in epoch 5 still counts
  const auto [end, record, store_epoch] = on_writer(*writer, [](partition_store& s) {
    journal_position end;
    REQUIRE(s.journal_end(&end));
    return std::tuple{end, load(s, key_of("apple")), s.epoch()};
  });
  CHECK(end == journal_position{3, 109});
  CHECK(record.on_hand == 10);
  CHECK(store_epoch == 5);
  CHECK(on_writer(*writer, [](partition_store& s) {
          record_image image;
          bool found = true;
          REQUIRE(s.load_record(key_of("own"), &image, &found));
          return found;
        }) == false);  // its own entries went with its old copy
  std::promise<std::optional<journal_entry>> looked_up;
  writer->lookup_idempotent(0, key_of("apple"), 0, "i-9",
                            [&](const status&, std::optional<journal_entry> e) { looked_up.set_value(e); });
  const auto found = looked_up.get_future().get();
  CHECK((found && found->seq == 108));

  // The leader's next entries follow; the node's own seqs stay above its old lease.
  leader.adjust(key_of("apple"), 1, "i-11");
  writer->append_replicated(0, 5, leader.batch, log.done("shipped"));
  auto events = log.wait(5);
  CHECK(events[4].st);
  CHECK(events[4].seq == 110);
  std::promise<std::pair<status, std::uint64_t>> promoted;
  writer->promote(0, 6, [&](const status& s, std::uint64_t last) { promoted.set_value({s, last}); });
  CHECK(promoted.get_future().get().second == 110);
  journal_sim next;
  next.records[key_of("apple")] = leader.records[key_of("apple")];
  CHECK(writer->append(0, next_entry(next, "apple"), log.done("own again")) > 1000);
  CHECK(log.wait(6)[5].st);
  writer->stop();
  CHECK(open_file(path)->epoch() == 6);
}

}  // namespace
}  // namespace stockgrid::persistence
