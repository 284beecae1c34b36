#include "feed/wire.hpp"

#include "protocol/fields.hpp"

namespace stockgrid::feed {

using protocol::decode_failure;
using protocol::field_reader;
using protocol::value;

namespace {

bool read_position(field_reader& f, const value& v, position* out) {
  const auto* pairs = v.as_array();
  if (pairs == nullptr) {
    f.fail("from", "must be an array of [partition, seq] pairs");
    return false;
  }
  if (pairs->size() > position_pairs_max) {
    f.fail("from", "more than " + std::to_string(position_pairs_max) + " pairs");
    return false;
  }
  for (std::size_t i = 0; i < pairs->size(); ++i) {
    const auto* pair = (*pairs)[i].as_array();
    const std::int64_t* p = nullptr;
    const std::int64_t* seq = nullptr;
    if (pair != nullptr && pair->size() == 2) {
      p = (*pair)[0].as_int();
      seq = (*pair)[1].as_int();
    }
    if (p == nullptr || seq == nullptr || *p < 0 || *p >= static_cast<std::int64_t>(limits::partitions_max) ||
        *seq < 0) {
      f.fail("from[" + std::to_string(i) + "]", "must be [partition, seq] with non-negative integers");
      return false;
    }
    out->emplace_back(static_cast<std::uint32_t>(*p), static_cast<std::uint64_t>(*seq));
  }
  return true;
}

}  // namespace

std::variant<subscribe_request, decode_failure> decode_subscribe(const protocol::op_request& req) {
  if (req.op != "subscribe")
    return decode_failure{outcome::unknown_op, "op: unknown op \"" + req.op + "\"", req.id};
  field_reader f(req.params, "");
  subscribe_request r;
  f.optional_id("warehouse", &r.what.warehouse);
  f.optional_id("sku", &r.what.sku);
  f.optional_id("sku_prefix", &r.what.sku_prefix);
  f.optional_bool("alerts", &r.what.alerts_only);
  if (f.ok()) {
    if (const value* from = f.find("from")) {
      position at;
      if (read_position(f, *from, &at)) r.from = std::move(at);
    }
  }
  if (!f.ok()) return decode_failure{outcome::bad_request, f.take_error(), req.id};
  return r;
}

std::variant<std::uint64_t, decode_failure> decode_unsubscribe(const protocol::op_request& req) {
  if (req.op != "unsubscribe")
    return decode_failure{outcome::unknown_op, "op: unknown op \"" + req.op + "\"", req.id};
  field_reader f(req.params, "");
  std::int64_t sub = 0;
  f.required_integer("sub", &sub);
  if (f.ok() && sub <= 0) f.fail("sub", "must be a subscription id (> 0)");
  if (!f.ok()) return decode_failure{outcome::bad_request, f.take_error(), req.id};
  return static_cast<std::uint64_t>(sub);
}

}  // namespace stockgrid::feed
