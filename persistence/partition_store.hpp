// The seam between the grid and storage: one partition's journal and snapshot.
//
// Every method blocks on I/O; callers run them only on the partition's journal
// thread (persistence/journal_writer.hpp), never on an actor scheduler thread.
// A store is used by one thread at a time. Two implementations: SQLite
// (sqlite_store.hpp, what nodes run) and an in-memory twin (memory_store.hpp,
// for unit tests of the layers above).
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/change.hpp"
#include "domain/outcome.hpp"
#include "domain/stock_record.hpp"
#include "domain/types.hpp"
#include "persistence/status.hpp"

namespace stockgrid::persistence {

// One journal row. The row layout on disk is described in format.hpp.
struct journal_entry {
  std::uint64_t seq = 0;    // partition sequence number: increasing, never reused
  std::uint64_t epoch = 0;  // the writer's epoch (fencing)
  epoch_ms at_ms = 0;       // server time of the append
  record_key key;
  change c;
  std::string idem;               // idempotency key, empty = none
  std::uint64_t fingerprint = 0;  // request_fingerprint() of the request when idem is set
  outcome result = outcome::ok;   // ok, or the remembered refusal (c.kind == refusal)
  std::int64_t detail = 0;        // INSUFFICIENT_STOCK: available; LIMIT_EXCEEDED: the limit
  std::string key_id;             // the API key that made the change, may be empty
};

// A record's state as stored.
struct record_image {
  record_key key;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t version = 0;
  std::vector<hold> holds;
  std::uint64_t last_seq = 0;  // seq of the last journal entry that changed it
  // Policy and backorder state (stock_record.hpp); after last_seq so that
  // images built field by field stay source-compatible.
  record_policy policy;
  std::int64_t backordered = 0;
  std::int64_t incoming = 0;
};

struct recovery_report {
  std::uint64_t snapshot_records = 0;  // rows read (and CRC-checked) from the snapshot
  std::uint64_t replayed_entries = 0;  // journal entries after the snapshot, folded in
  std::uint64_t last_seq = 0;          // highest seq in the journal (0 if empty)
  double seconds = 0;
  std::vector<record_image> with_holds;  // every record that has active holds
  // Every (tenant, warehouse) with at least one record, sorted: the node's
  // warehouse directory (allocation and stock.find look only there).
  std::vector<std::pair<std::string, std::string>> warehouses;
};

// Which records list_records() returns.
struct list_filter {
  std::string tenant;
  std::string warehouse;        // empty = every warehouse
  std::string sku_prefix;       // empty = every SKU
  std::string after_warehouse;  // start after this (warehouse, sku); both empty = from the start
  std::string after_sku;
  std::size_t limit = 100;
};

// Where a journal ends: its last entry's epoch and seq (a replica's
// cluster::log_position, cluster/replication.hpp).
struct journal_position {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const journal_position&, const journal_position&) = default;
};

struct snapshot_report {
  std::uint64_t folded_entries = 0;   // journal entries folded into the snapshot
  std::uint64_t records_written = 0;  // snapshot rows written
  std::uint64_t compacted_entries = 0;  // journal rows deleted
  double seconds = 0;
};

class partition_store {
 public:
  virtual ~partition_store() = default;

  // Verifies the partition and, with `fold`, brings its snapshot up to date:
  // reads every snapshot row and every journal entry after the snapshot,
  // checking each row's CRC, that seqs increase (gaps are normal: a restart
  // skips to the seq lease) and each record's version chain; with `fold`,
  // folds the tail into the snapshot (as snapshot() does). Without `fold` it
  // writes nothing: the report (records with holds, warehouses, last_seq)
  // describes the snapshot with the tail applied, and the tail stays in the
  // journal (a replicated partition folds only entries a majority holds,
  // journal_writer.hpp). A damaged file or row returns corruption naming the
  // file and the row; nothing is changed then.
  //
  // Safe to call again on an open store, between other calls: a promoted
  // follower calls recover(report, false) to learn which records hold holds.
  // (With `fold` it also folds the whole tail, replicated or not.)
  virtual status recover(recovery_report* report, bool fold) = 0;
  status recover(recovery_report* report) { return recover(report, true); }

  // The journal's fencing epoch (0 for a new journal).
  virtual std::uint64_t epoch() const = 0;
  // Durably raises the epoch. Lower values are refused with `invalid`.
  virtual status set_epoch(std::uint64_t epoch) = 0;

  // Sequence lease: the journal writer hands out seqs only below the lease.
  // Raising it is durable when this returns, so seqs handed out before a crash
  // (even ones whose entries were lost in `batched` mode) are never reused.
  virtual std::uint64_t seq_lease() const = 0;
  virtual status extend_seq_lease(std::uint64_t new_lease) = 0;

  // Appends entries (increasing seqs, each above every seq already in the
  // journal and below the seq lease) in one transaction. Any such seq will
  // do, so a follower appends its leader's seqs as they are, whatever its own
  // lease handed out before. With `sync`, the transaction is on stable
  // storage when this returns ok; without, it has reached the OS. The call is
  // fenced (`fenced`, nothing written) when `writer_epoch`, the epoch of
  // whoever appends — this node's writer, or in a cluster the leader that
  // shipped the entries — is below the journal's. The entries' own epochs
  // may be older: a new leader ships the entries of its predecessors.
  virtual status append(const std::vector<journal_entry>& entries, bool sync, std::uint64_t writer_epoch) = 0;
  // One writer of its own entries: its epoch is theirs (the lowest of them).
  status append(const std::vector<journal_entry>& entries, bool sync) {
    std::uint64_t lowest = UINT64_MAX;
    for (const auto& e : entries) lowest = std::min(lowest, e.epoch);
    return append(entries, sync, lowest);
  }

  // Forces everything appended so far to stable storage.
  virtual status sync() = 0;

  // After a failed write, sync or snapshot: asks the disk whether it takes
  // writes again with a small real one (the store rewrites a metadata row it
  // already holds in a transaction committed with fsync, which also makes
  // every earlier committed transaction durable). On success the store's
  // in-memory view (caches, counters, the tail index) is reloaded from the
  // file, so it is exactly what is on disk. Changes no content. An error
  // means the disk still refuses; nothing changed.
  virtual status probe() = 0;

  // A record's current state: its snapshot row with the journal entries after
  // the snapshot applied. `found` is false for a record never stocked.
  virtual status load_record(const record_key& key, record_image* out, bool* found) = 0;

  // The record's movements, newest first: entries with version < before_version
  // (0 = no bound), refusals excluded, at most `limit`.
  virtual status history(const record_key& key, std::int64_t before_version, int limit,
                         std::vector<journal_entry>* out) = 0;

  // The entry that carried idempotency key `idem` for this record, appended at
  // or after `since_ms`; nullopt if none.
  virtual status find_idempotent(const record_key& key, std::string_view idem,
                                 epoch_ms since_ms, std::optional<journal_entry>* out) = 0;
  // The same for an operation on a hold of `tenant` (commit, release, extend),
  // which a client may retry after the hold is gone.
  virtual status find_idempotent_hold(std::string_view tenant, std::uint64_t hold_seq,
                                      std::string_view idem, epoch_ms since_ms,
                                      std::optional<journal_entry>* out) = 0;

  // Up to `limit` records matching the filter, in (warehouse, sku) order, in
  // their current state (as load_record gives them).
  virtual status list_records(const list_filter& filter, std::vector<record_image>* out) = 0;

  // Up to `limit` journal entries with seq > after_seq, in seq order,
  // refusals included (subscriptions resume from here). Entries below
  // compacted_below() may be gone.
  virtual status read_journal(std::uint64_t after_seq, std::size_t limit,
                              std::vector<journal_entry>* out) = 0;
  // Where the journal ends (a replica's position, cluster/replication.hpp):
  // its last entry's (epoch, seq); when compaction deleted every entry, the
  // last one it deleted, remembered durably with the compaction, so a copy
  // idle past the retention does not look empty; (0, 0) for a journal that
  // never held one. A file compacted by a build that did not remember it
  // says (0, snapshot_seq): the seq is right, the epoch unknown, and 0
  // ranks below every entry of a known epoch (format.hpp's compacted_epoch).
  virtual status journal_end(journal_position* out) = 0;
  // The last entry compaction deleted ((0, 0): none; a file compacted before
  // it was kept says as journal_end does).
  virtual journal_position compacted_end() const = 0;
  // Every journal entry with seq >= this is still in the journal: compaction
  // has deleted only entries below it (1 = nothing ever deleted). Durable with
  // the compaction that raised it.
  virtual std::uint64_t compacted_below() const = 0;

  // Journal entries after the snapshot (not folded yet).
  virtual std::uint64_t entries_since_snapshot() const = 0;
  // Folds the journal entries after the snapshot with seq <= fold_upto_seq
  // into the snapshot in one transaction (the old snapshot stays current
  // until it commits), then deletes journal entries that are in the snapshot
  // and older than `retain_since_ms`. Entries above fold_upto_seq stay in the
  // journal's tail, where loads, listings, history and look-ups still apply
  // them; the snapshot then ends at the highest seq folded. A fold_upto_seq
  // at or below the snapshot's end folds nothing.
  virtual status snapshot(epoch_ms retain_since_ms, std::uint64_t fold_upto_seq,
                          snapshot_report* report) = 0;
  // Folds every entry after the snapshot.
  status snapshot(epoch_ms retain_since_ms, snapshot_report* report) {
    return snapshot(retain_since_ms, fold_everything, report);
  }
  static constexpr std::uint64_t fold_everything = UINT64_MAX;

  // Deletes every journal entry with seq > `seq` (a deposed leader's tail
  // that no majority holds) with what the store keeps derived from them, in
  // one transaction durable when it returns ok; loads, listings, look-ups and
  // the next append's check then see the journal as it is without them. The
  // seq lease stays: seqs handed out are not handed out again. Nothing above
  // `seq`: ok, nothing written. `invalid`, and nothing changed, when `seq`
  // is below the snapshot's end (those entries are folded and cannot be
  // taken back).
  virtual status truncate_after(std::uint64_t seq) = 0;

  // How many records exist per tenant (tenant, count), in tenant order: the
  // records quota's counts at start (actors/record_quota.hpp).
  virtual status count_records(std::vector<std::pair<std::string, std::uint64_t>>* out) = 0;

  // Removes every row of `tenant` from the partition: its journal entries,
  // snapshot rows and index rows (tenant.delete); the tail is folded into
  // the snapshot first, so no entry of another tenant is lost. Durable when
  // it returns ok; on an error some rows may be gone and a later call
  // finishes the work. `records` (may be null) gets how many records it
  // removed.
  virtual status delete_tenant(std::string_view tenant, std::uint64_t* records) = 0;

  // Where the data lives, for messages ("data/p-0007.db", or "memory").
  virtual const std::string& name() const = 0;
};

}  // namespace stockgrid::persistence
