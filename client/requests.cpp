#include "client/requests.hpp"

#include <utility>

#include "client/response.hpp"

namespace stockgrid::client {

namespace {

using protocol::array;
using protocol::object;

protocol::op_request with_params(std::string_view op, object params) {
  protocol::op_request r;
  r.op = std::string(op);
  r.params = value(std::move(params));
  return r;
}

void add_text(object& o, const char* name, std::string text) {
  if (!text.empty()) o.emplace_back(name, std::move(text));
}

}  // namespace

protocol::op_request build_order_reserve(const std::vector<order_line>& lines,
                                         const order_options& options) {
  array list;
  list.reserve(lines.size());
  for (const auto& l : lines) {
    object line{{"sku", l.sku}, {"qty", l.qty}};
    add_text(line, "warehouse", l.warehouse);
    list.emplace_back(std::move(line));
  }
  object o;
  o.emplace_back("lines", std::move(list));
  if (options.ttl_ms != 0) o.emplace_back("ttl_ms", options.ttl_ms);
  if (options.partial) o.emplace_back("policy", "partial");
  add_text(o, "ref", options.ref);
  add_text(o, "idem", options.idem);
  if (options.dry_run) o.emplace_back("dry_run", true);
  return with_params("order.reserve", std::move(o));
}

protocol::op_request build_order_op(std::string_view op, std::string order, std::string idem) {
  object o{{"order", std::move(order)}};
  add_text(o, "idem", std::move(idem));
  return with_params(op, std::move(o));
}

protocol::op_request build_order_extend(std::string order, std::int64_t ttl_ms,
                                        std::string idem) {
  object o{{"order", std::move(order)}, {"ttl_ms", ttl_ms}};
  add_text(o, "idem", std::move(idem));
  return with_params("order.extend", std::move(o));
}

protocol::op_request build_transfer_create(std::string sku, std::string from, std::string to,
                                           std::int64_t qty, std::string idem) {
  object o{{"sku", std::move(sku)}, {"from", std::move(from)}, {"to", std::move(to)}, {"qty", qty}};
  add_text(o, "idem", std::move(idem));
  return with_params("transfer.create", std::move(o));
}

protocol::op_request build_transfer_receive(std::string transfer, std::optional<std::int64_t> qty,
                                            std::string idem) {
  object o{{"transfer", std::move(transfer)}};
  if (qty) o.emplace_back("qty", *qty);
  add_text(o, "idem", std::move(idem));
  return with_params("transfer.receive", std::move(o));
}

protocol::op_request build_transfer_op(std::string_view op, std::string transfer,
                                       std::string idem) {
  object o{{"transfer", std::move(transfer)}};
  add_text(o, "idem", std::move(idem));
  return with_params(op, std::move(o));
}

protocol::op_request build_find(std::string sku) {
  return with_params("stock.find", {{"sku", std::move(sku)}});
}

protocol::op_request build_settings(const settings_change& change) {
  object set;
  if (change.allocation) set.emplace_back("allocation", *change.allocation);
  if (change.priority) set.emplace_back("priority", array(change.priority->begin(), change.priority->end()));
  if (change.ack) set.emplace_back("ack", *change.ack);
  object o;
  if (!set.empty()) o.emplace_back("set", std::move(set));
  return with_params("tenant.settings", std::move(o));
}

protocol::op_request build_policy(std::string warehouse, std::string sku,
                                  const policy_options& options) {
  protocol::op_request r;
  r.op = std::string(protocol::op_name_of(op::policy));
  r.grid.kind = op::policy;
  r.grid.key.warehouse = std::move(warehouse);
  r.grid.key.sku = std::move(sku);
  r.grid.safety_stock = options.safety_stock;
  r.grid.allow_backorder = options.allow_backorder;
  r.grid.low_stock_threshold = options.low_stock_threshold;
  r.grid.idem = options.idem;
  return r;
}

std::string idem_of(const protocol::op_request& r) {
  if (r.op == "stock.bulk") return r.idem;
  if (const value* idem = r.params.find("idem"); idem && idem->as_string()) return *idem->as_string();
  return r.grid.idem;
}

void ensure_idem(protocol::op_request& r, std::string (*make_key)()) {
  if (!is_mutation_op(r.op) || !idem_of(r).empty()) return;
  if (r.op == "stock.bulk") {
    r.idem = make_key();
  } else if (const protocol::op_spec* spec = protocol::find_op(r.op); spec && spec->params) {
    if (const value* dry_run = r.params.find("dry_run"); dry_run && dry_run->as_bool() && *dry_run->as_bool())
      return;
    if (r.params.is_null()) r.params = value(object{});
    if (protocol::object* members = r.params.as_object()) {
      std::erase_if(*members, [](const auto& m) { return m.first == "idem"; });
      members->emplace_back("idem", make_key());
    }
  } else {
    r.grid.idem = make_key();
  }
}

}  // namespace stockgrid::client
