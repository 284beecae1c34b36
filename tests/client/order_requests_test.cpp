// The client's requests for the ops decoded above protocol/ (order.*,
// transfer.*, stock.find, tenant.settings) and stock.policy, sent the way the
// client sends them (encode_request, then msgpack or JSON bytes) and read
// the way the node reads them (parse, decode_request, orders/wire.hpp): the
// two sides agree on every field. Also: which of them get idempotency keys.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "client/requests.hpp"
#include "client/response.hpp"
#include "orders/wire.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::client;

namespace {

// The request as the node's gateway decodes it, from either encoding.
std::vector<protocol::op_request> over_the_wire(protocol::op_request r) {
  r.id = 42;
  std::vector<protocol::op_request> out;
  for (auto enc : {protocol::encoding::msgpack, protocol::encoding::json}) {
    const std::string bytes = protocol::serialize(protocol::encode_request(r), enc);
    protocol::value frame;
    std::string error;
    REQUIRE(protocol::parse(bytes, enc, {}, &frame, &error));
    auto decoded = protocol::decode_request(frame);
    if (auto* f = std::get_if<protocol::decode_failure>(&decoded)) FAIL(f->message);
    out.push_back(std::get<protocol::op_request>(std::move(decoded)));
    CHECK(out.back().id == 42);
  }
  return out;
}

template <class Request, class Decode>
std::vector<Request> server_reads(protocol::op_request r, Decode decode) {
  std::vector<Request> out;
  for (auto& req : over_the_wire(std::move(r))) {
    auto result = decode(req);
    if (auto* f = std::get_if<protocol::decode_failure>(&result)) FAIL(f->message);
    out.push_back(std::get<Request>(std::move(result)));
  }
  return out;
}

std::string fixed_key() { return "generated-key"; }

}  // namespace

TEST_CASE("order requests round-trip") {
  const std::vector<order_line> lines = {{"mug", 2, ""}, {"cup", 1, "berlin"}};
  for (const auto& r : server_reads<orders::order_request>(
           build_order_reserve(lines, {.ttl_ms = 60'000, .partial = true, .ref = "cart-1",
                                       .idem = "o1", .dry_run = true}),
           orders::decode_order)) {
    CHECK(r.kind == orders::order_op::reserve);
    REQUIRE(r.lines.size() == 2);
    CHECK(r.lines[0].sku == "mug");
    CHECK(r.lines[0].qty == 2);
    CHECK(r.lines[0].warehouse.empty());
    CHECK(r.lines[1].warehouse == "berlin");
    CHECK(r.ttl_ms == 60'000);
    CHECK(r.policy == orders::order_policy::partial);
    CHECK(r.ref == "cart-1");
    CHECK(r.idem == "o1");
    CHECK(r.dry_run);
  }
  for (const auto& r : server_reads<orders::order_request>(build_order_reserve(lines), orders::decode_order)) {
    CHECK(r.policy == orders::order_policy::all_or_nothing);
    CHECK_FALSE(r.dry_run);
    CHECK(r.idem.empty());
  }
  for (const char* op : {"order.commit", "order.release", "order.get"}) {
    INFO(op);
    for (const auto& r : server_reads<orders::order_request>(build_order_op(op, "O1", "k"), orders::decode_order)) {
      CHECK(r.order == "O1");
      CHECK(r.idem == (std::string(op) == "order.get" ? "" : "k"));
    }
  }
  for (const auto& r : server_reads<orders::order_request>(build_order_extend("O1", 5000, "e1"), orders::decode_order)) {
    CHECK(r.kind == orders::order_op::extend);
    CHECK(r.ttl_ms == 5000);
    CHECK(r.idem == "e1");
  }
}

TEST_CASE("transfer, find and settings requests round-trip") {
  for (const auto& r : server_reads<orders::transfer_request>(
           build_transfer_create("mug", "berlin", "paris", 5, "t1"), orders::decode_transfer)) {
    CHECK(r.kind == orders::transfer_op::create);
    CHECK(r.sku == "mug");
    CHECK(r.from == "berlin");
    CHECK(r.to == "paris");
    CHECK(r.qty == 5);
    CHECK(r.idem == "t1");
  }
  for (const auto& r : server_reads<orders::transfer_request>(build_transfer_receive("T1", 2), orders::decode_transfer)) {
    CHECK(r.kind == orders::transfer_op::receive);
    CHECK(r.transfer == "T1");
    CHECK(r.qty == 2);
  }
  for (const auto& r : server_reads<orders::transfer_request>(build_transfer_receive("T1"), orders::decode_transfer))
    CHECK_FALSE(r.qty);
  for (const auto& r : server_reads<orders::transfer_request>(build_transfer_op("transfer.cancel", "T1", "c"),
                                                               orders::decode_transfer)) {
    CHECK(r.kind == orders::transfer_op::cancel);
    CHECK(r.idem == "c");
  }
  for (const auto& r : server_reads<orders::find_request>(build_find("mug"), orders::decode_find))
    CHECK(r.sku == "mug");
  for (const auto& r : server_reads<orders::settings_request>(build_settings(), orders::decode_settings)) {
    CHECK_FALSE(r.allocation);
    CHECK_FALSE(r.priority);
  }
  for (const auto& r : server_reads<orders::settings_request>(
           build_settings({.allocation = "priority", .priority = std::vector<std::string>{"w2", "w1"}}),
           orders::decode_settings)) {
    CHECK(r.allocation == orders::allocation_policy::priority);
    CHECK(r.priority == std::vector<std::string>{"w2", "w1"});
    CHECK_FALSE(r.ack);
  }
  for (const auto& r : server_reads<orders::settings_request>(build_settings({.ack = "leader"}),
                                                             orders::decode_settings))
    CHECK(r.ack == orders::ack_mode::leader);
}

TEST_CASE("stock.policy round-trips as a grid op") {
  for (const auto& r : over_the_wire(build_policy("berlin", "mug", {.safety_stock = 2, .allow_backorder = false,
                                                                    .low_stock_threshold = 5, .idem = "p"}))) {
    CHECK(r.grid.kind == op::policy);
    CHECK(r.grid.key.warehouse == "berlin");
    CHECK(r.grid.safety_stock == 2);
    CHECK(r.grid.allow_backorder == false);
    CHECK(r.grid.low_stock_threshold == 5);
    CHECK(r.grid.idem == "p");
  }
}

TEST_CASE("the client gives state-changing order and transfer ops an idempotency key") {
  for (const char* op : {"order.reserve", "order.commit", "order.release", "order.extend",
                         "transfer.create", "transfer.receive", "transfer.cancel", "stock.policy"})
    CHECK(is_mutation_op(op));
  for (const char* op : {"order.get", "transfer.get", "stock.find", "tenant.settings"})
    CHECK_FALSE(is_mutation_op(op));

  auto commit = build_order_op("order.commit", "O1");
  CHECK(idem_of(commit).empty());
  ensure_idem(commit, &fixed_key);
  CHECK(idem_of(commit) == "generated-key");
  CHECK(to_json(protocol::encode_request(commit)) ==
        R"({"op":"order.commit","order":"O1","idem":"generated-key"})");

  auto given = build_transfer_create("mug", "a", "b", 1, "mine");
  ensure_idem(given, &fixed_key);
  CHECK(idem_of(given) == "mine");

  auto get = build_order_op("order.get", "O1");
  ensure_idem(get, &fixed_key);
  CHECK(idem_of(get).empty());

  // A dry run holds nothing: no key, so it never occupies one.
  auto dry = build_order_reserve({{"mug", 1, ""}}, {.dry_run = true});
  ensure_idem(dry, &fixed_key);
  CHECK(idem_of(dry).empty());

  auto policy = build_policy("berlin", "mug");
  ensure_idem(policy, &fixed_key);
  CHECK(policy.grid.idem == "generated-key");
}
