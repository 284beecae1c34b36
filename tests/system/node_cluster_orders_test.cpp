// Orders and transfers across three real nodes (docs/cluster.md "Orders and
// transfers"): each tenant's run at its order home, the leader of its home
// partition, which any node sends them to; their steps go to the records'
// partition leaders and are answered once a majority holds them; their
// documents are journaled in the home partition, so when the home is lost
// the partition's next leader takes its orders over and they go on.
#include <csignal>

#include <sqlite3.h>

#include "cluster/placement.hpp"
#include "tests/system/cluster_fixture.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;

namespace {

value line(std::string sku, int qty, std::string wh) {
  return object{{"sku", std::move(sku)}, {"qty", qty}, {"warehouse", std::move(wh)}};
}

// The index in `c` of the tenant's order home: the leader of its home
// partition, once every running node agrees on it and it is the partition's
// preferred replica (right after a start another one may lead it for a
// while, until the preferred one takes it back), or `except` (a lost node)
// is not it.
std::size_t home_of(cluster3& c, const std::string& tenant, std::size_t except = 3) {
  const auto p = static_cast<std::int64_t>(stockgrid::cluster::home_partition(tenant, 4));
  std::size_t home = 3;
  REQUIRE(eventually(
      [&] {
        const auto leaders = leaders_agreed(c);
        const auto it = leaders.find(p);
        if (it == leaders.end() || c.index_of(it->second) == except) return false;
        if (except == 3) {
          const value status = status_of(*c.nodes[c.index_of(it->second)]);
          const auto& replicas = items(partition_in(status, p), "replicas");
          if (replicas.empty() || !replicas[0].as_string() || *replicas[0].as_string() != it->second) return false;
        }
        home = c.index_of(it->second);
        return true;
      },
      30s));
  return home;
}

// Waits for the cluster to form and creates the tenant "shop" through node 0;
// returns its keys once they work at every node.
tenant_keys cluster_with_shop(cluster3& c) {
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  tenant_keys shop = create_tenant(*c.nodes[0], "shop");
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return authenticates(*n, shop.admin); }));
  // Its order home has read its documents: order ops settle at every node.
  (void)home_of(c, "shop");
  for (auto& n : c.nodes)
    REQUIRE(eventually([&] {
      session s(*n, encoding::json, shop.admin);
      return settled(s.call({{"op", "order.get"}, {"order", "O-none"}}));
    }));
  return shop;
}

value record_at(session& s, const std::string& wh, const std::string& sku) {
  const value r = s.call({{"op", "stock.get"}, {"warehouse", wh}, {"sku", sku}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  return r;
}

// Calls until the answer is not UNAVAILABLE or TIMEOUT (a member or a
// leader is being switched), at most `limit`; returns the last answer.
value call_through_switch(session& s, const object& request, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    value r = s.call(request);
    const bool switching = !ok(r) && (text(r, "error.code") == "UNAVAILABLE" || text(r, "error.code") == "TIMEOUT");
    if (!switching || std::chrono::steady_clock::now() > deadline) return r;
    std::this_thread::sleep_for(100ms);
  }
}

// The id of the order stored under `idem` in the node's documents.db, or ""
// (read while the node runs: SQLite lets a reader in beside the writer).
std::string stored_order(const std::string& data_dir, const std::string& idem) {
  sqlite3* db = nullptr;
  std::string id;
  if (sqlite3_open_v2((data_dir + "/documents.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT id FROM documents WHERE kind = 1 AND idem = ?1", -1, &q, nullptr) ==
        SQLITE_OK) {
      sqlite3_bind_text(q, 1, idem.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(q) == SQLITE_ROW) id = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return id;
}

// How many of the record's changes are of `kind` ("reserve", "commit", ...).
int changes_of(session& s, const std::string& wh, const std::string& sku, const std::string& kind) {
  const value r = call_through_switch(s, {{"op", "stock.history"}, {"warehouse", wh}, {"sku", sku}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  int n = 0;
  for (const value& e : items(r, "events")) n += text(e, "kind") == kind ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("cluster: any node takes a tenant's orders and transfers; they run at its home, which survives a restart",
          "[node][cluster][orders]") {
  cluster3 c;
  const tenant_keys shop = cluster_with_shop(c);
  const std::size_t home = home_of(c, "shop");
  REQUIRE(home < 3);
  const std::size_t other = (home + 1) % 3, third = (home + 2) % 3;
  session at_other(*c.nodes[other], encoding::msgpack, shop.admin);
  session at_third(*c.nodes[third], encoding::json, shop.admin);
  for (const auto& [wh, sku, qty] : std::vector<std::tuple<std::string, std::string, int>>{
           {"north", "a", 10}, {"south", "a", 10}, {"south", "b", 4}})
    REQUIRE(ok(at_other.call({{"op", "stock.adjust"}, {"warehouse", wh}, {"sku", sku}, {"delta", qty}})));

  // Bad input is refused by the node that took it, with nothing sent on.
  const value bad = at_other.call({{"op", "order.reserve"}, {"lines", array{line("a", 0, "north")}}});
  check_error(bad, "BAD_REQUEST");

  // An order through one node that is not the home; read and committed
  // through another.
  value r = at_other.call({{"op", "order.reserve"},
                           {"lines", array{line("a", 3, "north"), line("b", 2, "south")}},
                           {"idem", "cart-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "held");
  const std::string first = text(r, "order");
  CHECK(integer(record_at(at_third, "north", "a"), "record.reserved") == 3);
  CHECK(integer(record_at(at_third, "south", "b"), "record.reserved") == 2);

  // The same idempotency key through the other node replays the one order.
  r = at_third.call({{"op", "order.reserve"},
                     {"lines", array{line("a", 3, "north"), line("b", 2, "south")}},
                     {"idem", "cart-1"}});
  REQUIRE(ok(r));
  CHECK(text(r, "order") == first);
  CHECK(at(r, "replayed") == value(true));

  r = at_third.call({{"op", "order.get"}, {"order", first}});
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "held");
  r = at_third.call({{"op", "order.commit"}, {"order", first}, {"idem", "pay-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "committed");
  value north_a = record_at(at_other, "north", "a");
  CHECK(integer(north_a, "record.on_hand") == 7);
  CHECK(integer(north_a, "record.reserved") == 0);
  CHECK(integer(record_at(at_other, "south", "b"), "record.on_hand") == 2);

  // More than there is: refused, and nothing held.
  r = at_other.call({{"op", "order.reserve"}, {"lines", array{line("b", 3, "south")}}});
  check_error(r, "INSUFFICIENT_STOCK");
  CHECK(integer(record_at(at_other, "south", "b"), "record.reserved") == 0);

  // A transfer: created through one node, received through another.
  r = at_other.call({{"op", "transfer.create"}, {"sku", "a"}, {"from", "south"}, {"to", "north"}, {"qty", 4},
                     {"idem", "move-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  const std::string transfer = text(r, "transfer");
  r = at_third.call({{"op", "transfer.receive"}, {"transfer", transfer}, {"qty", 4}, {"idem", "recv-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(integer(r, "received") == 4);
  CHECK(integer(record_at(at_third, "south", "a"), "record.on_hand") == 6);
  CHECK(integer(record_at(at_third, "north", "a"), "record.on_hand") == 11);

  // A held order, then the home is lost: the home partition's next leader
  // takes its orders over from the journal, and the order commits through
  // a node that was never its home. Stock ops go on meanwhile.
  r = at_other.call({{"op", "order.reserve"}, {"lines", array{line("a", 5, "north")}}, {"idem", "cart-2"}});
  REQUIRE(ok(r));
  const std::string second = text(r, "order");
  const auto lost_at = std::chrono::steady_clock::now();
  ::kill(c.nodes[home]->pid(), SIGKILL);
  r = call_through_switch(at_other, {{"op", "order.get"}, {"order", second}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "held");
  const auto took_over_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - lost_at).count();
  WARN("orders served again " << took_over_ms << " ms after their home was killed");
  const std::size_t next_home = home_of(c, "shop", home);
  CHECK(next_home != home);
  r = call_through_switch(at_third, {{"op", "stock.adjust"}, {"warehouse", "east"}, {"sku", "c"}, {"delta", 1}});
  INFO(Catch::Detail::stringify(r));
  CHECK(ok(r));
  r = call_through_switch(at_third, {{"op", "order.commit"}, {"order", second}, {"idem", "pay-2"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "committed");
  // The first order, committed before the loss, reads the same at the new home.
  r = call_through_switch(at_other, {{"op", "order.get"}, {"order", first}});
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "committed");
  // A new order gets an id no home handed out before.
  r = call_through_switch(at_other, {{"op", "order.reserve"}, {"lines", array{line("a", 1, "north")}}, {"idem", "cart-3"}});
  REQUIRE(ok(r));
  CHECK(text(r, "order") != first);
  CHECK(text(r, "order") != second);
  r = call_through_switch(at_other, {{"op", "order.release"}, {"order", text(r, "order")}, {"idem", "undo-3"}});
  REQUIRE(ok(r));

  // The old home comes back as a follower; the orders read the same through it.
  c.nodes[home]->restart();
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  session at_old_home(*c.nodes[home], encoding::json, shop.admin);
  r = call_through_switch(at_old_home, {{"op", "order.get"}, {"order", second}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "committed");
  r = call_through_switch(at_other, {{"op", "stock.get"}, {"warehouse", "north"}, {"sku", "a"}});
  REQUIRE(ok(r));
  CHECK(integer(r, "record.on_hand") == 6);
  CHECK(integer(r, "record.reserved") == 0);
  CHECK(changes_of(at_other, "north", "a", "commit") == 2);  // one per order
}

TEST_CASE("cluster: an order's steps go on through the loss of a partition leader; each applies once",
          "[node][cluster][orders]") {
  cluster3 c;
  const tenant_keys shop = cluster_with_shop(c);
  const std::size_t home = home_of(c, "shop");
  session at_home(*c.nodes[home], encoding::json, shop.admin);

  // A SKU whose partition another node leads: that node is lost while an
  // order holds stock there. Right after the start one node may lead every
  // partition (a slow start, as under ASan) until the preferred replicas
  // take theirs back: wait for another leader.
  std::string sku;
  std::size_t victim = 3;
  REQUIRE(eventually(
      [&] {
        const auto leaders = leaders_agreed(c);
        for (int i = 0; i < 256 && victim == 3; ++i) {
          sku = "sku-" + std::to_string(i);
          const auto p = stockgrid::partition_of({"shop", "w", sku}, 4);
          if (auto it = leaders.find(p); it != leaders.end() && it->second != c.id(home))
            victim = c.index_of(it->second);
        }
        return victim < 3;
      },
      30s));
  REQUIRE(ok(at_home.call({{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku}, {"delta", 10}})));
  value r = at_home.call({{"op", "order.reserve"}, {"lines", array{line(sku, 4, "w")}}, {"idem", "cart-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  const std::string first = text(r, "order");

  ::kill(c.nodes[victim]->pid(), SIGKILL);
  // The commit goes on through the switch of leaders (its steps retry with
  // their idempotency keys) and a new order is taken once one serves.
  r = call_through_switch(at_home, {{"op", "order.commit"}, {"order", first}, {"idem", "pay-1"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "committed");
  r = call_through_switch(at_home, {{"op", "order.reserve"}, {"lines", array{line(sku, 3, "w")}}, {"idem", "cart-2"}});
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "held");
  r = call_through_switch(at_home, {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku}});
  REQUIRE(ok(r));
  CHECK(integer(r, "record.on_hand") == 6);  // 10 - 4
  CHECK(integer(r, "record.reserved") == 3);
  // Each step applied once, whatever was retried through the switch.
  CHECK(changes_of(at_home, "w", sku, "reserve") == 2);
  CHECK(changes_of(at_home, "w", sku, "commit") == 1);

  // The lost node comes back and its copy converges to the same record.
  c.nodes[victim]->restart();
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  session at_victim(*c.nodes[victim], encoding::json, shop.admin);
  CHECK(eventually([&] {
    const value got = at_victim.call(
        {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku}, {"consistency", "follower"}});
    return ok(got) && integer(got, "record.on_hand") == 6 && integer(got, "record.reserved") == 3;
  }));
}

TEST_CASE("cluster: an order the home was reserving when it died resumes at the next home; each line is held once",
          "[node][cluster][orders]") {
  cluster3 c;
  const tenant_keys shop = cluster_with_shop(c);
  const std::size_t home = home_of(c, "shop");
  const std::size_t third = (home + 2) % 3;
  // 40 lines: their holds are taken one after another, each a quorum write,
  // so the home is killed while some are held and others are not.
  constexpr int lines = 40;
  array order_lines;
  {
    session at_home(*c.nodes[home], encoding::json, shop.admin);
    for (int i = 0; i < lines; ++i) {
      // Through a leader switch (a slow start, as under ASan, can still be
      // moving leads back to their preferred replicas); the key makes a
      // retry apply once.
      REQUIRE(ok(call_through_switch(at_home, {{"op", "stock.adjust"},
                                               {"warehouse", "w"},
                                               {"sku", "sku-" + std::to_string(i)},
                                               {"delta", 10},
                                               {"idem", "stock-" + std::to_string(i)}})));
      order_lines.push_back(line("sku-" + std::to_string(i), 4, "w"));
    }
    at_home.send({{"op", "order.reserve"}, {"lines", order_lines}, {"idem", "cart-1"}});
    // The order is put `reserving` before its first hold; killed then.
    REQUIRE(eventually([&] { return !stored_order(c.data_dir(home), "cart-1").empty(); }, 10s));
    ::kill(c.nodes[home]->pid(), SIGKILL);
  }
  const std::string order = stored_order(c.data_dir(home), "cart-1");
  // The client's retry with its key, through another node, finds the order
  // resumed by the home partition's next leader, held.
  session at_third(*c.nodes[third], encoding::json, shop.admin);
  const value r = call_through_switch(at_third, {{"op", "order.reserve"}, {"lines", order_lines}, {"idem", "cart-1"}},
                                      30s);
  INFO(Catch::Detail::stringify(r));
  REQUIRE(ok(r));
  CHECK(text(r, "status") == "held");
  CHECK(text(r, "order") == order);  // the order from before the kill, not a new one
  for (int i = 0; i < lines; ++i) {
    const std::string sku = "sku-" + std::to_string(i);
    const value got = call_through_switch(at_third, {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku}});
    REQUIRE(ok(got));
    INFO(sku);
    CHECK(integer(got, "record.reserved") == 4);
    CHECK(changes_of(at_third, "w", sku, "reserve") == 1);
  }
}
