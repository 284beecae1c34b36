#include "orders/requests.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "config/limits.hpp"
#include "orders/document.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::orders {

bool caller::may_use(const std::string& warehouse) const {
  return !warehouses_allowed ||
         std::find(warehouses_allowed->begin(), warehouses_allowed->end(), warehouse) !=
             warehouses_allowed->end();
}

namespace {
// FNV-1a with a tag per field, as domain/request.cpp fingerprints requests.
struct hasher {
  std::uint64_t h = 14695981039346656037ull;
  void bytes(const void* p, std::size_t n) {
    auto b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  }
  void str(char t, std::string_view s) {
    bytes(&t, 1);
    std::uint64_t n = s.size();
    bytes(&n, sizeof n);
    bytes(s.data(), s.size());
  }
  void num(char t, std::int64_t v) {
    bytes(&t, 1);
    bytes(&v, sizeof v);
  }
};
}  // namespace

std::uint64_t fingerprint(const order_request& r) {
  hasher h;
  h.num('o', static_cast<std::int64_t>(r.kind));
  h.str('t', r.who.tenant);
  h.str('O', r.order);
  h.num('n', static_cast<std::int64_t>(r.lines.size()));
  for (const auto& l : r.lines) {
    h.str('s', l.sku);
    h.str('w', l.warehouse);
    h.num('q', l.qty);
  }
  h.num('l', r.ttl_ms);
  h.num('p', static_cast<std::int64_t>(r.policy));
  h.str('r', r.ref);
  return h.h;
}

std::uint64_t fingerprint(const transfer_request& r) {
  hasher h;
  h.num('o', static_cast<std::int64_t>(r.kind));
  h.str('t', r.who.tenant);
  h.str('T', r.transfer);
  h.str('s', r.sku);
  h.str('f', r.from);
  h.str('d', r.to);
  h.num('q', r.qty.value_or(-1));
  return h.h;
}

std::string_view to_string(ack_mode m) { return m == ack_mode::leader ? "leader" : "quorum"; }

std::optional<ack_mode> parse_ack_mode(std::string_view s) {
  if (s == "quorum") return ack_mode::quorum;
  if (s == "leader") return ack_mode::leader;
  return std::nullopt;
}

protocol::value settings_body(const tenant_settings& s) {
  protocol::array priority(s.allocation.priority.begin(), s.allocation.priority.end());
  return protocol::value(protocol::object{{"v", document::format_version},
                                          {"allocation", static_cast<std::int64_t>(s.allocation.policy)},
                                          {"priority", std::move(priority)},
                                          {"low_stock_threshold", s.low_stock_threshold},
                                          {"rate_per_second", std::int64_t{s.rate_per_second}},
                                          {"rate_burst", std::int64_t{s.rate_burst}},
                                          {"subscriptions_max", std::int64_t{s.subscriptions_max}},
                                          {"records_max", std::int64_t{s.records_max}},
                                          {"connections_max", std::int64_t{s.connections_max}},
                                          {"ack", static_cast<std::int64_t>(s.ack)},
                                          {"changed_ms", s.changed_ms},
                                          {"changed_by", s.changed_by}});
}

std::string encode(const tenant_settings& s) {
  return protocol::serialize(settings_body(s), protocol::encoding::msgpack);
}

bool read_settings_body(const protocol::value& body, tenant_settings* out) {
  std::int64_t version = 0;
  if (body.as_object() == nullptr || !document::read(body, "v", &version) || version != document::format_version)
    return false;
  tenant_settings s;
  if (!document::read_enum(body, "allocation", allocation_policy::priority,
                           allocation_policy::fewest_splits, &s.allocation.policy))
    return false;
  const protocol::array* list = document::read_list(body, "priority", 1000);
  if (list == nullptr) return false;
  for (const auto& w : *list) {
    const std::string* name = w.as_string();
    if (name == nullptr || name->empty() || name->size() > limits::id_bytes_max) return false;
    s.allocation.priority.push_back(*name);
  }
  // Fields added later are absent in older documents.
  const auto number = [&](const char* name, std::int64_t max, auto* field) {
    const protocol::value* v = body.find(name);
    if (v == nullptr) return true;
    const std::int64_t* n = v->as_int();
    if (n == nullptr || *n < 0 || *n > max) return false;
    *field = static_cast<std::remove_pointer_t<decltype(field)>>(*n);
    return true;
  };
  std::int64_t ack = 0;
  if (!number("low_stock_threshold", limits::quantity_max, &s.low_stock_threshold) ||
      !number("rate_per_second", limits::tenant_rate_per_second_max, &s.rate_per_second) ||
      !number("rate_burst", limits::tenant_rate_burst_max, &s.rate_burst) ||
      !number("subscriptions_max", limits::tenant_subscriptions_max, &s.subscriptions_max) ||
      !number("records_max", limits::tenant_records_max, &s.records_max) ||
      !number("connections_max", limits::tenant_connections_max, &s.connections_max) ||
      !number("ack", static_cast<std::int64_t>(ack_mode::leader), &ack) ||
      !number("changed_ms", settings_changed_ms_max, &s.changed_ms))
    return false;
  s.ack = static_cast<ack_mode>(ack);
  if (const protocol::value* by = body.find("changed_by")) {
    const std::string* name = by->as_string();
    if (name == nullptr || name->size() > limits::id_bytes_max) return false;
    s.changed_by = *name;
  }
  *out = std::move(s);
  return true;
}

bool decode(std::string_view bytes, tenant_settings* out) {
  protocol::value body;
  return document::parse(bytes, &body) && read_settings_body(body, out);
}

}  // namespace stockgrid::orders
