// Thin RAII wrappers over the SQLite C API for this folder, and the checks a
// partition file must pass before SQLite opens it. Internal to persistence/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
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

// Before SQLite touches an existing partition file: its header must be
// SQLite's, and a non-empty -wal file must hold a valid header and a whole
// number of frames. Missing files pass (a new partition).
status check_database_header(const std::string& path);
status check_wal_file(const std::string& path);

}  // namespace stockgrid::persistence::sqlite
