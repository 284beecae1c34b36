// Small helpers shared by the protocol tests: parse a frame in one call, and
// compare decoded requests field by field (the domain's request has no ==).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/messages.hpp"
#include "protocol/value.hpp"

namespace stockgrid::protocol::testing {

struct parsed {
  bool ok = false;
  value v;
  std::string error;
};

inline parsed parse_as(encoding enc, std::string_view bytes, const parse_limits& limits = {}) {
  parsed p;
  p.ok = parse(bytes, enc, limits, &p.v, &p.error);
  return p;
}

inline parsed parse_json(std::string_view text, const parse_limits& limits = {}) {
  return parse_as(encoding::json, text, limits);
}

inline parsed parse_msgpack(std::string_view bytes, const parse_limits& limits = {}) {
  return parse_as(encoding::msgpack, bytes, limits);
}

// A JSON text that must parse; fails the test otherwise.
inline value json(std::string_view text) {
  auto p = parse_json(text);
  INFO(text << " -> " << p.error);
  REQUIRE(p.ok);
  return p.v;
}

inline std::string to_json(const value& v) { return serialize(v, encoding::json); }

inline bool same_request(const request& a, const request& b) {
  return a.kind == b.kind && a.key == b.key && a.hold == b.hold && a.qty == b.qty &&
         a.delta == b.delta && a.on_hand == b.on_hand &&
         a.expected_version == b.expected_version && a.ttl_ms == b.ttl_ms && a.ref == b.ref &&
         a.reason == b.reason && a.idem == b.idem && a.key_id == b.key_id &&
         a.limit == b.limit && a.before_version == b.before_version;
}

inline bool same_op_request(const op_request& a, const op_request& b) {
  if (a.items.size() != b.items.size()) return false;
  for (std::size_t i = 0; i < a.items.size(); ++i) {
    if (!same_request(a.items[i], b.items[i])) return false;
  }
  return a.id == b.id && a.op == b.op && same_request(a.grid, b.grid) && a.idem == b.idem &&
         a.warehouse == b.warehouse && a.sku_prefix == b.sku_prefix && a.cursor == b.cursor &&
         a.limit == b.limit && a.token == b.token && a.key_role == b.key_role &&
         a.warehouses == b.warehouses && a.expires_at_ms == b.expires_at_ms &&
         a.key_id == b.key_id && a.tenant == b.tenant;
}

}  // namespace stockgrid::protocol::testing
