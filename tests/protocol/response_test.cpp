// Response shapes, written out as the JSON a client sees: the envelope, the
// record object, each grid op's result, each error code's details, replays,
// bulk results, and the non-grid results.
#include <catch2/catch.hpp>

#include "protocol_test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::protocol;
using namespace stockgrid::protocol::testing;

namespace {

record_view a_record() {
  record_view r;
  r.key = {"acme", "berlin-1", "sku-1"};
  r.on_hand = 10;
  r.reserved = 3;
  r.version = 17;
  return r;
}

const std::string record_json =
    R"({"warehouse":"berlin-1","sku":"sku-1","on_hand":10,"reserved":3,"available":7,"version":17,)"
    R"("backordered":0,"incoming":0,"safety_stock":0,"allow_backorder":false,"low_stock_threshold":0})";

reply ok_with_record() {
  reply r;
  r.code = outcome::ok;
  r.has_record = true;
  r.record = a_record();
  return r;
}

}  // namespace

TEST_CASE("responses: the envelope", "[response]") {
  CHECK(to_json(ok_response(1, {})) == R"({"id":1,"ok":true})");
  CHECK(to_json(ok_response(2, object{{"x", 1}})) == R"({"id":2,"ok":true,"x":1})");
  CHECK(to_json(ok_response(std::nullopt, {})) == R"({"id":null,"ok":true})");
  CHECK(to_json(error_response(3, outcome::forbidden, "role reader may not run stock.reserve")) ==
        R"({"id":3,"ok":false,"error":{"code":"FORBIDDEN","message":"role reader may not run stock.reserve"}})");
  CHECK(to_json(error_response(std::nullopt, outcome::bad_request, "json: unexpected end of input at offset 0")) ==
        R"({"id":null,"ok":false,"error":{"code":"BAD_REQUEST","message":"json: unexpected end of input at offset 0"}})");
  CHECK(to_json(error_response(4, outcome::overloaded, "", object{{"retry_after_ms", 50}})) ==
        R"({"id":4,"ok":false,"error":{"code":"OVERLOADED","message":"overloaded","retry_after_ms":50}})");
}

TEST_CASE("responses: the record object", "[response]") {
  CHECK(to_json(record_value(a_record())) == record_json);
}

TEST_CASE("responses: record results", "[response]") {
  for (const char* op_name :
       {"stock.get", "stock.adjust", "stock.set", "stock.commit", "stock.release", "stock.sell"}) {
    INFO(op_name);
    CHECK(to_json(grid_response(5, op_name, ok_with_record())) ==
          R"({"id":5,"ok":true,"record":)" + record_json + "}");
  }
}

TEST_CASE("responses: reserve and extend", "[response]") {
  reply reserve = ok_with_record();
  reserve.hold = "H3-1f";
  reserve.expires_at_ms = 1'764'000'000'000;
  CHECK(to_json(grid_response(6, "stock.reserve", reserve)) ==
        R"({"id":6,"ok":true,"hold":"H3-1f","expires_at_ms":1764000000000,"record":)" +
            record_json + "}");

  reply extend;
  extend.code = outcome::ok;
  extend.hold = "H3-1f";
  extend.expires_at_ms = 1'764'000'060'000;
  CHECK(to_json(grid_response(7, "stock.extend", extend)) ==
        R"({"id":7,"ok":true,"hold":"H3-1f","expires_at_ms":1764000060000})");
}

TEST_CASE("responses: holds and history", "[response]") {
  reply holds;
  holds.code = outcome::ok;
  holds.holds = {{"H1-a", 2, 1000, "cart-1"}, {"H1-b", 1, 2000, ""}};
  CHECK(to_json(grid_response(8, "stock.holds", holds)) ==
        R"({"id":8,"ok":true,"holds":[{"hold":"H1-a","qty":2,"expires_at_ms":1000,"ref":"cart-1"},)"
        R"({"hold":"H1-b","qty":1,"expires_at_ms":2000,"ref":""}]})");

  reply empty;
  empty.code = outcome::ok;
  CHECK(to_json(grid_response(9, "stock.holds", empty)) == R"({"id":9,"ok":true,"holds":[]})");
  CHECK(to_json(grid_response(9, "stock.history", empty)) == R"({"id":9,"ok":true,"events":[]})");

  reply history;
  history.code = outcome::ok;
  history_event reserve;
  reserve.seq = 31;
  reserve.c.kind = change_kind::reserve;
  reserve.c.version = 5;
  reserve.c.qty = 2;
  reserve.c.on_hand_before = reserve.c.on_hand_after = 10;
  reserve.c.reserved_before = 0;
  reserve.c.reserved_after = 2;
  reserve.c.expires_at_ms = 9000;
  reserve.c.ref = "cart-1";
  reserve.hold = "H1-1f";
  reserve.idem = "i-1";
  reserve.key_id = "k-1";
  reserve.at_ms = 8000;
  history_event adjust;
  adjust.seq = 12;
  adjust.c.kind = change_kind::adjust;
  adjust.c.version = 4;
  adjust.c.qty = 10;
  adjust.c.on_hand_after = 10;
  adjust.c.reason = "receiving";
  adjust.at_ms = 7000;
  history.events = {reserve, adjust};
  CHECK(to_json(grid_response(10, "stock.history", history)) ==
        R"({"id":10,"ok":true,"events":[)"
        R"({"seq":31,"version":5,"kind":"reserve","qty":2,"on_hand_before":10,"on_hand_after":10,)"
        R"("reserved_before":0,"reserved_after":2,"hold":"H1-1f","expires_at_ms":9000,"ref":"cart-1",)"
        R"("idem":"i-1","key_id":"k-1","at_ms":8000},)"
        R"({"seq":12,"version":4,"kind":"adjust","qty":10,"on_hand_before":0,"on_hand_after":10,)"
        R"("reserved_before":0,"reserved_after":0,"reason":"receiving","at_ms":7000}]})");
}

TEST_CASE("responses: an idempotent replay says so", "[response]") {
  reply r = ok_with_record();
  r.replayed = true;
  CHECK(to_json(grid_response(11, "stock.sell", r)) ==
        R"({"id":11,"ok":true,"record":)" + record_json + R"(,"replayed":true})");

  reply refusal = reply::error(outcome::insufficient_stock, "only 3 available");
  refusal.available = 3;
  refusal.replayed = true;
  CHECK(to_json(grid_response(12, "stock.reserve", refusal)) ==
        R"({"id":12,"ok":false,"error":{"code":"INSUFFICIENT_STOCK","message":"only 3 available","available":3},"replayed":true})");
}

TEST_CASE("responses: each error code carries its details", "[response]") {
  auto error_json = [](reply r) { return to_json(grid_response(13, "stock.reserve", r)); };

  reply insufficient = reply::error(outcome::insufficient_stock, "only 3 available");
  insufficient.available = 3;
  CHECK(error_json(insufficient) ==
        R"({"id":13,"ok":false,"error":{"code":"INSUFFICIENT_STOCK","message":"only 3 available","available":3}})");

  reply conflict = reply::error(outcome::version_conflict, "version is 17, not 16");
  conflict.has_record = true;
  conflict.record = a_record();
  CHECK(error_json(conflict) ==
        R"({"id":13,"ok":false,"error":{"code":"VERSION_CONFLICT","message":"version is 17, not 16","record":)" +
            record_json + "}}");

  reply limit = reply::error(outcome::limit_exceeded, "too many holds");
  limit.limit = 100000;
  CHECK(error_json(limit) ==
        R"({"id":13,"ok":false,"error":{"code":"LIMIT_EXCEEDED","message":"too many holds","limit":100000}})");

  for (outcome code : {outcome::rate_limited, outcome::overloaded, outcome::unavailable}) {
    reply busy = reply::error(code, "busy");
    busy.retry_after_ms = 250;
    CHECK(error_json(busy) == R"({"id":13,"ok":false,"error":{"code":")" +
                                  std::string(to_code(code)) +
                                  R"(","message":"busy","retry_after_ms":250}})");
  }

  // The rest carry code and message only.
  for (outcome code : {outcome::bad_request, outcome::unauthenticated, outcome::forbidden,
                       outcome::unknown_op, outcome::not_found, outcome::hold_not_found,
                       outcome::idempotency_mismatch, outcome::timeout, outcome::internal}) {
    reply plain = reply::error(code, "m");
    plain.available = 99;  // ignored: not this code's detail
    plain.retry_after_ms = 99;
    CHECK(error_json(plain) == R"({"id":13,"ok":false,"error":{"code":")" +
                                   std::string(to_code(code)) + R"(","message":"m"}})");
  }
}

TEST_CASE("responses: an error without a message gets a default one", "[response]") {
  const value v = grid_response(14, "stock.get", reply::error(outcome::not_found, ""));
  const value* message = v.find("error")->find("message");
  REQUIRE(message != nullptr);
  CHECK(*message == value("no such record"));
}

TEST_CASE("responses: stock.bulk results in item order", "[response][bulk]") {
  reply first = ok_with_record();
  reply second = reply::error(outcome::version_conflict, "stale");
  second.has_record = true;
  second.record = a_record();
  reply third = ok_with_record();
  third.replayed = true;
  CHECK(to_json(bulk_response(15, {first, second, third})) ==
        R"({"id":15,"ok":true,"results":[{"ok":true,"record":)" + record_json +
            R"(},{"ok":false,"error":{"code":"VERSION_CONFLICT","message":"stale","record":)" +
            record_json + R"(}},{"ok":true,"record":)" + record_json + R"(,"replayed":true}]})");
  CHECK(to_json(bulk_response(16, {})) == R"({"id":16,"ok":true,"results":[]})");
}

TEST_CASE("responses: auth, list, keys and tenants", "[response]") {
  CHECK(to_json(ok_response(1, auth_result("acme", role::writer, "0.1.0", wire_limits{}))) ==
        R"({"id":1,"ok":true,"tenant":"acme","role":"writer","server_version":"0.1.0",)"
        R"("protocol_version":"1","limits":{"frame_bytes_max":65536,"in_flight_max":4096,)"
        R"("ttl_ms_max":86400000,"ttl_ms_default":600000,"bulk_items_max":1000,"id_bytes_max":128,)"
        R"("hold_id_bytes_max":64,"reason_bytes_max":256,"string_bytes_max":4096,"depth_max":8}})");
  const value system = ok_response(1, auth_result("", role::system, "0.1.0", wire_limits{}));
  CHECK(system.find("tenant")->is_null());

  CHECK(to_json(ok_response(2, list_result({a_record()}, "c-2"))) ==
        R"({"id":2,"ok":true,"records":[)" + record_json + R"(],"cursor":"c-2"})");
  CHECK(to_json(ok_response(3, list_result({}, ""))) == R"({"id":3,"ok":true,"records":[]})");

  key_info limited{"k-1", role::reader, {"store-7"}, 1'900'000'000'000};
  key_info open{"k-2", role::admin, {}, std::nullopt};
  CHECK(to_json(ok_response(4, key_list_result({limited, open}))) ==
        R"({"id":4,"ok":true,"keys":[{"key_id":"k-1","role":"reader","warehouses":["store-7"],)"
        R"("expires_at_ms":1900000000000},{"key_id":"k-2","role":"admin","warehouses":[]}]})");

  CHECK(to_json(ok_response(5, tenant_list_result({{"acme", true}, {"demo", false}}))) ==
        R"({"id":5,"ok":true,"tenants":[{"tenant":"acme","suspended":true},)"
        R"({"tenant":"demo","suspended":false}]})");
}

TEST_CASE("responses: the same response in msgpack", "[response][msgpack]") {
  const value v = grid_response(17, "stock.get", ok_with_record());
  const auto p = parse_msgpack(serialize(v, encoding::msgpack));
  REQUIRE(p.ok);
  CHECK(p.v == v);
}
