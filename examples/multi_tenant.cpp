// Multi-tenant isolation: with the system token, create tenants A and B.
// A stocks and reserves; B can see none of A's records, and A's hold ids get
// exactly the answer a never-issued id gets. Roles are enforced both ways.
//
//   build/examples/multi_tenant --url ws://127.0.0.1:7400/v1/ws --token <system token>
//   (or STOCKGRID_ADMIN_TOKEN=<system token> build/examples/multi_tenant)
#include <cstdio>

#include "examples/common.hpp"

using namespace examples;
using stockgrid::protocol::role;

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv, "STOCKGRID_ADMIN_TOKEN");
  checks checks;
  const std::string run = run_id();

  sg::client operator_client;
  connect_or_exit(operator_client, args.url, args.token);
  std::printf("connected as %s\n", show(operator_client.session()).c_str());
  checks.check(sg::lookup_string(operator_client.session(), "role") == "system",
               "the token is the system token");

  // 1. The operator creates two tenants; each comes with an admin token.
  const std::string tenant_a = "acme-" + run, tenant_b = "globex-" + run;
  value a = operator_client.tenant_create(tenant_a).get();
  value b = operator_client.tenant_create(tenant_b).get();
  std::printf("\n1. tenant.create %s -> %s\n   tenant.create %s -> %s\n", tenant_a.c_str(),
              sg::is_ok(a) ? "ok" : show(a).c_str(), tenant_b.c_str(), sg::is_ok(b) ? "ok" : show(b).c_str());
  if (!checks.check(sg::is_ok(a) && sg::is_ok(b), "both tenants exist")) return checks.exit_code("multi_tenant");
  value again = operator_client.tenant_create(tenant_a).get();
  checks.check(sg::error_code(again) == "BAD_REQUEST", "a tenant cannot be created twice");

  // 2. A's admin hands a writer key to its shop, which stocks and reserves.
  sg::client a_admin, a_shop, b_admin;
  connect_or_exit(a_admin, args.url, *sg::lookup_string(a, "token"));
  connect_or_exit(b_admin, args.url, *sg::lookup_string(b, "token"));
  value key = a_admin.key_create(role::writer).get();
  const std::string a_key_id = sg::lookup_string(key, "key_id").value_or("");
  connect_or_exit(a_shop, args.url, sg::lookup_string(key, "token").value_or(""));
  value r = a_shop.set("berlin", "widget", 10, std::nullopt, {.reason = "A's stock"}).get();
  value held = a_shop.reserve("berlin", "widget", 2, {.ttl_ms = 300'000}).get();
  const std::string a_hold = sg::lookup_string(held, "hold").value_or("");
  std::printf("\n2. A's shop: set berlin widget 10, reserve 2 -> hold %s, %s\n", a_hold.c_str(),
              record_line(held).c_str());
  checks.check(sg::is_ok(r) && sg::is_ok(held), "A stocked and reserved");

  // 3. B looks for A's data: nothing, by name or by id.
  std::printf("\n3. tenant B tries to reach A's data\n");
  r = b_admin.get("berlin", "widget").get();
  std::printf("   B get berlin widget -> %s\n", sg::error_code(r).c_str());
  checks.check(sg::error_code(r) == "NOT_FOUND", "B cannot see A's record");
  r = b_admin.list().get();
  const auto* records = sg::lookup(r, "records");
  std::printf("   B list -> %zu records\n", records && records->as_array() ? records->as_array()->size() : 0);
  checks.check(sg::is_ok(r) && records && records->as_array() && records->as_array()->empty(),
               "B's list is empty");
  r = b_admin.holds("berlin", "widget").get();
  checks.check(sg::error_code(r) == "NOT_FOUND", "B cannot list A's holds");

  const value never_issued = b_admin.commit("H0-ffffff").get();
  for (const char* what : {"commit", "release", "extend"}) {
    const std::string w = what;
    value answer = w == "commit"    ? b_admin.commit(a_hold).get()
                   : w == "release" ? b_admin.release(a_hold).get()
                                    : b_admin.extend(a_hold, 60'000).get();
    std::printf("   B %s %s -> %s\n", what, a_hold.c_str(), show(sg::lookup(answer, "error") ? *sg::lookup(answer, "error") : answer).c_str());
    checks.check(sg::error_code(answer) == "HOLD_NOT_FOUND" &&
                     sg::error_message(answer) == sg::error_message(never_issued),
                 std::string("B's ") + what + " of A's hold gets the never-issued answer");
  }
  r = b_admin.key_revoke(a_key_id).get();
  checks.check(sg::error_code(r) == "NOT_FOUND", "B cannot revoke A's key");
  r = b_admin.key_list().get();
  bool sees_a_key = false;
  if (const auto* keys = sg::lookup(r, "keys"); keys && keys->as_array()) {
    for (const auto& k : *keys->as_array()) sees_a_key = sees_a_key || sg::lookup_string(k, "key_id") == a_key_id;
  }
  checks.check(sg::is_ok(r) && !sees_a_key, "B's key.list does not show A's keys");

  // 4. B stocks a record of the same name: its own, A's is untouched.
  r = b_admin.set("berlin", "widget", 5).get();
  value a_view = a_shop.get("berlin", "widget").get();
  std::printf("\n4. B sets its own berlin widget to 5; A still sees %s\n", record_line(a_view).c_str());
  checks.check(sg::lookup_int(a_view, "record.on_hand") == 10 &&
                   sg::lookup_int(a_view, "record.reserved") == 2,
               "A's record is unchanged");
  r = a_shop.commit(a_hold).get();
  checks.check(sg::is_ok(r), "A's own hold still works for A");

  // 5. Roles: the operator runs no stock op, a tenant admin no system op.
  r = operator_client.get("berlin", "widget").get();
  checks.check(sg::error_code(r) == "FORBIDDEN", "the system token cannot read stock");
  r = a_admin.tenant_list().get();
  checks.check(sg::error_code(r) == "FORBIDDEN", "a tenant admin cannot list tenants");
  r = operator_client.tenant_list().get();
  int found = 0;
  if (const auto* tenants = sg::lookup(r, "tenants"); tenants && tenants->as_array()) {
    for (const auto& t : *tenants->as_array()) {
      const auto name = sg::lookup_string(t, "tenant");
      found += name == tenant_a || name == tenant_b;
    }
  }
  std::printf("\n5. roles: system get -> FORBIDDEN, admin tenant.list -> FORBIDDEN, system tenant.list lists both\n");
  checks.check(found == 2, "the operator sees both tenants");
  std::printf("\n");
  return checks.exit_code("multi_tenant");
}
