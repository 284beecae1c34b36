// An order's document: statuses, step idempotency keys and the body encoding.
#include <catch2/catch.hpp>

#include <string>

#include "config/limits.hpp"
#include "orders/order.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid::orders;
namespace protocol = stockgrid::protocol;

namespace {

// Every field set to something other than its default.
order sample_order() {
  order o;
  o.tenant = "acme";
  o.id = "O1f";
  o.ref = "cart-77";
  o.idem = "k-1";
  o.fingerprint = 0xfedcba9876543210ull;  // above INT64_MAX: stored as its bits
  o.key_id = "key-3";
  o.policy = order_policy::partial;
  o.status = order_status::committing;
  o.lines = {{"A", "w1", 3, "H1-2a", true}, {"B", "w2", 1, "", false}};
  o.unfilled = {{"C", 4}};
  o.shortages = {{"C", "", 4, 0}, {"B", "w2", 2, 1}};
  o.ttl_ms = 60'000;
  o.created_ms = 1'700'000'000'000;
  o.expires_at_ms = 1'700'000'060'000;
  o.updated_ms = 1'700'000'000'500;
  o.attempt = 4'000'000'000u;
  return o;
}

}  // namespace

TEST_CASE("order statuses have wire names, and four are final", "[order]") {
  CHECK(wire_status(order_status::reserving) == "pending");
  CHECK(wire_status(order_status::held) == "held");
  CHECK(wire_status(order_status::committing) == "committing");
  CHECK(wire_status(order_status::committed) == "committed");
  CHECK(wire_status(order_status::releasing) == "releasing");
  CHECK(wire_status(order_status::released) == "released");
  CHECK(wire_status(order_status::expiring) == "expiring");
  CHECK(wire_status(order_status::expired) == "expired");
  CHECK(wire_status(order_status::failed) == "failed");
  CHECK(is_final(order_status::committed));
  CHECK(is_final(order_status::released));
  CHECK(is_final(order_status::expired));
  CHECK(is_final(order_status::failed));
  CHECK_FALSE(is_final(order_status::reserving));
  CHECK_FALSE(is_final(order_status::held));
  CHECK_FALSE(is_final(order_status::committing));
  CHECK_FALSE(is_final(order_status::releasing));
  CHECK_FALSE(is_final(order_status::expiring));
}

TEST_CASE("a step's idempotency key names the order, the step and the line", "[order]") {
  const auto o = sample_order();
  CHECK(step_idem(o, 'r', 0) == "sg:O1f/r0");
  CHECK(step_idem(o, 'c', 12) == "sg:O1f/c12");
  CHECK(step_idem(o, 'x', 99) == "sg:O1f/x99");
}

TEST_CASE("an order round-trips through encode and decode, every field", "[order]") {
  const auto o = sample_order();
  order back;
  REQUIRE(decode(encode(o), &back));
  CHECK(back == o);

  order empty;
  REQUIRE(decode(encode(order{}), &back));
  CHECK(back == empty);
}

TEST_CASE("decoding a truncated or foreign body fails without touching the order",
          "[order]") {
  const auto bytes = encode(sample_order());
  const order before = sample_order();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    order out = before;
    CHECK_FALSE(decode(std::string_view(bytes).substr(0, n), &out));
    CHECK(out == before);
  }
  order out;
  CHECK_FALSE(decode(bytes + "x", &out));  // trailing bytes
  CHECK_FALSE(decode("\xff\xff\xff garbage", &out));
  CHECK_FALSE(decode(std::string(64, '\0'), &out));
  // Well-formed msgpack that is not an order body.
  const auto as_body = [](protocol::value v) {
    return protocol::serialize(v, protocol::encoding::msgpack);
  };
  CHECK_FALSE(decode(as_body(protocol::array{1, 2}), &out));
  CHECK_FALSE(decode(as_body(protocol::object{{"v", 1}}), &out));
}

TEST_CASE("decoding refuses a body with a bad field", "[order]") {
  const auto body = [] {
    protocol::value v;
    std::string error;
    REQUIRE(protocol::parse(encode(sample_order()), protocol::encoding::msgpack, {}, &v, &error));
    return v;
  };
  const auto with = [&](std::string_view key, protocol::value replacement) {
    auto v = body();
    for (auto& [k, field] : *v.as_object())
      if (k == key) field = std::move(replacement);
    return protocol::serialize(v, protocol::encoding::msgpack);
  };
  order out;
  REQUIRE(decode(protocol::serialize(body(), protocol::encoding::msgpack), &out));
  CHECK_FALSE(decode(with("v", 2), &out));             // unknown version
  CHECK_FALSE(decode(with("status", 0), &out));        // 0 is reserved
  CHECK_FALSE(decode(with("status", 10), &out));       // no such status
  CHECK_FALSE(decode(with("policy", 3), &out));        // no such policy
  CHECK_FALSE(decode(with("attempt", -1), &out));      // not a uint32
  CHECK_FALSE(decode(with("tenant", 5), &out));        // wrong type
  CHECK_FALSE(decode(with("lines", "A"), &out));       // not a list
  CHECK_FALSE(decode(with("lines", protocol::array{protocol::object{{"sku", "A"}}}), &out));
  protocol::array too_many(stockgrid::limits::order_lines_max + 1,
                           protocol::object{{"sku", "A"}, {"qty", 1}});
  CHECK_FALSE(decode(with("unfilled", too_many), &out));
}
