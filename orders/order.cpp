#include "orders/order.hpp"

#include <cassert>
#include <utility>

#include "config/limits.hpp"
#include "orders/document.hpp"

namespace stockgrid::orders {

std::string_view wire_status(order_status s) {
  switch (s) {
    case order_status::reserving: return "pending";
    case order_status::held: return "held";
    case order_status::committing: return "committing";
    case order_status::committed: return "committed";
    case order_status::releasing: return "releasing";
    case order_status::released: return "released";
    case order_status::expiring: return "expiring";
    case order_status::expired: return "expired";
    case order_status::failed: return "failed";
  }
  return "unknown";
}

bool is_final(order_status s) {
  return s == order_status::committed || s == order_status::released ||
         s == order_status::expired || s == order_status::failed;
}

std::string step_idem(const order& o, char step, std::size_t line) {
  assert(step == 'r' || step == 'p' || step == 'c' || step == 'x');
  std::string key = std::string(internal_idem_prefix) + o.id + '/' + step + std::to_string(line);
  assert(key.size() <= limits::id_bytes_max);
  return key;
}

namespace {

using protocol::object;
using protocol::value;

// The items of the three lists, each written and read by a pair of functions.
value line_value(const order_line& l) {
  return object{{"sku", l.sku}, {"warehouse", l.warehouse}, {"qty", l.qty}, {"hold", l.hold},
                {"done", l.done}};
}
bool read_line(const value& v, order_line* l) {
  return document::read(v, "sku", &l->sku) && document::read(v, "warehouse", &l->warehouse) &&
         document::read(v, "qty", &l->qty) && document::read(v, "hold", &l->hold) &&
         document::read(v, "done", &l->done);
}

value unfilled_value(const unfilled_line& l) { return object{{"sku", l.sku}, {"qty", l.qty}}; }
bool read_unfilled(const value& v, unfilled_line* l) {
  return document::read(v, "sku", &l->sku) && document::read(v, "qty", &l->qty);
}

value shortage_value(const short_line& l) {
  return object{{"sku", l.sku}, {"warehouse", l.warehouse}, {"requested", l.requested},
                {"available", l.available}};
}
bool read_shortage(const value& v, short_line* l) {
  return document::read(v, "sku", &l->sku) && document::read(v, "warehouse", &l->warehouse) &&
         document::read(v, "requested", &l->requested) &&
         document::read(v, "available", &l->available);
}

}  // namespace

std::string encode(const order& o) {
  return document::serialize({
      {"v", document::format_version},
      {"tenant", o.tenant},
      {"id", o.id},
      {"ref", o.ref},
      {"idem", o.idem},
      {"fingerprint", o.fingerprint},
      {"key_id", o.key_id},
      {"policy", static_cast<std::int64_t>(o.policy)},
      {"status", static_cast<std::int64_t>(o.status)},
      {"lines", document::write_items(o.lines, line_value)},
      {"unfilled", document::write_items(o.unfilled, unfilled_value)},
      {"shortages", document::write_items(o.shortages, shortage_value)},
      {"ttl_ms", o.ttl_ms},
      {"created_ms", o.created_ms},
      {"expires_at_ms", o.expires_at_ms},
      {"updated_ms", o.updated_ms},
      {"attempt", static_cast<std::int64_t>(o.attempt)},
      {"failure_code", static_cast<std::int64_t>(o.failure_code)},
      {"failure", o.failure},
  });
}

bool decode(std::string_view bytes, order* out) {
  constexpr std::size_t lines_max = limits::order_lines_max;
  value body;
  order o;
  const bool ok =
      document::parse(bytes, &body) && document::read(body, "tenant", &o.tenant) &&
      document::read(body, "id", &o.id) && document::read(body, "ref", &o.ref) &&
      document::read(body, "idem", &o.idem) &&
      document::read(body, "fingerprint", &o.fingerprint) &&
      document::read(body, "key_id", &o.key_id) &&
      document::read_enum(body, "policy", order_policy::all_or_nothing, order_policy::partial,
                          &o.policy) &&
      document::read_enum(body, "status", order_status::reserving, order_status::failed,
                          &o.status) &&
      document::read_items(body, "lines", lines_max, &o.lines, read_line) &&
      document::read_items(body, "unfilled", lines_max, &o.unfilled, read_unfilled) &&
      document::read_items(body, "shortages", lines_max, &o.shortages, read_shortage) &&
      document::read(body, "ttl_ms", &o.ttl_ms) &&
      document::read(body, "created_ms", &o.created_ms) &&
      document::read(body, "expires_at_ms", &o.expires_at_ms) &&
      document::read(body, "updated_ms", &o.updated_ms) &&
      document::read(body, "attempt", &o.attempt) &&
      document::read_enum(body, "failure_code", outcome::ok, outcome::internal, &o.failure_code) &&
      document::read(body, "failure", &o.failure);
  if (ok) *out = std::move(o);
  return ok;
}

}  // namespace stockgrid::orders
