#include "persistence/sqlite_store.hpp"

#include <algorithm>
#include <cstdint>

#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"
#include "persistence/sqlite_store_impl.hpp"

namespace stockgrid::persistence {

using sqlite::reset_on_exit;

namespace {

std::string params(int n) {
  std::string p;
  for (int i = 1; i <= n; ++i) p += (i > 1 ? ", ?" : "?") + std::to_string(i);
  return p;
}

std::string journal_select(const std::string& rest) {
  return std::string("SELECT ") + format::journal_columns + " FROM journal " + rest;
}

// "j.seq, j.epoch, ..." for a join.
std::string prefixed_journal_columns(const std::string& prefix) {
  std::string out;
  std::string_view rest = format::journal_columns;
  while (!rest.empty()) {
    const auto comma = rest.find(", ");
    out += (out.empty() ? "" : ", ") + prefix + std::string(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
  }
  return out;
}

}  // namespace

std::unique_ptr<partition_store> open_sqlite_store(const sqlite_options& options, status* st) {
  auto store = std::make_unique<sqlite_store>(options);
  *st = store->open();
  if (!st->is_ok()) return nullptr;
  return store;
}

status copy_sqlite_store(const std::string& path, const std::string& vfs, const std::string& to) {
  if (status st = sqlite::check_database_header(path); !st) return st;
  sqlite::connection db;
  if (status st = db.open(path, vfs, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX); !st) return st;
  sqlite3_busy_timeout(db.get(), 2000);
  sqlite::statement copy;
  if (status st = db.prepare("VACUUM INTO ?1", &copy); !st) return st;
  copy.bind_text(1, to);
  const int rc = copy.step();
  copy.reset();
  return rc == SQLITE_DONE ? status::ok() : db.error(rc, "VACUUM INTO " + to);
}

sqlite_store::~sqlite_store() {
  // Closing checkpoints the WAL into the database and deletes it; with
  // synchronous=OFF that checkpoint would not fsync, and a power cut after
  // the WAL is gone could lose or tear committed pages.
  if (db_.get()) (void)set_synchronous(true);
  q_ = statements{};
  db_.close();
}

status sqlite_store::open() {
  // Our wal hook replaces SQLite's automatic checkpoint (see the header comment).
  if (status st = sqlite::open_wal_database(db_, options_.path, options_.vfs, &sqlite_store::on_wal_commit,
                                            this, &synchronous_full_);
      !st)
    return st;
  if (status st = create_schema(); !st) return st;
  if (status st = upgrade_format(); !st) return st;
  if (status st = prepare_statements(); !st) return st;
  return load_meta();
}

int sqlite_store::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
  static_cast<sqlite_store*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

status sqlite_store::create_schema() {
  bool exists = false;
  if (status st = sqlite::has_table(db_, "meta", &exists); !st || exists) return st;
  const std::string create = format::schema_sql + std::string("INSERT INTO meta VALUES ('") +
                             format::meta_format_version + "', " + std::to_string(format::format_version) +
                             "), ('" + format::meta_epoch + "', 0), ('" + format::meta_seq_lease +
                             "', 1), ('" + format::meta_snapshot_seq + "', 0);";
  return db_.exec_transaction(create);
}

// A file of an older readable format is upgraded in place, in one durable
// transaction, before any statement naming the new columns is prepared.
status sqlite_store::upgrade_format() {
  std::optional<std::int64_t> stored;
  if (status st = sqlite::read_format_version(db_, &stored); !st) return st;
  if (!stored) return status::ok();  // load_meta names the missing row
  const std::int64_t version = *stored;
  // Refused here, before statements naming columns such a file may lack are
  // prepared, so the message is about the version rather than a column.
  if (!format::readable_format(version))
    return status::invalid(name() + ": format version " + std::to_string(version) +
                           ", this build reads " + std::to_string(format::format_version));
  if (version != 1) return status::ok();
  return db_.exec_transaction(format::upgrade_v1_sql);
}

status sqlite_store::prepare_statements() {
  const std::string snapshot_select = std::string("SELECT ") + format::snapshot_columns + " FROM snapshot";
  const std::string joined = "SELECT " + prefixed_journal_columns("j.");
  const std::pair<sqlite::statement*, std::string> all[] = {
      {&q_.begin, "BEGIN IMMEDIATE"},
      {&q_.commit, "COMMIT"},
      {&q_.rollback, "ROLLBACK"},
      {&q_.meta_get, sqlite::meta_get_sql},
      {&q_.meta_put, sqlite::meta_put_sql},
      {&q_.max_seq, "SELECT max(seq) FROM journal"},
      {&q_.count_after, "SELECT count(*) FROM journal WHERE seq > ?1"},
      {&q_.insert_entry, std::string("INSERT INTO journal(") + format::journal_columns + ") VALUES (" +
                             params(format::journal_column_count) + ")"},
      {&q_.tail, journal_select("WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")},
      {&q_.tail_keys, "SELECT seq, tenant, warehouse, sku, idem FROM journal WHERE seq > ?1 ORDER BY seq"},
      {&q_.entry_at, journal_select("WHERE seq = ?1")},
      {&q_.journal_after, journal_select("WHERE seq > ?1 ORDER BY seq LIMIT ?2")},
      {&q_.journal_last, "SELECT epoch, seq FROM journal ORDER BY seq DESC LIMIT 1"},
      {&q_.truncate, "DELETE FROM journal WHERE seq > ?1"},
      // Hash matches of other records or keys are filtered on the journal row.
      {&q_.history, joined + " FROM record_index r JOIN journal j ON j.seq = r.seq"
                             " WHERE r.record_hash=?1 AND r.version < ?2 AND j.tenant=?3 AND j.warehouse=?4"
                             " AND j.sku=?5 ORDER BY r.version DESC LIMIT ?6"},
      {&q_.find_idem, joined + " FROM idem_index i JOIN journal j ON j.seq = i.seq WHERE i.idem_hash=?1"
                               " AND j.idem=?2 AND j.tenant=?3 AND j.warehouse=?4 AND j.sku=?5"
                               " AND j.at_ms >= ?6 ORDER BY i.seq DESC LIMIT 1"},
      {&q_.find_idem_hold, joined + " FROM idem_index i JOIN journal j ON j.seq = i.seq WHERE i.idem_hash=?1"
                                    " AND j.idem=?2 AND j.tenant=?3 AND j.hold_seq=?4 AND j.at_ms >= ?5"
                                    " ORDER BY i.seq DESC LIMIT 1"},
      {&q_.record_index_put, "INSERT INTO record_index(record_hash, version, seq) VALUES (?1, ?2, ?3)"},
      {&q_.idem_index_put, "INSERT INTO idem_index(idem_hash, seq) VALUES (?1, ?2)"},
      {&q_.record_index_del, "DELETE FROM record_index WHERE record_hash=?1 AND version=?2 AND seq=?3"},
      {&q_.idem_index_del, "DELETE FROM idem_index WHERE idem_hash=?1 AND seq=?2"},
      {&q_.compact_boundary, "SELECT seq FROM journal WHERE seq <= ?1 AND at_ms >= ?2 ORDER BY seq LIMIT 1"},
      {&q_.compact_rows, "SELECT tenant, warehouse, sku, version, kind, idem, seq, epoch FROM journal WHERE seq < ?1"},
      {&q_.compact, "DELETE FROM journal WHERE seq < ?1"},
      {&q_.snapshot_all, snapshot_select},
      {&q_.snapshot_get, snapshot_select + " WHERE tenant=?1 AND warehouse=?2 AND sku=?3"},
      {&q_.list_snapshot, snapshot_select + " WHERE tenant=?1 AND (warehouse, sku) > (?2, ?3) ORDER BY warehouse, sku"},
      {&q_.snapshot_put, std::string("INSERT OR REPLACE INTO snapshot(") + format::snapshot_columns +
                             ") VALUES (" + params(format::snapshot_column_count) + ")"},
  };
  for (const auto& [stmt, sql] : all)
    if (status st = db_.prepare(sql.c_str(), stmt); !st) return st;
  return status::ok();
}

status sqlite_store::read_meta(const char* key, std::int64_t* out) {
  return sqlite::read_meta(db_, q_.meta_get, key, out);
}

status sqlite_store::write_meta(const char* key, std::int64_t value) {
  return sqlite::write_meta(db_, q_.meta_put, key, value);
}

status sqlite_store::load_meta() {
  std::int64_t version = 0, epoch = 0, lease = 0, snapshot_seq = 0;
  for (auto [key, out] : {std::pair{format::meta_format_version, &version},
                          {format::meta_epoch, &epoch},
                          {format::meta_seq_lease, &lease},
                          {format::meta_snapshot_seq, &snapshot_seq}})
    if (status st = read_meta(key, out); !st) return st;
  if (version != format::format_version)
    return status::invalid(name() + ": format version " + std::to_string(version) +
                           ", this build reads " + std::to_string(format::format_version));
  epoch_ = static_cast<std::uint64_t>(epoch);
  seq_lease_ = static_cast<std::uint64_t>(lease);
  snapshot_seq_ = static_cast<std::uint64_t>(snapshot_seq);
  {
    // Optional row (compacted_below in format.hpp): absent means 1.
    std::int64_t compacted = 1;
    if (read_meta(format::meta_compacted_below, &compacted)) compacted_below_ = static_cast<std::uint64_t>(compacted);
    // Files compacted before the row existed: the journal's oldest row is the bound.
    if (compacted == 1) {
      reset_on_exit guard(q_.tail);
      q_.tail.bind_u64(1, 0);
      q_.tail.bind(2, INT64_MAX);
      if (q_.tail.step() == SQLITE_ROW) compacted_below_ = sqlite::column_u64(q_.tail.get(), 0);
      else compacted_below_ = snapshot_seq_ + 1;
    }
  }
  {
    // Optional rows (compacted_epoch in format.hpp): absent, the seq is the
    // one below the oldest row kept (the snapshot's end once every row is
    // gone) and the epoch unknown (0).
    std::int64_t epoch = 0, seq = 0;
    if (read_meta(format::meta_compacted_seq, &seq) && read_meta(format::meta_compacted_epoch, &epoch))
      compacted_end_ = {static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(seq)};
    else
      compacted_end_ = {0, compacted_below_ - 1};
  }
  {
    reset_on_exit guard(q_.max_seq);
    if (const int rc = q_.max_seq.step(); rc != SQLITE_ROW) return db_.error(rc, "reading max seq");
    last_seq_ = std::max(snapshot_seq_, sqlite::column_u64(q_.max_seq.get(), 0));
  }
  reset_on_exit guard(q_.count_after);
  q_.count_after.bind_u64(1, snapshot_seq_);
  if (const int rc = q_.count_after.step(); rc != SQLITE_ROW) return db_.error(rc, "counting the journal");
  since_snapshot_ = sqlite::column_u64(q_.count_after.get(), 0);
  return status::ok();
}

status sqlite_store::set_synchronous(bool full) {
  return sqlite::set_synchronous(db_, full, &synchronous_full_);
}

status sqlite_store::begin() { return db_.run(q_.begin, "BEGIN"); }

status sqlite_store::commit() {
  status st = db_.run(q_.commit, "COMMIT");
  if (!st) rollback();
  return st;
}

void sqlite_store::rollback() {
  if (!sqlite3_get_autocommit(db_.get())) (void)db_.run(q_.rollback, "ROLLBACK");
}

// Raises a meta value durably (epoch, seq lease). Reads the stored value in
// the write transaction, so a value raised by another process is seen.
status sqlite_store::durable_meta_raise(const char* key, std::uint64_t value, std::uint64_t* cached) {
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  std::int64_t stored = 0;
  status st = read_meta(key, &stored);
  if (st && value < static_cast<std::uint64_t>(stored)) {
    *cached = static_cast<std::uint64_t>(stored);
    st = status::invalid(name() + ": " + key + " " + std::to_string(value) + " is below the stored " +
                         std::to_string(stored));
  }
  if (st) st = write_meta(key, static_cast<std::int64_t>(value));
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  *cached = value;
  unsynced_ = false;  // the FULL commit fsynced the whole WAL
  return status::ok();
}

status sqlite_store::set_epoch(std::uint64_t epoch) {
  if (epoch < epoch_)
    return status::invalid(name() + ": epoch " + std::to_string(epoch) + " is below " + std::to_string(epoch_));
  if (epoch == epoch_) return status::ok();
  return durable_meta_raise(format::meta_epoch, epoch, &epoch_);
}

status sqlite_store::extend_seq_lease(std::uint64_t new_lease) {
  if (new_lease < seq_lease_)
    return status::invalid(name() + ": seq lease " + std::to_string(new_lease) + " is below " +
                           std::to_string(seq_lease_));
  if (new_lease == seq_lease_) return status::ok();
  return durable_meta_raise(format::meta_seq_lease, new_lease, &seq_lease_);
}

status sqlite_store::insert_entries(const std::vector<journal_entry>& entries, std::uint64_t writer_epoch) {
  std::int64_t stored_epoch = 0;
  if (status st = read_meta(format::meta_epoch, &stored_epoch); !st) return st;
  epoch_ = std::max(epoch_, static_cast<std::uint64_t>(stored_epoch));
  if (status st = check_fencing(entries, writer_epoch, epoch_, name()); !st) return st;
  for (const journal_entry& e : entries) {
    sqlite::bind_journal_row(q_.insert_entry, e);
    if (status st = db_.run(q_.insert_entry, "appending to the journal"); !st) return st;
  }
  return status::ok();
}

status sqlite_store::append(const std::vector<journal_entry>& entries, bool sync, std::uint64_t writer_epoch) {
  if (entries.empty()) return sync ? this->sync() : status::ok();
  if (status st = check_append_batch(entries, last_seq_, seq_lease_, name()); !st) return st;
  if (status st = set_synchronous(sync); !st) return st;
  if (status st = begin(); !st) return st;
  status st = insert_entries(entries, writer_epoch);
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  last_seq_ = entries.back().seq;
  since_snapshot_ += entries.size();
  if (tail_indexed_)
    for (const journal_entry& e : entries) tail_.add(e.seq, e.key, e.idem);
  // A FULL commit fsyncs the whole WAL, so earlier unsynced frames too.
  unsynced_ = !sync;
  // The batch is committed whatever the checkpoint does: a failed one (a full
  // disk cannot grow the database file) changes nothing and is tried again
  // after the next commit, and the WAL it leaves growing makes that commit
  // fail on the same disk, where the writer sees it.
  (void)checkpoint_if_due();
  return status::ok();
}

// Every committed transaction is in the WAL or, after one of our checkpoints
// (which fsync), in the database file: one fsync of the WAL makes all appends
// so far durable.
status sqlite_store::sync() {
  if (!unsynced_) return status::ok();
  if (status st = sqlite::sync_wal(db_, &synchronous_full_); !st) return st;
  unsynced_ = false;
  return status::ok();
}

// Runs `write` in a transaction committed with synchronous=FULL, then
// rereads the meta rows and forgets the tail index, so nothing cached can
// differ from the file.
status sqlite_store::write_and_reload(const std::function<status()>& write) {
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  status st = write();
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  unsynced_ = false;  // the FULL commit fsynced the whole WAL
  tail_.clear();
  tail_indexed_ = false;
  return load_meta();
}

// Rewrites the stored seq lease as it is, in a transaction committed with
// synchronous=FULL: a page write, a WAL append and an fsync, like an append's.
// Then reloads, so nothing cached can differ from the file after the failure
// that made the writer probe.
status sqlite_store::probe() {
  rollback();  // a failed statement may have left its transaction open
  return write_and_reload([this] {
    std::int64_t lease = 0;
    status st = read_meta(format::meta_seq_lease, &lease);
    if (st) st = write_meta(format::meta_seq_lease, lease);
    return st;
  });
}

// The tail's entries have no index rows (format.hpp: only folded ones do),
// and `seq` is not below the snapshot's end, so only journal rows go; the
// tail index and the counters are rebuilt from the file.
status sqlite_store::truncate_after(std::uint64_t seq) {
  if (seq < snapshot_seq_)
    return status::invalid(name() + ": cannot truncate after seq " + std::to_string(seq) +
                           ": entries up to " + std::to_string(snapshot_seq_) + " are in the snapshot");
  if (seq >= last_seq_) return status::ok();
  return write_and_reload([&] {
    q_.truncate.bind_u64(1, seq);
    return db_.run(q_.truncate, "truncating the journal");
  });
}

status sqlite_store::checkpoint_if_due() {
  if (wal_frames_ < options_.checkpoint_frames) return status::ok();
  if (status st = sqlite::checkpoint(db_, &synchronous_full_); !st) return st;
  wal_frames_ = 0;
  return status::ok();
}

}  // namespace stockgrid::persistence
