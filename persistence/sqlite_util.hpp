// Thin RAII wrappers over the SQLite C API for this folder, and the checks a
// partition file must pass before SQLite opens it. Internal to persistence/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "persistence/status.hpp"

namespace stockgrid::persistence::sqlite {

// A prepared statement, kept for the life of its connection. Parameters are
// bound by index (1-based, as SQLite counts); text is bound without copying,
// so it must stay alive until the statement is reset.
class statement {
 public:
  statement() = default;
  explicit statement(sqlite3_stmt* s) : stmt_(s) {}
  statement(statement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  statement& operator=(statement&& o) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }

  sqlite3_stmt* get() const { return stmt_; }
  void bind(int index, std::int64_t v) { sqlite3_bind_int64(stmt_, index, v); }
  void bind_u64(int index, std::uint64_t v) { bind(index, static_cast<std::int64_t>(v)); }
  void bind_text(int index, std::string_view s) {
    sqlite3_bind_text(stmt_, index, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  void bind_blob(int index, std::string_view s) {
    sqlite3_bind_blob(stmt_, index, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  void bind_null(int index) { sqlite3_bind_null(stmt_, index); }
  int step() { return sqlite3_step(stmt_); }
  void reset() { sqlite3_reset(stmt_); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving a scope, so an early return never leaves a
// statement mid-step (which would hold its read transaction open).
class reset_on_exit {
 public:
  explicit reset_on_exit(statement& s) : s_(s) {}
  ~reset_on_exit() { s_.reset(); }
  reset_on_exit(const reset_on_exit&) = delete;
  reset_on_exit& operator=(const reset_on_exit&) = delete;

 private:
  statement& s_;
};

// Column accessors. Unsigned 64-bit values are stored with the same bits.
inline std::int64_t column_i64(sqlite3_stmt* s, int i) { return sqlite3_column_int64(s, i); }
inline std::uint64_t column_u64(sqlite3_stmt* s, int i) {
  return static_cast<std::uint64_t>(sqlite3_column_int64(s, i));
}
// Text or blob bytes; empty for NULL. Valid until the next step or reset.
inline std::string_view column_bytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  const int n = sqlite3_column_bytes(s, i);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string_view();
}

// An open database connection and the file name used in messages.
class connection {
 public:
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { close(); }

  status open(const std::string& path, const std::string& vfs, int flags);
  void close();
  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

  status exec(const char* sql);
  // Runs `sql` (several statements) in one BEGIN IMMEDIATE ... COMMIT,
  // rolled back on error.
  status exec_transaction(const std::string& sql);
  status prepare(const char* sql, statement* out);
  // Runs a statement that returns no rows, then resets it.
  status run(statement& s, std::string_view what);
  // A status for SQLite result code `rc`: corruption for a damaged file,
  // io_error otherwise, naming the file and what was being done.
  status error(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// Opens a store's database as both stores do: checks the file header and the
// WAL (below), opens read-write (creating it), waits up to 2 s for another
// process's lock, switches to WAL mode with `hook` in place of SQLite's
// automatic checkpoint (the store checkpoints itself: sqlite_store.hpp),
// and sets synchronous=FULL (*synchronous_full becomes true).
status open_wal_database(connection& db, const std::string& path, const std::string& vfs,
                         int (*hook)(void*, sqlite3*, const char*, int), void* hook_arg,
                         bool* synchronous_full);

// Whether the database has a table of this name (false for a new file).
status has_table(connection& db, const char* table, bool* exists);

// The format_version meta row, read before a store prepares its statements
// (a file of another layout may lack their columns); nullopt if missing.
status read_format_version(connection& db, std::optional<std::int64_t>* out);

// The meta tables of both formats, through a store's statements prepared
// from these. A missing row is corruption naming the file and the key.
inline constexpr const char* meta_get_sql = "SELECT value FROM meta WHERE key=?1";
inline constexpr const char* meta_put_sql = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
status read_meta(connection& db, statement& meta_get, const char* key, std::int64_t* out);
status write_meta(connection& db, statement& meta_put, const char* key, std::int64_t value);

// The WAL durability rules of the stores (sqlite_store.hpp explains them),
// for a connection whose synchronous level the caller tracks in
// *synchronous_full.
//
// Switches to WAL mode, failing if SQLite silently kept another mode (a VFS
// without shared memory, say): the durability argument needs WAL.
status use_wal(connection& db);
// PRAGMA synchronous=FULL or OFF, if not already at that level. Not a cached
// statement: SQLite applies the pragma when it is prepared. Not inside a
// transaction.
status set_synchronous(connection& db, bool full, bool* synchronous_full);
// fsyncs the WAL file itself through the VFS, making every transaction
// committed so far durable with one fsync and without writing anything (an
// empty write transaction would not do: with no dirty page SQLite writes no
// frame and skips the sync). Without a WAL handle, a FULL checkpoint.
status sync_wal(connection& db, bool* synchronous_full);
// A PASSIVE checkpoint at synchronous=FULL: it fsyncs the WAL before copying
// it and the database after, so restarting the WAL later cannot lose
// checkpointed pages.
status checkpoint(connection& db, bool* synchronous_full);

// Before SQLite touches an existing partition file: its header must be
// SQLite's, and a non-empty -wal file must hold a valid header and a whole
// number of frames. Missing files pass (a new partition).
status check_database_header(const std::string& path);
status check_wal_file(const std::string& path);

}  // namespace stockgrid::persistence::sqlite
