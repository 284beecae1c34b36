// How a grid request and its reply travel between nodes: the one
// description of the node-to-node format (a node forwards a request for a
// partition it does not lead to the leader, which answers).
//
// Each is a msgpack array of its fields in a fixed order, led by a format
// version (1), serialized and parsed by protocol/codec.hpp — the same
// fuzzed parser the gateway uses, with limits sized for one reply's history
// page. What CAF carries between nodes is then only a string of these bytes,
// so nothing crosses a node boundary through CAF's own serialization of our
// types. Decoding checks every type, count and enum value: bytes from
// another node that do not decode are refused with the reason, never
// half-applied.
//
//   request: [1, kind, tenant, warehouse, sku, hold, qty|nil, delta, on_hand,
//             expected_version|nil, ttl_ms, ref, reason, idem, key_id,
//             warehouses_allowed|nil, limit, before_version, safety_stock|nil,
//             allow_backorder|nil, low_stock_threshold|nil, internal, idem_fresh]
//   reply:   [1, code, message, record|nil, hold, expires_at_ms, available,
//             limit, retry_after_ms, [hold_view...], [event...], replayed]
//   record:  [tenant, warehouse, sku, on_hand, reserved, version, safety_stock,
//             allow_backorder, backordered, incoming, low_stock_threshold]
//   hold_view: [hold, qty, expires_at_ms, ref]
//   event:   [seq, change, hold, idem, key_id, at_ms]
//   change:  [kind, version, on_hand_before, on_hand_after, reserved_before,
//             reserved_after, backordered_before, backordered_after,
//             incoming_before, incoming_after, safety_stock, allow_backorder,
//             low_stock_threshold, qty, hold_seq, expires_at_ms, ref, reason]
#pragma once

#include <string>
#include <string_view>

#include "domain/request.hpp"

namespace stockgrid::cluster {

std::string encode(const request& r);
std::string encode(const reply& r);

// False with `error` set when `bytes` is not what encode() writes.
bool decode(std::string_view bytes, request* out, std::string* error);
bool decode(std::string_view bytes, reply* out, std::string* error);

}  // namespace stockgrid::cluster
