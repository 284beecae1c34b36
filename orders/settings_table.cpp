#include "orders/settings_table.hpp"

#include <algorithm>
#include <tuple>

#include "config/limits.hpp"
#include "protocol/array_reader.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::orders {

namespace {

using protocol::array;
using protocol::value;

// A table is an array of small arrays of a map; the bytes bound the rest.
protocol::parse_limits table_limits() {
  protocol::parse_limits l;
  l.depth_max = 5;
  l.string_bytes_max = limits::id_bytes_max;
  l.array_items_max = settings_table_bytes_max;
  l.total_items_max = settings_table_bytes_max;
  return l;
}

}  // namespace

std::string encode(const settings_table& table) {
  array entries;
  entries.reserve(table.size());
  for (const auto& [tenant, ts] : table) entries.push_back(value(array{value(tenant), settings_body(ts)}));
  return protocol::serialize(value(array{value(settings_table_format_version), value(std::move(entries))}),
                             protocol::encoding::msgpack);
}

bool decode(std::string_view bytes, settings_table* out, std::string* error) {
  if (bytes.size() > settings_table_bytes_max) {
    *error = "table of " + std::to_string(bytes.size()) + " bytes, more than " +
             std::to_string(settings_table_bytes_max);
    return false;
  }
  value v;
  if (!protocol::parse(bytes, protocol::encoding::msgpack, table_limits(), &v, error)) return false;
  protocol::array_reader in(v, "table", 2, error);
  const std::int64_t version = in.integer();
  const array* entries = in.list();
  if (!in.ok()) return false;
  if (version != settings_table_format_version) {
    *error = "format version " + std::to_string(version) + ", this node reads " +
             std::to_string(settings_table_format_version);
    return false;
  }
  settings_table t;
  t.reserve(entries->size());
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string what = "entry " + std::to_string(i);
    protocol::array_reader e((*entries)[i], what, 2, error);
    std::string tenant = e.text();
    if (!e.ok()) return false;
    if (tenant.empty() || tenant.size() > limits::id_bytes_max ||
        !std::all_of(tenant.begin(), tenant.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        })) {
      *error = what + ": not a tenant name";
      return false;
    }
    tenant_settings ts;
    if (!read_settings_body((*(*entries)[i].as_array())[1], &ts)) {
      *error = what + ": settings do not decode";
      return false;
    }
    if (!t.empty() && t.back().first >= tenant) {
      *error = "entries: not sorted by tenant, or a tenant twice";
      return false;
    }
    t.emplace_back(std::move(tenant), std::move(ts));
  }
  *out = std::move(t);
  return true;
}

bool newer(const tenant_settings& peer, const tenant_settings& here) {
  if (std::tie(peer.changed_ms, peer.changed_by) != std::tie(here.changed_ms, here.changed_by))
    return std::tie(peer.changed_ms, peer.changed_by) > std::tie(here.changed_ms, here.changed_by);
  // The same stamp: settings documents from before stamps (0, ""), which
  // may differ between nodes. Their bytes decide, the same way everywhere.
  return encode(peer) > encode(here);
}

void stamp(tenant_settings& changed, std::int64_t now_ms, const std::string& member, const tenant_settings& before) {
  changed.changed_ms = std::min(std::max(now_ms, before.changed_ms + 1), settings_changed_ms_max);
  changed.changed_by = member;
}

}  // namespace stockgrid::orders
