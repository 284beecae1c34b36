// Subscriptions on the client side without a socket: decoding every event of
// the wire contract, the subscribe request's members, and the position the
// client keeps to resume a stream (client/subscription.hpp).
#include <catch2/catch.hpp>

#include <string>

#include "client/subscription.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using client::event_kind;
using client::position_keeper;
using client::stream_position;
using client::subscription_event;
using protocol::value;

namespace {

value json(const std::string& text) {
  value v;
  std::string error;
  INFO(text);
  REQUIRE(protocol::parse(text, protocol::encoding::json, {}, &v, &error));
  return v;
}

subscription_event decoded(const std::string& text) {
  subscription_event e;
  std::string error;
  INFO(text << " -> " << error);
  REQUIRE(client::decode_event(json(text), &e, &error));
  return e;
}

const std::string record_json =
    R"({"warehouse":"berlin-1","sku":"A-100","on_hand":40,"reserved":2,"available":38,"version":12,)"
    R"("backordered":0,"incoming":3,"safety_stock":0,"allow_backorder":false,"low_stock_threshold":5})";

std::string stock_json(int partition, int seq, int version, const std::string& extra = "") {
  return R"({"event":"stock","sub":7,"partition":)" + std::to_string(partition) + R"(,"seq":)" +
         std::to_string(seq) + R"(,"at_ms":1764417600000,"record":{"warehouse":"berlin-1","sku":"A-100",)"
         R"("on_hand":40,"reserved":2,"available":38,"version":)" + std::to_string(version) +
         R"(},"change":{"kind":"reserve","delta":-2,"qty":2,"reason":"","version":)" +
         std::to_string(version) + "}" + extra + "}";
}

std::string alert_json(int partition, int seq) {
  return R"({"event":"alert","sub":7,"kind":"low_stock","partition":)" + std::to_string(partition) +
         R"(,"seq":)" + std::to_string(seq) + R"(,"at_ms":1764417600001,"record":)" + record_json +
         R"(,"threshold":5})";
}

subscription_event snapshot_end(const std::string& position) {
  return decoded(R"({"event":"snapshot_end","sub":7,"position":)" + position + "}");
}

}  // namespace

TEST_CASE("event frames are told from answers") {
  CHECK(client::is_event_frame(json(R"({"event":"reset","sub":7})")));
  CHECK(client::is_event_frame(json(R"({"id":null,"event":"reset","sub":7})")));
  CHECK_FALSE(client::is_event_frame(json(R"({"id":3,"ok":true,"sub":7})")));
  CHECK_FALSE(client::is_event_frame(json(R"({"ok":true})")));
  CHECK_FALSE(client::is_event_frame(json(R"([{"event":"reset","sub":7}])")));
  CHECK(client::event_sub(json(R"({"event":"reset","sub":7})")) == 7);
  CHECK_FALSE(client::event_sub(json(R"({"event":"reset"})")).has_value());
}

TEST_CASE("every event of the contract decodes") {
  SECTION("snapshot page") {
    const auto e = decoded(R"({"event":"snapshot","sub":7,"records":[)" + record_json + "," + record_json + "]}");
    CHECK(e.kind == event_kind::snapshot);
    CHECK(e.sub == 7);
    REQUIRE(e.records.size() == 2);
    CHECK(e.records[0].warehouse == "berlin-1");
    CHECK(e.records[0].sku == "A-100");
    CHECK(e.records[0].available == 38);
    CHECK(e.records[0].incoming == 3);
    CHECK(e.records[0].low_stock_threshold == 5);
  }
  SECTION("snapshot_end") {
    const auto e = snapshot_end("[[0,123],[1,45],[3,0]]");
    CHECK(e.kind == event_kind::snapshot_end);
    CHECK(e.position == stream_position{{0, 123}, {1, 45}, {3, 0}});
  }
  SECTION("stock, coalesced or not; unknown members are ignored") {
    auto e = decoded(stock_json(3, 46, 13, R"(,"new_member":[1,2])"));
    CHECK(e.kind == event_kind::stock);
    CHECK(e.partition == 3);
    CHECK(e.seq == 46);
    CHECK(e.at_ms == 1764417600000);
    CHECK(e.record.version == 13);
    CHECK(e.change.kind == "reserve");
    CHECK(e.change.delta == -2);
    CHECK(e.change.qty == 2);
    CHECK(e.change.version == 13);
    CHECK_FALSE(e.coalesced);
    CHECK(decoded(stock_json(3, 47, 14, R"(,"coalesced":true)")).coalesced);
  }
  SECTION("alert") {
    const auto e = decoded(alert_json(3, 46));
    CHECK(e.kind == event_kind::alert);
    CHECK(e.alert == "low_stock");
    CHECK(e.threshold == 5);
    CHECK(e.seq == 46);
    CHECK(e.record.sku == "A-100");
  }
  SECTION("reset") { CHECK(decoded(R"({"event":"reset","sub":7})").kind == event_kind::reset); }
}

TEST_CASE("a malformed event is refused and says which member") {
  subscription_event e;
  std::string error;
  CHECK_FALSE(client::decode_event(json(R"({"event":"surprise","sub":7})"), &e, &error));
  CHECK(error.find("surprise") != std::string::npos);
  CHECK_FALSE(client::decode_event(json(R"({"event":"stock","sub":7,"partition":1,"seq":2})"), &e, &error));
  CHECK(error == "record: required");
  CHECK_FALSE(client::decode_event(json(R"({"event":"snapshot_end","sub":7,"position":[[1]]})"), &e, &error));
  CHECK(error.starts_with("position:"));
  CHECK_FALSE(client::decode_event(json(R"({"event":"reset"})"), &e, &error));
  CHECK(error == "sub: required");
}

TEST_CASE("the subscribe request carries the filter and, when resuming, from") {
  using protocol::object;
  CHECK(value(client::subscribe_params({}, std::nullopt)) == value(object{}));
  const object all = client::subscribe_params({"berlin", "A-1", "A-", true}, stream_position{{0, 12}, {1, 0}});
  CHECK(protocol::serialize(value(all), protocol::encoding::json) ==
        R"({"warehouse":"berlin","sku":"A-1","sku_prefix":"A-","alerts":true,"from":[[0,12],[1,0]]})");
}

TEST_CASE("the position is snapshot_end's, then the highest seq per partition") {
  position_keeper keeper;
  CHECK_FALSE(keeper.resume_from().has_value());
  CHECK(keeper.apply(decoded(R"({"event":"snapshot","sub":7,"records":[]})")));
  CHECK_FALSE(keeper.has_position());
  CHECK(keeper.apply(snapshot_end("[[0,10],[1,5]]")));
  CHECK(keeper.resume_from() == stream_position{{0, 10}, {1, 5}});

  CHECK(keeper.apply(decoded(stock_json(0, 11, 2))));
  CHECK(keeper.apply(decoded(alert_json(0, 11))));  // the alert of the same change
  CHECK(keeper.apply(decoded(stock_json(1, 9, 3))));
  // A coalesced event may carry a lower seq of a partition than seen: the
  // position never goes back.
  CHECK(keeper.apply(decoded(stock_json(1, 7, 4, R"(,"coalesced":true)"))));
  CHECK(keeper.apply(decoded(stock_json(2, 1, 1))));  // a partition snapshot_end did not name
  CHECK(keeper.position() == stream_position{{0, 11}, {1, 9}, {2, 1}});

  CHECK(keeper.apply(decoded(R"({"event":"reset","sub":7})")));
  CHECK_FALSE(keeper.has_position());
  CHECK_FALSE(keeper.resume_from().has_value());
  CHECK(keeper.apply(snapshot_end("[[0,20],[1,20]]")));
  CHECK(keeper.resume_from() == stream_position{{0, 20}, {1, 20}});
}

TEST_CASE("after a resume, events delivered before the reconnect are not delivered again") {
  position_keeper keeper;
  keeper.apply(snapshot_end("[[0,10],[1,5]]"));
  CHECK(keeper.apply(decoded(stock_json(0, 11, 2))));
  CHECK(keeper.apply(decoded(alert_json(0, 11))));
  CHECK(keeper.apply(decoded(stock_json(1, 6, 3))));

  keeper.resubscribing();  // from = {0: 11, 1: 6}
  REQUIRE(keeper.resume_from() == stream_position{{0, 11}, {1, 6}});
  CHECK_FALSE(keeper.apply(decoded(stock_json(0, 10, 1))));  // below the resume point
  CHECK_FALSE(keeper.apply(decoded(stock_json(0, 11, 2))));  // the very same event
  CHECK_FALSE(keeper.apply(decoded(alert_json(0, 11))));
  CHECK(keeper.apply(decoded(stock_json(0, 12, 3))));        // new
  CHECK(keeper.apply(decoded(stock_json(1, 7, 4))));
  CHECK(keeper.duplicates_dropped() == 3);
  // Past the resume point the guard is gone: order is the server's again.
  CHECK(keeper.apply(decoded(stock_json(0, 12, 3, R"(,"coalesced":true)"))));
  CHECK(keeper.position() == stream_position{{0, 12}, {1, 7}});
}

TEST_CASE("an event the stream had not delivered at the resume seq passes") {
  position_keeper keeper;
  keeper.apply(snapshot_end("[[0,10]]"));
  CHECK(keeper.apply(decoded(stock_json(0, 11, 2))));
  keeper.resubscribing();
  // The alert of change 11 was still on its way when the connection dropped.
  CHECK(keeper.apply(decoded(alert_json(0, 11))));
  CHECK_FALSE(keeper.apply(decoded(stock_json(0, 11, 2))));
}

TEST_CASE("a stream cut off before snapshot_end starts over without a position") {
  position_keeper keeper;
  keeper.apply(decoded(R"({"event":"snapshot","sub":7,"records":[)" + record_json + "]}"));
  keeper.resubscribing();
  CHECK_FALSE(keeper.resume_from().has_value());
  CHECK(keeper.apply(snapshot_end("[[0,3]]")));
  CHECK(keeper.apply(decoded(stock_json(0, 3, 1))));  // no guard on a fresh stream
  CHECK(keeper.resume_from() == stream_position{{0, 3}});
}
