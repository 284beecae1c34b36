#include "orders/requests.hpp"

#include <algorithm>

#include "config/limits.hpp"
#include "orders/document.hpp"

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

std::string encode(const tenant_settings& s) {
  protocol::array priority(s.allocation.priority.begin(), s.allocation.priority.end());
  return document::serialize({{"v", document::format_version},
                              {"allocation", static_cast<std::int64_t>(s.allocation.policy)},
                              {"priority", std::move(priority)},
                              {"low_stock_threshold", s.low_stock_threshold},
                              {"rate_per_second", std::int64_t{s.rate_per_second}},
                              {"rate_burst", std::int64_t{s.rate_burst}},
                              {"subscriptions_max", std::int64_t{s.subscriptions_max}},
                              {"records_max", std::int64_t{s.records_max}},
                              {"connections_max", std::int64_t{s.connections_max}}});
}

bool decode(std::string_view bytes, tenant_settings* out) {
  protocol::value body;
  if (!document::parse(bytes, &body)) return false;
  tenant_settings s;
  if (!document::read_enum(body, "allocation", allocation_policy::priority,
                           allocation_policy::fewest_splits, &s.allocation.policy))
    return false;
  const protocol::array* list = document::read_list(body, "priority", 1000);
  if (list == nullptr) return false;
  for (const auto& w : *list) {
    const std::string* name = w.as_string();
    if (name == nullptr) return false;
    s.allocation.priority.push_back(*name);
  }
  if (const protocol::value* t = body.find("low_stock_threshold")) {
    const std::int64_t* n = t->as_int();
    if (n == nullptr || *n < 0) return false;
    s.low_stock_threshold = *n;
  }
  // Quotas came later: absent in older documents.
  const auto quota = [&](const char* name, std::uint32_t max, std::uint32_t* field) {
    const protocol::value* v = body.find(name);
    if (v == nullptr) return true;
    const std::int64_t* n = v->as_int();
    if (n == nullptr || *n < 0 || *n > max) return false;
    *field = static_cast<std::uint32_t>(*n);
    return true;
  };
  if (!quota("rate_per_second", limits::tenant_rate_per_second_max, &s.rate_per_second) ||
      !quota("rate_burst", limits::tenant_rate_burst_max, &s.rate_burst) ||
      !quota("subscriptions_max", limits::tenant_subscriptions_max, &s.subscriptions_max) ||
      !quota("records_max", limits::tenant_records_max, &s.records_max) ||
      !quota("connections_max", limits::tenant_connections_max, &s.connections_max))
    return false;
  *out = std::move(s);
  return true;
}

}  // namespace stockgrid::orders
