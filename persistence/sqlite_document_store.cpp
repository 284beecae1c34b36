// The SQLite document store: data/documents.db, laid out as
// document_format.hpp describes.
//
// Durability as the partition stores (sqlite_store.hpp): a put is one
// transaction, committed at synchronous=FULL (fsynced) or OFF (reached the
// OS); SQLite's automatic checkpoint is replaced by checkpoints at FULL once
// the WAL passes `checkpoint_frames`, so a power cut loses at most a suffix
// of the unsynced transactions.
#include <algorithm>
#include <tuple>

#include "persistence/document_format.hpp"
#include "persistence/document_store.hpp"
#include "persistence/sqlite_util.hpp"

namespace stockgrid::persistence {

namespace {

using sqlite::reset_on_exit;
namespace fmt = document_format;

// WAL frames (pages) after which the store checkpoints: 16 MiB of 4 KiB pages.
constexpr int checkpoint_frames = 4096;

std::string describe(const document& d) {
  return "document (" + to_string(d.kind) + ", " + d.tenant + ", " + d.id + ")";
}

class sqlite_document_store final : public document_store {
 public:
  ~sqlite_document_store() override {
    // Closing checkpoints the WAL into the database and deletes it; at
    // synchronous=OFF that checkpoint would not fsync.
    if (db_.get()) (void)sqlite::set_synchronous(db_, true, &synchronous_full_);
    q_ = statements{};
    db_.close();
  }

  status open(const std::string& path, const std::string& vfs);

  status put(const std::vector<document>& docs, bool sync) override;
  status sync() override;
  status get(document_kind kind, std::string_view tenant, std::string_view id,
             std::optional<document>* out) override;
  status find_idem(document_kind kind, std::string_view tenant, std::string_view idem,
                   std::optional<document>* out) override;
  status list_open(std::vector<document>* out) override;
  status lease_ids(std::uint64_t count, std::uint64_t* first) override;
  status prune(epoch_ms before, std::uint64_t* removed) override;
  status delete_tenant(std::string_view tenant, std::uint64_t* removed) override;
  const std::string& name() const override { return db_.path(); }

 private:
  struct statements {
    sqlite::statement begin, commit, rollback, meta_get, meta_put;
    sqlite::statement upsert, get, find_idem, scan, prune;
  };

  status create_schema();
  status check_format_version();
  status prepare_statements();
  // Runs `body` in one write transaction at synchronous FULL or OFF.
  template <typename Body>
  status transaction(bool sync, Body body);
  void bind_row(const document& d, std::uint32_t crc);
  status read_row(sqlite3_stmt* s, document* out) const;
  status fetch_one(sqlite::statement& s, std::optional<document>* out);
  static int on_wal_commit(void* self, sqlite3*, const char*, int frames) {
    static_cast<sqlite_document_store*>(self)->wal_frames_ = frames;
    return SQLITE_OK;
  }

  sqlite::connection db_;
  statements q_;
  bool synchronous_full_ = false;  // the connection's current synchronous level
  bool unsynced_ = false;          // commits since the WAL was last fsynced
  int wal_frames_ = 0;             // frames in the WAL after the last commit
};

status sqlite_document_store::open(const std::string& path, const std::string& vfs) {
  // Our wal hook replaces SQLite's automatic checkpoint (see the top of this file).
  if (status st = sqlite::open_wal_database(db_, path, vfs, &sqlite_document_store::on_wal_commit, this,
                                            &synchronous_full_);
      !st)
    return st;
  if (status st = create_schema(); !st) return st;
  if (status st = check_format_version(); !st) return st;
  return prepare_statements();
}

status sqlite_document_store::create_schema() {
  bool exists = false;
  if (status st = sqlite::has_table(db_, "meta", &exists); !st || exists) return st;
  return db_.exec_transaction(fmt::schema_sql + std::string("INSERT INTO meta VALUES ('") +
                               fmt::meta_format_version + "', " + std::to_string(fmt::format_version) +
                               "), ('" + fmt::meta_id_lease + "', 1);");
}

// Before any statement naming the columns is prepared, so that a file of
// another layout is refused for its version rather than for a column.
status sqlite_document_store::check_format_version() {
  std::optional<std::int64_t> stored;
  if (status st = sqlite::read_format_version(db_, &stored); !st) return st;
  if (!stored) return status::corruption(name() + ": meta row format_version is missing");
  const std::int64_t version = *stored;
  if (version != fmt::format_version)
    return status::invalid(name() + ": documents format version " + std::to_string(version) +
                           ", this build reads " + std::to_string(fmt::format_version));
  return status::ok();
}

status sqlite_document_store::prepare_statements() {
  const std::string select = std::string("SELECT ") + fmt::columns + " FROM documents";
  const std::pair<sqlite::statement*, std::string> all[] = {
      {&q_.begin, "BEGIN IMMEDIATE"},
      {&q_.commit, "COMMIT"},
      {&q_.rollback, "ROLLBACK"},
      {&q_.meta_get, sqlite::meta_get_sql},
      {&q_.meta_put, sqlite::meta_put_sql},
      {&q_.upsert, std::string("INSERT OR REPLACE INTO documents(") + fmt::columns +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
      {&q_.get, select + " WHERE kind=?1 AND tenant=?2 AND id=?3"},
      {&q_.find_idem, select + " WHERE kind=?1 AND tenant=?2 AND idem=?3 ORDER BY id LIMIT 1"},
      {&q_.scan, select},
      {&q_.prune, "DELETE FROM documents WHERE open=0 AND updated_ms < ?1"},
  };
  static_assert(fmt::column_count == 9);
  for (const auto& [stmt, sql] : all)
    if (status st = db_.prepare(sql.c_str(), stmt); !st) return st;
  return status::ok();
}

template <typename Body>
status sqlite_document_store::transaction(bool sync, Body body) {
  if (status st = sqlite::set_synchronous(db_, sync, &synchronous_full_); !st) return st;
  if (status st = db_.run(q_.begin, "BEGIN"); !st) return st;
  status st = body();
  if (st) st = db_.run(q_.commit, "COMMIT");
  if (!st) {
    if (!sqlite3_get_autocommit(db_.get())) (void)db_.run(q_.rollback, "ROLLBACK");
    return st;
  }
  // A FULL commit fsyncs the whole WAL, so earlier unsynced frames too.
  unsynced_ = !sync;
  // Committed whatever the checkpoint does: a failed one changes nothing and
  // is tried again after the next commit (as in sqlite_store.cpp's append).
  if (wal_frames_ >= checkpoint_frames && sqlite::checkpoint(db_, &synchronous_full_)) wal_frames_ = 0;
  return status::ok();
}

void sqlite_document_store::bind_row(const document& d, std::uint32_t crc) {
  auto& s = q_.upsert;
  s.bind(fmt::c_kind + 1, static_cast<std::int64_t>(d.kind));
  s.bind_text(fmt::c_tenant + 1, d.tenant);
  s.bind_text(fmt::c_id + 1, d.id);
  if (d.idem.empty())
    s.bind_null(fmt::c_idem + 1);
  else
    s.bind_text(fmt::c_idem + 1, d.idem);
  s.bind_u64(fmt::c_fingerprint + 1, d.fingerprint);
  s.bind(fmt::c_open + 1, d.open ? 1 : 0);
  s.bind(fmt::c_updated_ms + 1, d.updated_ms);
  s.bind_blob(fmt::c_body + 1, d.body);
  s.bind(fmt::c_crc + 1, static_cast<std::int64_t>(crc));
}

status sqlite_document_store::put(const std::vector<document>& docs, bool sync) {
  for (const document& d : docs)
    if (status st = check_document(d); !st) return st;
  if (docs.empty()) return sync ? this->sync() : status::ok();
  return transaction(sync, [&] {
    for (const document& d : docs) {
      bind_row(d, fmt::row_crc(d));
      if (status st = db_.run(q_.upsert, "writing a document"); !st) return st;
    }
    return status::ok();
  });
}

status sqlite_document_store::sync() {
  if (!unsynced_) return status::ok();
  if (status st = sqlite::sync_wal(db_, &synchronous_full_); !st) return st;
  unsynced_ = false;
  return status::ok();
}

// Checks the row's CRC and its integer columns' ranges.
status sqlite_document_store::read_row(sqlite3_stmt* s, document* d) const {
  const std::int64_t kind = sqlite::column_i64(s, fmt::c_kind);
  const std::int64_t open = sqlite::column_i64(s, fmt::c_open);
  d->kind = static_cast<document_kind>(kind);
  d->tenant = sqlite::column_bytes(s, fmt::c_tenant);
  d->id = sqlite::column_bytes(s, fmt::c_id);
  d->idem = sqlite::column_bytes(s, fmt::c_idem);
  d->fingerprint = sqlite::column_u64(s, fmt::c_fingerprint);
  d->open = open != 0;
  d->updated_ms = sqlite::column_i64(s, fmt::c_updated_ms);
  d->body = sqlite::column_bytes(s, fmt::c_body);
  const std::int64_t crc = sqlite::column_i64(s, fmt::c_crc);
  if (crc != static_cast<std::int64_t>(fmt::row_crc(*d)))
    return status::corruption(name() + ": " + describe(*d) + " fails its CRC");
  if (!fmt::valid_kind(kind) || (open != 0 && open != 1))
    return status::corruption(name() + ": " + describe(*d) + " has kind " + std::to_string(kind) +
                              " and open " + std::to_string(open));
  return status::ok();
}

status sqlite_document_store::fetch_one(sqlite::statement& s, std::optional<document>* out) {
  reset_on_exit guard(s);
  out->reset();
  const int rc = s.step();
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db_.error(rc, "reading a document");
  document d;
  if (status st = read_row(s.get(), &d); !st) return st;
  *out = std::move(d);
  return status::ok();
}

status sqlite_document_store::get(document_kind kind, std::string_view tenant, std::string_view id,
                                  std::optional<document>* out) {
  q_.get.bind(1, static_cast<std::int64_t>(kind));
  q_.get.bind_text(2, tenant);
  q_.get.bind_text(3, id);
  return fetch_one(q_.get, out);
}

status sqlite_document_store::find_idem(document_kind kind, std::string_view tenant,
                                        std::string_view idem, std::optional<document>* out) {
  out->reset();
  if (idem.empty()) return status::invalid("find_idem with an empty key");
  q_.find_idem.bind(1, static_cast<std::int64_t>(kind));
  q_.find_idem.bind_text(2, tenant);
  q_.find_idem.bind_text(3, idem);
  return fetch_one(q_.find_idem, out);
}

// A scan of the whole table (which checks every row), not of the open index;
// sorted afterwards so the order does not depend on rowids.
status sqlite_document_store::list_open(std::vector<document>* out) {
  out->clear();
  reset_on_exit guard(q_.scan);
  document d;
  for (;;) {
    const int rc = q_.scan.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_.error(rc, "scanning documents");
    if (status st = read_row(q_.scan.get(), &d); !st) return st;
    if (d.open) out->push_back(std::move(d));
  }
  std::sort(out->begin(), out->end(), [](const document& a, const document& b) {
    return std::tie(a.kind, a.tenant, a.id) < std::tie(b.kind, b.tenant, b.id);
  });
  return status::ok();
}

// Reads the lease in the write transaction, so another process's lease is
// seen, and commits at FULL: the numbers are never handed out again.
status sqlite_document_store::lease_ids(std::uint64_t count, std::uint64_t* first) {
  if (count == 0 || count > document_id_lease_max)
    return status::invalid(name() + ": lease of " + std::to_string(count) + " ids");
  std::int64_t lease = 0;
  status st = transaction(true, [&] {
    if (status r = sqlite::read_meta(db_, q_.meta_get, fmt::meta_id_lease, &lease); !r) return r;
    if (lease < 1 || static_cast<std::uint64_t>(lease) > (std::uint64_t{1} << 62))
      return status::corruption(name() + ": meta row id_lease holds " + std::to_string(lease));
    return sqlite::write_meta(db_, q_.meta_put, fmt::meta_id_lease, lease + static_cast<std::int64_t>(count));
  });
  if (st) *first = static_cast<std::uint64_t>(lease);
  return st;
}

// At the connection's current level (the last put's mode): losing a prune to
// a power cut only brings back rows a later prune deletes again.
status sqlite_document_store::prune(epoch_ms before, std::uint64_t* removed) {
  *removed = 0;
  return transaction(synchronous_full_, [&] {
    q_.prune.bind(1, before);
    if (status st = db_.run(q_.prune, "pruning documents"); !st) return st;
    *removed = static_cast<std::uint64_t>(sqlite3_changes(db_.get()));
    return status::ok();
  });
}

status sqlite_document_store::delete_tenant(std::string_view tenant, std::uint64_t* removed) {
  *removed = 0;
  sqlite::statement del;
  if (status st = db_.prepare("DELETE FROM documents WHERE tenant = ?1", &del); !st) return st;
  return transaction(true, [&] {
    del.bind_text(1, tenant);
    if (status st = db_.run(del, "deleting a tenant's documents"); !st) return st;
    *removed = static_cast<std::uint64_t>(sqlite3_changes(db_.get()));
    return status::ok();
  });
}

}  // namespace

std::unique_ptr<document_store> open_sqlite_document_store(const std::string& path, const std::string& vfs,
                                                           status* st) {
  auto store = std::make_unique<sqlite_document_store>();
  *st = store->open(path, vfs);
  if (!st->is_ok()) return nullptr;
  return store;
}

}  // namespace stockgrid::persistence
