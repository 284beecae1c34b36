// The SQLite partition store's class, shared by its source files:
// sqlite_store.cpp (opening, meta, appends, durability), sqlite_lookup.cpp
// (loads, history, idempotency lookups), sqlite_list.cpp (listing) and
// sqlite_fold.cpp (recovery, snapshots, compaction). Internal to persistence/.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "persistence/fold.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence/sqlite_util.hpp"
#include "persistence/tail_index.hpp"

namespace stockgrid::persistence {

// A record being folded, and the (version, seq) of each change folded into
// it, which become its record_index rows.
struct folding : folded_record {
  std::vector<std::pair<std::int64_t, std::uint64_t>> changes;
};
using folding_map = std::unordered_map<record_key, folding, record_key_hash>;

// What folding the tail produced, before it is written.
struct folded_tail {
  folding_map records;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> idems;  // (idem_hash, seq)
  std::vector<std::pair<std::string, std::uint64_t>> purges;   // (tenant, seq of its purge entry): purge.hpp
  std::uint64_t entries = 0;
  std::uint64_t last_seq = 0;
};

class sqlite_store final : public partition_store {
 public:
  explicit sqlite_store(sqlite_options options) : options_(std::move(options)) {}
  ~sqlite_store() override;
  status open();

  using partition_store::recover;
  using partition_store::snapshot;
  status recover(recovery_report* report, bool fold) override;
  std::uint64_t epoch() const override { return epoch_; }
  status set_epoch(std::uint64_t epoch) override;
  std::uint64_t seq_lease() const override { return seq_lease_; }
  status extend_seq_lease(std::uint64_t new_lease) override;
  using partition_store::append;
  status append(const std::vector<journal_entry>& entries, bool sync, std::uint64_t writer_epoch) override;
  status sync() override;
  status probe() override;
  status load_record(const record_key& key, record_image* out, bool* found) override;
  status history(const record_key& key, std::int64_t before_version, int limit,
                 std::vector<journal_entry>* out) override;
  status find_idempotent(const record_key& key, std::string_view idem, epoch_ms since_ms,
                         std::optional<journal_entry>* out) override;
  status find_idempotent_hold(std::string_view tenant, std::uint64_t hold_seq,
                              std::string_view idem, epoch_ms since_ms,
                              std::optional<journal_entry>* out) override;
  status list_records(const list_filter& filter, std::vector<record_image>* out) override;
  status read_journal(std::uint64_t after_seq, std::size_t limit,
                      std::vector<journal_entry>* out) override;
  status journal_end(journal_position* out) override;
  journal_position compacted_end() const override { return compacted_end_; }
  std::uint64_t compacted_below() const override { return compacted_below_; }
  std::uint64_t entries_since_snapshot() const override { return since_snapshot_; }
  status snapshot(epoch_ms retain_since_ms, std::uint64_t fold_upto_seq,
                  snapshot_report* report) override;
  status truncate_after(std::uint64_t seq) override;
  status count_records(std::vector<std::pair<std::string, std::uint64_t>>* out) override;
  status delete_tenant(std::string_view tenant, std::uint64_t* records) override;
  const std::string& name() const override { return options_.path; }

 private:
  struct statements {
    sqlite::statement begin, commit, rollback;
    sqlite::statement meta_get, meta_put, max_seq, count_after;
    sqlite::statement insert_entry, tail, tail_keys, entry_at, journal_after, journal_last, truncate;
    sqlite::statement history, find_idem, find_idem_hold;
    sqlite::statement record_index_put, idem_index_put, record_index_del, idem_index_del;
    sqlite::statement compact_boundary, compact_rows, compact;
    sqlite::statement snapshot_all, snapshot_get, snapshot_put, list_snapshot;
  };

  // sqlite_store.cpp
  status create_schema();
  status upgrade_format();
  status prepare_statements();
  status load_meta();
  status read_meta(const char* key, std::int64_t* out);
  status write_meta(const char* key, std::int64_t value);
  status set_synchronous(bool full);
  status begin();
  status commit();
  void rollback();
  status durable_meta_raise(const char* key, std::uint64_t value, std::uint64_t* cached);
  status write_and_reload(const std::function<status()>& write);
  status insert_entries(const std::vector<journal_entry>& entries, std::uint64_t writer_epoch);
  status checkpoint_if_due();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);

  // sqlite_lookup.cpp
  status ensure_tail_index();
  // Reads the tail entry at `seq` into row_; *found is false if it is gone.
  status read_entry(std::uint64_t seq, bool* found);
  status fetch_one(sqlite::statement& s, std::optional<journal_entry>* out);
  template <typename Match>
  status find_in_tail(std::string_view idem, epoch_ms since_ms, Match match,
                      std::optional<journal_entry>* out);
  status tail_history(const record_key& key, std::int64_t before_version, std::size_t limit,
                      std::vector<journal_entry>* out);

  // sqlite_list.cpp
  status next_listed_snapshot_row(const list_filter& f, record_image* out, bool* found);

  // sqlite_fold.cpp
  status scan_snapshot(std::uint64_t* rows, std::unordered_map<record_key, record_image, record_key_hash>* with_holds,
                       std::vector<std::pair<std::string, std::string>>* warehouses);
  status read_snapshot_row(const record_key& key, record_image* out, bool* found);
  // Folds the tail's entries with seq <= upto.
  status fold_tail(std::uint64_t upto, folded_tail* tail);
  status save_records(const folding_map& records, std::uint64_t* written);
  status save_index_rows(folded_tail* tail);
  status save_fold(folded_tail* tail, std::uint64_t* written);
  // Inside the fold's transaction: the purged tenants' snapshot rows (before
  // the records are saved), and the index rows of their journal rows below
  // each purge (after).
  status purge_snapshot_rows(const folded_tail& tail);
  status purge_index_rows(const folded_tail& tail);
  // Deletes old journal rows; raises *compacted_below and *compacted_end
  // (and their meta rows) when it deleted any.
  status compact(std::uint64_t snapshot_seq, epoch_ms retain_since_ms, std::uint64_t* deleted,
                 std::uint64_t* compacted_below, journal_position* compacted_end);
  void snapshot_committed(const folded_tail& tail);
  void report_recovered(folded_tail& tail, std::unordered_map<record_key, record_image, record_key_hash>& with_holds,
                        recovery_report* report);

  sqlite_options options_;
  sqlite::connection db_;
  statements q_;
  std::uint64_t epoch_ = 0;
  std::uint64_t seq_lease_ = 1;
  std::uint64_t snapshot_seq_ = 0;
  std::uint64_t compacted_below_ = 1;
  journal_position compacted_end_;  // the last entry compaction deleted
  std::uint64_t last_seq_ = 0;  // highest seq appended or folded
  std::uint64_t since_snapshot_ = 0;
  bool synchronous_full_ = false;  // the connection's current synchronous level
  bool unsynced_ = false;          // appends since the WAL was last fsynced
  int wal_frames_ = 0;             // frames in the WAL after the last commit
  bool tail_indexed_ = false;      // tail_ covers every entry after snapshot_seq_
  tail_index tail_;
  std::string holds_scratch_;  // reused when writing snapshot rows
  journal_entry row_;          // reused when reading journal rows
};

}  // namespace stockgrid::persistence
