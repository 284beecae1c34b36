// Reads of the SQLite store: record loads, history and idempotency lookups.
// Entries after the snapshot are found through the in-memory tail index,
// older ones through the index tables (format.hpp).
#include <algorithm>
#include <cstdint>

#include "config/limits.hpp"
#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"
#include "persistence/sqlite_store_impl.hpp"

namespace stockgrid::persistence {

using sqlite::reset_on_exit;

status sqlite_store::ensure_tail_index() {
  if (tail_indexed_) return status::ok();
  tail_.clear();
  auto& s = q_.tail_keys;
  reset_on_exit guard(s);
  s.bind_u64(1, snapshot_seq_);
  record_key key;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    const auto text = [&](int i) { return sqlite::column_bytes(s.get(), i); };
    key.tenant.assign(text(1));
    key.warehouse.assign(text(2));
    key.sku.assign(text(3));
    tail_.add(sqlite::column_u64(s.get(), 0), key, text(4));
  }
  if (rc != SQLITE_DONE) return db_.error(rc, "indexing the journal tail");
  tail_indexed_ = true;
  return status::ok();
}

status sqlite_store::read_entry(std::uint64_t seq, bool* found) {
  auto& s = q_.entry_at;
  reset_on_exit guard(s);
  s.bind_u64(1, seq);
  const int rc = s.step();
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading the journal");
  return sqlite::read_journal_row(s.get(), name(), &row_);
}

status sqlite_store::load_record(const record_key& key, record_image* out, bool* found) {
  if (status st = ensure_tail_index(); !st) return st;
  record_image image;
  bool in_snapshot = false;
  if (status st = read_snapshot_row(key, &image, &in_snapshot); !st) return st;
  folded_record r = in_snapshot ? restore_image(image) : folded_record{};
  for (const std::uint64_t seq : tail_.record_seqs(key)) {
    bool exists = false;
    if (status st = read_entry(seq, &exists); !st) return st;
    if (!exists)
      return status::corruption(name() + ": journal row seq=" + std::to_string(seq) + " is missing");
    if (!(row_.key == key)) continue;  // another record with the same hash
    if (status st = fold_entry(row_, name(), &r); !st) return st;
  }
  *out = make_image(key, r);
  *found = r.rec.exists();
  return status::ok();
}

// History entries from the tail, newest first.
status sqlite_store::tail_history(const record_key& key, std::int64_t before_version, std::size_t limit,
                                  std::vector<journal_entry>* out) {
  const auto& seqs = tail_.record_seqs(key);
  for (auto it = seqs.rbegin(); it != seqs.rend() && out->size() < limit; ++it) {
    bool exists = false;
    if (status st = read_entry(*it, &exists); !st) return st;
    if (exists && row_.key == key && row_.c.kind != change_kind::refusal && row_.c.version < before_version)
      out->push_back(row_);
  }
  return status::ok();
}

status sqlite_store::history(const record_key& key, std::int64_t before_version, int limit,
                             std::vector<journal_entry>* out) {
  out->clear();
  if (limit <= 0) return status::ok();
  const auto wanted = static_cast<std::size_t>(std::min(limit, limits::history_limit_max));
  const std::int64_t bound = before_version > 0 ? before_version : INT64_MAX;
  if (status st = ensure_tail_index(); !st) return st;
  if (status st = tail_history(key, bound, wanted, out); !st) return st;
  if (out->size() == wanted) return status::ok();
  // Every folded entry is older than every tail entry.
  auto& s = q_.history;
  reset_on_exit guard(s);
  s.bind_u64(1, stable_hash(key));
  s.bind(2, bound);
  s.bind_text(3, key.tenant);
  s.bind_text(4, key.warehouse);
  s.bind_text(5, key.sku);
  s.bind(6, static_cast<std::int64_t>(wanted - out->size()));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out->emplace_back();
    if (status st = sqlite::read_journal_row(s.get(), name(), &out->back()); !st) return st;
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading history");
}

status sqlite_store::read_journal(std::uint64_t after_seq, std::size_t limit,
                                  std::vector<journal_entry>* out) {
  out->clear();
  auto& s = q_.journal_after;
  reset_on_exit guard(s);
  s.bind_u64(1, after_seq);
  s.bind(2, static_cast<std::int64_t>(limit));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out->emplace_back();
    if (status st = sqlite::read_journal_row(s.get(), name(), &out->back()); !st) return st;
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading the journal");
}

status sqlite_store::journal_end(journal_position* out) {
  *out = compacted_end_;
  auto& s = q_.journal_last;
  reset_on_exit guard(s);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading the journal's end");
  *out = {sqlite::column_u64(s.get(), 0), sqlite::column_u64(s.get(), 1)};
  return status::ok();
}

// The newest tail entry carrying `idem`, appended at or after since_ms, that
// `match` accepts.
template <typename Match>
status sqlite_store::find_in_tail(std::string_view idem, epoch_ms since_ms, Match match,
                                  std::optional<journal_entry>* out) {
  out->reset();
  if (status st = ensure_tail_index(); !st) return st;
  const auto& seqs = tail_.idem_seqs(idem);
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    bool exists = false;
    if (status st = read_entry(*it, &exists); !st) return st;
    if (exists && row_.idem == idem && row_.at_ms >= since_ms && match(row_)) {
      *out = row_;
      break;
    }
  }
  return status::ok();
}

status sqlite_store::fetch_one(sqlite::statement& s, std::optional<journal_entry>* out) {
  reset_on_exit guard(s);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading the journal");
  journal_entry e;
  if (status st = sqlite::read_journal_row(s.get(), name(), &e); !st) return st;
  *out = std::move(e);
  return status::ok();
}

status sqlite_store::find_idempotent(const record_key& key, std::string_view idem, epoch_ms since_ms,
                                     std::optional<journal_entry>* out) {
  const auto same_record = [&](const journal_entry& e) { return e.key == key; };
  if (status st = find_in_tail(idem, since_ms, same_record, out); !st || out->has_value()) return st;
  auto& s = q_.find_idem;
  s.bind_u64(1, format::idem_hash(idem));
  s.bind_text(2, idem);
  s.bind_text(3, key.tenant);
  s.bind_text(4, key.warehouse);
  s.bind_text(5, key.sku);
  s.bind(6, since_ms);
  return fetch_one(s, out);
}

status sqlite_store::find_idempotent_hold(std::string_view tenant, std::uint64_t hold_seq,
                                          std::string_view idem, epoch_ms since_ms,
                                          std::optional<journal_entry>* out) {
  const auto same_hold = [&](const journal_entry& e) {
    return e.key.tenant == tenant && e.c.hold_seq == hold_seq;
  };
  if (status st = find_in_tail(idem, since_ms, same_hold, out); !st || out->has_value()) return st;
  auto& s = q_.find_idem_hold;
  s.bind_u64(1, format::idem_hash(idem));
  s.bind_text(2, idem);
  s.bind_text(3, tenant);
  s.bind_u64(4, hold_seq);
  s.bind(5, since_ms);
  return fetch_one(s, out);
}

}  // namespace stockgrid::persistence
