// The journal writer: the only code that touches the partition stores once a
// node runs. A few threads (not actor scheduler threads) each own a fixed set
// of partitions; they group-commit appended entries (one transaction per
// partition per pass), run completions once entries are durable, serve
// idempotency look-ups from a bounded cache in front of the store, run reads
// that must see every earlier append, and take snapshots.
//
// Order: everything queued for one partition is processed in the order it was
// queued. Completions run on the writer thread; keep them short (post a
// message, call a callback that posts).
//
// Disk trouble. A failed commit or snapshot of a partition (a full disk: the
// write is refused) makes it degraded, not stopped: what failed is rolled
// back (the store is left exactly as on disk, and the partition's
// idempotency cache is emptied), the failed batch's completions, completions
// parked by must_wait and every append queued behind it fail with
// `unavailable`, and appends are refused (append returns 0, barrier fails)
// while reads, look-ups and jobs go on against the store. Every
// disk_retry_interval_ms the writer thread probes the store with a small
// durable write (partition_store::probe); the first that succeeds makes the
// partition healthy again. Seqs handed out are never handed out again, so a
// failed batch leaves a gap. A failed fsync or syncfs (`sync_failed`: a
// failing device) also refuses appends but is never healed by a probe: what
// it was to make durable may already be gone from the page cache, so only a
// restart, which recovers from the disk, makes the store trustworthy again
// (PostgreSQL's lesson from "fsyncgate"). A `fenced` or `corruption` error
// stops the partition for good too (until a restart); append_replicated
// checks fencing before it writes, so a stale leader's entries fail only
// their own call.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

// Monitoring (metrics/; each may be empty), called on the writer threads and
// the batched mode's sync thread: the entries of each committed transaction;
// the seconds of each step that makes written data durable (one syncfs of
// sync_dir, one store's fsync, or, for a `sync` batch committed alone, its
// commit, which includes the fsync); the seconds of each snapshot.
struct journal_monitor {
  std::function<void(std::size_t entries)> on_batch;
  std::function<void(double seconds)> on_durable;
  std::function<void(double seconds)> on_snapshot;
};

struct journal_writer_options {
  bool sync = true;                          // durability `sync` (else `batched`)
  std::int64_t fsync_interval_ms = 1000;     // batched: fsync at most this often
  std::size_t batch_entries_max = 4096;      // entries per transaction
  std::int64_t batch_window_us = 0;          // wait this long to fill a batch
  std::int64_t commit_delay_us = 0;          // drills: sleep before each commit (a slow disk)
  std::int64_t disk_retry_interval_ms = 1000;  // degraded: probe the disk this often
  std::uint32_t threads = 2;                 // writer threads
  std::uint64_t snapshot_every_entries = 200000;
  std::int64_t snapshot_interval_ms = 60000;
  std::int64_t retention_ms = 86400000;      // journal and idempotency keys kept
  std::size_t idempotency_cache_entries = 16384;  // per partition
  std::uint64_t epoch = 1;                   // this writer's fencing epoch
  std::uint64_t seq_lease_step = 1 << 20;    // seqs leased per durable lease write
  // Non-empty: the directory holding every store's files, on one filesystem,
  // with the stores going through SQLite's own VFS. A pass that committed
  // several partitions is then made durable with one syncfs(2) of that
  // filesystem instead of one fsync per partition (sync mode, and the batched
  // mode's periodic fsync): fsyncs of different files cannot share a flush,
  // so per-partition fsyncs would bound sync throughput by partitions touched
  // per pass. Empty: each store syncs itself (through its VFS).
  std::string sync_dir;
  // Runs on the writer thread each time a batch of partition p has been
  // committed (durable as the mode promises), before its completions, with
  // the batch's entries in seq order. Subscriptions hang here
  // (feed/publisher.hpp); it must be quick and must not call the writer.
  std::function<void(std::uint32_t p, const std::vector<journal_entry>& batch)> on_committed;
  // Runs on the writer thread when partition p turns degraded (with the
  // `unavailable` status its refusals carry, which names the cause), once
  // appends are already refused and before the failed completions run, and
  // when a probe made it healthy again (with ok). The grid drops there what
  // its actors hold ahead of the disk. Quick; must not call the writer.
  std::function<void(std::uint32_t p, const status& health)> on_health;
  journal_monitor monitor;

  // Replication (leader/follower per partition and epoch; the cluster layer
  // drives it through the calls under "Replication" below). With
  // `replicated`, recovery does not fold the journal's tail into the
  // snapshot, and snapshots (periodic and at stop) fold only entries up to
  // the partition's commit point (set_commit_point): entries no majority is
  // known to hold stay in the journal, where truncate_after can take them
  // back.
  bool replicated = false;
  // Completions of appends whose entry this accepts wait, once committed,
  // until release() says a majority holds them (see "Replication"). Called
  // on the writer thread after on_committed, once per completed append; it
  // must be quick and must not call the writer. Empty: nothing waits.
  std::function<bool(std::uint32_t p, const journal_entry& e)> must_wait;
  // Whether append() takes this node's own entries for p now (empty =
  // always). In a cluster only p's leader appends: a deposed leader's record
  // actors still running must not write in the epoch a vote just raised.
  // Read under the partition's queue lock, so an append either is queued
  // before a set_epoch that follows the change of this answer, or refused.
  std::function<bool(std::uint32_t p)> may_append;
};

class journal_writer {
 public:
  // Runs on the writer thread once an append (with the entry as committed) or a
  // barrier (with null) is durable, or with `unavailable` when the partition
  // is (or just turned) degraded: the entry is not acknowledged, and may or
  // may not be on disk (a failed fsync says nothing about what reached it).
  using completion = std::function<void(const status&, const journal_entry*)>;
  using lookup_done = std::function<void(const status&, std::optional<journal_entry>)>;
  using job = std::function<void(partition_store&)>;

  // Takes the stores of partitions 0..n-1, recovers them in parallel on the
  // writer threads and starts. On error (a corrupt file), `st` says which file
  // and row and the writer must not be used.
  journal_writer(std::vector<std::unique_ptr<partition_store>> stores,
                 journal_writer_options options, status* st,
                 std::vector<recovery_report>* reports);
  ~journal_writer();
  journal_writer(const journal_writer&) = delete;
  journal_writer& operator=(const journal_writer&) = delete;

  // Queues `e` for partition p, gives it the partition's next seq (a reserve's
  // hold_seq too) and returns that seq. `done` (may be empty) runs once the
  // entry is durable as the mode promises, or with `unavailable` if the
  // partition turned degraded before it was. Returns 0 and queues nothing
  // when the partition is degraded or stopped, or the writer is stopping.
  //
  // `numbered` (may be empty) runs with the seq before the entry is queued,
  // so before `done` can run on the writer thread: whatever it sends is on
  // its way before anyone can learn of the entry. (A reserve's record uses it
  // to tell its partition about the new hold before the client can see the
  // hold id and commit it.) It must be quick and must not call the writer.
  std::uint64_t append(std::uint32_t p, journal_entry&& e, completion done,
                       const std::function<void(std::uint64_t seq)>& numbered = {});

  // Runs `done` once every entry appended to p before this call is durable.
  void barrier(std::uint32_t p, completion done);

  // Finds the entry that carried `idem` for this record (or, when hold_seq is
  // set, for this tenant's hold) within the retention window: first in the
  // cache of recent keys, else in the store. Sees every earlier append.
  void lookup_idempotent(std::uint32_t p, record_key key, std::uint64_t hold_seq,
                         std::string idem, lookup_done done);

  // Runs `fn` on p's writer thread after every earlier append has committed.
  void run(std::uint32_t p, job fn);

  // Like run(), for tenant.delete: first drops `tenant`'s keys from p's
  // idempotency cache (so a tenant made anew with the name replays none of
  // them), then runs `fn`, which removes its rows from the store.
  void run_forgetting_tenant(std::uint32_t p, std::string tenant, job fn);

  // tenant.delete in a cluster, once p's purge entry for `tenant`
  // (purge.hpp) is committed: drops the tenant's keys from p's idempotency
  // cache and folds p's journal up to the commit point now, so this copy
  // applies the purge before the delete is answered (the other copies apply
  // it at their next snapshot). `done` runs on the writer thread with the
  // snapshot's status (a failure degrades the partition).
  void purge_fold(std::uint32_t p, std::string tenant, std::function<void(const status&)> done);

  // Highest seq of p known durable (entries up to it are acknowledged).
  std::uint64_t durable_seq(std::uint32_t p) const;
  // The highest seq p's journal held when this writer recovered it, and the
  // first seq this writer hands out (above the lease, so seqs in between were
  // never used or were lost with a power cut in `batched` mode).
  std::uint64_t recovered_seq(std::uint32_t p) const;
  std::uint64_t first_seq(std::uint32_t p) const;
  std::uint32_t partitions() const { return static_cast<std::uint32_t>(parts_.size()); }
  // Entries and jobs queued but not yet processed, over all partitions.
  std::size_t queued() const { return queued_.load(std::memory_order_relaxed); }
  // Partitions degraded now: a write, sync or snapshot failed and no probe
  // has succeeded since (they refuse appends), or stopped for good.
  std::size_t degraded_partitions() const { return degraded_partitions_.load(std::memory_order_relaxed); }
  // Times a partition turned degraded since start.
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  // Processes everything queued, commits and fsyncs it, runs completions
  // still parked (see release) with the stopped status, and joins the
  // threads. Later calls fail their completions with `unavailable`-like io
  // errors.
  void stop();

  // ---- Replication ----------------------------------------------------------
  // Primitives for the cluster layer's leader/follower replication of a
  // partition's journal (one leader per partition per epoch). Each call is
  // queued in order with p's other items unless it says otherwise; its
  // completion runs on p's writer thread. When the writer is stopping, calls
  // with a completion run it at once, on the caller's thread, with the
  // stopped status (as barrier() does); release and fail_parked do nothing.

  // A follower appends its leader's entries, keeping their seqs and epochs.
  // Entries with a seq at or below p's last committed or queued seq are
  // skipped (redelivery is harmless; so is an entry not above the one
  // before it in `entries`); the others join the group-commit batch like
  // appends (same durability, on_committed, idempotency cache). p's next
  // seq is raised above the highest seq of `entries` now, so appends after
  // a promotion never reuse one. `done` runs once the batch holding them is
  // durable, with the last entry appended, or with null when all were
  // skipped (then like a barrier). `leader_epoch` is the epoch of the leader
  // that shipped them (the entries may be older: a new leader ships its
  // predecessors' entries); below the store's, the call fails with
  // `fenced` at once, appending none of `entries`, and leaves the partition
  // as it was (unlike an append, which a fenced journal stops for good).
  // Degraded: `done` gets `unavailable`.
  void append_replicated(std::uint32_t p, std::uint64_t leader_epoch, std::vector<journal_entry> entries,
                         completion done);

  // The highest seq known replicated to a majority (monotonic: a lower
  // value is ignored). With `replicated`, snapshots fold no entry above it.
  // Any thread; takes effect at the next snapshot.
  void set_commit_point(std::uint32_t p, std::uint64_t seq);
  std::uint64_t commit_point(std::uint32_t p) const;

  // A vote: raises p's epoch to `epoch`, which must be above the current one
  // (else `invalid`: one vote per epoch). Appends made after this call carry
  // it; on the writer thread, once every entry queued before is committed,
  // the store's epoch is raised durably (so a leader of an older epoch is
  // fenced), then `done` runs with ok and null. A failed write degrades the
  // partition and is returned; the in-memory epoch stays raised (a second
  // vote in the same epoch is refused even then).
  void set_epoch(std::uint32_t p, std::uint64_t epoch, completion done);
  // The epoch p's new appends carry (raised by set_epoch and promote when
  // they are called; durable once their completion says ok). Any thread.
  std::uint64_t epoch(std::uint32_t p) const;

  // Makes this node p's leader in `epoch` (>= the current one, else
  // `invalid`). Like set_epoch, then, on the writer thread: p's next seq
  // goes above the highest seq in the journal and at least to the store's
  // seq lease (seqs this node handed out in earlier epochs are never handed
  // out again), the lease is extended durably, and p's idempotency cache is
  // emptied (look-ups go to the store). `done` gets the highest seq in the
  // journal (0 with an error).
  void promote(std::uint32_t p, std::uint64_t epoch,
               std::function<void(const status&, std::uint64_t last_seq)> done);

  // Completions held back by must_wait ("parked"), in seq order; a barrier
  // (or append_replicated that appended nothing) completing behind a parked
  // append is parked behind it, so it never runs before that append is
  // released. Parked completions run with ok and their entry (an owned
  // copy, valid during the call).
  //
  // release runs, in order, parked completions with seq <= upto_seq and the
  // barriers behind them, stopping at the first parked append above
  // upto_seq; appends up to upto_seq that commit later are not parked at all
  // (a majority may acknowledge an entry before the local commit). Any
  // thread; done on p's writer thread, in queue order, without waiting for
  // the pending batch.
  void release(std::uint32_t p, std::uint64_t upto_seq);
  // Runs every parked completion of p with `st` (a deposed leader's
  // answers). Any thread; done on p's writer thread, in queue order. A
  // partition that turns degraded, or a truncate_after, fails its parked
  // completions too.
  void fail_parked(std::uint32_t p, status st);
  // Completions of p parked now. Any thread (metrics, tests).
  std::size_t parked(std::uint32_t p) const;

  // The highest seq committed in p's journal (as durable_seq; after
  // truncate_after, the truncated value). Any thread.
  std::uint64_t last_seq(std::uint32_t p) const;

  // A deposed leader drops its unreplicated tail. On the writer thread,
  // once everything queued before is committed: fails p's parked
  // completions with `unavailable`, deletes the journal's entries above
  // `seq` durably (partition_store::truncate_after), empties the
  // idempotency cache and lowers last_seq/durable_seq to `seq` when they
  // were above; p's next seq stays (seqs are not handed out again). `done`
  // gets the store's answer and null: `invalid` when entries above `seq`
  // are already folded into the snapshot, which changes nothing and leaves
  // the partition healthy; another failure degrades it as a failed write
  // does.
  void truncate_after(std::uint32_t p, std::uint64_t seq, completion done);

  // A follower's copy that cannot catch up from its leader's journal (it
  // ends below what the leader compacted) is replaced whole by a copy of the
  // leader's store (actors/replica_copy.cpp). On the writer thread, once
  // everything queued before is committed: `swap` gets p's store, which it
  // may close, and returns ok with `store` holding the replacement, opened
  // and not yet recovered; or an error with `store` holding a usable store
  // (the old one) and nothing changed. The writer then recovers the new
  // store (without folding its tail), keeps p's epoch and seq lease at least
  // where they were (a vote given, or a seq handed out, before the swap
  // still counts), empties the idempotency cache and takes the new
  // journal's end as committed and durable. `done` gets the status and the
  // recovery report (its warehouses are the copy's); a failed recovery
  // stops the partition for good (until a restart) with that status.
  // Refused with `unavailable` while p is degraded or has parked
  // completions (a leader's).
  using store_swap = std::function<status(std::unique_ptr<partition_store>& store)>;
  void replace_store(std::uint32_t p, store_swap swap,
                     std::function<void(const status&, const recovery_report&)> done);

 private:
  struct partition;
  struct worker;
  void run_worker(worker& w);

  // Makes the given partitions' written batches durable and runs their
  // completions: one syncfs for all, or each store's own fsync.
  void flush_pass(std::vector<partition*>& touched);
  // Commits the partition's pending batch and runs its completions.
  void flush(partition& part);
  // After write_batch: `st` says whether the batch is written, and durable as
  // the mode promises; publishes it and runs its completions.
  void complete_batch(partition& part, const status& st, bool synced);
  // A write, sync or snapshot of the partition failed with `cause`.
  void degrade(partition& part, const status& cause);
  // Degraded and due: tries the disk again.
  void probe(partition& part, std::int64_t now_ms);
  // syncfs(2) of sync_dir's filesystem.
  status sync_filesystem();
  // Makes every partition of `w` written without fsync durable.
  void sync_unsynced(worker& w);

  // Replication. All but queue_control run on the writer thread.
  using control = std::function<void(partition&)>;
  // Queues `fn` to run on p's writer thread in queue order; false (nothing
  // queued) when the writer is stopping.
  bool queue_control(std::uint32_t p, control fn);
  void take_replicated(partition& part, std::uint64_t leader_epoch, std::vector<journal_entry>& entries,
                       completion& done);
  // A barrier's completion: behind the pending batch, else parked behind a
  // parked append, else run now.
  void add_barrier(partition& part, completion& done);
  // store.set_epoch, refused while degraded.
  status raise_store_epoch(partition& part, std::uint64_t epoch);
  void finish_promote(partition& part, std::uint64_t epoch,
                      const std::function<void(const status&, std::uint64_t)>& done);
  void finish_truncate(partition& part, std::uint64_t seq, const completion& done);
  void finish_replace(partition& part, const store_swap& swap,
                      const std::function<void(const status&, const recovery_report&)>& done);
  // Runs a completion whose batch committed (`e` null: a barrier), or parks
  // it (see release).
  void complete_or_park(partition& part, completion& fn, const journal_entry* e);
  // Runs parked completions in order: with an error all of them; with ok
  // those up to upto_seq and the barriers behind them.
  void run_parked(partition& part, const status& st, std::uint64_t upto_seq = UINT64_MAX);
  // The highest seq a snapshot may fold: the commit point with
  // `replicated`, else everything.
  std::uint64_t fold_limit(const partition& part) const;
  bool snapshot_due(const partition& part, epoch_ms now) const;
  // Folds the journal into the snapshot up to fold_limit and compacts.
  status take_snapshot(partition& part, epoch_ms now);

  // Batched mode with sync_dir: the periodic flush runs on a thread of its
  // own, so writer threads never stall behind it.
  struct background_sync;
  void run_background_sync();

  journal_writer_options opt_;
  int sync_dir_fd_ = -1;  // open on sync_dir; -1 = each store syncs itself
  std::unique_ptr<background_sync> background_;
  std::vector<std::unique_ptr<partition>> parts_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> degraded_partitions_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace stockgrid::persistence
