// Reading responses (client/response.hpp) and ws:// URLs (client/url.hpp).
#include <catch2/catch.hpp>

#include "client/client.hpp"
#include "client/response.hpp"
#include "client/url.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::client;

namespace {
value json(std::string_view text) {
  value v;
  std::string error;
  REQUIRE(protocol::parse(text, protocol::encoding::json, {}, &v, &error));
  return v;
}
}  // namespace

TEST_CASE("ok, error code, replayed and paths") {
  const value ok = json(R"({"id":1,"ok":true,"replayed":true,"records":[{"sku":"a"}]})");
  const value bad = json(R"({"id":2,"ok":false,"error":{"code":"NOT_FOUND","message":"none"}})");
  CHECK(is_ok(ok));
  CHECK(error_code(ok).empty());
  CHECK(is_replayed(ok));
  CHECK_FALSE(is_ok(bad));
  CHECK(error_code(bad) == "NOT_FOUND");
  CHECK(error_message(bad) == "none");
  CHECK(lookup_string(ok, "records.0.sku") == "a");
  CHECK(lookup_string(ok, "records[0].sku") == "a");
  CHECK(lookup(ok, "records.1") == nullptr);
  CHECK(lookup(ok, "records.") == nullptr);
  CHECK(lookup_int(bad, "id") == 2);
  CHECK_FALSE(lookup_int(bad, "error.code"));
}

TEST_CASE("local errors carry local: true and are errors like any other") {
  const value e = local_error(queue_full_code, "full", {{"idem", "k"}});
  CHECK_FALSE(is_ok(e));
  CHECK(error_code(e) == "QUEUE_FULL");
  CHECK(lookup(e, "error.local") != nullptr);
  CHECK(lookup_string(e, "error.idem") == "k");
  CHECK(lookup(e, "id")->is_null());
}

TEST_CASE("JSON printing, compact and pretty") {
  const value v = json(R"({"a":[1,{"b":"x\"y"}],"c":{},"d":[]})");
  CHECK(to_json(v) == R"({"a":[1,{"b":"x\"y"}],"c":{},"d":[]})");
  CHECK(to_json(v, true) ==
        "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x\\\"y\"\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}");
}

TEST_CASE("mutations are the ops that get idempotency keys") {
  for (auto op : {"stock.adjust", "stock.set", "stock.reserve", "stock.commit", "stock.release",
                  "stock.extend", "stock.sell", "stock.bulk"})
    CHECK(is_mutation_op(op));
  for (auto op : {"stock.get", "stock.list", "stock.holds", "stock.history", "ping", "auth",
                  "key.create", "tenant.create"})
    CHECK_FALSE(is_mutation_op(op));
  const std::string key = new_idempotency_key();
  CHECK(key.size() == 32);
  CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(new_idempotency_key() != key);
}

TEST_CASE("ws:// and wss:// URLs") {
  std::string error;
  auto u = parse_ws_url("ws://127.0.0.1:7400/v1/ws", &error);
  REQUIRE(u);
  CHECK_FALSE(u->tls);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == "7400");
  CHECK(u->target == "/v1/ws");
  CHECK(u->host_header() == "127.0.0.1:7400");

  u = parse_ws_url("wss://grid.example.com", &error);
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->port == "443");
  CHECK(u->target == "/");
  CHECK(u->host_header() == "grid.example.com");

  u = parse_ws_url("ws://[::1]:7400/v1/ws?x=1", &error);
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->target == "/v1/ws?x=1");
  CHECK(u->host_header() == "[::1]:7400");

  CHECK_FALSE(parse_ws_url("http://x/v1/ws", &error));
  CHECK_FALSE(parse_ws_url("ws://:7400/", &error));
  CHECK_FALSE(parse_ws_url("ws://h:70000/", &error));
  CHECK_FALSE(parse_ws_url("ws://h:port/", &error));
  CHECK_FALSE(parse_ws_url("ws://[::1/", &error));
}

TEST_CASE("several nodes' URLs, separated by commas") {
  std::string error;
  auto urls = parse_ws_urls("ws://10.0.0.1:7400/v1/ws,ws://10.0.0.2:7400/v1/ws", &error);
  REQUIRE(urls.size() == 2);
  CHECK(urls[0].host == "10.0.0.1");
  CHECK(urls[1].host == "10.0.0.2");
  CHECK(urls[1].target == "/v1/ws");
  CHECK(parse_ws_urls("wss://a", &error).size() == 1);

  CHECK(parse_ws_urls("ws://a/v1/ws,wss://b/v1/ws", &error).empty());
  CHECK_THAT(error, Catch::Contains("must all be ws:// or all wss://"));
  CHECK(parse_ws_urls("ws://a/v1/ws,", &error).empty());  // an empty one
  CHECK(parse_ws_urls("ws://a/v1/ws,http://b", &error).empty());
  std::string many;
  for (std::size_t i = 0; i <= ws_urls_max; ++i) many += (i ? "," : "") + std::string("ws://h") + std::to_string(i);
  CHECK(parse_ws_urls(many, &error).empty());
  CHECK_THAT(error, Catch::Contains("at most 16"));
}
