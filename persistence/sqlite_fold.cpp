// Recovery, snapshots and record loads of the SQLite store: everything that
// folds journal entries into records (see fold.hpp for the checks).
#include <algorithm>
#include <chrono>

#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"
#include "persistence/sqlite_store_impl.hpp"

namespace stockgrid::persistence {

using sqlite::reset_on_exit;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void bind_key(sqlite::statement& s, const record_key& key) {
  s.bind_text(1, key.tenant);
  s.bind_text(2, key.warehouse);
  s.bind_text(3, key.sku);
}

}  // namespace

status sqlite_store::read_snapshot_row(const record_key& key, record_image* out, bool* found) {
  auto& s = q_.snapshot_get;
  reset_on_exit guard(s);
  bind_key(s, key);
  const int rc = s.step();
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading the snapshot");
  return sqlite::read_snapshot_row(s.get(), name(), out);
}

// Reads and checks every snapshot row, keeping those with holds.
status sqlite_store::scan_snapshot(std::uint64_t* rows, image_map* with_holds) {
  auto& s = q_.snapshot_all;
  reset_on_exit guard(s);
  record_image image;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_snapshot_row(s.get(), name(), &image); !st) return st;
    const std::string where = name() + ": snapshot row " + sqlite::describe(image.key) + ": ";
    if (image.version <= 0 || image.last_seq > snapshot_seq_)
      return status::corruption(where + "version " + std::to_string(image.version) + ", last_seq " +
                                std::to_string(image.last_seq) + " past snapshot_seq " +
                                std::to_string(snapshot_seq_));
    folded_record r = restore_image(image);
    if (std::string bad = r.rec.check_invariants(); !bad.empty())
      return status::corruption(where + bad);
    ++*rows;
    if (!image.holds.empty()) with_holds->insert_or_assign(image.key, image);
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading the snapshot");
}

// Folds every journal entry after the snapshot into `touched`, which starts
// each record from its snapshot row.
status sqlite_store::fold_tail(folded_map* touched, std::uint64_t* entries, std::uint64_t* last_seq) {
  auto& s = q_.tail;
  reset_on_exit guard(s);
  s.bind_u64(1, snapshot_seq_);
  *last_seq = snapshot_seq_;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_journal_row(s.get(), name(), &row_); !st) return st;
    if (row_.seq <= *last_seq || row_.seq >= seq_lease_)
      return status::corruption(name() + ": journal row seq=" + std::to_string(row_.seq) +
                                ": out of order or not below the seq lease " + std::to_string(seq_lease_));
    auto it = touched->find(row_.key);
    if (it == touched->end()) {
      record_image image;
      bool found = false;
      if (status st = read_snapshot_row(row_.key, &image, &found); !st) return st;
      it = touched->emplace(row_.key, found ? restore_image(image) : folded_record{}).first;
    }
    if (status st = fold_entry(row_, name(), &it->second); !st) return st;
    *last_seq = row_.seq;
    ++*entries;
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading the journal");
}

status sqlite_store::write_back(const folded_map& touched, std::uint64_t* written) {
  for (const auto& [key, r] : touched) {
    if (!r.rec.exists()) continue;  // touched by refusals only
    sqlite::bind_snapshot_row(q_.snapshot_put, make_image(key, r), &holds_scratch_);
    if (status st = db_.run(q_.snapshot_put, "writing the snapshot"); !st) return st;
    ++*written;
  }
  return status::ok();
}

// Inside a write transaction: folds the tail and saves the touched records
// and the new snapshot_seq (*last). Nothing is written unless the whole tail
// folds.
status sqlite_store::fold_and_save(folded_map* touched, std::uint64_t* entries, std::uint64_t* written,
                                   std::uint64_t* last) {
  if (status st = fold_tail(touched, entries, last); !st) return st;
  if (status st = check_folded(*touched, name()); !st) return st;
  if (status st = write_back(*touched, written); !st) return st;
  return write_meta(format::meta_snapshot_seq, static_cast<std::int64_t>(*last));
}

void sqlite_store::snapshot_committed(std::uint64_t last) {
  snapshot_seq_ = last;
  last_seq_ = std::max(last_seq_, last);
  since_snapshot_ = 0;
}

status sqlite_store::recover(recovery_report* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = recovery_report{};
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  image_map with_holds;
  folded_map touched;
  std::uint64_t written = 0, last = 0;
  status st = scan_snapshot(&report->snapshot_records, &with_holds);
  if (st) st = fold_and_save(&touched, &report->replayed_entries, &written, &last);
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  snapshot_committed(last);
  for (const auto& [key, r] : touched) {
    if (r.rec.holds().empty())
      with_holds.erase(key);
    else
      with_holds.insert_or_assign(key, make_image(key, r));
  }
  report->last_seq = last_seq_;
  report->with_holds.reserve(with_holds.size());
  for (auto& [key, image] : with_holds) report->with_holds.push_back(std::move(image));
  report->seconds = seconds_since(start);
  return status::ok();
}

// Deletes the oldest journal entries up to the first one that must stay: in
// the snapshot range (seq <= snapshot_seq) and at or after retain_since_ms.
status sqlite_store::compact(std::uint64_t snapshot_seq, epoch_ms retain_since_ms, std::uint64_t* deleted) {
  std::uint64_t boundary = snapshot_seq + 1;
  {
    auto& s = q_.compact_boundary;
    reset_on_exit guard(s);
    s.bind_u64(1, snapshot_seq);
    s.bind(2, retain_since_ms);
    const int rc = s.step();
    if (rc == SQLITE_ROW) boundary = sqlite::column_u64(s.get(), 0);
    else if (rc != SQLITE_DONE) return db_.error(rc, "finding the compaction boundary");
  }
  q_.compact.bind_u64(1, boundary);
  if (status st = db_.run(q_.compact, "compacting the journal"); !st) return st;
  *deleted = static_cast<std::uint64_t>(sqlite3_changes64(db_.get()));
  return status::ok();
}

status sqlite_store::snapshot(epoch_ms retain_since_ms, snapshot_report* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = snapshot_report{};
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  folded_map touched;
  std::uint64_t last = 0;
  status st = fold_and_save(&touched, &report->folded_entries, &report->records_written, &last);
  if (st) st = compact(last, retain_since_ms, &report->compacted_entries);
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  snapshot_committed(last);
  report->seconds = seconds_since(start);
  return status::ok();
}

status sqlite_store::load_record(const record_key& key, record_image* out, bool* found) {
  record_image image;
  bool in_snapshot = false;
  if (status st = read_snapshot_row(key, &image, &in_snapshot); !st) return st;
  folded_record r = in_snapshot ? restore_image(image) : folded_record{};
  auto& s = q_.record_tail;
  reset_on_exit guard(s);
  bind_key(s, key);
  s.bind(4, r.rec.version());
  s.bind_u64(5, snapshot_seq_);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_journal_row(s.get(), name(), &row_); !st) return st;
    if (status st = fold_entry(row_, name(), &r); !st) return st;
  }
  if (rc != SQLITE_DONE) return db_.error(rc, "reading the journal");
  *out = make_image(key, r);
  *found = r.rec.exists();
  return status::ok();
}

}  // namespace stockgrid::persistence
