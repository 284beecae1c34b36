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
  // Ops decoded by the node's orders/wire.hpp pass as written.
  CHECK(wire(R"(raw {"op":"order.get","id":5,"order":"O1"})") == R"({"op":"order.get","order":"O1"})");
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

TEST_CASE("stock.policy and stock.find commands") {
  CHECK(wire("policy berlin mug --safety-stock 2 --allow-backorder true --low-stock-threshold 5") ==
        R"({"op":"stock.policy","warehouse":"berlin","sku":"mug","safety_stock":2,"allow_backorder":true,"low_stock_threshold":5})");
  CHECK(wire("policy berlin mug --allow-backorder false --idem p1") ==
        R"({"op":"stock.policy","warehouse":"berlin","sku":"mug","allow_backorder":false,"idem":"p1"})");
  CHECK_THAT(refused("policy berlin mug"), Catch::Contains("give --safety-stock, --allow-backorder or --low-stock-threshold"));
  CHECK_THAT(refused("policy berlin mug --allow-backorder yes"),
             Catch::Contains("--allow-backorder: must be true or false"));
  CHECK_THAT(refused("policy berlin mug --safety-stock many"), Catch::Contains("--safety-stock: not an integer"));
  CHECK_THAT(refused("policy berlin"), Catch::StartsWith("usage: policy WH SKU"));
  CHECK(wire("find mug") == R"({"op":"stock.find","sku":"mug"})");
  CHECK_THAT(refused("find"), Catch::StartsWith("usage: find SKU"));
}

TEST_CASE("order commands") {
  CHECK(wire("order reserve mug:2 cup:1@berlin") ==
        R"({"op":"order.reserve","lines":[{"sku":"mug","qty":2},{"sku":"cup","qty":1,"warehouse":"berlin"}]})");
  CHECK(wire("order reserve mug:2 --ttl-ms 60000 --partial --ref cart-1 --idem o1 --dry-run") ==
        R"({"op":"order.reserve","lines":[{"sku":"mug","qty":2}],"ttl_ms":60000,"policy":"partial","ref":"cart-1","idem":"o1","dry_run":true})");
  // Flags take no value: the next word is still a line.
  CHECK(wire("order reserve --dry-run mug:1 cup:3") ==
        R"({"op":"order.reserve","lines":[{"sku":"mug","qty":1},{"sku":"cup","qty":3}],"dry_run":true})");
  // A SKU may hold a colon: the last one before the quantity counts.
  CHECK(wire("order reserve a:b:4") == R"({"op":"order.reserve","lines":[{"sku":"a:b","qty":4}]})");
  CHECK(wire("order commit O1 --idem c1") == R"({"op":"order.commit","order":"O1","idem":"c1"})");
  CHECK(wire("order release O1") == R"({"op":"order.release","order":"O1"})");
  CHECK(wire("order get O1") == R"({"op":"order.get","order":"O1"})");
  CHECK(wire("order extend O1 --ttl-ms 30000") == R"({"op":"order.extend","order":"O1","ttl_ms":30000})");

  CHECK_THAT(refused("order reserve"), Catch::StartsWith("usage: order reserve SKU:QTY[@WH]..."));
  CHECK_THAT(refused("order reserve mug"), Catch::Contains("\"mug\": expected SKU:QTY[@WAREHOUSE]"));
  CHECK_THAT(refused("order reserve :2"), Catch::Contains("expected SKU:QTY[@WAREHOUSE]"));
  CHECK_THAT(refused("order reserve mug:2@"), Catch::Contains("expected SKU:QTY[@WAREHOUSE]"));
  CHECK_THAT(refused("order reserve mug:two"), Catch::Contains("QTY: not an integer"));
  CHECK_THAT(refused("order reserve mug:1 --ttl-ms 1m"), Catch::Contains("--ttl-ms: not an integer"));
  CHECK_THAT(refused("order extend O1"), Catch::Contains("--ttl-ms: required"));
  CHECK_THAT(refused("order get O1 --idem k"), Catch::Contains("unknown option --idem"));
  CHECK_THAT(refused("order get"), Catch::StartsWith("usage: order get ORDER"));
  CHECK_THAT(refused("order"), Catch::StartsWith("usage: order reserve"));
  CHECK_THAT(refused("order"), Catch::Contains("| order get ORDER"));
  CHECK_THAT(refused("order ship O1"), Catch::Contains("order commit ORDER"));
}

TEST_CASE("transfer commands") {
  CHECK(wire("transfer create mug berlin paris 5 --idem t1") ==
        R"({"op":"transfer.create","sku":"mug","from":"berlin","to":"paris","qty":5,"idem":"t1"})");
  CHECK(wire("transfer receive T1") == R"({"op":"transfer.receive","transfer":"T1"})");
  CHECK(wire("transfer receive T1 --qty 2 --idem r1") ==
        R"({"op":"transfer.receive","transfer":"T1","qty":2,"idem":"r1"})");
  CHECK(wire("transfer cancel T1") == R"({"op":"transfer.cancel","transfer":"T1"})");
  CHECK(wire("transfer get T1") == R"({"op":"transfer.get","transfer":"T1"})");
  CHECK_THAT(refused("transfer create mug berlin paris"), Catch::StartsWith("usage: transfer create SKU FROM TO QTY"));
  CHECK_THAT(refused("transfer create mug berlin paris five"), Catch::Contains("QTY: not an integer"));
  CHECK_THAT(refused("transfer receive T1 --qty all"), Catch::Contains("--qty: not an integer"));
  CHECK_THAT(refused("transfer"), Catch::Contains("transfer cancel TRANSFER"));
}

TEST_CASE("settings command") {
  CHECK(wire("settings") == R"({"op":"tenant.settings"})");
  CHECK(wire("settings --allocation priority --priority berlin,paris") ==
        R"({"op":"tenant.settings","set":{"allocation":"priority","priority":["berlin","paris"]}})");
  CHECK(wire("settings --allocation fewest_splits") ==
        R"({"op":"tenant.settings","set":{"allocation":"fewest_splits"}})");
  CHECK_THAT(refused("settings extra"), Catch::StartsWith("usage: settings"));
  CHECK_THAT(command_help(), Catch::Contains("order reserve SKU:QTY[@WH]..."));
  CHECK_THAT(command_help(), Catch::Contains("settings [--allocation POLICY] [--priority W1,W2]"));
}
