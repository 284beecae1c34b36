// The call an order or transfer op travels in to its tenant's home member,
// and the answer back (app/peer_call.hpp): both round-trip, and bytes that
// are not what encode writes are refused with a reason.
#include <catch2/catch.hpp>

#include "app/peer_call.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using protocol::array;
using protocol::object;
using protocol::value;

namespace {

value frame() {
  return object{{"op", "order.reserve"},
                {"id", 7},
                {"lines", array{object{{"sku", "a"}, {"qty", 3}, {"warehouse", "north"}}}},
                {"idem", "cart-1"}};
}

std::string refusal(const std::string& bytes) {
  app::peer_call out;
  out.who.tenant = "untouched";
  std::string error;
  CHECK_FALSE(app::decode_call(bytes, &out, &error));
  CHECK(out.who.tenant == "untouched");
  return error;
}

std::string msgpack(const value& v) { return protocol::serialize(v, protocol::encoding::msgpack); }

}  // namespace

TEST_CASE("a call carries the caller and the frame as received", "[app][peer_call]") {
  gateway::principal who;
  who.tenant = "shop";
  who.key_id = "k1";
  who.role = protocol::role::writer;
  who.warehouses = {"north", "south"};
  app::peer_call out;
  std::string error;
  REQUIRE(app::decode_call(app::encode_call(who, frame()), &out, &error));
  CHECK(out.who.tenant == "shop");
  CHECK(out.who.key_id == "k1");
  CHECK(out.who.role == protocol::role::writer);
  CHECK(out.who.warehouses == std::vector<std::string>{"north", "south"});
  CHECK(out.frame == frame());

  // A key for every warehouse sends an empty list.
  who.warehouses.clear();
  REQUIRE(app::decode_call(app::encode_call(who, frame()), &out, &error));
  CHECK(out.who.warehouses.empty());
}

TEST_CASE("a call that is not what encode_call writes is refused whole", "[app][peer_call]") {
  CHECK_FALSE(refusal("\xc1").empty());  // not msgpack
  CHECK(refusal(msgpack(array{1, "shop", "k1", 2, array{}})).find("fields") != std::string::npos);
  CHECK(refusal(msgpack(array{2, "shop", "k1", 2, array{}, frame()})).find("format version") != std::string::npos);
  CHECK(refusal(msgpack(array{1, "shop", "k1", 9, array{}, frame()})).find("known value") != std::string::npos);
  CHECK(refusal(msgpack(array{1, "shop", "k1", 2, array{1}, frame()})).find("strings") != std::string::npos);
  CHECK(refusal(msgpack(array{1, "shop", "k1", 2, array{}, "frame"})).find("request object") != std::string::npos);
  CHECK(refusal(msgpack(array{1, 5, "k1", 2, array{}, frame()})).find("a string") != std::string::npos);
}

TEST_CASE("an answer round-trips; one that is not a response object is refused", "[app][peer_call]") {
  const value response = object{{"id", 7}, {"ok", true}, {"result", object{{"order", "O1"}, {"status", "held"}}}};
  value out;
  std::string error;
  REQUIRE(app::decode_answer(app::encode_answer(response), &out, &error));
  CHECK(out == response);
  CHECK_FALSE(app::decode_answer(msgpack(array{1, 2}), &out, &error));
  CHECK(error.find("response object") != std::string::npos);
  CHECK_FALSE(app::decode_answer("\xc1", &out, &error));
}
