#include "auth/sqlite_key_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <map>

#include "auth/limits.hpp"

namespace stockgrid::auth {

namespace {

constexpr int busy_timeout_ms = 5000;

constexpr const char* schema_v1 = R"sql(
CREATE TABLE tenants(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
CREATE TABLE keys(
  key_id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  role INTEGER NOT NULL,
  hash_scheme INTEGER NOT NULL,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  revoked_ms INTEGER);
CREATE INDEX keys_by_tenant ON keys(tenant);
CREATE TABLE key_warehouses(
  key_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  warehouse TEXT NOT NULL,
  PRIMARY KEY(key_id, position));
PRAGMA user_version = 1;
)sql";

// Version 1 -> 2: tenant suspension (tenant.suspend / tenant.resume).
constexpr const char* upgrade_v1_to_v2 = R"sql(
ALTER TABLE tenants ADD COLUMN suspended_ms INTEGER;
PRAGMA user_version = 2;
)sql";

// Version 2 -> 3: tenant deletion (tenant.delete), resumed after a restart.
constexpr const char* upgrade_v2_to_v3 = R"sql(
ALTER TABLE tenants ADD COLUMN deleting_ms INTEGER;
PRAGMA user_version = 3;
)sql";

// Version 3 -> 4: the stamp of a tenant's last status change, which orders
// suspensions and resumes across a cluster (NULL and '': none stamped yet).
constexpr const char* upgrade_v3_to_v4 = R"sql(
ALTER TABLE tenants ADD COLUMN status_ms INTEGER;
ALTER TABLE tenants ADD COLUMN status_by TEXT NOT NULL DEFAULT '';
PRAGMA user_version = 4;
)sql";

// Version 4 -> 5: tombstones of deleted tenants, which a cluster's members
// exchange so that none gives a deleted tenant back.
constexpr const char* upgrade_v4_to_v5 = R"sql(
CREATE TABLE tombstones(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, deleted_ms INTEGER NOT NULL);
CREATE INDEX tombstones_by_time ON tombstones(deleted_ms);
PRAGMA user_version = 5;
)sql";

// A prepared statement that finalizes itself. Text is bound without a copy:
// it must outlive the statement's use.
class statement {
 public:
  statement(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s_, nullptr);
  }
  ~statement() { sqlite3_finalize(s_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  int prepare_rc() const { return rc_; }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, std::optional<std::int64_t> v) {
    if (v)
      bind(i, *v);
    else
      sqlite3_bind_null(s_, i);
  }
  void bind_text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  int step() { return sqlite3_step(s_); }
  void reset() { sqlite3_reset(s_); }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::optional<std::int64_t> opt_i64(int c) const {
    if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
    return i64(c);
  }
  std::string bytes(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    const int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

// A transaction that rolls back unless committed.
class transaction {
 public:
  explicit transaction(sqlite3* db) : db_(db) {}
  ~transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  // IMMEDIATE for writers: take the write lock up front, so a busy file
  // waits in busy_timeout instead of failing at the first write.
  int begin(bool write) {
    const int rc =
        sqlite3_exec(db_, write ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr, nullptr);
    open_ = rc == SQLITE_OK;
    return rc;
  }
  int commit() {
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) open_ = false;
    return rc;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

bool is_primary_key_clash(int rc) {
  return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

}  // namespace

std::string system_db_path(std::string_view data_dir) {
  std::string path(data_dir);
  if (!path.empty() && path.back() != '/') path += '/';
  return path + "system.db";
}

store_status sqlite_key_store::open(const std::string& path,
                                    std::unique_ptr<sqlite_key_store>* out) {
  // Create the file ourselves so it is private from the start; an empty file
  // is a valid empty database.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return store_status::io_error(path + ": cannot create or open");
  ::close(fd);
  std::unique_ptr<sqlite_key_store> store(new sqlite_key_store(path));
  const int rc = sqlite3_open_v2(path.c_str(), &store->db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return store->error(rc, "open");
  sqlite3_extended_result_codes(store->db_, 1);
  sqlite3_busy_timeout(store->db_, busy_timeout_ms);
  if (store_status st = store->init(); !st) return st;
  *out = std::move(store);
  return store_status::ok();
}

sqlite_key_store::~sqlite_key_store() { sqlite3_close_v2(db_); }

store_status sqlite_key_store::error(int rc, std::string_view what) const {
  std::string m =
      path_ + ": " + std::string(what) + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return store_status::corruption(m);
  return store_status::io_error(m);
}

store_status sqlite_key_store::init() {
  {
    statement wal(db_, "PRAGMA journal_mode=WAL");
    if (wal.prepare_rc() != SQLITE_OK) return error(wal.prepare_rc(), "PRAGMA journal_mode");
    const int rc = wal.step();
    if (rc != SQLITE_ROW) return error(rc, "PRAGMA journal_mode=WAL");
    if (wal.bytes(0) != "wal") return store_status::io_error(path_ + ": WAL mode refused");
  }
  if (int rc = sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
      rc != SQLITE_OK)
    return error(rc, "PRAGMA synchronous");
  transaction txn(db_);
  if (int rc = txn.begin(true); rc != SQLITE_OK) return error(rc, "begin");
  statement version(db_, "PRAGMA user_version");
  if (version.prepare_rc() != SQLITE_OK) return error(version.prepare_rc(), "PRAGMA user_version");
  if (int rc = version.step(); rc != SQLITE_ROW) return error(rc, "PRAGMA user_version");
  const std::int64_t v = version.i64(0);
  if (v > system_db_format_version)
    return store_status::invalid(path_ + ": format version " + std::to_string(v) +
                                 " is newer than this stockgrid reads (" +
                                 std::to_string(system_db_format_version) + ")");
  // A new file gets the first schema, then every upgrade, so the upgrade
  // path is the one every node runs.
  if (v == 0) {
    if (int rc = sqlite3_exec(db_, schema_v1, nullptr, nullptr, nullptr); rc != SQLITE_OK)
      return error(rc, "create schema");
  }
  if (v < 2) {
    if (int rc = sqlite3_exec(db_, upgrade_v1_to_v2, nullptr, nullptr, nullptr); rc != SQLITE_OK)
      return error(rc, "upgrade to format version 2");
  }
  if (v < 3) {
    if (int rc = sqlite3_exec(db_, upgrade_v2_to_v3, nullptr, nullptr, nullptr); rc != SQLITE_OK)
      return error(rc, "upgrade to format version 3");
  }
  if (v < 4) {
    if (int rc = sqlite3_exec(db_, upgrade_v3_to_v4, nullptr, nullptr, nullptr); rc != SQLITE_OK)
      return error(rc, "upgrade to format version 4");
  }
  if (v < 5) {
    if (int rc = sqlite3_exec(db_, upgrade_v4_to_v5, nullptr, nullptr, nullptr); rc != SQLITE_OK)
      return error(rc, "upgrade to format version 5");
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return error(rc, "commit schema");
  return store_status::ok();
}

store_status sqlite_key_store::insert_key(const key_record& key) {
  statement s(db_,
              "INSERT INTO keys(key_id, tenant, role, hash_scheme, salt, hash, created_ms, "
              "expires_at_ms, revoked_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare insert key");
  s.bind_text(1, key.key_id);
  s.bind_text(2, key.tenant);
  s.bind(3, std::int64_t{static_cast<unsigned char>(key.role)});
  s.bind(4, std::int64_t{static_cast<unsigned char>(key.scheme)});
  s.bind_blob(5, key.salt);
  s.bind_blob(6, key.hash);
  s.bind(7, key.created_ms);
  s.bind(8, key.expires_at_ms);
  s.bind(9, key.revoked_ms);
  if (int rc = s.step(); rc != SQLITE_DONE) {
    if (is_primary_key_clash(rc)) return store_status::already_exists("key " + key.key_id);
    return error(rc, "insert key");
  }
  statement w(db_, "INSERT INTO key_warehouses(key_id, position, warehouse) VALUES(?1, ?2, ?3)");
  if (w.prepare_rc() != SQLITE_OK) return error(w.prepare_rc(), "prepare insert warehouse");
  for (std::size_t i = 0; i < key.warehouses.size(); ++i) {
    w.bind_text(1, key.key_id);
    w.bind(2, static_cast<std::int64_t>(i));
    w.bind_text(3, key.warehouses[i]);
    if (int rc = w.step(); rc != SQLITE_DONE) return error(rc, "insert key warehouse");
    w.reset();
  }
  return store_status::ok();
}

store_status sqlite_key_store::add_tenant(const tenant_record& tenant,
                                          const key_record* first_key) {
  if (first_key) {
    if (first_key->tenant != tenant.name)
      return store_status::invalid("key " + first_key->key_id + ": not of tenant " + tenant.name);
    if (store_status st = check_key_row(*first_key); !st) return st;
  }
  std::lock_guard lock(mutex_);
  transaction txn(db_);
  if (int rc = txn.begin(true); rc != SQLITE_OK) return error(rc, "begin");
  {
    statement t(db_, "SELECT deleted_ms FROM tombstones WHERE name = ?1");
    if (t.prepare_rc() != SQLITE_OK) return error(t.prepare_rc(), "prepare find tombstone");
    t.bind_text(1, tenant.name);
    const int rc = t.step();
    if (rc == SQLITE_ROW && t.i64(0) >= tenant.created_ms)
      return store_status::invalid("tenant " + tenant.name + " was deleted at " + std::to_string(t.i64(0)) +
                                   " ms, not before its creation");
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error(rc, "find tombstone");
  }
  statement s(db_, "INSERT INTO tenants(name, created_ms) VALUES(?1, ?2)");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare insert tenant");
  s.bind_text(1, tenant.name);
  s.bind(2, tenant.created_ms);
  if (int rc = s.step(); rc != SQLITE_DONE) {
    if (is_primary_key_clash(rc)) return store_status::already_exists("tenant " + tenant.name);
    return error(rc, "insert tenant");
  }
  if (first_key) {
    if (store_status st = insert_key(*first_key); !st) return st;
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return error(rc, "commit tenant");
  return store_status::ok();
}

store_status sqlite_key_store::list_tenants(std::vector<tenant_record>* out) {
  std::lock_guard lock(mutex_);
  out->clear();
  statement s(db_,
              "SELECT name, created_ms, suspended_ms, deleting_ms, status_ms, status_by FROM tenants ORDER BY name");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare list tenants");
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    out->push_back({s.bytes(0), s.i64(1), s.opt_i64(2), s.opt_i64(3), s.opt_i64(4), s.bytes(5)});
  if (rc != SQLITE_DONE) return error(rc, "list tenants");
  return store_status::ok();
}

store_status sqlite_key_store::set_tenant_suspended(std::string_view tenant, bool suspend, epoch_ms now,
                                                    std::string_view by) {
  std::lock_guard lock(mutex_);
  // One statement: the row is found and changed atomically. MIN keeps the
  // earlier suspension time; status_ms is next_status_ms() (key_store.hpp)
  // of the row as it was.
  // A tenant being deleted stays suspended: resuming it is refused below.
  statement s(db_, suspend ? "UPDATE tenants SET suspended_ms = MIN(COALESCE(suspended_ms, ?1), ?1), "
                             "status_ms = MAX(?1, COALESCE(status_ms, suspended_ms, -1) + 1), status_by = ?3 "
                             "WHERE name = ?2"
                           : "UPDATE tenants SET suspended_ms = NULL, "
                             "status_ms = MAX(?1, COALESCE(status_ms, suspended_ms, -1) + 1), status_by = ?3 "
                             "WHERE name = ?2 AND deleting_ms IS NULL");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare suspend tenant");
  s.bind(1, now);
  s.bind_text(2, tenant);
  s.bind_text(3, by);
  if (int rc = s.step(); rc != SQLITE_DONE) return error(rc, "suspend tenant");
  if (sqlite3_changes(db_) == 0) return missing_or(tenant, "is being deleted");
  return store_status::ok();
}

store_status sqlite_key_store::set_tenant_status(const tenant_record& seen, const tenant_record& peer) {
  std::lock_guard lock(mutex_);
  // One statement: the row is compared with `seen` and changed atomically.
  statement s(db_, "UPDATE tenants SET suspended_ms = ?1, status_ms = ?2, status_by = ?3 "
                   "WHERE name = ?4 AND (?1 IS NOT NULL OR deleting_ms IS NULL) "
                   "AND suspended_ms IS ?5 AND status_ms IS ?6 AND status_by = ?7");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare set tenant status");
  s.bind(1, peer.suspended_ms);
  s.bind(2, peer.status_ms);
  s.bind_text(3, peer.status_by);
  s.bind_text(4, peer.name);
  s.bind(5, seen.suspended_ms);
  s.bind(6, seen.status_ms);
  s.bind_text(7, seen.status_by);
  if (int rc = s.step(); rc != SQLITE_DONE) return error(rc, "set tenant status");
  if (sqlite3_changes(db_) == 0) return missing_or(peer.name, "is being deleted or changed meanwhile");
  return store_status::ok();
}

// not_found when the tenant has no row, else invalid with `why`.
store_status sqlite_key_store::missing_or(std::string_view tenant, std::string_view why) {
  statement s(db_, "SELECT 1 FROM tenants WHERE name = ?1");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare find tenant");
  s.bind_text(1, tenant);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return store_status::not_found("tenant " + std::string(tenant));
  if (rc != SQLITE_ROW) return error(rc, "find tenant");
  return store_status::invalid("tenant " + std::string(tenant) + " " + std::string(why));
}

store_status sqlite_key_store::set_tenant_deleting(std::string_view tenant, epoch_ms now) {
  std::lock_guard lock(mutex_);
  statement s(db_, "UPDATE tenants SET deleting_ms = COALESCE(deleting_ms, ?1) "
                   "WHERE name = ?2 AND suspended_ms IS NOT NULL");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare mark tenant deleting");
  s.bind(1, now);
  s.bind_text(2, tenant);
  if (int rc = s.step(); rc != SQLITE_DONE) return error(rc, "mark tenant deleting");
  if (sqlite3_changes(db_) == 0) return missing_or(tenant, "is not suspended");
  return store_status::ok();
}

store_status sqlite_key_store::erase_tenant(std::string_view tenant) {
  const char* const steps[] = {
      "DELETE FROM key_warehouses WHERE key_id IN (SELECT key_id FROM keys WHERE tenant = ?1)",
      "DELETE FROM keys WHERE tenant = ?1",
      "DELETE FROM tenants WHERE name = ?1",
  };
  for (const char* sql : steps) {
    statement s(db_, sql);
    if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare remove tenant");
    s.bind_text(1, tenant);
    if (int rc = s.step(); rc != SQLITE_DONE) return error(rc, "remove tenant");
  }
  return store_status::ok();
}

store_status sqlite_key_store::keep_tombstone(const tenant_tombstone& t) {
  statement s(db_, "INSERT INTO tombstones(name, created_ms, deleted_ms) VALUES(?1, ?2, ?3) "
                   "ON CONFLICT(name) DO UPDATE SET created_ms = excluded.created_ms, deleted_ms = excluded.deleted_ms "
                   "WHERE excluded.deleted_ms > tombstones.deleted_ms");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare keep tombstone");
  s.bind_text(1, t.name);
  s.bind(2, t.created_ms);
  s.bind(3, t.deleted_ms);
  if (int rc = s.step(); rc != SQLITE_DONE) return error(rc, "keep tombstone");
  statement trim(db_, "DELETE FROM tombstones WHERE name IN (SELECT name FROM tombstones ORDER BY deleted_ms, name "
                      "LIMIT max(0, (SELECT count(*) FROM tombstones) - ?1))");
  if (trim.prepare_rc() != SQLITE_OK) return error(trim.prepare_rc(), "prepare trim tombstones");
  trim.bind(1, static_cast<std::int64_t>(limits::tombstones_max));
  if (int rc = trim.step(); rc != SQLITE_DONE) return error(rc, "trim tombstones");
  return store_status::ok();
}

store_status sqlite_key_store::remove_tenant(std::string_view tenant, epoch_ms now) {
  std::lock_guard lock(mutex_);
  transaction txn(db_);
  if (int rc = txn.begin(true); rc != SQLITE_OK) return error(rc, "begin");
  statement find(db_, "SELECT created_ms FROM tenants WHERE name = ?1");
  if (find.prepare_rc() != SQLITE_OK) return error(find.prepare_rc(), "prepare find tenant");
  find.bind_text(1, tenant);
  const int rc = find.step();
  if (rc == SQLITE_DONE) return store_status::not_found("tenant " + std::string(tenant));
  if (rc != SQLITE_ROW) return error(rc, "find tenant");
  const tenant_tombstone t{std::string(tenant), find.i64(0), std::max(now, find.i64(0))};
  if (store_status st = erase_tenant(tenant); !st) return st;
  if (store_status st = keep_tombstone(t); !st) return st;
  if (int c = txn.commit(); c != SQLITE_OK) return error(c, "commit remove tenant");
  return store_status::ok();
}

store_status sqlite_key_store::apply_tombstone(const tenant_tombstone& t, bool* removed) {
  std::lock_guard lock(mutex_);
  *removed = false;
  transaction txn(db_);
  if (int rc = txn.begin(true); rc != SQLITE_OK) return error(rc, "begin");
  statement find(db_, "SELECT created_ms FROM tenants WHERE name = ?1");
  if (find.prepare_rc() != SQLITE_OK) return error(find.prepare_rc(), "prepare find tenant");
  find.bind_text(1, t.name);
  const int rc = find.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error(rc, "find tenant");
  // A row created after the delete is a later tenant of the name: it stays.
  const bool remove = rc == SQLITE_ROW && find.i64(0) <= t.deleted_ms;
  if (remove)
    if (store_status st = erase_tenant(t.name); !st) return st;
  if (store_status st = keep_tombstone(t); !st) return st;
  if (int c = txn.commit(); c != SQLITE_OK) return error(c, "commit tombstone");
  *removed = remove;
  return store_status::ok();
}

store_status sqlite_key_store::list_tombstones(std::vector<tenant_tombstone>* out) {
  std::lock_guard lock(mutex_);
  out->clear();
  statement s(db_, "SELECT name, created_ms, deleted_ms FROM tombstones ORDER BY name");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare list tombstones");
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out->push_back({s.bytes(0), s.i64(1), s.i64(2)});
  if (rc != SQLITE_DONE) return error(rc, "list tombstones");
  return store_status::ok();
}

store_status sqlite_key_store::add_key(const key_record& key) {
  if (store_status st = check_key_row(key); !st) return st;
  std::lock_guard lock(mutex_);
  transaction txn(db_);
  if (int rc = txn.begin(true); rc != SQLITE_OK) return error(rc, "begin");
  if (!key.tenant.empty()) {
    statement t(db_, "SELECT 1 FROM tenants WHERE name = ?1");
    if (t.prepare_rc() != SQLITE_OK) return error(t.prepare_rc(), "prepare find tenant");
    t.bind_text(1, key.tenant);
    const int rc = t.step();
    if (rc == SQLITE_DONE) return store_status::not_found("tenant " + key.tenant);
    if (rc != SQLITE_ROW) return error(rc, "find tenant");
  }
  if (store_status st = insert_key(key); !st) return st;
  if (int rc = txn.commit(); rc != SQLITE_OK) return error(rc, "commit key");
  return store_status::ok();
}

store_status sqlite_key_store::select_keys(const char* where, std::string_view arg,
                                           std::vector<key_record>* out) {
  out->clear();
  transaction txn(db_);  // one snapshot for both queries
  if (int rc = txn.begin(false); rc != SQLITE_OK) return error(rc, "begin");
  statement s(db_, std::string("SELECT key_id, tenant, role, hash_scheme, salt, hash, created_ms, "
                               "expires_at_ms, revoked_ms FROM keys k ") +
                       where + " ORDER BY k.rowid");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare select keys");
  if (*where) s.bind_text(1, arg);
  std::map<std::string, std::size_t, std::less<>> index;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    key_record k;
    k.key_id = s.bytes(0);
    k.tenant = s.bytes(1);
    k.role = static_cast<protocol::role>(s.i64(2));
    k.scheme = static_cast<hash_scheme>(s.i64(3));
    k.salt = s.bytes(4);
    k.hash = s.bytes(5);
    k.created_ms = s.i64(6);
    k.expires_at_ms = s.opt_i64(7);
    k.revoked_ms = s.opt_i64(8);
    // A row that breaks the rules add_key enforces was not written by us.
    if (store_status st = check_key_row(k); !st)
      return store_status::corruption(path_ + ": " + st.message());
    index.emplace(k.key_id, out->size());
    out->push_back(std::move(k));
  }
  if (rc != SQLITE_DONE) return error(rc, "select keys");
  statement w(db_, std::string("SELECT w.key_id, w.warehouse FROM key_warehouses w "
                               "JOIN keys k ON k.key_id = w.key_id ") +
                       where + " ORDER BY w.key_id, w.position");
  if (w.prepare_rc() != SQLITE_OK) return error(w.prepare_rc(), "prepare select warehouses");
  if (*where) w.bind_text(1, arg);
  while ((rc = w.step()) == SQLITE_ROW) {
    auto it = index.find(w.bytes(0));
    if (it != index.end()) (*out)[it->second].warehouses.push_back(w.bytes(1));
  }
  if (rc != SQLITE_DONE) return error(rc, "select warehouses");
  if (rc = txn.commit(); rc != SQLITE_OK) return error(rc, "end read");
  return store_status::ok();
}

store_status sqlite_key_store::list_keys(std::string_view tenant, std::vector<key_info>* out) {
  std::lock_guard lock(mutex_);
  std::vector<key_record> keys;
  if (store_status st = select_keys("WHERE k.tenant = ?1", tenant, &keys); !st) return st;
  out->clear();
  for (auto& k : keys) out->push_back(std::move(static_cast<key_info&>(k)));
  return store_status::ok();
}

store_status sqlite_key_store::revoke_key(std::string_view tenant, std::string_view key_id,
                                          epoch_ms now) {
  std::lock_guard lock(mutex_);
  statement s(db_,
              "UPDATE keys SET revoked_ms = MIN(COALESCE(revoked_ms, ?1), ?1) "
              "WHERE key_id = ?2 AND tenant = ?3");
  if (s.prepare_rc() != SQLITE_OK) return error(s.prepare_rc(), "prepare revoke");
  s.bind(1, now);
  s.bind_text(2, key_id);
  s.bind_text(3, tenant);
  if (int rc = s.step(); rc != SQLITE_DONE) return error(rc, "revoke key");
  if (sqlite3_changes(db_) == 0) return store_status::not_found("no such key");
  return store_status::ok();
}

store_status sqlite_key_store::find_key(std::string_view key_id, key_record* out) {
  std::lock_guard lock(mutex_);
  std::vector<key_record> keys;
  if (store_status st = select_keys("WHERE k.key_id = ?1", key_id, &keys); !st) return st;
  if (keys.empty()) return store_status::not_found("no such key");
  *out = std::move(keys.front());
  return store_status::ok();
}

store_status sqlite_key_store::load_keys(std::vector<key_record>* out) {
  std::lock_guard lock(mutex_);
  return select_keys("", {}, out);
}

}  // namespace stockgrid::auth
