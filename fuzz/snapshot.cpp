// Fuzz target: the snapshot decoders, which every partition load and
// `stockgrid check` runs on bytes read from a partition file:
// format::decode_holds (the holds BLOB) and sqlite::read_snapshot_row (a
// whole snapshot row, its CRC, policy columns and holds).
//
// The input's first byte chooses: 0 — the rest is a holds BLOB; 1 — a row
// whose columns come from the input (sqlite_row.hpp), its crc column as
// given; 2 or more — the same with the crc column set to the CRC of what the
// other columns decode to, so the checks after the CRC are reached.
//
// Oracles besides the sanitizers: a BLOB that decodes is exactly what
// encode_holds writes for the decoded holds; a row the decoder accepts,
// written back with bind_snapshot_row and read again, is accepted and is the
// same record image.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/sqlite_row.hpp"
#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"

namespace {

using namespace stockgrid;
using namespace stockgrid::persistence;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "snapshot: %s\n", what);
  std::abort();
}

void holds_blob(std::string_view blob) {
  std::vector<hold> holds;
  if (!format::decode_holds(blob, &holds)) return;
  std::string encoded;
  format::encode_holds(holds, &encoded);
  if (encoded != blob) fail("a holds BLOB that decodes is not what encode_holds writes");
}

// The canonical bytes of an image: the row encoding, which covers every field.
std::string canonical(const record_image& r) {
  std::string holds;
  format::encode_holds(r.holds, &holds);
  std::string bytes;
  format::encode_snapshot_row(r, holds, &bytes);
  return bytes;
}

void snapshot_row(std::string_view in, bool fix_crc) {
  static fuzz::sqlite_row row(format::snapshot_column_count);
  const std::string file = "fuzz.db";
  row.bind_from(in);
  record_image r;
  if (!row.step()) std::abort();
  status st = sqlite::read_snapshot_row(row.statement().get(), file, &r);
  if (fix_crc) {
    // The CRC covers the holds column as stored, not as decoded.
    const std::string holds(sqlite::column_bytes(row.statement().get(), format::s_holds));
    const auto crc = static_cast<std::int64_t>(format::snapshot_row_crc(r, holds));
    row.statement().reset();
    sqlite3_bind_int64(row.statement().get(), format::s_crc + 1, crc);
    if (!row.step()) std::abort();
    st = sqlite::read_snapshot_row(row.statement().get(), file, &r);
  }
  if (!st.is_ok()) return;

  const record_image first = r;
  std::string scratch;
  row.statement().reset();
  sqlite::bind_snapshot_row(row.statement(), first, &scratch);
  if (!row.step()) std::abort();
  record_image again;
  if (!sqlite::read_snapshot_row(row.statement().get(), file, &again).is_ok())
    fail("a written row does not read back");
  if (canonical(again) != canonical(first)) fail("a written row reads back different");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  if (mode == 0) {
    holds_blob(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    return 0;
  }
  snapshot_row(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), mode >= 2);
  return 0;
}
