// The system key on first start: from STOCKGRID_ADMIN_TOKEN or generated,
// shown once, and left alone on every later start.
#include "auth/bootstrap.hpp"

#include <catch2/catch.hpp>

#include "auth/authenticator.hpp"
#include "tests/auth/test_support.hpp"

namespace stockgrid::auth {
namespace {

using testing::any_file_contains;
using testing::open_store;
using testing::temp_dir;

TEST_CASE("bootstrap stores the environment token's hash and accepts it verbatim",
          "[auth][bootstrap]") {
  temp_dir dir;
  const std::string env = "S3cret/Operator+Token=with:punctuation";
  {
    auto store = open_store(dir.path());
    const bootstrap_result first = bootstrap_system_key(*store, env.c_str());
    REQUIRE(first.status);
    CHECK_FALSE(first.generated_token);  // the operator knows it already
    CHECK_FALSE(first.env_token_ignored);
    key_authenticator auth(*store, {0, {}});
    const auto who = auth.authenticate(env);
    REQUIRE(who);
    CHECK(who->role == protocol::role::system);
  }
  CHECK_FALSE(any_file_contains(dir.path(), env));

  // Second start, same token: nothing to do.
  auto store = open_store(dir.path());
  const bootstrap_result second = bootstrap_system_key(*store, env.c_str());
  REQUIRE(second.status);
  CHECK_FALSE(second.generated_token);
  CHECK_FALSE(second.env_token_ignored);

  // A different token later does not replace the stored one, and says so.
  const bootstrap_result changed = bootstrap_system_key(*store, "another-token-0123456789");
  REQUIRE(changed.status);
  CHECK(changed.env_token_ignored);
  key_authenticator auth(*store, {0, {}});
  CHECK(auth.authenticate(env));
  CHECK_FALSE(auth.authenticate("another-token-0123456789"));
}

TEST_CASE("without an environment token one is generated and returned once", "[auth][bootstrap]") {
  temp_dir dir;
  std::string token;
  {
    auto store = open_store(dir.path());
    const bootstrap_result first = bootstrap_system_key(*store, nullptr);
    REQUIRE(first.status);
    REQUIRE(first.generated_token);
    token = *first.generated_token;
    CHECK(token.starts_with("sg_system_"));
    CHECK(token.size() == 74);
  }
  CHECK_FALSE(any_file_contains(dir.path(), token));
  CHECK_FALSE(any_file_contains(dir.path(), token.substr(10)));

  auto store = open_store(dir.path());
  const bootstrap_result second = bootstrap_system_key(*store, nullptr);
  REQUIRE(second.status);
  CHECK_FALSE(second.generated_token);
  key_authenticator auth(*store, {0, {}});
  const auto who = auth.authenticate(token);
  REQUIRE(who);
  CHECK(who->role == protocol::role::system);
  CHECK(who->tenant.empty());
}

TEST_CASE("an unusable environment token is refused without showing it", "[auth][bootstrap]") {
  memory_key_store store;
  const bootstrap_result short_token = bootstrap_system_key(store, "too-short-15chr");
  CHECK(short_token.status.kind() == store_status::code::invalid);
  CHECK(short_token.status.message().find("STOCKGRID_ADMIN_TOKEN") != std::string::npos);
  CHECK(short_token.status.message().find("too-short") == std::string::npos);
  CHECK(bootstrap_system_key(store, "has a space in the middle").status.kind() ==
        store_status::code::invalid);
  CHECK(bootstrap_system_key(store, std::string(1025, 'x').c_str()).status.kind() ==
        store_status::code::invalid);
  // Nothing was stored: a good token still bootstraps.
  REQUIRE(bootstrap_system_key(store, "exactly-16-chars").status);
  key_authenticator auth(store, {0, {}});
  CHECK(auth.authenticate("exactly-16-chars"));
}

TEST_CASE("a system token shaped like a key token still works", "[auth][bootstrap]") {
  // An operator may reuse a token of the key format as STOCKGRID_ADMIN_TOKEN.
  memory_key_store store;
  const std::string env = format_token("0123456789abcdef", std::string(64, '7'));
  REQUIRE(bootstrap_system_key(store, env.c_str()).status);
  key_authenticator auth(store, {0, {}});
  const auto who = auth.authenticate(env);
  REQUIRE(who);
  CHECK(who->role == protocol::role::system);
}

}  // namespace
}  // namespace stockgrid::auth
