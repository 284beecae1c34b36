#include "app/peer_call.hpp"

#include <algorithm>

#include "auth/limits.hpp"
#include "protocol/array_reader.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::app {

namespace {

constexpr std::int64_t format_version = 1;

// A call: the gateway's own frame limits, plus the caller's warehouses and
// one level of nesting for the envelope.
protocol::parse_limits call_limits() {
  protocol::parse_limits l;
  l.depth_max += 1;
  l.array_items_max = std::max<std::size_t>(l.array_items_max, auth::limits::key_warehouses_max);
  l.total_items_max += auth::limits::key_warehouses_max + 8;
  return l;
}

// An answer: what this program's dispatcher writes for one order or
// transfer op (an order has at most order_lines_max lines, each with a few
// members; a dry run explains each).
protocol::parse_limits answer_limits() {
  protocol::parse_limits l;
  l.string_bytes_max = 64 * 1024;
  l.total_items_max = 100'000;
  return l;
}

}  // namespace

std::string encode_call(const gateway::principal& who, const protocol::value& frame) {
  protocol::array warehouses(who.warehouses.begin(), who.warehouses.end());
  return protocol::serialize(protocol::array{format_version, who.tenant, who.key_id,
                                             static_cast<std::int64_t>(who.role), std::move(warehouses), frame},
                             protocol::encoding::msgpack);
}

bool decode_call(std::string_view bytes, peer_call* out, std::string* error) {
  protocol::value v;
  if (!protocol::parse(bytes, protocol::encoding::msgpack, call_limits(), &v, error)) return false;
  protocol::array_reader in(v, "call", 6, error);
  if (in.integer() != format_version) in.fail_at("format version 1");
  peer_call c;
  c.who.tenant = in.text();
  c.who.key_id = in.text();
  c.who.role = in.enumerated<protocol::role>(1, 4);
  if (const auto* list = in.list()) {
    for (const auto& w : *list) {
      if (!w.as_string()) {
        in.fail_at("warehouses that are strings");
        break;
      }
      c.who.warehouses.push_back(*w.as_string());
    }
  }
  if (const auto* frame = in.any(); frame && !frame->as_object()) in.fail_at("a request object");
  else if (frame) c.frame = *frame;
  if (!in.ok()) return false;
  *out = std::move(c);
  return true;
}

std::string encode_answer(const protocol::value& response) {
  return protocol::serialize(response, protocol::encoding::msgpack);
}

bool decode_answer(std::string_view bytes, protocol::value* out, std::string* error) {
  if (!protocol::parse(bytes, protocol::encoding::msgpack, answer_limits(), out, error)) return false;
  if (!out->as_object()) {
    *error = "answer: not a response object";
    return false;
  }
  return true;
}

}  // namespace stockgrid::app
