// The durable key store: one SQLite file, DATA_DIR/system.db, shared by every
// node process that opens the same data directory. Admin changes are rare and
// must survive a power cut once acknowledged, so the file runs in WAL mode
// with synchronous=FULL, and each change is one transaction.
//
// File format, version 5 (PRAGMA user_version = 5; a file with a higher
// version is refused rather than misread):
//
//   tenants(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,
//           suspended_ms INTEGER,  -- NULL: active; else suspended since then
//           deleting_ms INTEGER,   -- NULL; else tenant.delete since then
//           status_ms INTEGER,     -- NULL; else the last suspend or resume
//           status_by TEXT NOT NULL DEFAULT '')  -- the member that made it
//   keys(key_id TEXT PRIMARY KEY,   -- 16 hex digits, or "system"
//        tenant TEXT NOT NULL,      -- "" for the system key
//        role INTEGER NOT NULL,     -- protocol::role value (never renumbered)
//        hash_scheme INTEGER NOT NULL,  -- auth::hash_scheme value
//        salt BLOB NOT NULL,        -- 16 random bytes
//        hash BLOB NOT NULL,        -- HMAC-SHA256(salt, secret), 32 bytes
//        created_ms INTEGER NOT NULL,
//        expires_at_ms INTEGER,     -- NULL: never expires
//        revoked_ms INTEGER)        -- NULL: not revoked
//   key_warehouses(key_id TEXT, position INTEGER, warehouse TEXT,
//                  PRIMARY KEY(key_id, position))  -- none: every warehouse
//   tombstones(name TEXT PRIMARY KEY,  -- a deleted tenant (key_store.hpp)
//              created_ms INTEGER NOT NULL,  -- when it was created
//              deleted_ms INTEGER NOT NULL)  -- when it was removed
//   INDEX tombstones_by_time ON tombstones(deleted_ms)  -- the oldest go first
//
// No column holds a secret or a token. The file is created with mode 0600
// (SQLite gives its -wal and -shm files the same mode).
//
// Versions: 1 had no tenants.suspended_ms. Opening a version 1 file (or a
// new, empty one, which is first given the version 1 schema) upgrades it in
// place, in the same transaction that reads the version: ALTER TABLE adds
// the column (NULL: every tenant active) and user_version becomes 2. Builds
// that read only version 1 refuse an upgraded file. Version 3 adds
// tenants.deleting_ms the same way (NULL: no tenant being deleted), and
// version 4 tenants.status_ms and status_by (NULL and '': no status change
// stamped yet; the cluster merge then orders a suspension by suspended_ms,
// auth/replication.hpp). Version 5 adds the tombstones table (empty).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "auth/key_store.hpp"

struct sqlite3;

namespace stockgrid::auth {

inline constexpr int system_db_format_version = 5;

// DATA_DIR/system.db
std::string system_db_path(std::string_view data_dir);

class sqlite_key_store final : public key_store {
 public:
  // Opens (or creates) the file at `path`, whose directory must exist.
  static store_status open(const std::string& path, std::unique_ptr<sqlite_key_store>* out);
  ~sqlite_key_store() override;
  sqlite_key_store(const sqlite_key_store&) = delete;
  sqlite_key_store& operator=(const sqlite_key_store&) = delete;

  store_status add_tenant(const tenant_record& tenant, const key_record* first_key) override;
  store_status list_tenants(std::vector<tenant_record>* out) override;
  store_status set_tenant_suspended(std::string_view tenant, bool suspend, epoch_ms now,
                                    std::string_view by) override;
  store_status set_tenant_status(const tenant_record& seen, const tenant_record& peer) override;
  store_status set_tenant_deleting(std::string_view tenant, epoch_ms now) override;
  store_status remove_tenant(std::string_view tenant, epoch_ms now) override;
  store_status apply_tombstone(const tenant_tombstone& t, bool* removed) override;
  store_status list_tombstones(std::vector<tenant_tombstone>* out) override;
  store_status add_key(const key_record& key) override;
  store_status list_keys(std::string_view tenant, std::vector<key_info>* out) override;
  store_status revoke_key(std::string_view tenant, std::string_view key_id, epoch_ms now) override;
  store_status find_key(std::string_view key_id, key_record* out) override;
  store_status load_keys(std::vector<key_record>* out) override;

 private:
  explicit sqlite_key_store(std::string path) : path_(std::move(path)) {}
  store_status init();
  store_status insert_key(const key_record& key);  // inside a transaction
  // Inside a transaction: removes the tenant's row and keys; keeps `t`, the
  // later of two of one name, and drops the oldest beyond tombstones_max.
  store_status erase_tenant(std::string_view tenant);
  store_status keep_tombstone(const tenant_tombstone& t);
  // Keys matching `where` ("" or a condition on alias k with parameter ?1).
  store_status select_keys(const char* where, std::string_view arg, std::vector<key_record>* out);
  store_status error(int rc, std::string_view what) const;
  // not_found when the tenant has no row, else invalid "tenant T <why>"
  // (with mutex_ held).
  store_status missing_or(std::string_view tenant, std::string_view why);

  std::mutex mutex_;  // one connection, one user at a time
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace stockgrid::auth
