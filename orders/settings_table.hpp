// Tenant settings across a cluster. Each node keeps every tenant's settings
// as a document of its own (actors/order_directory.cpp); when they change,
// the node sends its whole table to the other members (through the cluster
// actor), and each member keeps, per tenant, the settings with the later
// change stamp. This file is the plain part: the table's bytes and the rule.
//
// Bytes, format version 1: one msgpack array, written by encode() and read
// by decode() only (anything else is refused whole):
//
//   table   = [version: int = 1, entries: [entry...]]
//   entry   = [tenant: str (1..limits::id_bytes_max bytes of [a-z0-9._-]),
//              settings: map]   -- the settings document's body
//                                  (orders/requests.hpp settings_body)
//
// Entries are sorted by tenant without duplicates, so equal tables have
// equal bytes (a node sends its table only when the bytes changed). At most
// settings_table_bytes_max bytes.
//
// The rule (newer()): the later (changed_ms, changed_by) wins, compared in
// that order; equal stamps (documents written before stamps existed, all
// (0, "")) are ordered by their encoded bytes. A node stamps a change it makes with its wall clock, but
// always later than the stamp it replaces, so a change made after another
// one was seen wins even when clocks disagree; two changes made at once at
// two nodes, neither seeing the other, are ordered by their stamps, and
// every node ends with the same winner (last writer wins: the loser's change
// is gone, and tenant.settings shows which change won in changed_ms and
// changed_by).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orders/requests.hpp"

namespace stockgrid::orders {

inline constexpr std::int64_t settings_table_format_version = 1;
// The most bytes of one table: every tenant's settings, each with a priority
// list of at most priority_warehouses_max warehouses.
inline constexpr std::size_t settings_table_bytes_max = 8u << 20;

using settings_table = std::vector<std::pair<std::string, tenant_settings>>;  // sorted by tenant

std::string encode(const settings_table& table);
// On failure returns false with `error` naming what is wrong ("entry 3:
// settings do not decode") and leaves `out` unspecified.
bool decode(std::string_view bytes, settings_table* out, std::string* error);

// Whether `peer` replaces `here` (the rule above).
bool newer(const tenant_settings& peer, const tenant_settings& here);

// The stamp of a change made now at `member` to settings stamped `before`.
void stamp(tenant_settings& changed, std::int64_t now_ms, const std::string& member, const tenant_settings& before);

}  // namespace stockgrid::orders
