// The in-memory twin of the SQLite partition store, for fast unit tests of
// the layers above. Same semantics (fencing, seq lease, snapshot and
// compaction, history, idempotency lookups, the checks of fold.hpp), no
// files. Two test hooks simulate what a disk can do to a journal writer.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "persistence/fold.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

class memory_store final : public partition_store {
 public:
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
  const std::string& name() const override { return name_; }

  // Test hook: the next `count` writes (append, sync, probe, set_epoch,
  // extend_seq_lease, snapshot, truncate_after) fail with `error` and change nothing.
  void fail_writes(int count, status error);
  // Test hook: a power cut. Entries appended without sync since the last
  // durable write are lost, as they may be on disk.
  void lose_unsynced();
  // Journal rows currently held (after compaction).
  std::size_t journal_rows() const { return journal_.size(); }

 private:
  using image_map = std::unordered_map<record_key, record_image, record_key_hash>;
  using folded_map = std::unordered_map<record_key, folded_record, record_key_hash>;

  bool injected_failure(status* st);
  using purge_list = std::vector<std::pair<std::string, std::uint64_t>>;  // (tenant, seq): purge.hpp
  status fold_tail(std::uint64_t upto, folded_map* touched, purge_list* purges, std::uint64_t* entries,
                   std::uint64_t* last);
  void count_tail();
  // Erases the purged tenants' records from `images` (the snapshot, or a copy).
  static void purge_images(const purge_list& purges, image_map& images);
  void save(const folded_map& touched, const purge_list& purges, std::uint64_t last, std::uint64_t* written);
  std::uint64_t compact(epoch_ms retain_since_ms);
  void erase_entry(std::map<std::uint64_t, journal_entry>::iterator it);
  std::optional<journal_entry> newest_with_idem(
      std::string_view idem, epoch_ms since_ms,
      const std::function<bool(const journal_entry&)>& match) const;

  std::string name_ = "memory";
  std::map<std::uint64_t, journal_entry> journal_;
  image_map snapshot_;
  std::unordered_map<record_key, std::set<std::uint64_t>, record_key_hash> by_record_;
  std::unordered_map<std::string, std::set<std::uint64_t>> by_idem_;
  std::uint64_t epoch_ = 0;
  std::uint64_t seq_lease_ = 1;
  std::uint64_t snapshot_seq_ = 0;
  std::uint64_t compacted_below_ = 1;
  journal_position compacted_end_;  // the last entry compaction deleted
  std::uint64_t last_seq_ = 0;
  std::uint64_t synced_seq_ = 0;  // entries up to here survive lose_unsynced()
  std::uint64_t since_snapshot_ = 0;
  int failures_left_ = 0;
  status failure_;
};

std::unique_ptr<partition_store> make_memory_store();

}  // namespace stockgrid::persistence
