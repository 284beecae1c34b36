#include "persistence/sqlite_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace stockgrid::persistence::sqlite {

statement& statement::operator=(statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}

status connection::open(const std::string& path, const std::string& vfs, int flags) {
  close();
  path_ = path;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    status st = error(rc, "open");
    close();
    return st;
  }
  sqlite3_extended_result_codes(db_, 1);
  return status::ok();
}

void connection::close() {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

status connection::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? status::ok() : error(rc, sql);
}

status connection::exec_transaction(const std::string& sql) {
  const std::string all = "BEGIN IMMEDIATE;" + sql + "COMMIT;";
  status st = exec(all.c_str());
  if (!st) (void)exec("ROLLBACK");
  return st;
}

status connection::prepare(const char* sql, statement* out) {
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return error(rc, sql);
  *out = statement(s);
  return status::ok();
}

status connection::run(statement& s, std::string_view what) {
  reset_on_exit guard(s);
  const int rc = s.step();
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? status::ok() : error(rc, what);
}

status connection::error(int rc, std::string_view what) const {
  std::string m = path_ + ": " + std::string(what) + ": ";
  m += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  const int primary = rc & 0xFF;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) return status::corruption(m);
  if (rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC) return status::sync_failed(m);
  return status::io_error(m);
}

status open_wal_database(connection& db, const std::string& path, const std::string& vfs,
                         int (*hook)(void*, sqlite3*, const char*, int), void* hook_arg,
                         bool* synchronous_full) {
  constexpr int busy_timeout_ms = 2000;
  if (status st = check_database_header(path); !st) return st;
  if (status st = check_wal_file(path); !st) return st;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (status st = db.open(path, vfs, flags); !st) return st;
  // Another process (a fenced writer, the checker) may hold a lock briefly.
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  if (status st = use_wal(db); !st) return st;
  sqlite3_wal_hook(db.get(), hook, hook_arg);
  if (status st = db.exec("PRAGMA synchronous=FULL; PRAGMA cache_size=-16384"); !st) return st;
  *synchronous_full = true;
  return status::ok();
}

status has_table(connection& db, const char* table, bool* exists) {
  statement probe;
  if (status st = db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1", &probe); !st)
    return st;
  probe.bind_text(1, table);
  const int rc = probe.step();
  if (rc != SQLITE_ROW) return db.error(rc, "reading the schema");
  *exists = sqlite3_column_int(probe.get(), 0) > 0;
  return status::ok();
}

status read_format_version(connection& db, std::optional<std::int64_t>* out) {
  out->reset();
  statement s;
  if (status st = db.prepare("SELECT value FROM meta WHERE key='format_version'", &s); !st) return st;
  const int rc = s.step();
  if (rc == SQLITE_DONE) return status::ok();
  if (rc != SQLITE_ROW) return db.error(rc, "reading the format version");
  *out = sqlite3_column_int64(s.get(), 0);
  return status::ok();
}

status read_meta(connection& db, statement& meta_get, const char* key, std::int64_t* out) {
  reset_on_exit guard(meta_get);
  meta_get.bind_text(1, key);
  const int rc = meta_get.step();
  if (rc == SQLITE_DONE) return status::corruption(db.path() + ": meta row " + key + " is missing");
  if (rc != SQLITE_ROW) return db.error(rc, "reading meta");
  *out = sqlite3_column_int64(meta_get.get(), 0);
  return status::ok();
}

status write_meta(connection& db, statement& meta_put, const char* key, std::int64_t value) {
  meta_put.bind_text(1, key);
  meta_put.bind(2, value);
  return db.run(meta_put, "writing meta");
}

status use_wal(connection& db) {
  statement s;
  if (status st = db.prepare("PRAGMA journal_mode=WAL", &s); !st) return st;
  const int rc = s.step();
  if (rc != SQLITE_ROW) return db.error(rc, "PRAGMA journal_mode=WAL");
  if (column_bytes(s.get(), 0) != "wal") return status::io_error(db.path() + ": cannot use WAL mode");
  return status::ok();
}

status set_synchronous(connection& db, bool full, bool* synchronous_full) {
  if (full == *synchronous_full) return status::ok();
  if (status st = db.exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF"); !st) return st;
  *synchronous_full = full;
  return status::ok();
}

status sync_wal(connection& db, bool* synchronous_full) {
  sqlite3_file* wal = nullptr;
  const int rc = sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
  if (rc == SQLITE_OK && wal && wal->pMethods) {
    const int sync_rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
    return sync_rc == SQLITE_OK ? status::ok() : db.error(sync_rc, "fsync of the WAL");
  }
  if (status st = set_synchronous(db, true, synchronous_full); !st) return st;
  const int ck = sqlite3_wal_checkpoint_v2(db.get(), "main", SQLITE_CHECKPOINT_FULL, nullptr, nullptr);
  return ck == SQLITE_OK ? status::ok() : db.error(ck, "checkpoint");
}

status checkpoint(connection& db, bool* synchronous_full) {
  if (status st = set_synchronous(db, true, synchronous_full); !st) return st;
  const int rc = sqlite3_wal_checkpoint_v2(db.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return rc == SQLITE_OK ? status::ok() : db.error(rc, "checkpoint");
}

namespace {

// Size of `path`, or -1 if it does not exist.
long long file_size(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return -1;
  return static_cast<long long>(sb.st_size);
}

bool read_prefix(const std::string& path, unsigned char* buf, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(buf), static_cast<std::streamsize>(n));
  return static_cast<std::size_t>(in.gcount()) == n;
}

std::uint32_t load_be32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
         std::uint32_t(p[3]);
}

constexpr std::size_t wal_header_bytes = 32;
constexpr std::size_t wal_frame_header_bytes = 24;

}  // namespace

status check_database_header(const std::string& path) {
  // SQLite creates the header on the first write, so an empty file is new.
  if (file_size(path) <= 0) return status::ok();
  static const char magic[16] = "SQLite format 3";  // includes the trailing NUL
  unsigned char head[16] = {};
  if (!read_prefix(path, head, sizeof head) || std::memcmp(head, magic, sizeof head) != 0)
    return status::corruption(path + ": not an SQLite database (bad file header)");
  return status::ok();
}

status check_wal_file(const std::string& path) {
  const std::string wal = path + "-wal";
  const long long size = file_size(wal);
  if (size <= 0) return status::ok();
  unsigned char head[wal_header_bytes] = {};
  if (static_cast<std::size_t>(size) < wal_header_bytes || !read_prefix(wal, head, sizeof head))
    return status::corruption("truncated WAL: " + wal + " has " + std::to_string(size) +
                              " bytes, less than its 32-byte header");
  const std::uint32_t magic = load_be32(head);
  const std::uint32_t page_size = load_be32(head + 8);
  if ((magic & 0xFFFFFFFEu) != 0x377F0682u)
    return status::corruption(wal + ": bad WAL header magic");
  if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0)
    return status::corruption(wal + ": bad WAL page size " + std::to_string(page_size));
  const auto frames_bytes = static_cast<std::uint64_t>(size) - wal_header_bytes;
  // SQLite appends a frame as two writes: its 24-byte header, then the page.
  // A process killed mid-append leaves the torn start of a transaction that
  // never committed (so was never acknowledged), which SQLite ignores: either
  // exactly a frame header past the last whole frame (killed between the two
  // writes), or a frame cut where the kernel stopped copying the write into
  // the page cache, which is at an OS page boundary (a fatal signal ends a
  // write between pages). Any other remainder means bytes were lost from the
  // file. (A cut exactly at a frame boundary cannot be told from a crash;
  // docs/operations.md says so.)
  const auto remainder = frames_bytes % (wal_frame_header_bytes + page_size);
  const long os_page = ::sysconf(_SC_PAGESIZE);
  const bool torn_append = remainder == wal_frame_header_bytes ||
                           (os_page > 0 && static_cast<unsigned long long>(size) % os_page == 0);
  if (remainder != 0 && !torn_append)
    return status::corruption("truncated WAL: " + wal + " has " + std::to_string(size) +
                              " bytes, not a whole number of frames");
  return status::ok();
}

}  // namespace stockgrid::persistence::sqlite
