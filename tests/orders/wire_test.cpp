// orders/wire: the order, transfer, stock.find and tenant.settings ops from
// a JSON frame (through decode_request, as the gateway does) to the request
// structs, every bad field named, the warehouse checks, and each response
// written out as the JSON a client sees.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "config/limits.hpp"
#include "orders/document.hpp"
#include "orders/wire.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::orders;
using protocol::decode_failure;
using protocol::value;

namespace {

value json(std::string_view text) {
  value v;
  std::string error;
  INFO(text);
  REQUIRE(protocol::parse(text, protocol::encoding::json, {}, &v, &error));
  return v;
}

std::string to_json(const value& v) { return protocol::serialize(v, protocol::encoding::json); }

// The frame through the gateway's decoding: it keeps these ops' fields.
protocol::op_request frame(std::string_view text) {
  auto decoded = protocol::decode_request(json(text));
  if (auto* f = std::get_if<decode_failure>(&decoded)) FAIL(text << ": " << f->message);
  return std::get<protocol::op_request>(std::move(decoded));
}

template <class Request, class Decode>
Request accepted(std::string_view text, Decode decode) {
  auto result = decode(frame(text));
  if (auto* f = std::get_if<decode_failure>(&result)) FAIL(text << ": " << f->message);
  return std::get<Request>(std::move(result));
}

template <class Request>
std::string refusal_of(const std::variant<Request, decode_failure>& result) {
  const auto* f = std::get_if<decode_failure>(&result);
  if (f == nullptr) return "(accepted)";
  CHECK(f->code == outcome::bad_request);
  CHECK(f->id == 7);
  return f->message;
}

order_request order_of(std::string_view text) { return accepted<order_request>(text, decode_order); }
transfer_request transfer_of(std::string_view text) {
  return accepted<transfer_request>(text, decode_transfer);
}
std::string order_refusal(std::string_view text) { return refusal_of(decode_order(frame(text))); }
std::string transfer_refusal(std::string_view text) {
  return refusal_of(decode_transfer(frame(text)));
}
std::string find_refusal(std::string_view text) { return refusal_of(decode_find(frame(text))); }
std::string settings_refusal(std::string_view text) {
  return refusal_of(decode_settings(frame(text)));
}

// `{"op":"order.reserve","id":7,"lines":[...]}` around the lines.
std::string reserve_with(std::string_view lines) {
  return R"({"op":"order.reserve","id":7,"lines":)" + std::string(lines) + "}";
}

}  // namespace

// ---------------------------------------------------------------------------
// The gateway's side: the op table

TEST_CASE("wire: the ops are in the op table with their roles, fields kept for orders/", "[wire]") {
  const std::vector<std::pair<std::string, protocol::role>> ops = {
      {"order.reserve", protocol::role::writer},    {"order.commit", protocol::role::writer},
      {"order.release", protocol::role::writer},    {"order.extend", protocol::role::writer},
      {"order.get", protocol::role::reader},        {"transfer.create", protocol::role::writer},
      {"transfer.receive", protocol::role::writer}, {"transfer.cancel", protocol::role::writer},
      {"transfer.get", protocol::role::reader},     {"stock.find", protocol::role::reader},
      {"tenant.settings", protocol::role::admin},
  };
  for (const auto& [name, needs] : ops) {
    INFO(name);
    const protocol::op_spec* spec = protocol::find_op(name);
    REQUIRE(spec != nullptr);
    CHECK(spec->needs == needs);
    CHECK(spec->params);
    CHECK_FALSE(spec->any_role);
    // The operator runs tenant.settings only (naming the tenant: quotas).
    CHECK(protocol::allows(protocol::role::system, *spec) == (name == "tenant.settings"));
    CHECK(spec->system_names_tenant == (name == "tenant.settings"));
    CHECK(protocol::allows(protocol::role::admin, *spec));
    // A wrong field is not the gateway's to find: the frame passes as sent.
    const auto req = frame(R"({"op":")" + name + R"(","id":3,"lines":"x","qty":"y"})");
    CHECK(req.id == 3);
    CHECK(req.params.find("qty") != nullptr);
  }
  CHECK(protocol::find_op("order.commit")->idem);
  CHECK_FALSE(protocol::find_op("order.get")->idem);
  CHECK_FALSE(protocol::find_op("stock.find")->idem);
  CHECK_FALSE(protocol::find_op("tenant.settings")->idem);
}

// ---------------------------------------------------------------------------
// order.*

TEST_CASE("wire: order.reserve", "[wire][order]") {
  const auto r = order_of(
      R"({"op":"order.reserve","id":7,"lines":[{"sku":"A","qty":3},{"sku":"B","qty":1,"warehouse":"w2"}],)"
      R"("ttl_ms":60000,"policy":"partial","ref":"cart-9","idem":"k1","dry_run":true})");
  CHECK(r.kind == order_op::reserve);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0].sku == "A");
  CHECK(r.lines[0].qty == 3);
  CHECK(r.lines[0].warehouse.empty());
  CHECK(r.lines[1].warehouse == "w2");
  CHECK(r.ttl_ms == 60000);
  CHECK(r.policy == order_policy::partial);
  CHECK(r.ref == "cart-9");
  CHECK(r.idem == "k1");
  CHECK(r.dry_run);
  CHECK(r.who.tenant.empty());  // from the token, never from a frame

  const auto plain = order_of(R"({"op":"order.reserve","id":7,"lines":[{"sku":"A","qty":1}],"policy":null})");
  CHECK(plain.ttl_ms == 0);
  CHECK(plain.policy == order_policy::all_or_nothing);
  CHECK(plain.idem.empty());
  CHECK_FALSE(plain.dry_run);
  CHECK(order_of(R"({"op":"order.reserve","id":7,"lines":[{"sku":"A","qty":1}],"policy":"all_or_nothing"})")
            .policy == order_policy::all_or_nothing);
}

TEST_CASE("wire: order.reserve's bad lines name the line and field", "[wire][order]") {
  CHECK(order_refusal(R"({"op":"order.reserve","id":7})") == "lines: required");
  CHECK(order_refusal(reserve_with("null")) == "lines: required");
  CHECK(order_refusal(reserve_with(R"("A:1")")) == "lines: must be an array");
  CHECK(order_refusal(reserve_with("[]")) == "lines: must not be empty");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":1},7])")) == "lines[1]: must be an object");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":1},{"sku":"B","qty":1},{"sku":"C"}])")) ==
        "lines[2].qty: required");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":"2"}])")) == "lines[0].qty: must be an integer");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":1.5}])")) == "lines[0].qty: must be an integer");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":1e300}])")) == "lines[0].qty: out of range");
  CHECK(order_refusal(reserve_with(R"([{"qty":1}])")) == "lines[0].sku: required");
  CHECK(order_refusal(reserve_with(R"([{"sku":"","qty":1}])")) == "lines[0].sku: must not be empty");
  CHECK(order_refusal(reserve_with(R"([{"sku":5,"qty":1}])")) == "lines[0].sku: must be a string");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":1,"warehouse":3}])")) ==
        "lines[0].warehouse: must be a string");
  CHECK(order_refusal(reserve_with(R"([{"sku":"A","qty":1,"warehouse":""}])")) ==
        "lines[0].warehouse: must not be empty (leave it out instead)");

  std::string full = "[";
  for (std::size_t i = 0; i < limits::order_lines_max; ++i) full += R"({"sku":"A","qty":1},)";
  CHECK(order_of(reserve_with(full.substr(0, full.size() - 1) + "]")).lines.size() ==
        limits::order_lines_max);
  CHECK(order_refusal(reserve_with(full + R"({"sku":"A","qty":1}])")) == "lines: more than 100 items");
}

TEST_CASE("wire: order.reserve's other fields", "[wire][order]") {
  const std::string lines = R"("lines":[{"sku":"A","qty":1}])";
  auto with = [&](std::string_view field) {
    return order_refusal(R"({"op":"order.reserve","id":7,)" + lines + "," + std::string(field) + "}");
  };
  CHECK(with(R"("ttl_ms":"1m")") == "ttl_ms: must be an integer");
  CHECK(with(R"("policy":"some")") == R"(policy: must be "all_or_nothing" or "partial")");
  CHECK(with(R"("policy":1)") == "policy: must be a string");
  CHECK(with(R"("ref":[])") == "ref: must be a string");
  CHECK(with(R"("idem":"")") == "idem: must not be empty (leave it out instead)");
  CHECK(with(R"("dry_run":"yes")") == "dry_run: must be true or false");
  // The first problem wins, in the documented field order.
  CHECK(order_refusal(R"({"op":"order.reserve","id":7,"lines":[],"ttl_ms":"x"})") ==
        "lines: must not be empty");
}

TEST_CASE("wire: order.commit, release, extend and get", "[wire][order]") {
  const auto commit = order_of(R"({"op":"order.commit","id":7,"order":"O1","idem":"c1"})");
  CHECK(commit.kind == order_op::commit);
  CHECK(commit.order == "O1");
  CHECK(commit.idem == "c1");
  const auto release = order_of(R"({"op":"order.release","id":7,"order":"O1"})");
  CHECK(release.kind == order_op::release);
  CHECK(release.idem.empty());
  const auto extend = order_of(R"({"op":"order.extend","id":7,"order":"O1","ttl_ms":5000,"idem":"e"})");
  CHECK(extend.kind == order_op::extend);
  CHECK(extend.ttl_ms == 5000);
  CHECK(extend.idem == "e");
  const auto get = order_of(R"({"op":"order.get","id":7,"order":"O1","idem":"ignored"})");
  CHECK(get.kind == order_op::get);
  CHECK(get.idem.empty());

  for (const char* op : {"order.commit", "order.release", "order.extend", "order.get"}) {
    INFO(op);
    const std::string head = R"({"op":")" + std::string(op) + R"(","id":7)";
    CHECK(order_refusal(head + "}") == "order: required");
    CHECK(order_refusal(head + R"(,"order":null})") == "order: required");
    CHECK(order_refusal(head + R"(,"order":12})") == "order: must be a string");
    CHECK(order_refusal(head + R"(,"order":""})") == "order: must not be empty");
  }
  CHECK(order_refusal(R"({"op":"order.extend","id":7,"order":"O1"})") == "ttl_ms: required");
  CHECK(order_refusal(R"({"op":"order.extend","id":7,"order":"O1","ttl_ms":true})") ==
        "ttl_ms: must be an integer");
  CHECK(order_refusal(R"({"op":"order.commit","id":7,"order":"O1","idem":5})") == "idem: must be a string");
}

// ---------------------------------------------------------------------------
// transfer.*

TEST_CASE("wire: transfer.create, receive, cancel and get", "[wire][transfer]") {
  const auto create = transfer_of(
      R"({"op":"transfer.create","id":7,"sku":"A","from":"w1","to":"w2","qty":5,"idem":"t1"})");
  CHECK(create.kind == transfer_op::create);
  CHECK(create.sku == "A");
  CHECK(create.from == "w1");
  CHECK(create.to == "w2");
  CHECK(create.qty == 5);
  CHECK(create.idem == "t1");
  const auto receive = transfer_of(R"({"op":"transfer.receive","id":7,"transfer":"T1","qty":2})");
  CHECK(receive.kind == transfer_op::receive);
  CHECK(receive.transfer == "T1");
  CHECK(receive.qty == 2);
  CHECK_FALSE(transfer_of(R"({"op":"transfer.receive","id":7,"transfer":"T1"})").qty);
  CHECK(transfer_of(R"({"op":"transfer.cancel","id":7,"transfer":"T1","idem":"x"})").kind ==
        transfer_op::cancel);
  const auto get = transfer_of(R"({"op":"transfer.get","id":7,"transfer":"T1","qty":3})");
  CHECK(get.kind == transfer_op::get);
  CHECK_FALSE(get.qty);

  const std::string create_head = R"({"op":"transfer.create","id":7)";
  CHECK(transfer_refusal(create_head + "}") == "sku: required");
  CHECK(transfer_refusal(create_head + R"(,"sku":"A"})") == "from: required");
  CHECK(transfer_refusal(create_head + R"(,"sku":"A","from":"w1"})") == "to: required");
  CHECK(transfer_refusal(create_head + R"(,"sku":"A","from":"w1","to":"w2"})") == "qty: required");
  CHECK(transfer_refusal(create_head + R"(,"sku":"A","from":"w1","to":"w2","qty":"5"})") ==
        "qty: must be an integer");
  CHECK(transfer_refusal(create_head + R"(,"sku":"A","from":"","to":"w2","qty":5})") ==
        "from: must not be empty");
  CHECK(transfer_refusal(create_head + R"(,"sku":"A","from":"w1","to":7,"qty":5})") ==
        "to: must be a string");
  CHECK(transfer_refusal(R"({"op":"transfer.receive","id":7,"transfer":"T1","qty":[]})") ==
        "qty: must be an integer");
  for (const char* op : {"transfer.receive", "transfer.cancel", "transfer.get"}) {
    INFO(op);
    CHECK(transfer_refusal(R"({"op":")" + std::string(op) + R"(","id":7})") == "transfer: required");
  }
  CHECK(transfer_refusal(R"({"op":"transfer.cancel","id":7,"transfer":"T1","idem":""})") ==
        "idem: must not be empty (leave it out instead)");
}

// ---------------------------------------------------------------------------
// stock.find and tenant.settings

TEST_CASE("wire: stock.find", "[wire][find]") {
  CHECK(accepted<find_request>(R"({"op":"stock.find","id":7,"sku":"mug"})", decode_find).sku == "mug");
  CHECK(find_refusal(R"({"op":"stock.find","id":7})") == "sku: required");
  CHECK(find_refusal(R"({"op":"stock.find","id":7,"sku":1})") == "sku: must be a string");
  CHECK(find_refusal(R"({"op":"stock.find","id":7,"sku":""})") == "sku: must not be empty");
}

TEST_CASE("wire: tenant.settings reads, or changes what `set` names", "[wire][settings]") {
  const auto read = accepted<settings_request>(R"({"op":"tenant.settings","id":7})", decode_settings);
  CHECK_FALSE(read.allocation);
  CHECK_FALSE(read.priority);
  const auto change = accepted<settings_request>(
      R"({"op":"tenant.settings","id":7,"set":{"allocation":"priority","priority":["w2","w1"]}})",
      decode_settings);
  CHECK(change.allocation == allocation_policy::priority);
  CHECK(change.priority == std::vector<std::string>{"w2", "w1"});
  const auto only_policy = accepted<settings_request>(
      R"({"op":"tenant.settings","id":7,"set":{"allocation":"fewest_splits"}})", decode_settings);
  CHECK(only_policy.allocation == allocation_policy::fewest_splits);
  CHECK_FALSE(only_policy.priority);
  const auto clear = accepted<settings_request>(
      R"({"op":"tenant.settings","id":7,"set":{"priority":[]}})", decode_settings);
  CHECK(clear.priority == std::vector<std::string>{});

  const std::string head = R"({"op":"tenant.settings","id":7,"set":)";
  CHECK(settings_refusal(head + R"("priority"})") == "set: must be an object");
  CHECK(settings_refusal(head + R"({"allocation":"random"}})") ==
        R"(set.allocation: must be "priority", "most_available" or "fewest_splits")");
  CHECK(settings_refusal(head + R"({"allocation":2}})") == "set.allocation: must be a string");
  CHECK(settings_refusal(head + R"({"priority":"w1"}})") == "set.priority: must be an array of strings");
  CHECK(settings_refusal(head + R"({"priority":["w1",2]}})") == "set.priority[1]: must be a string");

  // The low-stock alert default (feed/alerts.hpp).
  const auto threshold = accepted<settings_request>(
      R"({"op":"tenant.settings","id":7,"set":{"low_stock_threshold":5}})", decode_settings);
  CHECK(threshold.low_stock_threshold == 5);
  CHECK_FALSE(threshold.allocation);
  CHECK(settings_refusal(head + R"({"low_stock_threshold":-1}})") ==
        "set.low_stock_threshold: must be between 0 and 10^12");
  CHECK(settings_refusal(head + R"({"low_stock_threshold":"5"}})") == "set.low_stock_threshold: must be an integer");

  // Quotas (the system role's, naming the tenant); 0 = the node's default,
  // null = absent.
  const auto quotas = accepted<settings_request>(
      R"({"op":"tenant.settings","id":7,"tenant":"acme","set":{"rate_per_second":500,"rate_burst":0,"subscriptions_max":null}})",
      decode_settings);
  CHECK(quotas.tenant == "acme");
  CHECK(quotas.rate_per_second == 500u);
  CHECK(quotas.rate_burst == 0u);
  CHECK_FALSE(quotas.subscriptions_max);
  CHECK(quotas.sets_quotas());
  CHECK(quotas.changes());
  CHECK_FALSE(read.sets_quotas());
  CHECK_FALSE(read.changes());
  CHECK_FALSE(threshold.sets_quotas());
  CHECK(settings_refusal(head + R"({"rate_per_second":-1}})") ==
        "set.rate_per_second: must be between 0 (the node's default) and 100000000");
  CHECK(settings_refusal(head + R"({"rate_burst":1000000001}})") ==
        "set.rate_burst: must be between 0 (the node's default) and 1000000000");
  CHECK(settings_refusal(head + R"({"subscriptions_max":"9"}})") == "set.subscriptions_max: must be an integer");
  const auto counts = accepted<settings_request>(
      R"({"op":"tenant.settings","id":7,"tenant":"acme","set":{"records_max":3,"connections_max":2}})",
      decode_settings);
  CHECK(counts.records_max == 3u);
  CHECK(counts.connections_max == 2u);
  CHECK(counts.sets_quotas());
  CHECK(settings_refusal(head + R"({"records_max":1000000001}})") ==
        "set.records_max: must be between 0 (the node's default) and 1000000000");
  CHECK(settings_refusal(head + R"({"connections_max":-1}})") ==
        "set.connections_max: must be between 0 (the node's default) and 1000000");
  CHECK(settings_refusal(R"({"op":"tenant.settings","id":7,"tenant":""})") == "tenant: must not be empty (leave it out instead)");

  // The cluster's acknowledgement (docs/cluster.md): the tenant's own choice.
  const auto ack = accepted<settings_request>(R"({"op":"tenant.settings","id":7,"set":{"ack":"leader"}})",
                                              decode_settings);
  CHECK(ack.ack == ack_mode::leader);
  CHECK(ack.changes());
  CHECK_FALSE(ack.sets_quotas());
  CHECK(accepted<settings_request>(R"({"op":"tenant.settings","id":7,"set":{"ack":"quorum"}})", decode_settings)
            .ack == ack_mode::quorum);
  CHECK_FALSE(read.ack);
  CHECK(settings_refusal(head + R"({"ack":"all"}})") == R"(set.ack: must be "quorum" or "leader")");
  CHECK(settings_refusal(head + R"({"ack":1}})") == "set.ack: must be a string");
}

TEST_CASE("wire: tenant.settings shows the acknowledgement and the last change", "[wire][settings]") {
  tenant_settings ts;
  ts.ack = ack_mode::leader;
  ts.changed_ms = 1700000000123;
  ts.changed_by = "10.0.0.2:7401";
  const auto v = settings_value(ts);
  REQUIRE(v.find("ack") != nullptr);
  CHECK(*v.find("ack")->as_string() == "leader");
  CHECK(*v.find("changed_ms")->as_int() == 1700000000123);
  CHECK(*v.find("changed_by")->as_string() == "10.0.0.2:7401");
  CHECK(*settings_value(tenant_settings{}).find("ack")->as_string() == "quorum");
}

TEST_CASE("wire: a decoder given another op answers UNKNOWN_OP", "[wire]") {
  const auto req = frame(R"({"op":"stock.find","id":7,"sku":"A"})");
  const auto f = std::get<decode_failure>(decode_order(req));
  CHECK(f.code == outcome::unknown_op);
  CHECK(std::holds_alternative<decode_failure>(decode_transfer(req)));
  CHECK(std::holds_alternative<decode_failure>(decode_settings(req)));
  CHECK(std::holds_alternative<decode_failure>(decode_find(frame(R"({"op":"order.get","id":7,"order":"O"})"))));
}

// ---------------------------------------------------------------------------
// Warehouse-limited keys

TEST_CASE("wire: the warehouses a limited key may not use", "[wire]") {
  auto r = order_of(reserve_with(R"([{"sku":"A","qty":1},{"sku":"B","qty":1,"warehouse":"w1"},)"
                                 R"({"sku":"C","qty":1,"warehouse":"w9"}])"));
  CHECK_FALSE(forbidden_warehouse(r));  // no limit
  r.who.warehouses_allowed = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"w1"});
  CHECK(forbidden_warehouse(r) == "w9");
  r.lines.pop_back();
  CHECK_FALSE(forbidden_warehouse(r));  // a line without a warehouse is the grid's to place

  auto t = transfer_of(R"({"op":"transfer.create","id":7,"sku":"A","from":"w1","to":"w2","qty":5})");
  t.who.warehouses_allowed = r.who.warehouses_allowed;
  CHECK(forbidden_warehouse(t) == "w2");
  std::swap(t.from, t.to);
  CHECK(forbidden_warehouse(t) == "w2");
  t.kind = transfer_op::get;
  CHECK_FALSE(forbidden_warehouse(t));
}

// ---------------------------------------------------------------------------
// Responses

namespace {

order an_order() {
  order o;
  o.tenant = "acme";
  o.id = "O1f";
  o.ref = "cart-77";
  o.policy = order_policy::partial;
  o.status = order_status::held;
  o.lines = {{"A", "w1", 3, "H1-2a", false}, {"B", "w2", 1, "H2-7", true}};
  o.unfilled = {{"C", 4}};
  o.expires_at_ms = 1'700'000'600'000;
  o.created_ms = 1'700'000'000'000;
  return o;
}

// The order object's members, as the object and at the top of a result.
const std::string order_members =
    R"("order":"O1f","status":"held","policy":"partial","ref":"cart-77",)"
    R"("lines":[{"sku":"A","warehouse":"w1","qty":3,"hold":"H1-2a"},{"sku":"B","warehouse":"w2","qty":1,"hold":"H2-7"}],)"
    R"("unfilled":[{"sku":"C","qty":4}],"expires_at_ms":1700000600000,"created_ms":1700000000000)";
const std::string order_json = "{" + order_members + "}";

transfer a_transfer() {
  transfer t;
  t.id = "T3";
  t.sku = "A";
  t.from = "w1";
  t.to = "w2";
  t.qty = 10;
  t.status = transfer_status::in_transit;
  t.receipts = {{"r1", 4, true, 1'700'000'100'000}, {"r2", 1, false, 0}};
  t.created_ms = 1'700'000'000'000;
  return t;
}

}  // namespace

TEST_CASE("wire: the order object and order responses", "[wire][response]") {
  CHECK(to_json(order_value(an_order())) == order_json);

  order o = an_order();
  for (auto [status, name] : std::vector<std::pair<order_status, std::string>>{
           {order_status::reserving, "pending"},   {order_status::committing, "committing"},
           {order_status::committed, "committed"}, {order_status::releasing, "releasing"},
           {order_status::released, "released"},   {order_status::expiring, "expiring"},
           {order_status::expired, "expired"},     {order_status::failed, "failed"}}) {
    o.status = status;
    CHECK(*order_value(o).find("status")->as_string() == name);
  }
  o.policy = order_policy::all_or_nothing;
  CHECK(*order_value(o).find("policy")->as_string() == "all_or_nothing");

  order_reply ok;
  ok.code = outcome::ok;
  ok.has_order = true;
  ok.doc = an_order();
  CHECK(to_json(order_response(4, ok)) == R"({"id":4,"ok":true,)" + order_members + "}");
  ok.replayed = true;
  CHECK(to_json(order_response(4, ok)) ==
        R"({"id":4,"ok":true,)" + order_members + R"(,"replayed":true})");
}

TEST_CASE("wire: a dry run's plan", "[wire][response]") {
  order_reply r;
  r.code = outcome::ok;
  r.plan = {{"A", "w1", 3}, {"A", "w2", 2}};
  r.plan_unfilled = {{"B", 1}};
  r.shortages = {{"B", "", 1, 0}};
  r.explanation = {"sku A: 3 from w1, 2 from w2 (split: w1 had 3)", "sku B: 1 unfilled"};
  CHECK(to_json(order_response(5, r, true)) ==
        R"({"id":5,"ok":true,"dry_run":true,"complete":false,)"
        R"("lines":[{"sku":"A","warehouse":"w1","qty":3},{"sku":"A","warehouse":"w2","qty":2}],)"
        R"("unfilled":[{"sku":"B","qty":1}],)"
        R"("short":[{"sku":"B","warehouse":null,"requested":1,"available":0}],)"
        R"x("explanation":["sku A: 3 from w1, 2 from w2 (split: w1 had 3)","sku B: 1 unfilled"]})x");
}

TEST_CASE("wire: order errors carry their details", "[wire][response]") {
  order_reply short_stock = order_reply::error(outcome::insufficient_stock, "2 lines are short");
  short_stock.shortages = {{"A", "w1", 5, 2}, {"B", "", 3, 0}};
  CHECK(to_json(order_response(6, short_stock)) ==
        R"({"id":6,"ok":false,"error":{"code":"INSUFFICIENT_STOCK","message":"2 lines are short",)"
        R"("lines":[{"sku":"A","warehouse":"w1","requested":5,"available":2},)"
        R"({"sku":"B","warehouse":null,"requested":3,"available":0}]}})");

  order_reply overloaded = order_reply::error(outcome::overloaded, "");
  overloaded.retry_after_ms = 50;
  CHECK(to_json(order_response(6, overloaded)) ==
        R"({"id":6,"ok":false,"error":{"code":"OVERLOADED","message":"overloaded","retry_after_ms":50}})");

  order_reply with_order = order_reply::error(outcome::bad_request, "the order is committed");
  with_order.has_order = true;
  with_order.doc = an_order();
  with_order.replayed = true;
  CHECK(to_json(order_response(6, with_order)) ==
        R"({"id":6,"ok":false,"error":{"code":"BAD_REQUEST","message":"the order is committed",)"
        R"("order":"O1f","status":"held"},"replayed":true})");

  CHECK(to_json(order_response(std::nullopt, order_reply::error(outcome::not_found, "no such order"))) ==
        R"({"id":null,"ok":false,"error":{"code":"NOT_FOUND","message":"no such order"}})");
}

TEST_CASE("wire: the transfer object and transfer responses", "[wire][response]") {
  const std::string transfer_members =
      R"("transfer":"T3","status":"in_transit","sku":"A","from":"w1","to":"w2","qty":10,)"
      R"("received":4,"in_transit":6,"receipts":[{"qty":4,"at_ms":1700000100000}],"created_ms":1700000000000)";
  const std::string transfer_json = "{" + transfer_members + "}";
  CHECK(to_json(transfer_value(a_transfer())) == transfer_json);

  transfer_reply ok;
  ok.code = outcome::ok;
  ok.has_transfer = true;
  ok.doc = a_transfer();
  ok.replayed = true;
  CHECK(to_json(transfer_response(8, ok)) ==
        R"({"id":8,"ok":true,)" + transfer_members + R"(,"replayed":true})");

  transfer cancelled = a_transfer();
  cancelled.status = transfer_status::cancelled;
  CHECK(*transfer_value(cancelled).find("in_transit")->as_int() == 0);
  CHECK(*transfer_value(cancelled).find("status")->as_string() == "cancelled");

  transfer_reply short_stock = transfer_reply::error(outcome::insufficient_stock, "");
  short_stock.available = 3;
  CHECK(to_json(transfer_response(9, short_stock)) ==
        R"({"id":9,"ok":false,"error":{"code":"INSUFFICIENT_STOCK","message":"not enough stock available","available":3}})");
  transfer_reply unavailable = transfer_reply::error(outcome::unavailable, "");
  unavailable.retry_after_ms = 200;
  CHECK(to_json(transfer_response(9, unavailable)) ==
        R"({"id":9,"ok":false,"error":{"code":"UNAVAILABLE","message":"unavailable, nothing was applied","retry_after_ms":200}})");
}

TEST_CASE("wire: stock.find and tenant.settings responses", "[wire][response]") {
  find_reply found;
  found.code = outcome::ok;
  record_view a;
  a.key = {"acme", "w1", "mug"};
  a.on_hand = 5;
  a.reserved = 1;
  a.version = 3;
  record_view b = a;
  b.key.warehouse = "w2";
  b.on_hand = 0;
  b.reserved = 0;
  found.records = {a, b};
  found.total_available = 4;
  CHECK(to_json(find_response(10, "mug", found)) ==
        R"({"id":10,"ok":true,"sku":"mug","records":[)" + to_json(protocol::record_value(a)) + "," +
            to_json(protocol::record_value(b)) + R"(],"total_available":4})");
  CHECK(to_json(find_response(10, "mug", find_reply{})) ==
        R"({"id":10,"ok":false,"error":{"code":"INTERNAL","message":"internal error"}})");

  settings_reply s;
  s.code = outcome::ok;
  s.settings.allocation.policy = allocation_policy::priority;
  s.settings.allocation.priority = {"w2", "w1"};
  CHECK(to_json(settings_response(11, s)) ==
        R"({"id":11,"ok":true,"settings":{"allocation":"priority","priority":["w2","w1"],"low_stock_threshold":0,)"
        R"("rate_per_second":0,"rate_burst":0,"subscriptions_max":0,"records_max":0,"connections_max":0,)"
            R"("ack":"quorum","changed_ms":0,"changed_by":""}})");
  s.settings = {};
  s.settings.rate_per_second = 500;
  s.settings.rate_burst = 1000;
  s.settings.subscriptions_max = 3;
  s.settings.records_max = 4;
  s.settings.connections_max = 5;
  CHECK(to_json(settings_response(11, s)) ==
        R"({"id":11,"ok":true,"settings":{"allocation":"most_available","priority":[],"low_stock_threshold":0,)"
        R"("rate_per_second":500,"rate_burst":1000,"subscriptions_max":3,"records_max":4,"connections_max":5,)"
            R"("ack":"quorum","changed_ms":0,"changed_by":""}})");
}

TEST_CASE("tenant settings documents keep the low-stock default; older ones without it read 0", "[wire]") {
  tenant_settings ts;
  ts.allocation.policy = allocation_policy::priority;
  ts.allocation.priority = {"w1"};
  ts.low_stock_threshold = 7;
  tenant_settings back;
  REQUIRE(decode(encode(ts), &back));
  CHECK(back.low_stock_threshold == 7);
  CHECK(back.allocation.priority == std::vector<std::string>{"w1"});

  tenant_settings older;
  older.allocation.policy = allocation_policy::most_available;
  std::string body = encode(older);  // then drop the field, as a document written before it existed
  protocol::value v;
  REQUIRE(document::parse(body, &v));
  auto* members = v.as_object();
  REQUIRE(members != nullptr);
  members->erase(std::remove_if(members->begin(), members->end(),
                                [](const auto& m) { return m.first == "low_stock_threshold"; }),
                 members->end());
  tenant_settings read;
  REQUIRE(decode(document::serialize(*members), &read));
  CHECK(read.low_stock_threshold == 0);
}

TEST_CASE("tenant settings documents keep the quotas; older ones without them read 0 (the node's)", "[wire]") {
  tenant_settings ts;
  ts.rate_per_second = 500;
  ts.rate_burst = 1000;
  ts.subscriptions_max = 3;
  ts.records_max = 4;
  ts.connections_max = 5;
  tenant_settings back;
  REQUIRE(decode(encode(ts), &back));
  CHECK(back.rate_per_second == 500);
  CHECK(back.rate_burst == 1000);
  CHECK(back.subscriptions_max == 3);
  CHECK(back.records_max == 4);
  CHECK(back.connections_max == 5);

  protocol::value v;
  REQUIRE(document::parse(encode(ts), &v));
  auto* members = v.as_object();
  REQUIRE(members != nullptr);
  std::erase_if(*members, [](const auto& m) {
    return m.first == "rate_per_second" || m.first == "rate_burst" || m.first == "subscriptions_max" ||
           m.first == "records_max" || m.first == "connections_max";
  });
  tenant_settings older;
  REQUIRE(decode(document::serialize(*members), &older));
  CHECK(older.rate_per_second == 0);
  CHECK(older.rate_burst == 0);
  CHECK(older.subscriptions_max == 0);
  CHECK(older.records_max == 0);
  CHECK(older.connections_max == 0);

  // Out of its limit: not a settings document this node wrote.
  members->emplace_back("rate_burst", std::int64_t{-1});
  CHECK_FALSE(decode(document::serialize(*members), &older));
}
