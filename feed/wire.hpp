// subscribe and unsubscribe on the wire (docs/protocol.md "Subscriptions"):
// their request fields into plain structs, with the same field_reader and
// so the same typed, field-naming BAD_REQUEST messages as every other op.
// The frames the server sends are built in subscription.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "feed/filter.hpp"
#include "protocol/messages.hpp"

namespace stockgrid::feed {

struct subscribe_request {
  filter what;  // tenant and warehouses_allowed left empty: the dispatcher fills them
  std::optional<position> from;
};

// `from` lists at most this many pairs (the node checks it names each of
// its partitions exactly once).
inline constexpr std::size_t position_pairs_max = limits::partitions_max;

std::variant<subscribe_request, protocol::decode_failure> decode_subscribe(const protocol::op_request& req);
// unsubscribe's `sub`.
std::variant<std::uint64_t, protocol::decode_failure> decode_unsubscribe(const protocol::op_request& req);

}  // namespace stockgrid::feed
