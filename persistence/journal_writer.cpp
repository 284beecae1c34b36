#include "persistence/journal_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "persistence/fold.hpp"

namespace stockgrid::persistence {

namespace {

// Seconds since `start`, for the monitoring hooks.
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

epoch_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

status stopped_status() { return status::io_error("journal writer stopped"); }

status degraded_status() {
  return status::unavailable("partition degraded: its journal writes are failing");
}

// Fenced (another writer owns the journal) and corrupt stores are not disk
// trouble a probe could see end.
// Failures no probe can heal: the store is another writer's, damaged, or
// holds writes whose durability a failed fsync left unknown (the partition
// then refuses writes until a restart recovers it from what is on disk).
bool permanent(const status& cause) {
  return cause.kind() == status::code::fenced || cause.kind() == status::code::corruption ||
         cause.kind() == status::code::sync_failed;
}

// Idempotency keys are scoped to the record, or for operations on a hold to
// the tenant and the hold (a retry may come after the hold is gone).
bool hold_scoped(const journal_entry& e) {
  return e.c.hold_seq != 0 && e.c.kind != change_kind::reserve;
}

std::string scope_key(const record_key& k, std::uint64_t hold_seq, std::string_view idem) {
  std::string s;
  s.reserve(k.tenant.size() + k.warehouse.size() + k.sku.size() + idem.size() + 24);
  s += k.tenant;
  s += '\0';
  if (hold_seq != 0) {
    s += 'h';
    s += std::to_string(hold_seq);
  } else {
    s += k.warehouse;
    s += '\0';
    s += k.sku;
  }
  s += '\0';
  s += idem;
  return s;
}

// Recent idempotency keys of one partition, evicted oldest first. Bounded by
// count; a miss falls through to the store.
class idempotency_cache {
 public:
  explicit idempotency_cache(std::size_t capacity) : capacity_(capacity) {}

  // Returns whether an entry not yet committed had to be evicted (then a miss
  // must commit the batch before it asks the store).
  bool insert(const journal_entry& e, std::uint64_t committed_seq) {
    auto key = scope_key(e.key, hold_scoped(e) ? e.c.hold_seq : 0, e.idem);
    order_.emplace_back(key, e.seq);
    map_[std::move(key)] = e;
    bool evicted_uncommitted = false;
    while (order_.size() > capacity_) {
      auto& [oldest, seq] = order_.front();
      auto it = map_.find(oldest);
      if (it != map_.end() && it->second.seq == seq) {
        evicted_uncommitted |= seq > committed_seq;
        map_.erase(it);
      }
      order_.pop_front();
    }
    return evicted_uncommitted;
  }

  const journal_entry* find(const std::string& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }

  // Forgets every key: after a failed commit some may be of entries that
  // never reached the disk; misses then go to the store.
  void clear() {
    map_.clear();
    order_.clear();
  }

  // Drops the tenant's keys (each starts with the tenant and a NUL). Their
  // places in order_ stay until evicted: eviction skips a key it no longer
  // finds with that seq.
  void forget_tenant(const std::string& tenant) {
    const std::string prefix = tenant + '\0';
    std::erase_if(map_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  }

 private:
  std::size_t capacity_;
  std::unordered_map<std::string, journal_entry> map_;
  std::deque<std::pair<std::string, std::uint64_t>> order_;  // key, seq
};

// A completion held back by the journal_writer_options::must_wait gate,
// with a copy of its entry (none for a barrier).
struct parked_completion {
  journal_writer::completion done;
  std::optional<journal_entry> entry;
};

}  // namespace

struct journal_writer::partition {
  std::uint32_t id = 0;
  std::unique_ptr<partition_store> store;
  worker* owner = nullptr;
  // Guarded by owner->mu.
  std::uint64_t next_seq = 1;
  std::uint64_t epoch = 1;
  // Set at recovery, then constant.
  std::uint64_t recovered_seq = 0;
  std::uint64_t first_seq = 1;
  bool degraded = false;  // refuses appends
  bool stopped = false;   // degraded for good (fenced, corrupt, or a failed sync)
  // Writer thread only.
  std::vector<journal_entry> batch;
  // Parallel to batch: whether the entry came from a leader (append_replicated).
  // Its completion never waits at the must_wait gate: a follower answers its
  // leader as soon as the entry is durable here.
  std::vector<bool> batch_replicated;
  // Completions of appends (with the index of their entry in `batch`) and of
  // barriers (index -1), in queue order.
  std::vector<std::pair<completion, std::ptrdiff_t>> batch_done;
  std::vector<std::pair<completion, std::ptrdiff_t>> running_done;  // flush() only
  std::uint64_t committed_seq = 0;
  bool unsynced = false;
  bool evicted_uncommitted = false;
  epoch_ms last_snapshot_ms = 0;
  status health;  // degraded_status (naming the cause) from a failure until a probe succeeds
  epoch_ms next_probe_ms = 0;
  std::unique_ptr<idempotency_cache> cache;
  std::atomic<std::uint64_t> durable{0};
  // Replication. Writer thread only, but for the atomics.
  std::atomic<std::uint64_t> commit_point{0};
  std::uint64_t folded_seq = 0;     // replicated: the last snapshot folded up to here
  std::uint64_t released_upto = 0;  // release() was told a majority holds these
  std::deque<parked_completion> parked;
  std::atomic<std::size_t> parked_count{0};
};

namespace {
enum class item_kind : unsigned char { append, barrier, lookup, run, control };
}

struct queued_item {
  item_kind kind;
  std::uint32_t p;
  journal_entry entry;  // append; lookup: key, idem and c.hold_seq
  journal_writer::completion done;
  journal_writer::lookup_done looked_up;
  journal_writer::job fn;
  std::function<void()> control;  // replication calls, bound to their partition
};

namespace {

// Queues `item` on its partition's worker and wakes it; false (nothing
// queued, `item` untouched) when the writer is stopping.
template <class Worker>
bool enqueue(Worker& w, queued_item&& item, std::atomic<std::size_t>& queued) {
  std::unique_lock lk(w.mu);
  if (w.stopping) return false;
  w.queue.push_back(std::move(item));
  queued.fetch_add(1, std::memory_order_relaxed);
  const bool wake = w.waiting;
  lk.unlock();
  if (wake) w.cv.notify_one();
  return true;
}

}  // namespace

struct journal_writer::worker {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<queued_item> queue;
  bool waiting = false;
  bool stopping = false;
  std::vector<partition*> parts;
  std::thread thread;
  epoch_ms last_fsync_ms = 0;
  std::uint64_t background_failures_seen = 0;
};

// The batched mode's flusher: every fsync_interval_ms one syncfs of the data
// dir's filesystem, off the writer threads. A syncfs flushes what was written
// before it started, so an acknowledged change is on stable storage at most
// one interval plus one syncfs after it was written. A failure degrades every
// partition (each writer sees `failures` rise on its next pass).
struct journal_writer::background_sync {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::atomic<std::uint64_t> failures{0};  // failed syncfs calls so far
  status error;  // of the last failure, set before `failures` is raised
  std::thread thread;
};

// ---- construction and recovery ---------------------------------------------

journal_writer::journal_writer(std::vector<std::unique_ptr<partition_store>> stores,
                               journal_writer_options options, status* st,
                               std::vector<recovery_report>* reports)
    : opt_(options) {
  if (!opt_.sync_dir.empty()) {
    sync_dir_fd_ = ::open(opt_.sync_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sync_dir_fd_ < 0) {
      *st = status::io_error("cannot open " + opt_.sync_dir + ": " + std::strerror(errno));
      return;
    }
  }
  const auto n = static_cast<std::uint32_t>(stores.size());
  const auto threads = std::max<std::uint32_t>(1, std::min(opt_.threads, std::max(n, 1u)));
  for (std::uint32_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>());
  const auto cache_per_partition = n == 0 ? 0 : opt_.idempotency_cache_entries / n;
  for (std::uint32_t p = 0; p < n; ++p) {
    auto part = std::make_unique<partition>();
    part->id = p;
    part->store = std::move(stores[p]);
    part->owner = workers_[p % threads].get();
    part->cache = std::make_unique<idempotency_cache>(std::max<std::size_t>(cache_per_partition, 1));
    part->owner->parts.push_back(part.get());
    parts_.push_back(std::move(part));
  }

  // Recover every partition on the writer threads, in parallel.
  std::vector<status> results(n);
  if (reports) reports->assign(n, recovery_report{});
  std::vector<std::thread> recoverers;
  for (auto& w : workers_) {
    recoverers.emplace_back([&, wp = w.get()] {
      for (auto* part : wp->parts) {
        recovery_report rep;
        auto& res = results[part->id];
        res = part->store->recover(&rep, !opt_.replicated);
        if (res) {
          part->epoch = std::max<std::uint64_t>({part->store->epoch(), opt_.epoch, 1});
          if (part->store->epoch() < part->epoch) res = part->store->set_epoch(part->epoch);
        }
        if (res) {
          part->next_seq = std::max(rep.last_seq + 1, part->store->seq_lease());
          res = part->store->extend_seq_lease(part->next_seq + opt_.seq_lease_step);
        }
        part->committed_seq = rep.last_seq;
        part->recovered_seq = rep.last_seq;
        part->first_seq = part->next_seq;
        part->durable.store(rep.last_seq);
        part->last_snapshot_ms = now_ms();
        if (reports) (*reports)[part->id] = std::move(rep);
      }
    });
  }
  for (auto& t : recoverers) t.join();
  for (auto& r : results) {
    if (!r) {
      *st = r;
      return;  // threads never started; the destructor has nothing to join
    }
  }
  for (auto& w : workers_) w->thread = std::thread([this, wp = w.get()] { run_worker(*wp); });
  if (!opt_.sync && sync_dir_fd_ >= 0) {
    background_ = std::make_unique<background_sync>();
    background_->thread = std::thread([this] { run_background_sync(); });
  }
  *st = status::ok();
}

void journal_writer::run_background_sync() {
  auto& b = *background_;
  std::unique_lock lk(b.mu);
  while (!b.stopping) {
    b.cv.wait_for(lk, std::chrono::milliseconds(opt_.fsync_interval_ms), [&] { return b.stopping; });
    if (b.stopping) break;
    lk.unlock();
    status st = sync_filesystem();
    lk.lock();
    if (!st) {
      b.error = st;
      b.failures.fetch_add(1);
    }
  }
}

journal_writer::~journal_writer() {
  stop();
  if (sync_dir_fd_ >= 0) ::close(sync_dir_fd_);
}

status journal_writer::sync_filesystem() {
  // Since Linux 5.8 syncfs reports writeback errors of any file on the
  // filesystem since the descriptor was opened: a failed write of a WAL is
  // seen here even though its own fsync was never called.
  const auto start = std::chrono::steady_clock::now();
  if (::syncfs(sync_dir_fd_) != 0)
    return status::sync_failed("syncfs of " + opt_.sync_dir + ": " + std::strerror(errno));
  if (opt_.monitor.on_durable) opt_.monitor.on_durable(seconds_since(start));
  return status::ok();
}

void journal_writer::stop() {
  if (background_) {
    {
      std::lock_guard lk(background_->mu);
      background_->stopping = true;
    }
    background_->cv.notify_one();
    if (background_->thread.joinable()) background_->thread.join();
  }
  for (auto& w : workers_) {
    {
      std::lock_guard lk(w->mu);
      w->stopping = true;
    }
    w->cv.notify_one();
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

// ---- the caller's side -------------------------------------------------------

std::uint64_t journal_writer::append(std::uint32_t p, journal_entry&& e, completion done,
                                     const std::function<void(std::uint64_t seq)>& numbered) {
  auto& part = *parts_[p];
  auto& w = *part.owner;
  std::unique_lock lk(w.mu);
  if (part.degraded || w.stopping || (opt_.may_append && !opt_.may_append(p))) return 0;
  const auto seq = part.next_seq++;
  e.seq = seq;
  e.epoch = part.epoch;
  if (e.c.kind == change_kind::reserve) e.c.hold_seq = seq;
  if (numbered) numbered(seq);
  w.queue.push_back(queued_item{item_kind::append, p, std::move(e), std::move(done), {}, {}, {}});
  queued_.fetch_add(1, std::memory_order_relaxed);
  const bool wake = w.waiting;
  lk.unlock();
  if (wake) w.cv.notify_one();
  return seq;
}

void journal_writer::barrier(std::uint32_t p, completion done) {
  auto& part = *parts_[p];
  auto& w = *part.owner;
  std::unique_lock lk(w.mu);
  if (part.degraded || w.stopping) {
    const bool degraded = part.degraded;
    lk.unlock();
    done(degraded ? degraded_status() : stopped_status(), nullptr);
    return;
  }
  w.queue.push_back(queued_item{item_kind::barrier, p, {}, std::move(done), {}, {}, {}});
  queued_.fetch_add(1, std::memory_order_relaxed);
  const bool wake = w.waiting;
  lk.unlock();
  if (wake) w.cv.notify_one();
}

void journal_writer::lookup_idempotent(std::uint32_t p, record_key key, std::uint64_t hold_seq,
                                       std::string idem, lookup_done done) {
  queued_item item{item_kind::lookup, p, {}, {}, std::move(done), {}, {}};
  item.entry.key = std::move(key);
  item.entry.c.hold_seq = hold_seq;
  item.entry.idem = std::move(idem);
  if (!enqueue(*parts_[p]->owner, std::move(item), queued_))
    item.looked_up(stopped_status(), std::nullopt);
}

void journal_writer::run_forgetting_tenant(std::uint32_t p, std::string tenant, job fn) {
  // The job runs on p's writer thread, the only one that touches its cache.
  run(p, [part = parts_[p].get(), tenant = std::move(tenant), fn = std::move(fn)](partition_store& store) {
    part->cache->forget_tenant(tenant);
    fn(store);
  });
}

void journal_writer::purge_fold(std::uint32_t p, std::string tenant, std::function<void(const status&)> done) {
  run(p, [this, part = parts_[p].get(), tenant = std::move(tenant), done = std::move(done)](partition_store&) {
    part->cache->forget_tenant(tenant);
    status st = part->health;
    if (st) st = take_snapshot(*part, now_ms());
    if (!st && part->health) degrade(*part, st);
    done(st);
  });
}

void journal_writer::run(std::uint32_t p, job fn) {
  enqueue(*parts_[p]->owner, queued_item{item_kind::run, p, {}, {}, {}, std::move(fn), {}}, queued_);
}

std::uint64_t journal_writer::durable_seq(std::uint32_t p) const {
  return parts_[p]->durable.load(std::memory_order_acquire);
}

std::uint64_t journal_writer::recovered_seq(std::uint32_t p) const { return parts_[p]->recovered_seq; }
std::uint64_t journal_writer::first_seq(std::uint32_t p) const { return parts_[p]->first_seq; }

// ---- the writer thread -------------------------------------------------------

namespace {

// Writes the partition's pending batch in one transaction, fsynced if `sync`.
// Seqs are handed out below a durable lease; a batch that reaches it raises
// the lease (durably, by `lease_step`) before it is written, so seqs are
// never reused even after a power cut loses the batch.
template <class Partition>
status write_batch(Partition& part, bool sync, const journal_writer_options& opt) {
  status st = part.health;
  if (st && !part.batch.empty() && opt.commit_delay_us > 0)
    std::this_thread::sleep_for(std::chrono::microseconds(opt.commit_delay_us));
  if (st && !part.batch.empty() && part.batch.back().seq >= part.store->seq_lease())
    st = part.store->extend_seq_lease(part.batch.back().seq + 1 + opt.seq_lease_step);
  if (st && !part.batch.empty()) {
    // Fenced against the writer's own epoch, not each entry's: a follower's
    // batch holds a new leader's copies of its predecessors' entries.
    std::uint64_t epoch = 0;
    {
      std::lock_guard lk(part.owner->mu);
      epoch = part.epoch;
    }
    st = part.store->append(part.batch, sync, epoch);
  }
  return st;
}

}  // namespace

void journal_writer::complete_batch(partition& part, const status& st, bool synced) {
  if (st && !part.batch.empty()) {
    part.committed_seq = part.batch.back().seq;
    part.durable.store(part.committed_seq, std::memory_order_release);
    part.unsynced = part.unsynced || !synced;
    if (opt_.monitor.on_batch) opt_.monitor.on_batch(part.batch.size());
    if (opt_.on_committed) opt_.on_committed(part.id, part.batch);
  }
  // Degraded before the completions run: a client told UNAVAILABLE that
  // retries at once finds appends refused and the grid told.
  if (!st) degrade(part, st);
  const status& answer = st ? st : part.health;
  part.evicted_uncommitted = false;
  // Swapped, not moved out, so both vectors keep their capacity across batches.
  part.running_done.swap(part.batch_done);
  for (auto& [fn, index] : part.running_done) {
    const journal_entry* e = index >= 0 ? &part.batch[static_cast<std::size_t>(index)] : nullptr;
    if (st)
      complete_or_park(part, fn, e);
    else if (fn)
      fn(answer, e);
  }
  part.running_done.clear();
  part.batch.clear();
  part.batch_replicated.clear();
}

void journal_writer::flush(partition& part) {
  if (part.batch_done.empty()) return;
  const auto start = std::chrono::steady_clock::now();
  const status st = write_batch(part, opt_.sync, opt_);
  if (opt_.sync && st && !part.batch.empty() && opt_.monitor.on_durable)
    opt_.monitor.on_durable(seconds_since(start));
  complete_batch(part, st, opt_.sync);
}

// The store rolled back what failed (a transaction that did not commit leaves
// nothing, and its caches change only on success), so only the writer's own
// view can be ahead of the disk: the idempotency cache, which may hold keys
// of the failed batch. Seqs are not handed back: next_seq stays, and the
// store accepts any seq above its last.
void journal_writer::degrade(partition& part, const status& cause) {
  if (!part.health) {
    // Already degraded; a failure no probe heals still stops it for good.
    if (permanent(cause) && !part.stopped) {
      std::lock_guard lk(part.owner->mu);
      part.stopped = true;
    }
    return;
  }
  {
    std::lock_guard lk(part.owner->mu);
    part.degraded = true;
    part.stopped = permanent(cause);
  }
  part.health = status::unavailable("partition degraded: " + cause.to_string());
  part.cache->clear();
  part.evicted_uncommitted = false;
  // `unsynced` stays: acknowledged `batched` entries written before the
  // failure are still synced by the periodic sync and at a clean stop (or
  // by the probe's durable write).
  part.next_probe_ms = now_ms() + opt_.disk_retry_interval_ms;
  degraded_partitions_.fetch_add(1, std::memory_order_relaxed);
  failures_.fetch_add(1, std::memory_order_relaxed);
  if (opt_.on_health) opt_.on_health(part.id, part.health);
  run_parked(part, part.health);
}

void journal_writer::probe(partition& part, epoch_ms now) {
  part.next_probe_ms = now + opt_.disk_retry_interval_ms;
  if (part.stopped || !part.store->probe()) return;
  part.health = status::ok();
  part.unsynced = false;  // the probe's commit was fsynced, and with it the WAL before it
  {
    std::lock_guard lk(part.owner->mu);
    part.degraded = false;
  }
  degraded_partitions_.fetch_sub(1, std::memory_order_relaxed);
  if (opt_.on_health) opt_.on_health(part.id, part.health);
}

void journal_writer::flush_pass(std::vector<partition*>& touched) {
  std::size_t pending = 0;
  for (auto* part : touched) pending += !part->batch_done.empty();
  if (!opt_.sync || sync_dir_fd_ < 0 || pending < 2) {
    for (auto* part : touched) flush(*part);
    return;
  }
  // Write every batch without fsync, make them all durable at once, then
  // answer: no completion runs before its entry is on stable storage.
  std::vector<status> written(touched.size());
  for (std::size_t i = 0; i < touched.size(); ++i)
    if (!touched[i]->batch_done.empty()) written[i] = write_batch(*touched[i], false, opt_);
  const status synced = sync_filesystem();
  for (std::size_t i = 0; i < touched.size(); ++i)
    if (!touched[i]->batch_done.empty()) complete_batch(*touched[i], written[i] ? synced : written[i], true);
}

void journal_writer::run_worker(worker& w) {
  std::vector<queued_item> work;
  std::vector<partition*> touched;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lk(w.mu);
      while (w.queue.empty() && !w.stopping) {
        w.waiting = true;
        const auto wait = opt_.sync ? std::chrono::milliseconds(200)
                                    : std::chrono::milliseconds(std::min<std::int64_t>(
                                          200, std::max<std::int64_t>(1, opt_.fsync_interval_ms)));
        const bool woke = w.cv.wait_for(lk, wait, [&] { return !w.queue.empty() || w.stopping; });
        w.waiting = false;
        if (!woke) break;  // time for housekeeping
      }
      if (opt_.batch_window_us > 0 && !w.queue.empty() &&
          w.queue.size() < opt_.batch_entries_max && !w.stopping) {
        lk.unlock();
        std::this_thread::sleep_for(std::chrono::microseconds(opt_.batch_window_us));
        lk.lock();
      }
      work.swap(w.queue);
      stopping = w.stopping;
    }
    queued_.fetch_sub(work.size(), std::memory_order_relaxed);

    const auto now = now_ms();
    for (auto& item : work) {
      auto& part = *parts_[item.p];
      if (part.batch_done.empty()) touched.push_back(&part);
      switch (item.kind) {
        case item_kind::append:
          // Queued before the partition turned degraded: refused like the
          // batch that failed ahead of it.
          if (!part.health) {
            if (item.done) item.done(part.health, nullptr);
            break;
          }
          if (!item.entry.idem.empty())
            part.evicted_uncommitted |= part.cache->insert(item.entry, part.committed_seq);
          part.batch.push_back(std::move(item.entry));
          part.batch_replicated.push_back(false);
          part.batch_done.emplace_back(std::move(item.done),
                                       static_cast<std::ptrdiff_t>(part.batch.size() - 1));
          if (part.batch.size() >= opt_.batch_entries_max) flush(part);
          break;
        case item_kind::barrier:
          add_barrier(part, item.done);
          break;
        case item_kind::lookup: {
          const auto& q = item.entry;
          auto key = scope_key(q.key, q.c.hold_seq, q.idem);
          if (const auto* hit = part.cache->find(key)) {
            item.looked_up(status::ok(), *hit);
            break;
          }
          // Entries still in the batch are in the cache unless evicted.
          if (part.evicted_uncommitted) flush(part);
          std::optional<journal_entry> found;
          const auto since = now - opt_.retention_ms;
          auto st = q.c.hold_seq != 0
                        ? part.store->find_idempotent_hold(q.key.tenant, q.c.hold_seq, q.idem,
                                                           since, &found)
                        : part.store->find_idempotent(q.key, q.idem, since, &found);
          item.looked_up(st, std::move(found));
          break;
        }
        case item_kind::run:
          flush(part);
          item.fn(*part.store);
          break;
        case item_kind::control:
          item.control();
          break;
      }
    }
    flush_pass(touched);
    touched.clear();
    work.clear();

    // Housekeeping: the batched mode's periodic fsync, snapshots, then
    // probes of degraded partitions.
    const auto after = now_ms();
    if (background_) {
      if (const auto failures = background_->failures.load(); failures != w.background_failures_seen) {
        w.background_failures_seen = failures;
        status error;
        {
          std::lock_guard lk(background_->mu);
          error = background_->error;
        }
        for (auto* part : w.parts) degrade(*part, error);
      }
      if (stopping) sync_unsynced(w);
    } else if (!opt_.sync && (after - w.last_fsync_ms >= opt_.fsync_interval_ms || stopping)) {
      sync_unsynced(w);
      w.last_fsync_ms = after;
    }
    for (auto* part : w.parts) {
      if (!part->health || !snapshot_due(*part, after)) continue;
      if (auto st = take_snapshot(*part, after); !st) degrade(*part, st);
      part->last_snapshot_ms = after;
    }
    for (auto* part : w.parts)
      if (!part->health && after >= part->next_probe_ms && !stopping) probe(*part, after);
    if (stopping) {
      std::lock_guard lk(w.mu);
      if (w.queue.empty()) break;
    }
  }
  // A clean stop folds each partition's journal into its snapshot, so the
  // next start replays nothing, and leaves everything on stable storage,
  // whatever the mode.
  // (With `replicated`, only up to the commit point.)
  for (auto* part : w.parts) {
    if (!part->health || part->store->entries_since_snapshot() == 0) continue;
    // A failed snapshot changes nothing (its transaction rolls back): the
    // journal still holds everything and the next start replays it.
    if (take_snapshot(*part, now_ms())) part->unsynced = true;
  }
  sync_unsynced(w);
  for (auto* part : w.parts) run_parked(*part, stopped_status());
}

std::uint64_t journal_writer::fold_limit(const partition& part) const {
  if (!opt_.replicated) return partition_store::fold_everything;
  return std::min(part.commit_point.load(std::memory_order_acquire), part.committed_seq);
}

// Enough entries to fold, or some and the interval is over. With
// `replicated` only entries up to the commit point count, estimated by the
// seqs they span (gaps make that too high, which only brings a snapshot
// forward).
bool journal_writer::snapshot_due(const partition& part, epoch_ms now) const {
  const auto pending = part.store->entries_since_snapshot();
  const bool interval_over = now - part.last_snapshot_ms >= opt_.snapshot_interval_ms;
  if (!opt_.replicated) return pending >= opt_.snapshot_every_entries || (pending > 0 && interval_over);
  const auto upto = fold_limit(part);
  if (pending == 0 || upto <= part.folded_seq) return false;
  return upto - part.folded_seq >= opt_.snapshot_every_entries || interval_over;
}

status journal_writer::take_snapshot(partition& part, epoch_ms now) {
  const auto upto = fold_limit(part);
  snapshot_report rep;
  const auto start = std::chrono::steady_clock::now();
  status st = part.store->snapshot(now - opt_.retention_ms, upto, &rep);
  if (!st) return st;
  if (opt_.replicated) part.folded_seq = std::max(part.folded_seq, upto);
  if (opt_.monitor.on_snapshot) opt_.monitor.on_snapshot(seconds_since(start));
  return st;
}

void journal_writer::sync_unsynced(worker& w) {
  std::size_t unsynced = 0;
  // Degraded partitions too (not stopped ones): what they acknowledged
  // before the failure must still reach the disk.
  for (auto* part : w.parts) unsynced += !part->stopped && part->unsynced;
  if (unsynced == 0) return;
  // Several partitions: one syncfs for all; one: its own fsync.
  const bool together = sync_dir_fd_ >= 0 && unsynced > 1;
  const status group = together ? sync_filesystem() : status::ok();
  for (auto* part : w.parts) {
    if (!part->unsynced || part->stopped) continue;
    const auto start = std::chrono::steady_clock::now();
    if (auto st = together ? group : part->store->sync(); !st)
      degrade(*part, st);
    else if (!together && opt_.monitor.on_durable)
      opt_.monitor.on_durable(seconds_since(start));
    part->unsynced = false;
  }
}

// ---- replication -------------------------------------------------------------

bool journal_writer::queue_control(std::uint32_t p, control fn) {
  auto* part = parts_[p].get();
  queued_item item{item_kind::control, p, {}, {}, {}, {}, [part, fn = std::move(fn)] { fn(*part); }};
  return enqueue(*part->owner, std::move(item), queued_);
}

void journal_writer::append_replicated(std::uint32_t p, std::uint64_t leader_epoch, std::vector<journal_entry> entries,
                                       completion done) {
  auto& part = *parts_[p];
  std::uint64_t highest = 0;
  for (const journal_entry& e : entries) highest = std::max(highest, e.seq);
  {
    std::lock_guard lk(part.owner->mu);
    part.next_seq = std::max(part.next_seq, highest + 1);
  }
  auto take = [this, leader_epoch, entries = std::move(entries), done](partition& part) mutable {
    take_replicated(part, leader_epoch, entries, done);
  };
  if (!queue_control(p, std::move(take)) && done) done(stopped_status(), nullptr);
}

// The fencing check runs here, before the entries join the batch, so a
// stale leader's entries fail alone instead of failing (and stopping) the
// partition's batch.
void journal_writer::take_replicated(partition& part, std::uint64_t leader_epoch, std::vector<journal_entry>& entries,
                                     completion& done) {
  if (!part.health) {
    if (done) done(part.health, nullptr);
    return;
  }
  std::uint64_t last = part.batch.empty() ? part.committed_seq : part.batch.back().seq;
  std::vector<journal_entry> fresh;
  fresh.reserve(entries.size());
  for (journal_entry& e : entries) {
    if (e.seq <= last) continue;  // redelivered
    last = e.seq;
    fresh.push_back(std::move(e));
  }
  if (status st = check_fencing(fresh, leader_epoch, part.store->epoch(), part.store->name()); !st) {
    if (done) done(st, nullptr);
    return;
  }
  if (fresh.empty()) return add_barrier(part, done);
  for (journal_entry& e : fresh) {
    if (!e.idem.empty()) part.evicted_uncommitted |= part.cache->insert(e, part.committed_seq);
    part.batch.push_back(std::move(e));
    part.batch_replicated.push_back(true);
  }
  part.batch_done.emplace_back(std::move(done), static_cast<std::ptrdiff_t>(part.batch.size() - 1));
  if (part.batch.size() >= opt_.batch_entries_max) flush(part);
}

void journal_writer::add_barrier(partition& part, completion& done) {
  if (!part.batch_done.empty())
    part.batch_done.emplace_back(std::move(done), -1);
  else if (part.health)
    complete_or_park(part, done, nullptr);
  else if (done)
    done(part.health, nullptr);
}

void journal_writer::complete_or_park(partition& part, completion& fn, const journal_entry* e) {
  const bool replicated =
      e && !part.batch.empty() && e >= part.batch.data() && e < part.batch.data() + part.batch.size() &&
      part.batch_replicated[static_cast<std::size_t>(e - part.batch.data())];
  const bool wait = e ? !replicated && opt_.must_wait && e->seq > part.released_upto && opt_.must_wait(part.id, *e)
                      : !part.parked.empty();
  if (!wait) {
    if (fn) fn(status::ok(), e);
    return;
  }
  part.parked.push_back(parked_completion{std::move(fn), e ? std::optional(*e) : std::nullopt});
  part.parked_count.store(part.parked.size(), std::memory_order_relaxed);
}

// Each completion is taken off the queue before it runs, so one that calls
// the writer finds the queue consistent.
void journal_writer::run_parked(partition& part, const status& st, std::uint64_t upto_seq) {
  while (!part.parked.empty()) {
    if (st && part.parked.front().entry && part.parked.front().entry->seq > upto_seq) break;
    parked_completion c = std::move(part.parked.front());
    part.parked.pop_front();
    part.parked_count.store(part.parked.size(), std::memory_order_relaxed);
    if (c.done) c.done(st, c.entry ? &*c.entry : nullptr);
  }
}

void journal_writer::release(std::uint32_t p, std::uint64_t upto_seq) {
  queue_control(p, [this, upto_seq](partition& part) {
    part.released_upto = std::max(part.released_upto, upto_seq);
    run_parked(part, status::ok(), upto_seq);
  });
}

void journal_writer::fail_parked(std::uint32_t p, status st) {
  queue_control(p, [this, st = std::move(st)](partition& part) { run_parked(part, st); });
}

std::size_t journal_writer::parked(std::uint32_t p) const {
  return parts_[p]->parked_count.load(std::memory_order_relaxed);
}

void journal_writer::set_commit_point(std::uint32_t p, std::uint64_t seq) {
  auto& point = parts_[p]->commit_point;
  auto current = point.load(std::memory_order_relaxed);
  while (current < seq && !point.compare_exchange_weak(current, seq, std::memory_order_release)) {
  }
}

std::uint64_t journal_writer::commit_point(std::uint32_t p) const {
  return parts_[p]->commit_point.load(std::memory_order_acquire);
}

std::uint64_t journal_writer::last_seq(std::uint32_t p) const { return durable_seq(p); }

std::uint64_t journal_writer::epoch(std::uint32_t p) const {
  auto& part = *parts_[p];
  std::lock_guard lk(part.owner->mu);
  return part.epoch;
}

namespace {

status epoch_refused(std::uint64_t epoch, std::uint64_t current) {
  return status::invalid("epoch " + std::to_string(epoch) + " refused: the partition is at epoch " +
                         std::to_string(current));
}

// Disk trouble degrades the partition; `invalid` (a refused value) does not.
bool disk_trouble(const status& st) { return !st && st.kind() != status::code::invalid; }

}  // namespace

// The in-memory epoch is raised now, under the lock append() numbers
// entries under: appends queued before this call carry the old epoch and
// are committed before the store's epoch rises (flush below), so they are
// never fenced; appends queued after carry the new one.
void journal_writer::set_epoch(std::uint32_t p, std::uint64_t epoch, completion done) {
  auto& part = *parts_[p];
  std::uint64_t current = 0;
  {
    std::lock_guard lk(part.owner->mu);
    current = part.epoch;
    if (epoch > current && !part.owner->stopping) part.epoch = epoch;
  }
  auto raise = [this, epoch, current, done](partition& part) {
    status st = epoch > current ? status::ok() : epoch_refused(epoch, current);
    if (st) flush(part);
    if (st) st = raise_store_epoch(part, epoch);
    if (disk_trouble(st)) degrade(part, st);
    if (done) done(st, nullptr);
  };
  if (!queue_control(p, std::move(raise)) && done) done(stopped_status(), nullptr);
}

status journal_writer::raise_store_epoch(partition& part, std::uint64_t epoch) {
  if (!part.health) return part.health;
  return part.store->set_epoch(epoch);  // ok at once when it is the store's already
}

void journal_writer::promote(std::uint32_t p, std::uint64_t epoch,
                             std::function<void(const status&, std::uint64_t last_seq)> done) {
  auto& part = *parts_[p];
  std::uint64_t current = 0;
  {
    std::lock_guard lk(part.owner->mu);
    current = part.epoch;
    if (epoch >= current && !part.owner->stopping) part.epoch = epoch;
  }
  auto lead = [this, epoch, current, done](partition& part) {
    if (epoch < current) return done(epoch_refused(epoch, current), 0);
    flush(part);
    finish_promote(part, epoch, done);
  };
  if (!queue_control(p, std::move(lead))) done(stopped_status(), 0);
}

void journal_writer::finish_promote(partition& part, std::uint64_t epoch,
                                    const std::function<void(const status&, std::uint64_t)>& done) {
  status st = raise_store_epoch(part, epoch);
  std::uint64_t next = 0;
  if (st) {
    std::lock_guard lk(part.owner->mu);
    part.next_seq = std::max({part.next_seq, part.committed_seq + 1, part.store->seq_lease()});
    next = part.next_seq;
  }
  if (st) st = part.store->extend_seq_lease(next + opt_.seq_lease_step);
  if (disk_trouble(st)) degrade(part, st);
  if (!st) return done(st, 0);
  part.cache->clear();
  part.evicted_uncommitted = false;
  done(st, part.committed_seq);
}

void journal_writer::truncate_after(std::uint32_t p, std::uint64_t seq, completion done) {
  auto cut = [this, seq, done](partition& part) {
    flush(part);
    finish_truncate(part, seq, done);
  };
  if (!queue_control(p, std::move(cut)) && done) done(stopped_status(), nullptr);
}

void journal_writer::finish_truncate(partition& part, std::uint64_t seq, const completion& done) {
  run_parked(part, status::unavailable("the journal is truncated after seq " + std::to_string(seq) +
                                       ": this node no longer leads the partition"));
  const status st = part.health ? part.store->truncate_after(seq) : part.health;
  part.cache->clear();  // it may know keys of entries that are gone
  part.evicted_uncommitted = false;
  if (st && part.committed_seq > seq) {
    part.committed_seq = seq;
    part.durable.store(seq, std::memory_order_release);
  }
  if (st) {
    part.released_upto = std::min(part.released_upto, seq);
    part.folded_seq = std::min(part.folded_seq, seq);
  }
  if (disk_trouble(st)) degrade(part, st);
  if (done) done(st, nullptr);
}

void journal_writer::replace_store(std::uint32_t p, store_swap swap,
                                   std::function<void(const status&, const recovery_report&)> done) {
  auto replace = [this, swap = std::move(swap), done](partition& part) {
    flush(part);
    finish_replace(part, swap, done);
  };
  if (!queue_control(p, std::move(replace)) && done) done(stopped_status(), recovery_report{});
}

void journal_writer::finish_replace(partition& part, const store_swap& swap,
                                    const std::function<void(const status&, const recovery_report&)>& done) {
  recovery_report report;
  auto finish = [&](const status& st) {
    if (done) done(st, report);
  };
  if (!part.health) return finish(part.health);
  if (!part.parked.empty())
    return finish(status::unavailable("partition " + std::to_string(part.id) +
                                      " has changes waiting for a majority: it leads, and is not replaced"));
  const auto old_epoch = part.store->epoch();
  std::uint64_t old_lease = 0;
  {
    std::lock_guard lk(part.owner->mu);
    old_lease = std::max(part.next_seq, part.store->seq_lease());
  }
  if (auto st = swap(part.store); !st) return finish(st);
  part.cache->clear();
  part.evicted_uncommitted = false;
  auto st = part.store->recover(&report, false);
  if (st && part.store->epoch() < old_epoch) st = part.store->set_epoch(old_epoch);
  std::uint64_t next = 0;
  {
    std::lock_guard lk(part.owner->mu);
    part.next_seq = std::max({part.next_seq, old_lease, report.last_seq + 1, part.store->seq_lease()});
    part.epoch = std::max(part.epoch, part.store->epoch());
    next = part.next_seq;
  }
  if (st) st = part.store->extend_seq_lease(next + opt_.seq_lease_step);
  if (!st) {
    // The old store is gone: nothing is left to serve this partition from.
    // No probe can make it whole: stopped for good, until a restart
    // recovers the file from the disk.
    degrade(part, st);
    {
      std::lock_guard lk(part.owner->mu);
      part.stopped = true;
    }
    return finish(st);
  }
  part.committed_seq = report.last_seq;
  part.durable.store(report.last_seq, std::memory_order_release);
  part.released_upto = std::min(part.released_upto, report.last_seq);
  part.folded_seq = 0;
  finish(st);
}

}  // namespace stockgrid::persistence
