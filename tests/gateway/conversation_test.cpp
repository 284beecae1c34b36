// The per-connection rules without a socket: what a frame leads to.
#include <catch2/catch.hpp>

#include "gateway/conversation.hpp"
#include "gateway/stub_dispatcher.hpp"
#include "tests/gateway/test_client.hpp"

namespace stockgrid::gateway_test {
namespace {

using gateway::conversation;

conversation::verdict frame(conversation& c, std::string_view json_text) {
  return c.on_frame(json_text, protocol::encoding::json);
}

}  // namespace

TEST_CASE("conversation: auth, then requests are dispatched with the token's tenant",
          "[gateway]") {
  gateway::gateway_settings settings;
  gateway::stub_authenticator auth;
  conversation c(settings, auth, [](const gateway::principal&) { return 0u; });

  auto v = frame(c, R"({"op":"stock.get","id":1,"warehouse":"W","sku":"S"})");
  REQUIRE(v.reply);
  CHECK(error_code(*v.reply) == "UNAUTHENTICATED");
  CHECK_FALSE(v.dispatch);

  v = frame(c, R"({"op":"auth","id":2,"token":"writer-token"})");
  REQUIRE(v.reply);
  CHECK(is_ok(*v.reply));
  CHECK(c.authenticated());

  v = frame(c, R"({"op":"stock.sell","id":3,"warehouse":"W","sku":"S","qty":1})");
  CHECK_FALSE(v.reply);
  REQUIRE(v.dispatch);
  CHECK(v.dispatch->grid.key.tenant == "demo");
  CHECK(v.dispatch->grid.key_id == "demo-writer");
  CHECK(c.in_flight() == 1);

  v = frame(c, R"({"op":"stock.get","id":3,"warehouse":"W","sku":"S"})");
  REQUIRE(v.reply);
  CHECK(error_code(*v.reply) == "BAD_REQUEST");
  c.finished(3);
  CHECK(c.in_flight() == 0);
  v = frame(c, R"({"op":"stock.get","id":3,"warehouse":"W","sku":"S"})");
  CHECK(v.dispatch);
}

TEST_CASE("conversation: failed auths close after auth_failures_max", "[gateway]") {
  gateway::gateway_settings settings;
  settings.auth_failures_max = 2;
  gateway::stub_authenticator auth;
  conversation c(settings, auth, nullptr);
  auto v = frame(c, R"({"op":"auth","id":1,"token":"x"})");
  CHECK_FALSE(v.close);
  v = frame(c, R"({"op":"auth","id":2,"token":"y"})");
  REQUIRE(v.close);
  CHECK(v.close->code == gateway::close_code::policy_violation);
  REQUIRE(v.reply);
  CHECK(error_code(*v.reply) == "UNAUTHENTICATED");
}

TEST_CASE("conversation: a refused admission answers LIMIT_EXCEEDED and closes", "[gateway]") {
  gateway::gateway_settings settings;
  gateway::stub_authenticator auth;
  // The tenant's own limit, which the refusal names.
  conversation c(settings, auth, [](const gateway::principal&) { return 7u; });
  auto v = frame(c, R"({"op":"auth","id":1,"token":"reader-token"})");
  REQUIRE(v.reply);
  CHECK(error_code(*v.reply) == "LIMIT_EXCEEDED");
  CHECK(to_json(*v.reply).find(R"("limit":7)") != std::string::npos);
  REQUIRE(v.close);
  CHECK_FALSE(c.authenticated());
}

}  // namespace stockgrid::gateway_test
