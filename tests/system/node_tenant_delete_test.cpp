// tenant.delete against a real node (docs/protocol.md "tenant.delete";
// docs/operations.md "Tenant lifecycle"): refused for an active tenant,
// changing nothing; for a suspended one it removes the tenant's records,
// holds, orders, settings and keys from every partition and documents.db,
// while another tenant's data stays; after a restart it is still gone, and
// a tenant made anew with the name starts empty.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;

namespace {

// What `auth` with `token` answers, on a fresh connection.
value auth_with(test_node& node, const std::string& token) {
  session s(node, encoding::json);
  return s.call({{"op", "auth"}, {"token", token}});
}

object order_line(const char* sku, std::int64_t qty, const char* warehouse) {
  return {{"sku", sku}, {"qty", qty}, {"warehouse", warehouse}};
}

}  // namespace

TEST_CASE("node: tenant.delete removes a suspended tenant's data from every partition, also after a restart",
          "[node][tenant]") {
  stockgrid::testing::temp_dir data;
  node_options options = without_demo();
  options.data_dir = data.path() + "/data";
  const std::vector<std::string> warehouses = {"berlin", "paris", "warsaw"};
  const std::vector<std::string> skus = {"mug", "lamp", "poster", "tshirt"};
  tenant_keys acme, other;
  std::string order_id;
  {
    test_node node(options);
    acme = create_tenant(node, "acme");
    other = create_tenant(node, "other");
    session writer(node, encoding::json, acme.writer);
    session other_writer(node, encoding::json, other.writer);
    for (const auto& w : warehouses)
      for (const auto& s : skus) {
        REQUIRE(ok(writer.call({{"op", "stock.set"}, {"warehouse", w}, {"sku", s}, {"on_hand", 50}})));
        REQUIRE(ok(other_writer.call({{"op", "stock.set"}, {"warehouse", w}, {"sku", s}, {"on_hand", 7}})));
      }
    REQUIRE(ok(writer.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "mug"}, {"qty", 2}})));
    const value order = writer.call({{"op", "order.reserve"},
                                     {"lines", array{order_line("lamp", 3, "paris")}},
                                     {"idem", "cart-1"}});
    INFO(Catch::Detail::stringify(order));
    REQUIRE(ok(order));
    order_id = text(order, "order");
    session admin(node, encoding::json, acme.admin);
    REQUIRE(ok(admin.call({{"op", "tenant.settings"}, {"set", object{{"low_stock_threshold", 5}}}})));

    session system(node, encoding::json, system_token);
    // Active: refused, nothing changes.
    const value refused = system.call({{"op", "tenant.delete"}, {"tenant", "acme"}});
    check_bad_field(refused, "tenant");
    CHECK(ok(writer.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}})));
    check_error(system.call({{"op", "tenant.delete"}, {"tenant", "nobody"}}), "NOT_FOUND");
    // Only the system role.
    check_error(admin.call({{"op", "tenant.delete"}, {"tenant", "acme"}}), "FORBIDDEN");

    REQUIRE(ok(system.call({{"op", "tenant.suspend"}, {"tenant", "acme"}})));
    const value deleted = system.call({{"op", "tenant.delete"}, {"tenant", "acme"}});
    INFO(Catch::Detail::stringify(deleted));
    REQUIRE(ok(deleted));
    CHECK(text(deleted, "tenant") == "acme");
    CHECK(integer(deleted, "records") == static_cast<std::int64_t>(warehouses.size() * skus.size()));

    check_error(auth_with(node, acme.writer), "UNAUTHENTICATED");
    check_error(auth_with(node, acme.admin), "UNAUTHENTICATED");
    check_error(system.call({{"op", "tenant.export"}, {"tenant", "acme"}}), "NOT_FOUND");
    check_error(system.call({{"op", "tenant.resume"}, {"tenant", "acme"}}), "NOT_FOUND");
    const value tenants = system.call({{"op", "tenant.list"}});
    for (const auto& t : items(tenants, "tenants")) CHECK(text(t, "tenant") != "acme");
    // The other tenant's records stay.
    const value listed = other_writer.call({{"op", "stock.list"}, {"limit", 1000}});
    CHECK(items(listed, "records").size() == warehouses.size() * skus.size());
    node.stop();
  }

  test_node node(options);
  session system(node, encoding::json, system_token);
  check_error(system.call({{"op", "tenant.export"}, {"tenant", "acme"}}), "NOT_FOUND");
  check_error(auth_with(node, acme.writer), "UNAUTHENTICATED");
  session other_writer(node, encoding::json, other.writer);
  CHECK(items(other_writer.call({{"op", "stock.list"}, {"limit", 1000}}), "records").size() ==
        warehouses.size() * skus.size());

  // Made anew with the name: it starts with nothing of the old one.
  const tenant_keys again = create_tenant(node, "acme");
  session admin(node, encoding::json, again.admin);
  CHECK(items(admin.call({{"op", "stock.list"}}), "records").empty());
  check_error(admin.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}}), "NOT_FOUND");
  check_error(admin.call({{"op", "order.get"}, {"order", order_id}}), "NOT_FOUND");
  CHECK(integer(admin.call({{"op", "tenant.settings"}}), "settings.low_stock_threshold") == 0);
  const value page = system.call({{"op", "tenant.export"}, {"tenant", "acme"}});
  REQUIRE(ok(page));
  CHECK(items(page, "records").empty());
  // Its records count starts at 0: a quota of 1 lets it create one.
  REQUIRE(ok(system.call({{"op", "tenant.settings"}, {"tenant", "acme"}, {"set", object{{"records_max", 1}}}})));
  CHECK(integer(admin.call({{"op", "tenant.settings"}}), "settings.records_max") == 1);
  session writer(node, encoding::json, again.writer);
  CHECK(ok(writer.call({{"op", "stock.set"}, {"warehouse", "w"}, {"sku", "x"}, {"on_hand", 1}})));
  check_error(writer.call({{"op", "stock.set"}, {"warehouse", "w"}, {"sku", "y"}, {"on_hand", 1}}), "LIMIT_EXCEEDED");
  node.stop();
}

TEST_CASE("node: a tenant.delete cut short by SIGKILL is finished at the next start", "[node][tenant]") {
  stockgrid::testing::temp_dir data;
  node_options options = without_demo();
  options.data_dir = data.path() + "/data";
  tenant_keys other;
  {
    test_node node(options);
    const tenant_keys acme = create_tenant(node, "acme");
    other = create_tenant(node, "other");
    session writer(node, encoding::json, acme.writer);
    session other_writer(node, encoding::json, other.writer);
    for (int i = 0; i < 40; ++i) {
      const std::string sku = "sku-" + std::to_string(i);
      REQUIRE(ok(writer.call({{"op", "stock.set"}, {"warehouse", "w"}, {"sku", sku}, {"on_hand", 5}})));
    }
    REQUIRE(ok(other_writer.call({{"op", "stock.set"}, {"warehouse", "w"}, {"sku", "x"}, {"on_hand", 1}})));
    session system(node, encoding::json, system_token);
    REQUIRE(ok(system.call({{"op", "tenant.suspend"}, {"tenant", "acme"}})));
    // Sent, not awaited: the node is killed once the mark is durable (it
    // logs it), while or just after it removes the data; which of the two
    // varies, the end state may not.
    system.send({{"op", "tenant.delete"}, {"tenant", "acme"}});
    bool marked = false;
    for (int i = 0; i < 500 && !marked; ++i) {
      marked = node.log().find("tenant acme: deleting") != std::string::npos;
      if (!marked) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(marked);
  }  // SIGKILL

  test_node node(options);
  session system(node, encoding::json, system_token);
  // Admin ops run after the resumed delete on the admin thread.
  check_error(system.call({{"op", "tenant.export"}, {"tenant", "acme"}}), "NOT_FOUND");
  const value tenants = system.call({{"op", "tenant.list"}});
  for (const auto& t : items(tenants, "tenants")) CHECK(text(t, "tenant") != "acme");
  REQUIRE(ok(system.call({{"op", "tenant.create"}, {"tenant", "acme"}})));
  const value page = system.call({{"op", "tenant.export"}, {"tenant", "acme"}});
  REQUIRE(ok(page));
  CHECK(items(page, "records").empty());
  session other_writer(node, encoding::json, other.writer);
  CHECK(ok(other_writer.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", "x"}})));
  node.stop();
}
