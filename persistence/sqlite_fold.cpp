// Recovery, snapshots and compaction of the SQLite store: everything that
// folds the journal tail into the snapshot (see fold.hpp for the checks).
#include <algorithm>
#include <chrono>
#include <set>

#include "persistence/format.hpp"
#include "persistence/purge.hpp"
#include "persistence/sqlite_rows.hpp"
#include "persistence/sqlite_store_impl.hpp"

namespace stockgrid::persistence {

using sqlite::reset_on_exit;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

status sqlite_store::read_snapshot_row(const record_key& key, record_image* out, bool* found) {
  auto& s = q_.snapshot_get;
  reset_on_exit guard(s);
  s.bind_text(1, key.tenant);
  s.bind_text(2, key.warehouse);
  s.bind_text(3, key.sku);
  const int rc = s.step();
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading the snapshot");
  return sqlite::read_snapshot_row(s.get(), name(), out);
}

// Reads and checks every snapshot row, keeping those with holds.
status sqlite_store::scan_snapshot(std::uint64_t* rows,
                                   std::unordered_map<record_key, record_image, record_key_hash>* with_holds,
                                   std::vector<std::pair<std::string, std::string>>* warehouses) {
  auto& s = q_.snapshot_all;
  reset_on_exit guard(s);
  std::set<std::pair<std::string, std::string>> seen;
  std::string last_tenant, last_warehouse;
  record_image image;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_snapshot_row(s.get(), name(), &image); !st) return st;
    const auto where = [&] { return name() + ": snapshot row " + sqlite::describe(image.key) + ": "; };
    if (image.version <= 0 || image.last_seq > snapshot_seq_)
      return status::corruption(where() + "version " + std::to_string(image.version) + ", last_seq " +
                                std::to_string(image.last_seq) + " past snapshot_seq " +
                                std::to_string(snapshot_seq_));
    if (std::string bad = restore_image(image).rec.check_invariants(); !bad.empty())
      return status::corruption(where() + bad);
    ++*rows;
    if (last_tenant != image.key.tenant || last_warehouse != image.key.warehouse) {
      last_tenant = image.key.tenant;
      last_warehouse = image.key.warehouse;
      seen.emplace(last_tenant, last_warehouse);
    }
    if (!image.holds.empty()) with_holds->insert_or_assign(image.key, image);
  }
  warehouses->assign(seen.begin(), seen.end());
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading the snapshot");
}

// Folds the journal entries after the snapshot up to `upto` into
// tail->records, each record starting from its snapshot row, and collects
// the index rows.
status sqlite_store::fold_tail(std::uint64_t upto, folded_tail* tail) {
  auto& s = q_.tail;
  reset_on_exit guard(s);
  s.bind_u64(1, snapshot_seq_);
  s.bind_u64(2, std::min<std::uint64_t>(upto, INT64_MAX));  // seqs are stored as int64
  tail->last_seq = snapshot_seq_;
  // Sized for the tail up front: rehashing a map of large values is slow.
  tail->records.reserve(std::min<std::uint64_t>(since_snapshot_, 1u << 20));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_journal_row(s.get(), name(), &row_); !st) return st;
    if (row_.seq <= tail->last_seq || row_.seq >= seq_lease_)
      return status::corruption(name() + ": journal row seq=" + std::to_string(row_.seq) +
                                ": out of order or not below the seq lease " + std::to_string(seq_lease_));
    if (const std::string* tenant = purged_tenant(row_)) {
      // What this pass folded of the tenant so far goes; its snapshot rows
      // and older index rows are deleted when the fold is saved.
      std::erase_if(tail->records, [&](const auto& r) { return r.first.tenant == *tenant; });
      tail->purges.emplace_back(*tenant, row_.seq);
      tail->last_seq = row_.seq;
      ++tail->entries;
      continue;
    }
    auto it = tail->records.find(row_.key);
    if (it == tail->records.end()) {
      record_image image;
      bool found = false;
      // A tenant purged earlier in this pass has no snapshot rows any more.
      const bool purged = std::any_of(tail->purges.begin(), tail->purges.end(),
                                      [&](const auto& p) { return p.first == row_.key.tenant; });
      if (status st = purged ? status::ok() : read_snapshot_row(row_.key, &image, &found); !st) return st;
      it = tail->records.emplace(row_.key, folding{}).first;
      if (found) static_cast<folded_record&>(it->second) = restore_image(image);
    }
    if (status st = fold_entry(row_, name(), &it->second); !st) return st;
    if (row_.c.kind != change_kind::refusal) it->second.changes.emplace_back(row_.c.version, row_.seq);
    if (!row_.idem.empty()) tail->idems.emplace_back(format::idem_hash(row_.idem), row_.seq);
    tail->last_seq = row_.seq;
    ++tail->entries;
  }
  if (rc != SQLITE_DONE) return db_.error(rc, "reading the journal");
  return check_folded(tail->records, name());
}

status sqlite_store::save_records(const folding_map& records, std::uint64_t* written) {
  for (const auto& [key, r] : records) {
    if (!r.rec.exists()) continue;  // touched by refusals only
    const record_image image = make_image(key, r);  // bound without copying: must outlive the step
    sqlite::bind_snapshot_row(q_.snapshot_put, image, &holds_scratch_);
    if (status st = db_.run(q_.snapshot_put, "writing the snapshot"); !st) return st;
    ++*written;
  }
  return status::ok();
}

// Index rows are inserted in key order, so each index page is visited once.
status sqlite_store::save_index_rows(folded_tail* tail) {
  std::vector<std::pair<std::uint64_t, const folding*>> order;
  order.reserve(tail->records.size());
  for (const auto& [key, r] : tail->records) order.emplace_back(stable_hash(key), &r);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto& put = q_.record_index_put;
  for (const auto& [hash, r] : order) {
    for (const auto& [version, seq] : r->changes) {
      put.bind_u64(1, hash);
      put.bind(2, version);
      put.bind_u64(3, seq);
      if (status st = db_.run(put, "writing record_index"); !st) return st;
    }
  }
  std::sort(tail->idems.begin(), tail->idems.end());
  for (const auto& [hash, seq] : tail->idems) {
    q_.idem_index_put.bind_u64(1, hash);
    q_.idem_index_put.bind_u64(2, seq);
    if (status st = db_.run(q_.idem_index_put, "writing idem_index"); !st) return st;
  }
  return status::ok();
}

// Inside a write transaction: saves the folded records, their index rows and
// the new snapshot_seq.
status sqlite_store::save_fold(folded_tail* tail, std::uint64_t* written) {
  if (status st = purge_snapshot_rows(*tail); !st) return st;
  if (status st = save_records(tail->records, written); !st) return st;
  if (status st = save_index_rows(tail); !st) return st;
  if (status st = purge_index_rows(*tail); !st) return st;
  return write_meta(format::meta_snapshot_seq, static_cast<std::int64_t>(tail->last_seq));
}

status sqlite_store::purge_snapshot_rows(const folded_tail& tail) {
  for (const auto& [tenant, seq] : tail.purges) {
    sqlite::statement s;
    if (status st = db_.prepare("DELETE FROM snapshot WHERE tenant = ?1", &s); !st) return st;
    s.bind_text(1, tenant);
    if (status st = db_.run(s, "purging a tenant's snapshot rows"); !st) return st;
  }
  return status::ok();
}

// One pass over the journal per purge (no index on tenant): purges are rare.
status sqlite_store::purge_index_rows(const folded_tail& tail) {
  constexpr const char* sql[] = {
      "DELETE FROM record_index WHERE seq IN (SELECT seq FROM journal WHERE tenant = ?1 AND seq < ?2)",
      "DELETE FROM idem_index WHERE seq IN (SELECT seq FROM journal WHERE tenant = ?1 AND seq < ?2)",
  };
  for (const auto& [tenant, seq] : tail.purges) {
    for (const char* q : sql) {
      sqlite::statement s;
      if (status st = db_.prepare(q, &s); !st) return st;
      s.bind_text(1, tenant);
      s.bind_u64(2, seq);
      if (status st = db_.run(s, "purging a tenant's index rows"); !st) return st;
    }
  }
  return status::ok();
}

// What is left after the fold is the tail above it: its index is rebuilt on
// first use (an empty tail's index is the empty one).
void sqlite_store::snapshot_committed(const folded_tail& tail) {
  snapshot_seq_ = tail.last_seq;
  last_seq_ = std::max(last_seq_, tail.last_seq);
  since_snapshot_ = tail.last_seq >= last_seq_ ? 0 : since_snapshot_ - std::min(since_snapshot_, tail.entries);
  tail_.clear();
  tail_indexed_ = since_snapshot_ == 0;
}

status sqlite_store::recover(recovery_report* report, bool fold) {
  const auto start = std::chrono::steady_clock::now();
  *report = recovery_report{};
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  std::unordered_map<record_key, record_image, record_key_hash> with_holds;
  folded_tail tail;
  std::uint64_t written = 0;
  status st = scan_snapshot(&report->snapshot_records, &with_holds, &report->warehouses);
  if (st) st = fold_tail(fold_everything, &tail);
  if (st && fold) st = save_fold(&tail, &written);
  if (st && fold) st = commit();
  if (!st || !fold) rollback();  // without `fold` the transaction only read
  if (!st) return st;
  if (fold) snapshot_committed(tail);
  report_recovered(tail, with_holds, report);
  report->seconds = seconds_since(start);
  return status::ok();
}

// The report of recover(): the snapshot's records with holds and
// warehouses (already in *report), updated with the tail's records.
void sqlite_store::report_recovered(folded_tail& tail,
                                    std::unordered_map<record_key, record_image, record_key_hash>& with_holds,
                                    recovery_report* report) {
  report->replayed_entries = tail.entries;
  // A tenant purged in the tail has nothing left from the snapshot; the
  // tail's records after the purge are in tail.records.
  for (const auto& [tenant, seq] : tail.purges) {
    std::erase_if(with_holds, [&](const auto& r) { return r.first.tenant == tenant; });
    std::erase_if(report->warehouses, [&](const auto& w) { return w.first == tenant; });
  }
  for (const auto& [key, r] : tail.records) {
    if (r.rec.holds().empty())
      with_holds.erase(key);
    else
      with_holds.insert_or_assign(key, make_image(key, r));
  }
  // Refusals of keys no request names (epoch markers, purges, journaled
  // documents) leave a record that does not exist: no warehouse.
  for (const auto& [key, r] : tail.records)
    if (r.rec.exists()) report->warehouses.emplace_back(key.tenant, key.warehouse);
  std::sort(report->warehouses.begin(), report->warehouses.end());
  report->warehouses.erase(std::unique(report->warehouses.begin(), report->warehouses.end()),
                           report->warehouses.end());
  report->last_seq = last_seq_;
  report->with_holds.reserve(with_holds.size());
  for (auto& [key, image] : with_holds) report->with_holds.push_back(std::move(image));
}

// Deletes the oldest journal entries (and their index rows) up to the first
// one that must stay: in the snapshot range and at or after retain_since_ms.
status sqlite_store::compact(std::uint64_t snapshot_seq, epoch_ms retain_since_ms, std::uint64_t* deleted,
                             std::uint64_t* compacted_below, journal_position* compacted_end) {
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
  auto& rows = q_.compact_rows;
  reset_on_exit guard(rows);
  rows.bind_u64(1, boundary);
  record_key key;
  journal_position last;  // the last row deleted
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) {
    sqlite3_stmt* r = rows.get();
    const std::int64_t seq = sqlite::column_i64(r, 6);
    if (static_cast<std::uint64_t>(seq) > last.seq) last = {sqlite::column_u64(r, 7), static_cast<std::uint64_t>(seq)};
    if (sqlite::column_i64(r, 4) != static_cast<std::int64_t>(change_kind::refusal)) {
      key.tenant.assign(sqlite::column_bytes(r, 0));
      key.warehouse.assign(sqlite::column_bytes(r, 1));
      key.sku.assign(sqlite::column_bytes(r, 2));
      q_.record_index_del.bind_u64(1, stable_hash(key));
      q_.record_index_del.bind(2, sqlite::column_i64(r, 3));
      q_.record_index_del.bind(3, seq);
      if (status st = db_.run(q_.record_index_del, "compacting record_index"); !st) return st;
    }
    if (sqlite3_column_type(r, 5) != SQLITE_NULL) {
      q_.idem_index_del.bind_u64(1, format::idem_hash(sqlite::column_bytes(r, 5)));
      q_.idem_index_del.bind(2, seq);
      if (status st = db_.run(q_.idem_index_del, "compacting idem_index"); !st) return st;
    }
  }
  if (rc != SQLITE_DONE) return db_.error(rc, "reading the journal");
  q_.compact.bind_u64(1, boundary);
  if (status st = db_.run(q_.compact, "compacting the journal"); !st) return st;
  *deleted = static_cast<std::uint64_t>(sqlite3_changes64(db_.get()));
  if (*deleted == 0 || boundary <= *compacted_below) return status::ok();
  *compacted_below = boundary;
  if (last.seq > compacted_end->seq) {
    *compacted_end = last;
    if (status st = write_meta(format::meta_compacted_epoch, static_cast<std::int64_t>(last.epoch)); !st) return st;
    if (status st = write_meta(format::meta_compacted_seq, static_cast<std::int64_t>(last.seq)); !st) return st;
  }
  return write_meta(format::meta_compacted_below, static_cast<std::int64_t>(boundary));
}

status sqlite_store::snapshot(epoch_ms retain_since_ms, std::uint64_t fold_upto_seq,
                              snapshot_report* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = snapshot_report{};
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  folded_tail tail;
  status st = fold_tail(fold_upto_seq, &tail);
  if (st) st = save_fold(&tail, &report->records_written);
  std::uint64_t compacted_below = compacted_below_;
  auto compacted_end = compacted_end_;
  if (st) st = compact(tail.last_seq, retain_since_ms, &report->compacted_entries, &compacted_below, &compacted_end);
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  compacted_below_ = compacted_below;
  compacted_end_ = compacted_end;
  snapshot_committed(tail);
  report->folded_entries = tail.entries;
  report->seconds = seconds_since(start);
  return status::ok();
}

}  // namespace stockgrid::persistence
