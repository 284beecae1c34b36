#include "persistence/check.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "persistence/fold.hpp"
#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"
#include "persistence/sqlite_util.hpp"

namespace stockgrid::persistence {
namespace {

using sqlite::reset_on_exit;

std::string after_state(std::int64_t on_hand, std::int64_t reserved, std::int64_t version) {
  return "on_hand=" + std::to_string(on_hand) + " reserved=" + std::to_string(reserved) +
         " version=" + std::to_string(version);
}

std::string policy_state(const record_policy& p, std::int64_t backordered, std::int64_t incoming) {
  return "safety_stock=" + std::to_string(p.safety_stock) +
         " allow_backorder=" + (p.allow_backorder ? "1" : "0") +
         " low_stock_threshold=" + std::to_string(p.low_stock_threshold) +
         " backordered=" + std::to_string(backordered) + " incoming=" + std::to_string(incoming);
}

// One pass over a partition; the journal is read sorted by record, so each
// record's retained entries arrive together, oldest version first.
class checker {
 public:
  checker(const std::string& path, check_report* out) : path_(path), out_(*out) {}
  status run();

 private:
  status read_meta();
  status read_purges();
  status check_snapshot();
  status check_journal();
  status check_index_tables();
  status check_record_index(std::uint64_t* rows);
  status check_idem_index(std::uint64_t* rows);
  status count(const std::string& sql, std::int64_t* out);
  status check_entry(const journal_entry& e);
  status check_chain(const journal_entry& e);
  status start_record(const record_key& key);
  status check_snapshot_agrees();
  status finish_record();
  status corrupt_row(const journal_entry& e, const std::string& what) const {
    return status::corruption(path_ + ": journal row seq=" + std::to_string(e.seq) + ": " + what);
  }

  const std::string& path_;
  check_report& out_;
  sqlite::connection db_;
  sqlite::statement snapshot_get_;
  std::int64_t format_version_ = 0;  // the file's; columns it lacks read as 0
  std::int64_t compacted_below_ = 0;  // 0: the optional meta row is absent
  // Tenants purged in the snapshot range (purge.hpp): their journal rows
  // below the last such purge have no snapshot row and no index rows.
  std::map<std::string, std::uint64_t, std::less<>> purged_below_;
  std::string purges_sql_;  // the same, as SQL: purged(t, below)

  // The record being checked.
  bool in_record_ = false;
  record_key key_;
  bool purged_ = false;  // the record's entries below its tenant's purge
  bool has_snapshot_ = false;
  record_image snapshot_;
  std::uint64_t previous_seq_ = 0;
  bool has_previous_ = false;
  journal_entry previous_;  // the last change (not refusal) seen
  bool has_last_folded_ = false;
  journal_entry last_folded_;  // the last change with seq <= snapshot_seq
  bool in_tail_ = false;
  folded_record tail_;  // the snapshot row with the entries after it folded in
};

status checker::run() {
  out_ = check_report{};
  struct stat sb;
  if (::stat(path_.c_str(), &sb) != 0) return status::invalid(path_ + ": no such file");
  if (status st = sqlite::check_database_header(path_); !st) return st;
  if (status st = sqlite::check_wal_file(path_); !st) return st;
  if (status st = db_.open(path_, "", SQLITE_OPEN_READONLY); !st) return st;
  // One read transaction: every scan sees the same state.
  if (status st = db_.exec("BEGIN"); !st) return st;
  if (status st = read_meta(); !st) return st;
  if (status st = read_purges(); !st) return st;
  if (status st = check_snapshot(); !st) return st;
  if (status st = check_journal(); !st) return st;
  if (status st = check_index_tables(); !st) return st;
  (void)db_.exec("COMMIT");
  out_.last_seq = std::max(out_.last_seq, out_.snapshot_seq);
  return status::ok();
}

status checker::read_meta() {
  sqlite::statement s;
  if (status st = db_.prepare("SELECT key, value FROM meta", &s); !st) return st;
  std::int64_t& version = format_version_;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    const std::string_view key = sqlite::column_bytes(s.get(), 0);
    const std::int64_t value = sqlite::column_i64(s.get(), 1);
    if (key == format::meta_format_version) version = value;
    if (key == format::meta_epoch) out_.epoch = static_cast<std::uint64_t>(value);
    if (key == format::meta_seq_lease) out_.seq_lease = static_cast<std::uint64_t>(value);
    if (key == format::meta_snapshot_seq) out_.snapshot_seq = static_cast<std::uint64_t>(value);
    if (key == format::meta_compacted_below) compacted_below_ = value;
  }
  if (rc != SQLITE_DONE) return db_.error(rc, "reading meta");
  if (!format::readable_format(version))
    return status::invalid(path_ + ": format version " + std::to_string(version) + ", this build reads " +
                           std::to_string(format::format_version_min) + " to " +
                           std::to_string(format::format_version));
  // Compaction deletes every row below compacted_below: one left behind
  // would be resumed past.
  if (compacted_below_ > 1) {
    std::int64_t below = 0;
    if (status st = count("SELECT count(*) FROM journal WHERE seq < " + std::to_string(compacted_below_), &below); !st)
      return st;
    if (below > 0)
      return status::corruption(path_ + ": meta: " + std::to_string(below) + " journal rows below compacted_below " +
                                std::to_string(compacted_below_));
  }
  if (out_.seq_lease == 0 || out_.snapshot_seq >= out_.seq_lease)
    return status::corruption(path_ + ": meta: snapshot_seq " + std::to_string(out_.snapshot_seq) +
                              " not below seq_lease " + std::to_string(out_.seq_lease));
  const std::string get = "SELECT " + format::snapshot_select_columns(version) +
                          " FROM snapshot WHERE tenant=?1 AND warehouse=?2 AND sku=?3";
  return db_.prepare(get.c_str(), &snapshot_get_);
}

status checker::read_purges() {
  purges_sql_ = "purged(t, below) AS (SELECT tenant, max(seq) FROM journal WHERE warehouse = '' AND sku = ''"
                " AND tenant <> '' AND kind = " + std::to_string(static_cast<int>(change_kind::refusal)) +
                " AND seq <= " + std::to_string(out_.snapshot_seq) + " GROUP BY tenant)";
  sqlite::statement s;
  const std::string sql = "WITH " + purges_sql_ + " SELECT t, below FROM purged";
  if (status st = db_.prepare(sql.c_str(), &s); !st) return st;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    purged_below_.emplace(std::string(sqlite::column_bytes(s.get(), 0)), sqlite::column_u64(s.get(), 1));
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading the purges");
}

status checker::check_snapshot() {
  sqlite::statement s;
  const std::string sql = "SELECT " + format::snapshot_select_columns(format_version_) + " FROM snapshot";
  if (status st = db_.prepare(sql.c_str(), &s); !st) return st;
  record_image image;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_snapshot_row(s.get(), path_, &image); !st) return st;
    const auto where = [&] { return path_ + ": snapshot row " + sqlite::describe(image.key) + ": "; };
    if (image.version <= 0 || image.last_seq > out_.snapshot_seq)
      return status::corruption(where() + "version " + std::to_string(image.version) + ", last_seq " +
                                std::to_string(image.last_seq) + " past snapshot_seq");
    if (std::string bad = restore_image(image).rec.check_invariants(); !bad.empty())
      return status::corruption(where() + bad);
    if (auto p = purged_below_.find(image.key.tenant); p != purged_below_.end() && image.last_seq < p->second)
      return status::corruption(where() + "last_seq " + std::to_string(image.last_seq) +
                                ", below its tenant's purge at seq " + std::to_string(p->second));
    ++out_.snapshot_records;
    out_.snapshot_holds += image.holds.size();
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading the snapshot");
}

status checker::check_journal() {
  sqlite::statement s;
  // The journal has no index by record: SQLite sorts it (a check may be slow).
  // A purged tenant's rows below its purge come first: a record made anew
  // after it starts its versions again.
  const std::string sql = "WITH " + purges_sql_ + " SELECT " + format::journal_select_columns(format_version_) +
                          " FROM journal LEFT JOIN purged ON purged.t = journal.tenant"
                          " ORDER BY tenant, warehouse, sku, seq >= coalesce(below, 0), version, seq";
  if (status st = db_.prepare(sql.c_str(), &s); !st) return st;
  journal_entry e;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_journal_row(s.get(), path_, &e); !st) return st;
    if (status st = check_entry(e); !st) return st;
  }
  if (rc != SQLITE_DONE) return db_.error(rc, "reading the journal");
  return in_record_ ? finish_record() : status::ok();
}

status checker::count(const std::string& sql, std::int64_t* out) {
  sqlite::statement s;
  if (status st = db_.prepare(sql.c_str(), &s); !st) return st;
  s.bind_u64(1, out_.snapshot_seq);
  const int rc = s.step();
  if (rc != SQLITE_ROW) return db_.error(rc, "counting rows");
  *out = sqlite::column_i64(s.get(), 0);
  return status::ok();
}

// Each index table maps one to one onto the journal rows it covers (those
// with seq <= snapshot_seq): every index row points at a matching journal
// row, and the counts agree (the primary keys make the rows distinct).
status checker::check_index_tables() {
  const std::string refusal = std::to_string(static_cast<int>(change_kind::refusal));
  std::uint64_t indexed = 0;
  if (status st = check_record_index(&indexed); !st) return st;
  std::int64_t covered = 0;
  const std::string unpurged =
      " AND NOT EXISTS (SELECT 1 FROM purged WHERE purged.t = journal.tenant AND journal.seq < purged.below)";
  if (status st = count("WITH " + purges_sql_ + " SELECT count(*) FROM journal WHERE seq <= ?1 AND kind <> " +
                            refusal + unpurged,
                        &covered);
      !st)
    return st;
  if (indexed != static_cast<std::uint64_t>(covered))
    return status::corruption(path_ + ": record_index has " + std::to_string(indexed) + " rows for " +
                              std::to_string(covered) + " journal changes");
  if (status st = check_idem_index(&indexed); !st) return st;
  if (status st = count("WITH " + purges_sql_ + " SELECT count(*) FROM journal WHERE seq <= ?1 AND idem IS NOT NULL" +
                            unpurged,
                        &covered);
      !st)
    return st;
  if (indexed != static_cast<std::uint64_t>(covered))
    return status::corruption(path_ + ": idem_index has " + std::to_string(indexed) + " rows for " +
                              std::to_string(covered) + " journal entries with a key");
  return status::ok();
}

status checker::check_record_index(std::uint64_t* rows) {
  sqlite::statement s;
  const char* sql =
      "SELECT r.record_hash, r.version, r.seq, j.seq, j.tenant, j.warehouse, j.sku, j.version, j.kind"
      " FROM record_index r LEFT JOIN journal j ON j.seq = r.seq";
  if (status st = db_.prepare(sql, &s); !st) return st;
  record_key key;
  int rc;
  for (*rows = 0; (rc = s.step()) == SQLITE_ROW; ++*rows) {
    sqlite3_stmt* r = s.get();
    key.tenant.assign(sqlite::column_bytes(r, 4));
    key.warehouse.assign(sqlite::column_bytes(r, 5));
    key.sku.assign(sqlite::column_bytes(r, 6));
    const std::uint64_t seq = sqlite::column_u64(r, 2);
    if (sqlite3_column_type(r, 3) == SQLITE_NULL || seq > out_.snapshot_seq ||
        sqlite::column_i64(r, 8) == static_cast<std::int64_t>(change_kind::refusal) ||
        sqlite::column_i64(r, 7) != sqlite::column_i64(r, 1) || stable_hash(key) != sqlite::column_u64(r, 0))
      return status::corruption(path_ + ": record_index row seq=" + std::to_string(seq) +
                                ": no matching journal change in the snapshot range");
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading record_index");
}

status checker::check_idem_index(std::uint64_t* rows) {
  sqlite::statement s;
  const char* sql = "SELECT i.idem_hash, i.seq, j.idem FROM idem_index i LEFT JOIN journal j ON j.seq = i.seq";
  if (status st = db_.prepare(sql, &s); !st) return st;
  int rc;
  for (*rows = 0; (rc = s.step()) == SQLITE_ROW; ++*rows) {
    sqlite3_stmt* r = s.get();
    const std::uint64_t seq = sqlite::column_u64(r, 1);
    if (sqlite3_column_type(r, 2) == SQLITE_NULL || seq > out_.snapshot_seq ||
        format::idem_hash(sqlite::column_bytes(r, 2)) != sqlite::column_u64(r, 0))
      return status::corruption(path_ + ": idem_index row seq=" + std::to_string(seq) +
                                ": no matching journal entry in the snapshot range");
  }
  return rc == SQLITE_DONE ? status::ok() : db_.error(rc, "reading idem_index");
}

status checker::check_entry(const journal_entry& e) {
  ++out_.journal_entries;
  out_.last_seq = std::max(out_.last_seq, e.seq);
  if (e.seq == 0 || e.seq >= out_.seq_lease)
    return corrupt_row(e, "seq not below the seq lease " + std::to_string(out_.seq_lease));
  const auto purge = purged_below_.find(e.key.tenant);
  const bool purged = purge != purged_below_.end() && e.seq < purge->second;
  if (!in_record_ || !(e.key == key_) || purged != purged_) {
    if (in_record_)
      if (status st = finish_record(); !st) return st;
    if (status st = start_record(e.key); !st) return st;
    purged_ = purged;
  }
  if (previous_seq_ > 0 && e.seq <= previous_seq_)
    return corrupt_row(e, "seq order disagrees with version order");
  previous_seq_ = e.seq;
  if (status st = check_chain(e); !st) return st;
  if (purged) return status::ok();  // folded away with its tenant: no snapshot row to agree with
  if (e.seq <= out_.snapshot_seq) {
    if (e.c.kind != change_kind::refusal) {
      last_folded_ = e;
      has_last_folded_ = true;
    }
    return status::ok();
  }
  if (!in_tail_) {
    // The snapshot row is where the tail starts: compare it first, so a
    // wrong row is named as such rather than as a tail entry not following.
    if (status st = check_snapshot_agrees(); !st) return st;
    in_tail_ = true;
    tail_ = has_snapshot_ ? restore_image(snapshot_) : folded_record{};
  }
  ++out_.tail_entries;
  return fold_entry(e, path_, &tail_);
}

// Retained entries of a record form an unbroken chain: compaction only ever
// removes a prefix of the journal.
status checker::check_chain(const journal_entry& e) {
  const change& c = e.c;
  if (!has_previous_) {
    if (c.kind != change_kind::refusal) {
      previous_ = e;
      has_previous_ = true;
    }
    return status::ok();
  }
  const change& p = previous_.c;
  if (c.kind == change_kind::refusal) {
    if (c.version != p.version)
      return corrupt_row(e, "refusal carries version " + std::to_string(c.version) + " after version " +
                                std::to_string(p.version));
    return status::ok();
  }
  if (c.version != p.version + 1 || c.on_hand_before != p.on_hand_after ||
      c.reserved_before != p.reserved_after)
    return corrupt_row(e, "does not follow seq=" + std::to_string(previous_.seq) + ": before " +
                              after_state(c.on_hand_before, c.reserved_before, c.version - 1) +
                              ", previous after " +
                              after_state(p.on_hand_after, p.reserved_after, p.version));
  if (c.backordered_before != p.backordered_after || c.incoming_before != p.incoming_after ||
      (c.kind != change_kind::policy && !(c.policy == p.policy)))
    return corrupt_row(e, "does not follow seq=" + std::to_string(previous_.seq) + ": before " +
                              policy_state(c.policy, c.backordered_before, c.incoming_before) +
                              ", previous after " +
                              policy_state(p.policy, p.backordered_after, p.incoming_after));
  previous_ = e;
  return status::ok();
}

status checker::start_record(const record_key& key) {
  in_record_ = true;
  key_ = key;
  has_previous_ = has_last_folded_ = in_tail_ = false;
  previous_seq_ = 0;
  reset_on_exit guard(snapshot_get_);
  snapshot_get_.bind_text(1, key_.tenant);
  snapshot_get_.bind_text(2, key_.warehouse);
  snapshot_get_.bind_text(3, key_.sku);
  const int rc = snapshot_get_.step();
  has_snapshot_ = rc == SQLITE_ROW;
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading the snapshot");
  return sqlite::read_snapshot_row(snapshot_get_.get(), path_, &snapshot_);
}

// The snapshot row equals the state after the record's last retained entry
// in the snapshot range.
status checker::check_snapshot_agrees() {
  if (has_last_folded_) {
    const journal_entry& l = last_folded_;
    if (!has_snapshot_) return corrupt_row(l, "in the snapshot range, but the record has no snapshot row");
    const record_image& s = snapshot_;
    if (s.version != l.c.version || s.on_hand != l.c.on_hand_after || s.reserved != l.c.reserved_after ||
        s.last_seq != l.seq)
      return status::corruption(path_ + ": snapshot row " + sqlite::describe(key_) + ": " +
                                after_state(s.on_hand, s.reserved, s.version) + " last_seq=" +
                                std::to_string(s.last_seq) + ", but journal row seq=" +
                                std::to_string(l.seq) + " leaves " +
                                after_state(l.c.on_hand_after, l.c.reserved_after, l.c.version));
    if (!(s.policy == l.c.policy) || s.backordered != l.c.backordered_after ||
        s.incoming != l.c.incoming_after)
      return status::corruption(path_ + ": snapshot row " + sqlite::describe(key_) + ": " +
                                policy_state(s.policy, s.backordered, s.incoming) +
                                ", but journal row seq=" + std::to_string(l.seq) + " leaves " +
                                policy_state(l.c.policy, l.c.backordered_after, l.c.incoming_after));
  }
  return status::ok();
}

status checker::finish_record() {
  ++out_.journal_records;
  if (!in_tail_) return check_snapshot_agrees();
  ++out_.records_with_tail;
  if (std::string bad = tail_.rec.check_invariants(); !bad.empty())
    return status::corruption(path_ + ": record " + sqlite::describe(key_) + " after the journal: " + bad);
  return status::ok();
}

}  // namespace

status check_partition(const std::string& path, check_report* out) {
  checker c(path, out);
  return c.run();
}

}  // namespace stockgrid::persistence
