// Fuzz target: the journal row decoder (persistence/sqlite_rows.cpp
// read_journal_row), which every recovery, history, resume and
// `stockgrid check` runs on rows read from a partition file. Each column of
// the row comes from the input with any SQLite type (sqlite_row.hpp).
//
// The input's first byte chooses (when odd) that the row's crc column be the
// CRC of what the other columns decode to; the rest are the columns
// (sqlite_row.hpp). Without that a random row almost never gets past the
// CRC check, and the checks after it (kind, result, allow_backorder) would
// never be reached.
//
// Oracle besides the sanitizers: a row the decoder accepts, written back
// with bind_journal_row (the writer) and read again, is accepted and decodes
// to the same canonical bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/sqlite_row.hpp"
#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"

namespace {

using namespace stockgrid::persistence;

std::string canonical(const journal_entry& e) {
  std::string bytes;
  format::encode_journal_row(e, &bytes);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static stockgrid::fuzz::sqlite_row row(format::journal_column_count);
  const std::string file = "fuzz.db";
  if (size == 0) return 0;
  const bool fix_crc = data[0] % 2 == 1;
  row.bind_from(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));

  journal_entry e;
  if (!row.step()) std::abort();
  status st = sqlite::read_journal_row(row.statement().get(), file, &e);
  if (fix_crc) {
    row.statement().reset();
    sqlite3_bind_int64(row.statement().get(), format::j_crc + 1,
                       static_cast<std::int64_t>(format::journal_row_crc(e)));
    if (!row.step()) std::abort();
    st = sqlite::read_journal_row(row.statement().get(), file, &e);
  }
  if (!st.is_ok()) return 0;

  const journal_entry first = e;
  row.statement().reset();
  sqlite::bind_journal_row(row.statement(), first);
  if (!row.step()) std::abort();
  journal_entry again;
  const status st2 = sqlite::read_journal_row(row.statement().get(), file, &again);
  if (!st2.is_ok()) {
    std::fprintf(stderr, "journal_entry: a written row does not read back: %s\n",
                 st2.message().c_str());
    std::abort();
  }
  if (canonical(again) != canonical(first) || again.result != first.result ||
      again.c.kind != first.c.kind) {
    std::fprintf(stderr, "journal_entry: a written row reads back different\n");
    std::abort();
  }
  return 0;
}
