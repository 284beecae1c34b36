// stockctl's commands turned into requests: every command's wire form (as
// the protocol's own encoder writes it), options, durations and the usage
// errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "client/commands.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::stockctl;

namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < line.size()) {
    auto end = line.find(' ', start);
    if (end == std::string::npos) end = line.size();
    if (end > start) words.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// The JSON the command sends (without id).
std::string wire(const std::string& line) {
  auto built = build_request(split(line));
  if (auto* error = std::get_if<std::string>(&built)) FAIL(line << ": " << *error);
  auto request = std::get<protocol::op_request>(built);
  // What the server decodes must be what was meant: the encoding round-trips.
  protocol::value frame = protocol::encode_request(request);
  frame.as_object()->emplace_back("id", 1);
  auto decoded = protocol::decode_request(frame);
  if (auto* failure = std::get_if<protocol::decode_failure>(&decoded))
    FAIL(line << ": the server would refuse it: " << failure->message);
  return protocol::serialize(protocol::encode_request(request), protocol::encoding::json);
}

std::string refused(const std::string& line) {
  auto built = build_request(split(line));
  INFO(line);
  REQUIRE(std::holds_alternative<std::string>(built));
  return std::get<std::string>(built);
}

}  // namespace

TEST_CASE("durations and integers") {
  CHECK(parse_duration_ms("500ms") == 500);
  CHECK(parse_duration_ms("30s") == 30'000);
  CHECK(parse_duration_ms("5m") == 300'000);
  CHECK(parse_duration_ms("2h") == 7'200'000);
  CHECK(parse_duration_ms("1d") == 86'400'000);
  CHECK(parse_duration_ms("1500") == 1500);
  CHECK_FALSE(parse_duration_ms("-1s"));
  CHECK_FALSE(parse_duration_ms("s"));
  CHECK_FALSE(parse_duration_ms("3 s"));
  CHECK_FALSE(parse_duration_ms("1.5s"));
  CHECK_FALSE(parse_duration_ms("99999999999999999999s"));
  CHECK(parse_integer("+5") == 5);
  CHECK(parse_integer("-5") == -5);
  CHECK_FALSE(parse_integer("5x"));
  CHECK_FALSE(parse_integer(""));
}

TEST_CASE("read commands") {
  CHECK(wire("ping") == R"({"op":"ping"})");
  CHECK(wire("get berlin mug") == R"({"op":"stock.get","warehouse":"berlin","sku":"mug"})");
  CHECK(wire("holds berlin mug") == R"({"op":"stock.holds","warehouse":"berlin","sku":"mug"})");
  CHECK(wire("history berlin mug --limit 5 --before 12") ==
        R"({"op":"stock.history","warehouse":"berlin","sku":"mug","limit":5,"before_version":12})");
  CHECK(wire("list") == R"({"op":"stock.list"})");
  CHECK(wire("list berlin --prefix tshirt- --limit=2 --cursor c2") ==
        R"({"op":"stock.list","warehouse":"berlin","sku_prefix":"tshirt-","cursor":"c2","limit":2})");
}

TEST_CASE("stock mutations") {
  CHECK(wire("adjust berlin mug -5 --reason shrinkage --idem k1") ==
        R"({"op":"stock.adjust","warehouse":"berlin","sku":"mug","delta":-5,"reason":"shrinkage","idem":"k1"})");
  CHECK(wire("set berlin mug 40 --expected-version 12") ==
        R"({"op":"stock.set","warehouse":"berlin","sku":"mug","on_hand":40,"expected_version":12})");
  CHECK(wire("reserve berlin mug 3 --ttl 30s --ref cart-1") ==
        R"({"op":"stock.reserve","warehouse":"berlin","sku":"mug","qty":3,"ttl_ms":30000,"ref":"cart-1"})");
  CHECK(wire("commit H1-2") == R"({"op":"stock.commit","hold":"H1-2"})");
  CHECK(wire("commit H1-2 1 --idem k") == R"({"op":"stock.commit","hold":"H1-2","qty":1,"idem":"k"})");
  CHECK(wire("release H1-2 2") == R"({"op":"stock.release","hold":"H1-2","qty":2})");
  CHECK(wire("extend H1-2 5m") == R"({"op":"stock.extend","hold":"H1-2","ttl_ms":300000})");
  CHECK(wire("sell berlin mug 1 --reason walk-in") ==
        R"({"op":"stock.sell","warehouse":"berlin","sku":"mug","qty":1,"reason":"walk-in"})");
  CHECK(wire("bulk adjust:berlin:mug:+10 set:paris:cup:7:3 --idem sync-42") ==
        R"({"op":"stock.bulk","items":[{"op":"adjust","warehouse":"berlin","sku":"mug","delta":10},)"
        R"({"op":"set","warehouse":"paris","sku":"cup","on_hand":7,"expected_version":3}],"idem":"sync-42"})");
}

TEST_CASE("admin commands") {
  CHECK(wire("tenant create acme") == R"({"op":"tenant.create","tenant":"acme"})");
  CHECK(wire("tenant list") == R"({"op":"tenant.list"})");
  CHECK(wire("key create writer --warehouses store-7,store-8 --expires-at 1764417600000") ==
        R"({"op":"key.create","role":"writer","warehouses":["store-7","store-8"],"expires_at_ms":1764417600000})");
  CHECK(wire("key list") == R"({"op":"key.list"})");
  CHECK(wire("key revoke k_32") == R"({"op":"key.revoke","key_id":"k_32"})");
  CHECK_THAT(wire("key create reader --expires-in 1h"), Catch::Contains(R"("expires_at_ms":)"));
}

TEST_CASE("raw sends any request written as JSON") {
  auto built = build_request({"raw", R"({"op":"stock.get","id":99,"warehouse":"w","sku":"s"})"});
  REQUIRE(std::holds_alternative<protocol::op_request>(built));
  const auto& r = std::get<protocol::op_request>(built);
  CHECK(r.op == "stock.get");
  CHECK_FALSE(r.id);
  CHECK(r.grid.key.sku == "s");
  CHECK_THAT(refused(R"(raw {"op":"stock.get"})"), Catch::Contains("warehouse: required"));
  CHECK_THAT(refused("raw [1]"), Catch::Contains("must be an object"));
}

TEST_CASE("usage errors say what is wrong and how the command goes") {
  CHECK_THAT(refused("teleport berlin"), Catch::Contains("unknown command \"teleport\""));
  CHECK_THAT(refused("get berlin"), Catch::StartsWith("usage: get WH SKU"));
  CHECK_THAT(refused("get berlin mug extra"), Catch::StartsWith("usage: get WH SKU"));
  CHECK_THAT(refused("reserve berlin mug three"), Catch::Contains("QTY: not an integer"));
  CHECK_THAT(refused("reserve berlin mug 1 --ttl soon"), Catch::Contains("--ttl: not a duration"));
  CHECK_THAT(refused("reserve berlin mug 1 --colour red"), Catch::Contains("unknown option --colour"));
  CHECK_THAT(refused("reserve berlin mug 1 --ttl"), Catch::Contains("--ttl: needs a value"));
  CHECK_THAT(refused("key create system"), Catch::Contains("ROLE: must be reader, writer or admin"));
  CHECK_THAT(refused("key create reader --expires-in 1h --expires-at 5"), Catch::Contains("not both"));
  CHECK_THAT(refused("bulk adjust:berlin:mug"), Catch::Contains("adjust:WH:SKU:DELTA"));
  CHECK_THAT(refused("tenant"), Catch::Contains("tenant create TENANT"));
  CHECK_THAT(command_help(), Catch::Contains("reserve WH SKU QTY [--ttl DURATION]"));
}
