// tenant.export on the wire: its cursor, and one page read across the
// partitions (docs/protocol.md, "tenant.export").
//
// A page holds the items of one partition, read by one job on that
// partition's writer thread (persistence/tenant_export.hpp), so it is one
// state of that partition. Partitions with nothing of the tenant are skipped
// within the same request. Each page stays within `bytes_max` of JSON (the
// larger encoding) and `items_max` items, so an answer always fits a frame.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "domain/outcome.hpp"
#include "persistence/journal_writer.hpp"
#include "persistence/tenant_export.hpp"
#include "protocol/value.hpp"

namespace stockgrid::app {

// Items per page: `limit` 1..500 (absent or 0 = 100). 500 items of at most
// ~25 values each stay under the 20,000 values a frame may hold.
inline constexpr int export_items_max = 500;
inline constexpr int export_items_default = 100;

struct export_cursor {
  std::uint32_t partition = 0;
  persistence::export_position pos;
  friend bool operator==(const export_cursor&, const export_cursor&) = default;
};

// Opaque to clients: lowercase hex of a versioned, length-prefixed text.
std::string encode_export_cursor(const export_cursor& c);
// False for anything encode_export_cursor did not make, or a partition not
// below `partitions`.
bool decode_export_cursor(std::string_view text, std::uint32_t partitions, export_cursor* out);

struct export_page_limits {
  std::size_t items_max = export_items_default;
  std::size_t bytes_max = 32 * 1024;  // of the page's items, encoded as JSON
};

// The result of a page: {tenant, partition, records, holds, events, cursor?}
// (cursor absent on the last page), or an error (INTERNAL: the store failed).
using export_done = std::function<void(outcome, std::string message, protocol::object result)>;

// Reads the page of `tenant` that starts at `from`. `done` runs once, on a
// writer thread. The tenant is not checked here: an unknown tenant has no
// items.
void tenant_export_page(persistence::journal_writer& journal, std::string tenant, export_cursor from,
                      export_page_limits limits, export_done done);

}  // namespace stockgrid::app
