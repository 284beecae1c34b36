// For the row decoders' fuzz targets (journal_entry, snapshot): one row whose
// columns come from the fuzzer's bytes, produced by a real SQLite statement
// (`SELECT ?1, ?2, ...` on an in-memory database), so the decoder reads it
// through the same sqlite3_column_* calls as rows from a partition file.
// Every column may be NULL, an integer, a real, text or a blob, as a damaged
// or hand-edited file can hold.
//
// Input layout, column after column:
//   u8 type (taken modulo 5): 0 integer, 1 NULL, 2 real, 3 text, 4 blob
//   integer, real: 8 bytes little-endian (bytes missing at the end are 0)
//   text, blob:    u16 little-endian length, then the bytes (as many as are left)
// Columns after the end of the input are integer 0. input_of_row() writes
// this layout for a row a statement yields: make_corpus turns rows the real
// writer binds into seeds with it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "persistence/sqlite_util.hpp"

namespace stockgrid::fuzz {

class sqlite_row {
 public:
  explicit sqlite_row(int columns) : columns_(columns) {
    if (sqlite3_open(":memory:", &db_) != SQLITE_OK) std::abort();
    std::string sql = "SELECT ";
    for (int i = 1; i <= columns; ++i) sql += (i > 1 ? ", ?" : "?") + std::to_string(i);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) std::abort();
    statement_ = persistence::sqlite::statement(s);
  }
  sqlite_row(const sqlite_row&) = delete;
  sqlite_row& operator=(const sqlite_row&) = delete;
  ~sqlite_row() {
    statement_ = persistence::sqlite::statement();
    sqlite3_close(db_);
  }

  persistence::sqlite::statement& statement() { return statement_; }

  // Binds every parameter from `input` (the layout above). Binding needs a
  // reset statement: this resets it, and so must any other binder
  // (bind_journal_row...).
  void bind_from(std::string_view input) {
    statement_.reset();
    sqlite3_stmt* s = statement_.get();
    for (int i = 1; i <= columns_; ++i) {
      const int type = input.empty() ? 0 : static_cast<unsigned char>(input.front()) % 5;
      if (!input.empty()) input.remove_prefix(1);
      switch (type) {
        case 0: sqlite3_bind_int64(s, i, static_cast<std::int64_t>(take_u64(input))); break;
        case 1: sqlite3_bind_null(s, i); break;
        case 2: {
          const std::uint64_t bits = take_u64(input);
          double d;
          std::memcpy(&d, &bits, sizeof d);
          sqlite3_bind_double(s, i, d);
          break;
        }
        default: {
          const std::size_t n = std::min<std::size_t>(take_u16(input), input.size());
          const std::string_view bytes = input.substr(0, n);
          input.remove_prefix(n);
          const int length = static_cast<int>(bytes.size());
          // A non-null pointer even for no bytes: a null one would bind NULL.
          const char* p = bytes.empty() ? "" : bytes.data();
          if (type == 3) sqlite3_bind_text(s, i, p, length, SQLITE_TRANSIENT);
          else sqlite3_bind_blob(s, i, p, length, SQLITE_TRANSIENT);
        }
      }
    }
  }

  // Runs the statement afresh; true when it yields its row.
  bool step() {
    statement_.reset();
    return statement_.step() == SQLITE_ROW;
  }

  // The input that binds the row the statement currently yields.
  std::string input_of_row() const {
    sqlite3_stmt* s = statement_.get();
    std::string out;
    for (int i = 0; i < columns_; ++i) {
      switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER: out += '\0'; put(static_cast<std::uint64_t>(sqlite3_column_int64(s, i)), 8, out); break;
        case SQLITE_NULL: out += '\1'; break;
        case SQLITE_FLOAT: {
          const double d = sqlite3_column_double(s, i);
          std::uint64_t bits;
          std::memcpy(&bits, &d, sizeof bits);
          out += '\2';
          put(bits, 8, out);
          break;
        }
        default: {
          const bool text = sqlite3_column_type(s, i) == SQLITE_TEXT;
          const void* p = text ? static_cast<const void*>(sqlite3_column_text(s, i))
                               : sqlite3_column_blob(s, i);
          const int n = sqlite3_column_bytes(s, i);
          out += text ? '\3' : '\4';
          put(static_cast<std::uint64_t>(n), 2, out);
          if (n > 0) out.append(static_cast<const char*>(p), static_cast<std::size_t>(n));
        }
      }
    }
    return out;
  }

 private:
  static std::uint64_t take(std::string_view& in, std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width && !in.empty(); ++i) {
      v |= std::uint64_t{static_cast<unsigned char>(in.front())} << (8 * i);
      in.remove_prefix(1);
    }
    return v;
  }
  static std::uint64_t take_u64(std::string_view& in) { return take(in, 8); }
  static std::uint64_t take_u16(std::string_view& in) { return take(in, 2); }
  static void put(std::uint64_t v, std::size_t width, std::string& out) {
    for (std::size_t i = 0; i < width; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  }

  int columns_;
  sqlite3* db_ = nullptr;
  persistence::sqlite::statement statement_;
};

}  // namespace stockgrid::fuzz
