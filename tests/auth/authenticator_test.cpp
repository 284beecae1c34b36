// The authenticator: which tokens get a principal, and when an authenticated
// key stops being valid.
#include "auth/authenticator.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "auth/admin.hpp"
#include "auth/bootstrap.hpp"
#include "tests/auth/test_support.hpp"

namespace stockgrid::auth {
namespace {

using testing::manual_clock;
using testing::memory_fixture;
using testing::open_store;
using testing::sqlite_fixture;
using testing::temp_dir;

// Tests drive reloads by hand unless they test the reload thread.
authenticator_settings manual(const manual_clock& clock) { return {0, clock.fn()}; }

TEMPLATE_TEST_CASE("a valid token gets its principal; wrong, unknown and malformed ones nothing",
                   "[auth][authenticator]", memory_fixture, sqlite_fixture) {
  TestType f;
  manual_clock clock;
  REQUIRE(create_tenant(f.get(), "acme", clock.now->load()).status);
  const issued_key key =
      create_key(f.get(), {"acme", protocol::role::writer, {}, std::nullopt}, clock.now->load());
  REQUIRE(key.status);
  key_authenticator auth(f.get(), manual(clock));
  REQUIRE(auth.initial_status());

  const auto who = auth.authenticate(key.token);
  REQUIRE(who);
  CHECK(who->tenant == "acme");
  CHECK(who->key_id == key.key_id);
  CHECK(who->role == protocol::role::writer);
  CHECK(who->warehouses.empty());
  CHECK_FALSE(who->expires_at_ms);
  CHECK(auth.still_valid(*who));

  std::string wrong = key.token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  CHECK_FALSE(auth.authenticate(wrong));
  CHECK_FALSE(auth.authenticate(format_token("0123456789abcdef", parse_token(key.token)->secret)));
  CHECK_FALSE(auth.authenticate(""));
  CHECK_FALSE(auth.authenticate("Bearer " + key.token));
  CHECK_FALSE(auth.authenticate(key.token + " "));
  CHECK_FALSE(auth.authenticate(key.token.substr(0, 40)));
  CHECK_FALSE(auth.authenticate(std::string(100'000, 'a')));
  CHECK_FALSE(auth.authenticate(std::string("sg_\0", 4)));
  // Without a system key, nothing falls through to one.
  CHECK_FALSE(auth.authenticate("some-operator-secret"));
}

TEMPLATE_TEST_CASE("a key created after the cache was filled works at once",
                   "[auth][authenticator]", memory_fixture, sqlite_fixture) {
  TestType f;
  manual_clock clock;
  key_authenticator auth(f.get(), manual(clock));
  REQUIRE(create_tenant(f.get(), "acme", clock.now->load()).status);
  const issued_key key =
      create_key(f.get(), {"acme", protocol::role::reader, {}, std::nullopt}, clock.now->load());
  REQUIRE(key.status);
  CHECK(auth.authenticate(key.token));
}

TEMPLATE_TEST_CASE("an expired key is refused and stops being valid", "[auth][authenticator]",
                   memory_fixture, sqlite_fixture) {
  TestType f;
  manual_clock clock;
  const epoch_ms now = clock.now->load();
  REQUIRE(create_tenant(f.get(), "acme", now).status);
  const issued_key key = create_key(f.get(), {"acme", protocol::role::reader, {}, now + 1000}, now);
  REQUIRE(key.status);
  key_authenticator auth(f.get(), manual(clock));

  const auto who = auth.authenticate(key.token);
  REQUIRE(who);
  CHECK(who->expires_at_ms == now + 1000);
  clock.advance(999);
  CHECK(auth.still_valid(*who));
  clock.advance(1);
  CHECK_FALSE(auth.still_valid(*who));
  CHECK_FALSE(auth.authenticate(key.token));
}

TEMPLATE_TEST_CASE("a revoked key is refused; revocation through this process is seen at once",
                   "[auth][authenticator]", memory_fixture, sqlite_fixture) {
  TestType f;
  manual_clock clock;
  const issued_key admin = create_tenant(f.get(), "acme", clock.now->load());
  REQUIRE(admin.status);
  key_authenticator auth(f.get(), manual(clock));
  key_admin ops(f.get(), &auth, clock.fn());

  const auto admin_who = auth.authenticate(admin.token);
  REQUIRE(admin_who);
  const auto created = ops.key_create(*admin_who, {protocol::role::writer, {}, std::nullopt});
  REQUIRE(created.ok());
  const auto who = auth.authenticate(created.value.token);
  REQUIRE(who);
  CHECK(auth.still_valid(*who));

  REQUIRE(ops.key_revoke(*admin_who, created.value.key_id).ok());
  CHECK_FALSE(auth.still_valid(*who));  // no reload needed
  CHECK_FALSE(auth.authenticate(created.value.token));
  CHECK(auth.still_valid(*admin_who));  // other keys unaffected
}

TEST_CASE(
    "a revocation made through another store on the same file is seen within the reload "
    "period",
    "[auth][authenticator][sqlite]") {
  temp_dir dir;
  auto store = open_store(dir.path());
  REQUIRE(create_tenant(*store, "acme", wall_clock_ms()).status);
  const issued_key key =
      create_key(*store, {"acme", protocol::role::writer, {}, std::nullopt}, wall_clock_ms());
  REQUIRE(key.status);

  key_authenticator auth(*store, {/*reload_interval_ms=*/100, {}});
  const auto who = auth.authenticate(key.token);
  REQUIRE(who);

  // Another process: its own connection to system.db.
  auto other = open_store(dir.path());
  const auto revoked_at = std::chrono::steady_clock::now();
  REQUIRE(other->revoke_key("acme", key.key_id, wall_clock_ms()));

  while (auth.still_valid(*who) &&
         std::chrono::steady_clock::now() - revoked_at < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto seen_after = std::chrono::steady_clock::now() - revoked_at;
  CHECK_FALSE(auth.still_valid(*who));
  CHECK(seen_after < std::chrono::milliseconds(1000));
  CHECK_FALSE(auth.authenticate(key.token));
}

TEST_CASE("the default reload period is one second", "[auth][authenticator][sqlite]") {
  temp_dir dir;
  auto store = open_store(dir.path());
  REQUIRE(create_tenant(*store, "acme", wall_clock_ms()).status);
  const issued_key key =
      create_key(*store, {"acme", protocol::role::writer, {}, std::nullopt}, wall_clock_ms());
  key_authenticator auth(*store);
  const auto who = auth.authenticate(key.token);
  REQUIRE(who);
  auto other = open_store(dir.path());
  REQUIRE(other->revoke_key("acme", key.key_id, wall_clock_ms()));
  const auto revoked_at = std::chrono::steady_clock::now();
  while (auth.still_valid(*who) &&
         std::chrono::steady_clock::now() - revoked_at < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(auth.still_valid(*who));
  CHECK(std::chrono::steady_clock::now() - revoked_at < std::chrono::milliseconds(2000));
}

TEST_CASE("a reload never un-revokes a key revoked here", "[auth][authenticator]") {
  memory_key_store store;
  manual_clock clock;
  REQUIRE(create_tenant(store, "acme", clock.now->load()).status);
  const issued_key key =
      create_key(store, {"acme", protocol::role::writer, {}, std::nullopt}, clock.now->load());
  key_authenticator auth(store, manual(clock));
  const auto who = auth.authenticate(key.token);
  REQUIRE(who);
  // As if a reload had read the store just before the revocation landed.
  auth.note_revoked(key.key_id, clock.now->load());
  REQUIRE(auth.reload());
  CHECK_FALSE(auth.still_valid(*who));
}

TEMPLATE_TEST_CASE("a warehouse-limited key carries its warehouses in the principal",
                   "[auth][authenticator]", memory_fixture, sqlite_fixture) {
  TestType f;
  manual_clock clock;
  REQUIRE(create_tenant(f.get(), "acme", clock.now->load()).status);
  const issued_key pos =
      create_key(f.get(), {"acme", protocol::role::writer, {"store-17", "store-18"}, std::nullopt},
                 clock.now->load());
  REQUIRE(pos.status);
  key_authenticator auth(f.get(), manual(clock));
  const auto who = auth.authenticate(pos.token);
  REQUIRE(who);
  CHECK(who->warehouses == std::vector<std::string>{"store-17", "store-18"});
}

TEST_CASE("a key authenticates after the store is reopened from its file",
          "[auth][authenticator][sqlite]") {
  temp_dir dir;
  issued_key key;
  {
    auto store = open_store(dir.path());
    REQUIRE(create_tenant(*store, "acme", wall_clock_ms()).status);
    key = create_key(*store, {"acme", protocol::role::reader, {"berlin"}, std::nullopt},
                     wall_clock_ms());
    REQUIRE(key.status);
  }
  auto store = open_store(dir.path());
  key_authenticator auth(*store, {0, {}});
  const auto who = auth.authenticate(key.token);
  REQUIRE(who);
  CHECK(who->tenant == "acme");
  CHECK(who->warehouses == std::vector<std::string>{"berlin"});
}

TEST_CASE("the system token authenticates as a whole string", "[auth][authenticator]") {
  memory_key_store store;
  const std::string env = "correct-horse-battery-staple-42";
  REQUIRE(bootstrap_system_key(store, env.c_str()).status);
  key_authenticator auth(store, {0, {}});
  const auto who = auth.authenticate(env);
  REQUIRE(who);
  CHECK(who->role == protocol::role::system);
  CHECK(who->tenant.empty());
  CHECK(who->key_id == "system");
  CHECK(auth.still_valid(*who));
  CHECK_FALSE(auth.authenticate(env + "x"));
  CHECK_FALSE(auth.authenticate(env.substr(1)));
  CHECK_FALSE(auth.authenticate("system"));
}

TEST_CASE("authentication from many threads agrees", "[auth][authenticator]") {
  memory_key_store store;
  REQUIRE(create_tenant(store, "acme", wall_clock_ms()).status);
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i)
    tokens.push_back(
        create_key(store, {"acme", protocol::role::reader, {}, std::nullopt}, wall_clock_ms())
            .token);
  key_authenticator auth(store, {5, {}});  // reloads racing with look-ups
  std::atomic<int> failures = 0;
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto who = auth.authenticate(tokens[(t + i) % tokens.size()]);
        if (!who || !auth.still_valid(*who)) ++failures;
        if (auth.authenticate(tokens[i % tokens.size()] + "0")) ++failures;
      }
    });
  threads.clear();
  CHECK(failures == 0);
}

}  // namespace
}  // namespace stockgrid::auth
