// `stockctl watch` without a server: its options and how each event prints.
#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "client/watch.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using client::event_kind;
using client::subscription_event;

namespace {

stockctl::watch_options parsed(const std::vector<std::string>& words) {
  auto r = stockctl::parse_watch(words);
  INFO((std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : ""));
  REQUIRE(std::holds_alternative<stockctl::watch_options>(r));
  return std::get<stockctl::watch_options>(r);
}

std::string refused(const std::vector<std::string>& words) {
  auto r = stockctl::parse_watch(words);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}

subscription_event decoded(const std::string& text) {
  protocol::value v;
  std::string error;
  REQUIRE(protocol::parse(text, protocol::encoding::json, {}, &v, &error));
  subscription_event e;
  REQUIRE(client::decode_event(v, &e, &error));
  return e;
}

}  // namespace

TEST_CASE("watch options") {
  const auto o = parsed({"--warehouse", "berlin", "--sku-prefix=A-", "--alerts", "--count", "3", "--seconds", "5"});
  CHECK(o.filter.warehouse == "berlin");
  CHECK(o.filter.sku_prefix == "A-");
  CHECK(o.filter.sku.empty());
  CHECK(o.filter.alerts);
  CHECK(o.count == 3);
  CHECK(o.seconds_ms == 5000);
  CHECK(parsed({"--seconds", "500ms"}).seconds_ms == 500);
  CHECK(parsed({}).count == 0);

  CHECK(refused({"--count", "0"}).starts_with("--count"));
  CHECK(refused({"--seconds", "soon"}).starts_with("--seconds"));
  CHECK(refused({"--sku"}).find("--sku needs a value") != std::string::npos);
  CHECK(refused({"berlin"}).find("unknown argument \"berlin\"") != std::string::npos);
}

TEST_CASE("watch prints one line per change, per snapshot record, or the frame as JSON") {
  const std::string frame =
      R"({"event":"stock","sub":7,"partition":3,"seq":46,"at_ms":1764417600123,)"
      R"("record":{"warehouse":"berlin","sku":"mug","on_hand":40,"reserved":2,"available":38,"version":13},)"
      R"("change":{"kind":"reserve","delta":-2,"qty":2,"reason":"","version":13},"coalesced":true})";
  const auto stock = decoded(frame);
  CHECK(stockctl::format_event(stock, false) ==
        "12:00:00.123Z  berlin/mug  reserve 2  available 40 -> 38  (on_hand 40, reserved 2, v13)"
        "  [coalesced: intermediate changes folded]\n");
  CHECK(stockctl::format_event(stock, true) == frame + "\n");

  const auto alert = decoded(
      R"({"event":"alert","sub":7,"kind":"low_stock","partition":3,"seq":46,"at_ms":1764417600123,)"
      R"("record":{"warehouse":"berlin","sku":"mug","on_hand":4,"reserved":0,"available":4,"version":14},"threshold":5})");
  CHECK(stockctl::format_event(alert, false) == "12:00:00.123Z  berlin/mug  ALERT low_stock  available 4, threshold 5\n");

  const auto page = decoded(
      R"({"event":"snapshot","sub":7,"records":[{"warehouse":"b","sku":"x","on_hand":1,"reserved":0,"available":1,"version":1},)"
      R"({"warehouse":"b","sku":"y","on_hand":2,"reserved":1,"available":1,"version":5}]})");
  const std::string lines = stockctl::format_event(page, false);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 2);
  CHECK(stockctl::format_event(page, true).find("\"records\":[") != std::string::npos);

  subscription_event reset;  // made by the client: no frame
  reset.kind = event_kind::reset;
  reset.sub = 7;
  CHECK(stockctl::format_event(reset, true) == "{\"event\":\"reset\",\"sub\":7}\n");
}
