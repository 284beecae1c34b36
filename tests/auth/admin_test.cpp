// The admin ops as the dispatcher calls them: who may do what, the checks on
// every field, and tenant isolation.
#include "auth/admin.hpp"

#include <catch2/catch.hpp>

#include "auth/bootstrap.hpp"
#include "tests/auth/test_support.hpp"

namespace stockgrid::auth {
namespace {

using testing::manual_clock;
using testing::open_store;
using testing::system_principal;
using testing::temp_dir;

// A node's auth wiring on an SQLite file, with the system key bootstrapped.
struct node {
  temp_dir dir;
  std::unique_ptr<sqlite_key_store> store = open_store(dir.path());
  manual_clock clock;
  key_authenticator auth{*store, {0, clock.fn()}};
  key_admin ops{*store, &auth, clock.fn()};

  gateway::principal login(const std::string& token) {
    auto who = auth.authenticate(token);
    if (!who) throw std::runtime_error("login failed");
    return *who;
  }
  // A new tenant's admin principal.
  gateway::principal tenant_admin(const std::string& name) {
    auto created = ops.tenant_create(system_principal(), name);
    if (!created.ok()) throw std::runtime_error(created.message);
    return login(created.value.token);
  }
};

TEST_CASE("tenant.create returns a working admin token of the new tenant", "[auth][admin]") {
  node n;
  REQUIRE(bootstrap_system_key(*n.store, "operator-token-0123456789").status);
  const gateway::principal system = n.login("operator-token-0123456789");
  const auto created = n.ops.tenant_create(system, "acme");
  REQUIRE(created.ok());
  CHECK(created.value.tenant == "acme");
  const gateway::principal admin = n.login(created.value.token);
  CHECK(admin.tenant == "acme");
  CHECK(admin.role == protocol::role::admin);
  CHECK(admin.key_id == created.value.key_id);

  const auto dup = n.ops.tenant_create(system, "acme");
  CHECK(dup.code == outcome::bad_request);
  CHECK(dup.message == "tenant: already exists");
  CHECK(dup.value.token.empty());
  CHECK(n.ops.tenant_create(system, "Not Valid").code == outcome::bad_request);
  CHECK(n.ops.tenant_create(system, "").code == outcome::bad_request);

  REQUIRE(n.ops.tenant_create(system, "beta").ok());
  const auto list = n.ops.tenant_list(system);
  REQUIRE(list.ok());
  REQUIRE(list.value.size() == 2);
  CHECK(list.value[0].name == "acme");
  CHECK(list.value[1].name == "beta");
  CHECK(list.value[0].created_ms == n.clock.now->load());
}

TEST_CASE("only the system key manages tenants, only a tenant admin its keys", "[auth][admin]") {
  node n;
  const gateway::principal admin = n.tenant_admin("acme");
  const auto writer_key = n.ops.key_create(admin, {protocol::role::writer, {}, std::nullopt});
  REQUIRE(writer_key.ok());
  const gateway::principal writer = n.login(writer_key.value.token);

  CHECK(n.ops.tenant_create(admin, "evil").code == outcome::forbidden);
  CHECK(n.ops.tenant_list(admin).code == outcome::forbidden);
  CHECK(n.ops.key_create(writer, {protocol::role::reader, {}, std::nullopt}).code ==
        outcome::forbidden);
  CHECK(n.ops.key_list(writer).code == outcome::forbidden);
  CHECK(n.ops.key_revoke(writer, admin.key_id).code == outcome::forbidden);
  // The system key belongs to no tenant: it has no keys to manage.
  CHECK(n.ops.key_create(system_principal(), {protocol::role::reader, {}, std::nullopt}).code ==
        outcome::forbidden);
  CHECK(n.ops.key_list(system_principal()).code == outcome::forbidden);
}

TEST_CASE("key.create checks role, warehouses and expiry", "[auth][admin]") {
  node n;
  const gateway::principal admin = n.tenant_admin("acme");
  const epoch_ms now = n.clock.now->load();
  auto create = [&](key_create_args args) { return n.ops.key_create(admin, args); };

  CHECK(create({std::nullopt, {}, std::nullopt}).message == "role: required");
  const auto system = create({protocol::role::system, {}, std::nullopt});
  CHECK(system.code == outcome::bad_request);
  CHECK(system.message.starts_with("role:"));

  CHECK(create({protocol::role::reader, {""}, std::nullopt}).message ==
        "warehouses[0]: must not be empty");
  CHECK(create({protocol::role::reader, {"a", std::string(129, 'w')}, std::nullopt}).message ==
        "warehouses[1]: longer than 128 bytes");
  CHECK(create({protocol::role::reader, {"a", "b", "a"}, std::nullopt}).message ==
        "warehouses[2]: duplicate");
  std::vector<std::string> many;
  for (int i = 0; i < 101; ++i) many.push_back("w" + std::to_string(i));
  CHECK(create({protocol::role::reader, many, std::nullopt}).code == outcome::bad_request);
  many.pop_back();
  CHECK(create({protocol::role::reader, many, std::nullopt}).ok());
  CHECK(create({protocol::role::reader, {std::string(128, 'w')}, std::nullopt}).ok());

  CHECK(create({protocol::role::reader, {}, now}).message ==
        "expires_at_ms: must be in the future");
  CHECK(create({protocol::role::reader, {}, now - 1}).code == outcome::bad_request);
  const auto expiring = create({protocol::role::reader, {}, now + 1});
  REQUIRE(expiring.ok());
  CHECK(n.login(expiring.value.token).expires_at_ms == now + 1);

  for (auto r : {protocol::role::admin, protocol::role::writer, protocol::role::reader}) {
    const auto k = create({r, {}, std::nullopt});
    REQUIRE(k.ok());
    CHECK(n.login(k.value.token).role == r);
  }
}

TEST_CASE("a warehouse-limited admin cannot create wider keys", "[auth][admin]") {
  node n;
  const gateway::principal admin = n.tenant_admin("acme");
  const auto limited =
      n.ops.key_create(admin, {protocol::role::admin, {"berlin", "paris"}, std::nullopt});
  REQUIRE(limited.ok());
  const gateway::principal store_admin = n.login(limited.value.token);
  CHECK(store_admin.warehouses == std::vector<std::string>{"berlin", "paris"});

  CHECK(n.ops.key_create(store_admin, {protocol::role::writer, {}, std::nullopt}).code ==
        outcome::forbidden);
  CHECK(n.ops.key_create(store_admin, {protocol::role::writer, {"rome"}, std::nullopt}).code ==
        outcome::forbidden);
  const auto pos = n.ops.key_create(store_admin, {protocol::role::writer, {"paris"}, std::nullopt});
  REQUIRE(pos.ok());
  CHECK(n.login(pos.value.token).warehouses == std::vector<std::string>{"paris"});
}

TEST_CASE("key.list shows the tenant's keys without secrets", "[auth][admin]") {
  node n;
  const gateway::principal admin = n.tenant_admin("acme");
  const auto pos = n.ops.key_create(admin, {protocol::role::writer, {"berlin"}, std::nullopt});
  REQUIRE(pos.ok());
  n.tenant_admin("other");

  const auto list = n.ops.key_list(admin);
  REQUIRE(list.ok());
  REQUIRE(list.value.size() == 2);
  CHECK(list.value[0].key_id == admin.key_id);
  CHECK(list.value[1].key_id == pos.value.key_id);
  CHECK(list.value[1].warehouses == std::vector<std::string>{"berlin"});
  for (const auto& k : list.value) CHECK(k.tenant == "acme");

  REQUIRE(n.ops.key_revoke(admin, pos.value.key_id).ok());
  const auto after = n.ops.key_list(admin);
  REQUIRE(after.ok());
  CHECK(after.value[1].revoked_ms == n.clock.now->load());
}

TEST_CASE("tenant B cannot revoke tenant A's key: it is simply not found", "[auth][admin]") {
  node n;
  const gateway::principal admin_a = n.tenant_admin("a");
  const gateway::principal admin_b = n.tenant_admin("b");
  const auto key_a = n.ops.key_create(admin_a, {protocol::role::writer, {}, std::nullopt});
  REQUIRE(key_a.ok());
  const gateway::principal writer_a = n.login(key_a.value.token);

  const auto cross = n.ops.key_revoke(admin_b, key_a.value.key_id);
  const auto unknown = n.ops.key_revoke(admin_b, "0123456789abcdef");
  CHECK(cross.code == outcome::not_found);
  CHECK(cross.code == unknown.code);
  CHECK(cross.message == unknown.message);  // same answer as a never-issued id
  CHECK(n.ops.key_revoke(admin_b, "system").code == outcome::not_found);
  CHECK(n.ops.key_revoke(admin_b, "").code == outcome::bad_request);
  CHECK(n.auth.still_valid(writer_a));

  REQUIRE(n.ops.key_revoke(admin_a, key_a.value.key_id).ok());
  CHECK_FALSE(n.auth.still_valid(writer_a));
  CHECK(n.ops.key_revoke(admin_a, key_a.value.key_id).ok());  // again: still ok
}

TEST_CASE("a store failure is INTERNAL with the detail kept for the log", "[auth][admin]") {
  node n;
  const gateway::principal admin = n.tenant_admin("acme");
  // A store that fails every call.
  struct failing_store final : key_store {
    store_status fail() { return store_status::io_error("system.db: disk I/O error"); }
    store_status add_tenant(const tenant_record&, const key_record*) override { return fail(); }
    store_status list_tenants(std::vector<tenant_record>*) override { return fail(); }
    store_status set_tenant_suspended(std::string_view, bool, epoch_ms, std::string_view) override { return fail(); }
    store_status set_tenant_status(const tenant_record&, const tenant_record&) override { return fail(); }
    store_status set_tenant_deleting(std::string_view, epoch_ms) override { return fail(); }
    store_status remove_tenant(std::string_view, epoch_ms) override { return fail(); }
    store_status apply_tombstone(const tenant_tombstone&, bool*) override { return fail(); }
    store_status list_tombstones(std::vector<tenant_tombstone>*) override { return fail(); }
    store_status add_key(const key_record&) override { return fail(); }
    store_status list_keys(std::string_view, std::vector<key_info>*) override { return fail(); }
    store_status revoke_key(std::string_view, std::string_view, epoch_ms) override {
      return fail();
    }
    store_status find_key(std::string_view, key_record*) override { return fail(); }
    store_status load_keys(std::vector<key_record>*) override { return fail(); }
  } broken;
  key_admin ops(broken, nullptr, n.clock.fn());
  const auto r = ops.key_create(admin, {protocol::role::reader, {}, std::nullopt});
  CHECK(r.code == outcome::internal);
  CHECK(r.message == "key store error");
  CHECK(r.log_detail == "system.db: disk I/O error");
  CHECK(r.value.token.empty());
  CHECK(ops.tenant_create(system_principal(), "x").code == outcome::internal);
  CHECK(ops.key_revoke(admin, "0123456789abcdef").code == outcome::internal);
  CHECK(ops.tenant_suspend(system_principal(), "acme").code == outcome::internal);
}

TEST_CASE("tenant.suspend stops the tenant's keys at once; tenant.resume brings them back",
          "[auth][admin]") {
  node n;
  const gateway::principal admin_a = n.tenant_admin("a");
  const gateway::principal admin_b = n.tenant_admin("b");
  const auto key_a = n.ops.key_create(admin_a, {protocol::role::writer, {}, std::nullopt});
  REQUIRE(key_a.ok());
  const gateway::principal writer_a = n.login(key_a.value.token);
  const gateway::principal system = system_principal();

  REQUIRE(n.ops.tenant_suspend(system, "a").ok());
  REQUIRE(n.ops.tenant_suspend(system, "a").ok());  // again: still ok
  CHECK_FALSE(n.auth.still_valid(writer_a));
  CHECK_FALSE(n.auth.still_valid(admin_a));
  CHECK(n.auth.why_invalid(writer_a) == gateway::authenticator::invalid_reason::tenant_suspended);
  CHECK_FALSE(n.auth.authenticate(key_a.value.token));
  CHECK(n.auth.still_valid(admin_b));  // another tenant is untouched
  // A reload from the store keeps the suspension (it is durable).
  REQUIRE(n.auth.reload());
  CHECK_FALSE(n.auth.still_valid(writer_a));
  const auto list = n.ops.tenant_list(system);
  REQUIRE(list.ok());
  REQUIRE(list.value.size() == 2);
  CHECK(list.value[0].suspended_ms == n.clock.now->load());
  CHECK_FALSE(list.value[1].suspended_ms);

  REQUIRE(n.ops.tenant_resume(system, "a").ok());
  REQUIRE(n.ops.tenant_resume(system, "a").ok());
  CHECK(n.auth.still_valid(writer_a));
  CHECK(n.auth.authenticate(key_a.value.token));
  REQUIRE(n.auth.reload());
  CHECK(n.auth.still_valid(writer_a));

  CHECK(n.ops.tenant_suspend(system, "nobody").code == outcome::not_found);
  CHECK(n.ops.tenant_resume(system, "nobody").code == outcome::not_found);
  CHECK(n.ops.tenant_suspend(system, "Not Valid").code == outcome::bad_request);
  CHECK(n.ops.tenant_suspend(admin_b, "a").code == outcome::forbidden);
  CHECK(n.ops.tenant_resume(admin_b, "a").code == outcome::forbidden);
  CHECK(n.ops.tenant_get(admin_b, "a").code == outcome::forbidden);
  CHECK(n.ops.tenant_get(system, "a").ok());
  CHECK(n.ops.tenant_get(system, "nobody").code == outcome::not_found);
}

TEST_CASE("a suspension made by another process reaches the cache at the next reload",
          "[auth][admin]") {
  node n;
  const gateway::principal admin_a = n.tenant_admin("a");
  // Another process sharing system.db writes the suspension.
  REQUIRE(n.store->set_tenant_suspended("a", true, n.clock.now->load(), ""));
  CHECK(n.auth.still_valid(admin_a));
  REQUIRE(n.auth.reload());
  CHECK_FALSE(n.auth.still_valid(admin_a));
  REQUIRE(n.store->set_tenant_suspended("a", false, n.clock.now->load(), ""));
  REQUIRE(n.auth.reload());
  CHECK(n.auth.still_valid(admin_a));
}

}  // namespace
}  // namespace stockgrid::auth
