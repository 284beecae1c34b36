#include "orders/wire.hpp"

#include <utility>

#include "config/limits.hpp"
#include "protocol/fields.hpp"

namespace stockgrid::orders {

namespace {

using protocol::array;
using protocol::decode_failure;
using protocol::field_reader;
using protocol::object;
using protocol::value;

// ---------------------------------------------------------------------------
// Names

std::string_view policy_name(order_policy p) {
  return p == order_policy::partial ? "partial" : "all_or_nothing";
}

std::optional<order_policy> parse_policy(std::string_view text) {
  if (text == "all_or_nothing") return order_policy::all_or_nothing;
  if (text == "partial") return order_policy::partial;
  return std::nullopt;
}

// The wire name of each kind of an op family ("order.commit").
template <class Kind>
struct op_name {
  Kind kind;
  std::string_view name;
};
constexpr op_name<order_op> order_op_names[] = {
    {order_op::reserve, "order.reserve"}, {order_op::commit, "order.commit"},
    {order_op::release, "order.release"}, {order_op::extend, "order.extend"},
    {order_op::get, "order.get"},
};
constexpr op_name<transfer_op> transfer_op_names[] = {
    {transfer_op::create, "transfer.create"},
    {transfer_op::receive, "transfer.receive"},
    {transfer_op::cancel, "transfer.cancel"},
    {transfer_op::get, "transfer.get"},
};

template <class Kind, std::size_t N>
std::optional<Kind> kind_of(const op_name<Kind> (&names)[N], std::string_view op) {
  for (const auto& entry : names) {
    if (entry.name == op) return entry.kind;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Decoding

// Runs `read` over the request's fields; the decoded request, or the first
// problem as a BAD_REQUEST with the request's id.
template <class Request, class Read>
std::variant<Request, decode_failure> read_request(const protocol::op_request& req, Read&& read) {
  field_reader f(req.params, "");
  Request out;
  read(f, out);
  if (!f.ok()) return decode_failure{outcome::bad_request, f.take_error(), req.id};
  return out;
}

decode_failure unknown_op(const protocol::op_request& req) {
  return decode_failure{outcome::unknown_op, "op: unknown op \"" + req.op + "\"", req.id};
}

void read_lines(field_reader& f, std::vector<line_request>* out) {
  f.required_objects("lines", false, limits::order_lines_max,
                     [&](field_reader& item, std::size_t) {
                       line_request line;
                       item.required_id("sku", &line.sku);
                       item.required_integer("qty", &line.qty);
                       item.optional_id("warehouse", &line.warehouse);
                       out->push_back(std::move(line));
                     });
}

void read_reserve(field_reader& f, order_request& r) {
  read_lines(f, &r.lines);
  f.optional_integer("ttl_ms", &r.ttl_ms);
  std::string policy;
  f.optional_string("policy", &policy);
  if (f.ok() && !policy.empty()) {
    if (auto p = parse_policy(policy)) {
      r.policy = *p;
    } else {
      f.fail("policy", "must be \"all_or_nothing\" or \"partial\"");
    }
  }
  f.optional_string("ref", &r.ref);
  f.optional_id("idem", &r.idem);
  f.optional_bool("dry_run", &r.dry_run);
}

// The allocation settings a tenant.settings `set` changes.
void read_settings_change(field_reader& f, settings_request& r) {
  std::string allocation;
  f.optional_string("allocation", &allocation);
  if (f.ok() && f.find("allocation") != nullptr) {
    r.allocation = parse_allocation_policy(allocation);
    if (!r.allocation)
      f.fail("allocation", R"(must be "priority", "most_available" or "fewest_splits")");
  }
  if (f.find("priority") != nullptr) {
    std::vector<std::string> priority;
    f.optional_string_list("priority", &priority);
    if (priority.size() > priority_warehouses_max)
      f.fail("priority", "more than " + std::to_string(priority_warehouses_max) + " warehouses");
    if (f.ok()) r.priority = std::move(priority);
  }
  if (f.find("low_stock_threshold") != nullptr) {
    std::int64_t threshold = 0;
    f.optional_integer("low_stock_threshold", &threshold);
    if (f.ok() && (threshold < 0 || threshold > limits::quantity_max))
      f.fail("low_stock_threshold", "must be between 0 and 10^12");
    if (f.ok()) r.low_stock_threshold = threshold;
  }
  // Quotas: 0 = back to the node's default.
  const auto quota = [&](const char* name, std::uint32_t max, std::optional<std::uint32_t>* out) {
    if (f.find(name) == nullptr) return;
    std::int64_t n = 0;
    f.optional_integer(name, &n);
    if (f.ok() && (n < 0 || n > max))
      f.fail(name, "must be between 0 (the node's default) and " + std::to_string(max));
    if (f.ok()) *out = static_cast<std::uint32_t>(n);
  };
  quota("rate_per_second", limits::tenant_rate_per_second_max, &r.rate_per_second);
  quota("rate_burst", limits::tenant_rate_burst_max, &r.rate_burst);
  quota("subscriptions_max", limits::tenant_subscriptions_max, &r.subscriptions_max);
  quota("records_max", limits::tenant_records_max, &r.records_max);
  quota("connections_max", limits::tenant_connections_max, &r.connections_max);
  if (f.find("ack") != nullptr) {
    std::string ack;
    f.optional_string("ack", &ack);
    if (f.ok()) {
      r.ack = parse_ack_mode(ack);
      if (!r.ack) f.fail("ack", R"(must be "quorum" or "leader")");
    }
  }
}

}  // namespace

std::variant<order_request, decode_failure> decode_order(const protocol::op_request& req) {
  const auto kind = kind_of(order_op_names, req.op);
  if (!kind) return unknown_op(req);
  return read_request<order_request>(req, [&](field_reader& f, order_request& r) {
    r.kind = *kind;
    if (r.kind == order_op::reserve) return read_reserve(f, r);
    f.required_id("order", &r.order);
    if (r.kind == order_op::extend) f.required_integer("ttl_ms", &r.ttl_ms);
    if (r.kind != order_op::get) f.optional_id("idem", &r.idem);
  });
}

std::variant<transfer_request, decode_failure> decode_transfer(const protocol::op_request& req) {
  const auto kind = kind_of(transfer_op_names, req.op);
  if (!kind) return unknown_op(req);
  return read_request<transfer_request>(req, [&](field_reader& f, transfer_request& r) {
    r.kind = *kind;
    if (r.kind == transfer_op::create) {
      f.required_id("sku", &r.sku);
      f.required_id("from", &r.from);
      f.required_id("to", &r.to);
      f.required_integer("qty", &r.qty);
    } else {
      f.required_id("transfer", &r.transfer);
      if (r.kind == transfer_op::receive) f.optional_integer("qty", &r.qty);
    }
    if (r.kind != transfer_op::get) f.optional_id("idem", &r.idem);
  });
}

std::variant<find_request, decode_failure> decode_find(const protocol::op_request& req) {
  if (req.op != "stock.find") return unknown_op(req);
  return read_request<find_request>(
      req, [](field_reader& f, find_request& r) { f.required_id("sku", &r.sku); });
}

std::variant<settings_request, decode_failure> decode_settings(const protocol::op_request& req) {
  if (req.op != "tenant.settings") return unknown_op(req);
  return read_request<settings_request>(req, [](field_reader& f, settings_request& r) {
    f.optional_id("tenant", &r.tenant);
    const value* set = f.find("set");
    if (set == nullptr) return;
    if (set->as_object() == nullptr) return f.fail("set", "must be an object");
    field_reader change(*set, "set.");
    read_settings_change(change, r);
    if (!change.ok()) f.fail_with(change.take_error());
  });
}

std::optional<std::string> forbidden_warehouse(const order_request& r) {
  for (const auto& line : r.lines) {
    if (!line.warehouse.empty() && !r.who.may_use(line.warehouse)) return line.warehouse;
  }
  return std::nullopt;
}

std::optional<std::string> forbidden_warehouse(const transfer_request& r) {
  if (r.kind != transfer_op::create) return std::nullopt;
  for (const std::string* w : {&r.from, &r.to}) {
    if (!r.who.may_use(*w)) return *w;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Result objects

namespace {

value sku_qty(const std::string& sku, std::int64_t qty) {
  return value(object{{"sku", sku}, {"qty", qty}});
}

array unfilled_values(const std::vector<unfilled_line>& unfilled) {
  array list;
  list.reserve(unfilled.size());
  for (const auto& u : unfilled) list.push_back(sku_qty(u.sku, u.qty));
  return list;
}

}  // namespace

value order_value(const order& o) {
  array lines;
  lines.reserve(o.lines.size());
  for (const auto& l : o.lines) {
    lines.emplace_back(
        object{{"sku", l.sku}, {"warehouse", l.warehouse}, {"qty", l.qty}, {"hold", l.hold}});
  }
  object v;
  v.emplace_back("order", o.id);
  v.emplace_back("status", wire_status(o.status));
  v.emplace_back("policy", policy_name(o.policy));
  v.emplace_back("ref", o.ref);
  v.emplace_back("lines", std::move(lines));
  v.emplace_back("unfilled", unfilled_values(o.unfilled));
  v.emplace_back("expires_at_ms", o.expires_at_ms);
  v.emplace_back("created_ms", o.created_ms);
  return value(std::move(v));
}

value transfer_value(const transfer& t) {
  array receipts;
  for (const auto& r : t.receipts) {
    if (r.applied) receipts.emplace_back(object{{"qty", r.qty}, {"at_ms", r.at_ms}});
  }
  const bool ended_unreceived =
      t.status == transfer_status::cancelled || t.status == transfer_status::failed;
  object v;
  v.emplace_back("transfer", t.id);
  v.emplace_back("status", wire_status(t.status));
  v.emplace_back("sku", t.sku);
  v.emplace_back("from", t.from);
  v.emplace_back("to", t.to);
  v.emplace_back("qty", t.qty);
  v.emplace_back("received", t.received());
  v.emplace_back("in_transit", ended_unreceived ? std::int64_t{0} : t.remaining());
  v.emplace_back("receipts", std::move(receipts));
  v.emplace_back("created_ms", t.created_ms);
  return value(std::move(v));
}

value settings_value(const tenant_settings& s) {
  const auto& a = s.allocation;
  return value(object{{"allocation", to_string(a.policy)},
                      {"priority", array(a.priority.begin(), a.priority.end())},
                      {"low_stock_threshold", s.low_stock_threshold},
                      {"rate_per_second", std::int64_t{s.rate_per_second}},
                      {"rate_burst", std::int64_t{s.rate_burst}},
                      {"subscriptions_max", std::int64_t{s.subscriptions_max}},
                      {"records_max", std::int64_t{s.records_max}},
                      {"connections_max", std::int64_t{s.connections_max}},
                      {"ack", std::string(to_string(s.ack))},
                      {"changed_ms", s.changed_ms},
                      {"changed_by", s.changed_by}});
}

// ---------------------------------------------------------------------------
// Responses

namespace {

// An error response with the code's details: the given ones, then
// retry_after_ms where the code carries it.
value refusal(std::optional<std::int64_t> id, outcome code, const std::string& message,
              std::int64_t retry_after_ms, object details) {
  if (code == outcome::rate_limited || code == outcome::overloaded ||
      code == outcome::unavailable)
    details.emplace_back("retry_after_ms", retry_after_ms);
  return protocol::error_response(id, code, message, std::move(details));
}

value with_replayed(value response, bool replayed) {
  if (replayed) response.as_object()->emplace_back("replayed", true);
  return response;
}

array shortage_values(const std::vector<short_line>& shortages) {
  array lines;
  lines.reserve(shortages.size());
  for (const auto& s : shortages) {
    lines.emplace_back(object{{"sku", s.sku},
                              {"warehouse", s.warehouse.empty() ? value(nullptr) : value(s.warehouse)},
                              {"requested", s.requested},
                              {"available", s.available}});
  }
  return lines;
}

object dry_run_result(const order_reply& r) {
  array lines;
  lines.reserve(r.plan.size());
  for (const auto& l : r.plan) {
    lines.emplace_back(object{{"sku", l.sku}, {"warehouse", l.warehouse}, {"qty", l.qty}});
  }
  return object{{"dry_run", true},
                {"complete", r.shortages.empty()},
                {"lines", std::move(lines)},
                {"unfilled", unfilled_values(r.plan_unfilled)},
                {"short", shortage_values(r.shortages)},
                {"explanation", array(r.explanation.begin(), r.explanation.end())}};
}

}  // namespace

value order_response(std::optional<std::int64_t> id, const order_reply& r, bool dry_run) {
  if (r.code == outcome::ok) {
    value ok = dry_run ? protocol::ok_response(id, dry_run_result(r))
                       : protocol::ok_response(id, *order_value(r.doc).as_object());
    return with_replayed(std::move(ok), r.replayed);
  }
  object details;
  if (r.code == outcome::insufficient_stock) details.emplace_back("lines", shortage_values(r.shortages));
  if (r.has_order) {
    details.emplace_back("order", r.doc.id);
    details.emplace_back("status", wire_status(r.doc.status));
  }
  return with_replayed(refusal(id, r.code, r.message, r.retry_after_ms, std::move(details)),
                       r.replayed);
}

value transfer_response(std::optional<std::int64_t> id, const transfer_reply& r) {
  if (r.code == outcome::ok) {
    return with_replayed(protocol::ok_response(id, *transfer_value(r.doc).as_object()), r.replayed);
  }
  object details;
  if (r.code == outcome::insufficient_stock) details.emplace_back("available", r.available);
  if (r.has_transfer) {
    details.emplace_back("transfer", r.doc.id);
    details.emplace_back("status", wire_status(r.doc.status));
  }
  return with_replayed(refusal(id, r.code, r.message, r.retry_after_ms, std::move(details)),
                       r.replayed);
}

value find_response(std::optional<std::int64_t> id, std::string_view sku, const find_reply& r) {
  if (r.code != outcome::ok) return refusal(id, r.code, r.message, 0, {});
  array records;
  records.reserve(r.records.size());
  for (const auto& rec : r.records) records.push_back(protocol::record_value(rec));
  return protocol::ok_response(
      id, {{"sku", sku}, {"records", std::move(records)}, {"total_available", r.total_available}});
}

value settings_response(std::optional<std::int64_t> id, const settings_reply& r) {
  if (r.code != outcome::ok) return refusal(id, r.code, r.message, 0, {});
  return protocol::ok_response(id, {{"settings", settings_value(r.settings)}});
}

}  // namespace stockgrid::orders
