// Orders, transfers, stock.find and tenant settings through a real grid
// (actors, SQLite partition files and documents.db in a temp dir).
#include <atomic>
#include <random>
#include <thread>

#include "tests/support/grid_harness.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;
using orders::order_op;
using orders::order_policy;
using orders::transfer_op;

namespace {

orders::caller who(std::string tenant = "t1") {
  orders::caller c;
  c.tenant = std::move(tenant);
  c.key_id = "k1";
  return c;
}

orders::order_request reserve_order(std::vector<orders::line_request> lines,
                                    order_policy policy = order_policy::all_or_nothing,
                                    std::string idem = {}, std::int64_t ttl_ms = 0) {
  orders::order_request r;
  r.kind = order_op::reserve;
  r.who = who();
  r.lines = std::move(lines);
  r.policy = policy;
  r.idem = std::move(idem);
  r.ttl_ms = ttl_ms;
  return r;
}

orders::order_request on_order(order_op kind, std::string id, std::int64_t ttl_ms = 0) {
  orders::order_request r;
  r.kind = kind;
  r.who = who();
  r.order = std::move(id);
  r.ttl_ms = ttl_ms;
  return r;
}

record_view record(grid& g, const std::string& wh, const std::string& sku) {
  auto r = call(g, get(wh, sku));
  REQUIRE(r.code == outcome::ok);
  return r.record;
}

orders::transfer_request create_transfer(std::string sku, std::string from, std::string to,
                                         std::int64_t qty, std::string idem = {}) {
  orders::transfer_request r;
  r.kind = transfer_op::create;
  r.who = who();
  r.sku = std::move(sku);
  r.from = std::move(from);
  r.to = std::move(to);
  r.qty = qty;
  r.idem = std::move(idem);
  return r;
}

orders::transfer_request on_transfer(transfer_op kind, std::string id,
                                     std::optional<std::int64_t> qty = {}, std::string idem = {}) {
  orders::transfer_request r;
  r.kind = kind;
  r.who = who();
  r.transfer = std::move(id);
  r.qty = qty;
  r.idem = std::move(idem);
  return r;
}

}  // namespace

TEST_CASE("an all-or-nothing order holds every line or none", "[orders]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 5)).code == outcome::ok);
  REQUIRE(call(*g, adjust("w1", "b", 1)).code == outcome::ok);

  auto refused = call_order(*g, reserve_order({{"a", 3, "w1"}, {"b", 2, "w1"}}));
  CHECK(refused.code == outcome::insufficient_stock);
  REQUIRE(refused.shortages.size() == 1);
  CHECK(refused.shortages[0].sku == "b");
  CHECK(refused.shortages[0].requested == 2);
  CHECK(refused.shortages[0].available == 1);
  CHECK(record(*g, "w1", "a").reserved == 0);
  CHECK(record(*g, "w1", "b").reserved == 0);

  auto held = call_order(*g, reserve_order({{"a", 3, "w1"}, {"b", 1, "w1"}}));
  REQUIRE(held.code == outcome::ok);
  CHECK(held.doc.status == orders::order_status::held);
  REQUIRE(held.doc.lines.size() == 2);
  CHECK(record(*g, "w1", "a").reserved == 3);
  CHECK(record(*g, "w1", "b").reserved == 1);

  SECTION("commit sells every line, and a second commit replays") {
    auto c = call_order(*g, on_order(order_op::commit, held.doc.id));
    REQUIRE(c.code == outcome::ok);
    CHECK(c.doc.status == orders::order_status::committed);
    CHECK(record(*g, "w1", "a").on_hand == 2);
    CHECK(record(*g, "w1", "b").on_hand == 0);
    CHECK(record(*g, "w1", "a").reserved == 0);
    auto again = call_order(*g, on_order(order_op::commit, held.doc.id));
    CHECK(again.code == outcome::ok);
    CHECK(again.replayed);
    CHECK(call_order(*g, on_order(order_op::release, held.doc.id)).code == outcome::hold_not_found);
  }
  SECTION("release gives every line back") {
    auto r = call_order(*g, on_order(order_op::release, held.doc.id));
    REQUIRE(r.code == outcome::ok);
    CHECK(r.doc.status == orders::order_status::released);
    CHECK(record(*g, "w1", "a").reserved == 0);
    CHECK(record(*g, "w1", "b").reserved == 0);
    CHECK(call_order(*g, on_order(order_op::commit, held.doc.id)).code == outcome::hold_not_found);
  }
  SECTION("an order's hold cannot be committed or released on its own") {
    auto c = call(*g, hold_op(op::commit, held.doc.lines[0].hold));
    CHECK(c.code == outcome::forbidden);
    auto r = call(*g, hold_op(op::release, held.doc.lines[1].hold));
    CHECK(r.code == outcome::forbidden);
    CHECK(record(*g, "w1", "a").reserved == 3);
  }
}

TEST_CASE("lines for the same record are summed before anything is checked", "[orders]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 3)).code == outcome::ok);
  auto r = call_order(*g, reserve_order({{"a", 2, "w1"}, {"a", 2, "w1"}}));
  CHECK(r.code == outcome::insufficient_stock);
  REQUIRE(r.shortages.size() == 1);
  CHECK(r.shortages[0].requested == 4);
  CHECK(record(*g, "w1", "a").reserved == 0);
  auto ok = call_order(*g, reserve_order({{"a", 1, "w1"}, {"a", 2, "w1"}}));
  REQUIRE(ok.code == outcome::ok);
  REQUIRE(ok.doc.lines.size() == 1);
  CHECK(ok.doc.lines[0].qty == 3);
}

TEST_CASE("a partial order holds what is available and lists the rest", "[orders]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 5)).code == outcome::ok);
  REQUIRE(call(*g, adjust("w1", "b", 1)).code == outcome::ok);
  auto r = call_order(*g, reserve_order({{"a", 2, "w1"}, {"b", 3, "w1"}, {"c", 1, "w1"}},
                                        order_policy::partial));
  REQUIRE(r.code == outcome::ok);
  CHECK(r.doc.status == orders::order_status::held);
  std::int64_t held_b = 0, unfilled_b = 0, unfilled_c = 0;
  for (const auto& l : r.doc.lines)
    if (l.sku == "b") held_b += l.qty;
  for (const auto& u : r.doc.unfilled) {
    if (u.sku == "b") unfilled_b += u.qty;
    if (u.sku == "c") unfilled_c += u.qty;
  }
  CHECK(held_b == 1);
  CHECK(unfilled_b == 2);
  CHECK(unfilled_c == 1);
  CHECK(record(*g, "w1", "b").reserved == 1);
}

TEST_CASE("an order's holds expire together, and an extended order lives on", "[orders]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 5)).code == outcome::ok);
  REQUIRE(call(*g, adjust("w2", "b", 5)).code == outcome::ok);
  auto short_lived = call_order(*g, reserve_order({{"a", 1, "w1"}, {"b", 1, "w2"}},
                                                  order_policy::all_or_nothing, {}, 300));
  REQUIRE(short_lived.code == outcome::ok);
  auto extended = call_order(*g, reserve_order({{"a", 2, "w1"}}, order_policy::all_or_nothing, {}, 300));
  REQUIRE(extended.code == outcome::ok);
  REQUIRE(call_order(*g, on_order(order_op::extend, extended.doc.id, 60'000)).code == outcome::ok);
  CHECK(eventually([&] {
    return call_order(*g, on_order(order_op::get, short_lived.doc.id)).doc.status ==
           orders::order_status::expired;
  }));
  CHECK(record(*g, "w1", "a").reserved == 2);
  CHECK(record(*g, "w2", "b").reserved == 0);
  CHECK(call_order(*g, on_order(order_op::commit, short_lived.doc.id)).code == outcome::hold_not_found);
  CHECK(call_order(*g, on_order(order_op::commit, extended.doc.id)).code == outcome::ok);
}

TEST_CASE("order.reserve retried with its idem gets the one outcome", "[orders][idempotency]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 5)).code == outcome::ok);
  auto first = call_order(*g, reserve_order({{"a", 2, "w1"}}, order_policy::all_or_nothing, "cart-1"));
  INFO(first.message);
  REQUIRE(first.code == outcome::ok);
  auto again = call_order(*g, reserve_order({{"a", 2, "w1"}}, order_policy::all_or_nothing, "cart-1"));
  REQUIRE(again.code == outcome::ok);
  CHECK(again.replayed);
  CHECK(again.doc.id == first.doc.id);
  CHECK(record(*g, "w1", "a").reserved == 2);
  auto other = call_order(*g, reserve_order({{"a", 3, "w1"}}, order_policy::all_or_nothing, "cart-1"));
  CHECK(other.code == outcome::idempotency_mismatch);
  // A refusal is remembered too.
  auto no = call_order(*g, reserve_order({{"a", 9, "w1"}}, order_policy::all_or_nothing, "cart-2"));
  CHECK(no.code == outcome::insufficient_stock);
  REQUIRE(call(*g, adjust("w1", "a", 100)).code == outcome::ok);
  auto no_again = call_order(*g, reserve_order({{"a", 9, "w1"}}, order_policy::all_or_nothing, "cart-2"));
  CHECK(no_again.code == outcome::insufficient_stock);
  CHECK(no_again.replayed);
}

TEST_CASE("allocation: lines without a warehouse follow the tenant's setting", "[orders][allocation]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("north", "a", 2)).code == outcome::ok);
  REQUIRE(call(*g, adjust("south", "a", 10)).code == outcome::ok);
  REQUIRE(call(*g, adjust("south", "b", 10)).code == outcome::ok);

  auto dry = reserve_order({{"a", 5, ""}});
  dry.dry_run = true;
  auto plan = call_order(*g, dry);
  REQUIRE(plan.code == outcome::ok);
  REQUIRE(plan.plan.size() == 1);
  CHECK(plan.plan[0].warehouse == "south");  // most_available by default
  CHECK_FALSE(plan.explanation.empty());
  CHECK(record(*g, "south", "a").reserved == 0);  // a dry run holds nothing

  orders::settings_request set;
  set.who = who();
  set.allocation = orders::allocation_policy::priority;
  set.priority = std::vector<std::string>{"north", "south"};
  std::promise<orders::settings_reply> p;
  g->tenant_settings(set, [&](orders::settings_reply&& r) { p.set_value(std::move(r)); });
  REQUIRE(p.get_future().get().code == outcome::ok);

  auto split = call_order(*g, reserve_order({{"a", 5, ""}}));
  REQUIRE(split.code == outcome::ok);
  REQUIRE(split.doc.lines.size() == 2);  // split: north first, the rest from south
  CHECK(record(*g, "north", "a").reserved == 2);
  CHECK(record(*g, "south", "a").reserved == 3);

  std::promise<orders::find_reply> fp;
  g->find(who(), "a", [&](orders::find_reply&& r) { fp.set_value(std::move(r)); });
  auto found = fp.get_future().get();
  REQUIRE(found.code == outcome::ok);
  REQUIRE(found.records.size() == 2);
  CHECK(found.total_available == 7);
}

TEST_CASE("a transfer moves stock out at once, lands in receipts, and cancels the rest",
          "[transfers]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 10)).code == outcome::ok);
  auto no = call_transfer(*g, create_transfer("a", "w1", "w2", 11));
  CHECK(no.code == outcome::insufficient_stock);
  CHECK(no.available == 10);
  CHECK(record(*g, "w1", "a").on_hand == 10);

  auto t = call_transfer(*g, create_transfer("a", "w1", "w2", 6, "move-1"));
  REQUIRE(t.code == outcome::ok);
  CHECK(t.doc.status == orders::transfer_status::in_transit);
  CHECK(record(*g, "w1", "a").on_hand == 4);
  CHECK(record(*g, "w2", "a").incoming == 6);
  CHECK(record(*g, "w2", "a").on_hand == 0);
  auto dup = call_transfer(*g, create_transfer("a", "w1", "w2", 6, "move-1"));
  CHECK(dup.code == outcome::ok);
  CHECK(dup.doc.id == t.doc.id);
  CHECK(record(*g, "w1", "a").on_hand == 4);

  auto r1 = call_transfer(*g, on_transfer(transfer_op::receive, t.doc.id, 2, "rcv-1"));
  REQUIRE(r1.code == outcome::ok);
  auto r1_again = call_transfer(*g, on_transfer(transfer_op::receive, t.doc.id, 2, "rcv-1"));
  CHECK(r1_again.code == outcome::ok);
  CHECK(record(*g, "w2", "a").on_hand == 2);
  CHECK(record(*g, "w2", "a").incoming == 4);
  CHECK(call_transfer(*g, on_transfer(transfer_op::receive, t.doc.id, 5)).code == outcome::bad_request);

  auto c = call_transfer(*g, on_transfer(transfer_op::cancel, t.doc.id));
  REQUIRE(c.code == outcome::ok);
  CHECK(c.doc.status == orders::transfer_status::cancelled);
  CHECK(record(*g, "w1", "a").on_hand == 8);
  CHECK(record(*g, "w2", "a").incoming == 0);
  CHECK(record(*g, "w2", "a").on_hand == 2);
}

TEST_CASE("open orders and transfers survive a restart", "[orders][transfers][recovery]") {
  temp_dir dir;
  std::string order_id, transfer_id;
  {
    auto g = open_grid(test_settings(dir.path()));
    REQUIRE(call(*g, adjust("w1", "a", 10)).code == outcome::ok);
    auto o = call_order(*g, reserve_order({{"a", 3, "w1"}}, order_policy::all_or_nothing, {}, 60'000));
    REQUIRE(o.code == outcome::ok);
    order_id = o.doc.id;
    auto t = call_transfer(*g, create_transfer("a", "w1", "w2", 2));
    REQUIRE(t.code == outcome::ok);
    transfer_id = t.doc.id;
  }
  auto g = open_grid(test_settings(dir.path()));
  auto o = call_order(*g, on_order(order_op::get, order_id));
  REQUIRE(o.code == outcome::ok);
  CHECK(o.doc.status == orders::order_status::held);
  CHECK(record(*g, "w1", "a").reserved == 3);
  REQUIRE(call_order(*g, on_order(order_op::commit, order_id)).code == outcome::ok);
  REQUIRE(call_transfer(*g, on_transfer(transfer_op::receive, transfer_id)).code == outcome::ok);
  CHECK(record(*g, "w1", "a").on_hand == 5);
  CHECK(record(*g, "w2", "a").on_hand == 2);
  // A new order after the restart gets a new id.
  auto next = call_order(*g, reserve_order({{"a", 1, "w1"}}));
  REQUIRE(next.code == outcome::ok);
  CHECK(next.doc.id != order_id);
}

TEST_CASE("overlapping multi-line orders never oversell and leak no hold", "[orders][randomized]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  const std::vector<std::string> skus{"a", "b", "c", "d"};
  const std::vector<std::string> whs{"w1", "w2"};
  for (const auto& w : whs)
    for (const auto& s : skus) REQUIRE(call(*g, adjust(w, s, 20)).code == outcome::ok);
  std::atomic<std::int64_t> sold{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(1234 + c);
      for (int i = 0; i < 25; ++i) {
        std::vector<orders::line_request> lines;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int l = 0; l < n; ++l)
          lines.push_back({skus[rng() % skus.size()], 1 + static_cast<std::int64_t>(rng() % 3),
                           rng() % 3 == 0 ? std::string{} : whs[rng() % whs.size()]});
        auto r = call_order(*g, reserve_order(lines, rng() % 2 ? order_policy::partial
                                                               : order_policy::all_or_nothing));
        if (r.code != outcome::ok) continue;
        if (rng() % 2) {
          auto c2 = call_order(*g, on_order(order_op::commit, r.doc.id));
          if (c2.code == outcome::ok)
            for (const auto& l : c2.doc.lines) sold += l.qty;
        } else {
          call_order(*g, on_order(order_op::release, r.doc.id));
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  std::int64_t on_hand = 0;
  for (const auto& w : whs)
    for (const auto& s : skus) {
      auto rec = record(*g, w, s);
      CHECK(rec.reserved == 0);  // every order was committed or released
      CHECK(rec.on_hand >= 0);
      on_hand += rec.on_hand;
    }
  CHECK(on_hand + sold.load() == 20 * 8);  // conserved
}

TEST_CASE("an order may backorder where the record allows it", "[orders][backorder]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 2)).code == outcome::ok);
  auto policy = rec_req(op::policy, "w1", "a");
  policy.allow_backorder = true;
  REQUIRE(call(*g, policy).code == outcome::ok);
  auto r = call_order(*g, reserve_order({{"a", 5, "w1"}}));
  REQUIRE(r.code == outcome::ok);
  auto rec = record(*g, "w1", "a");
  CHECK(rec.reserved == 5);
  CHECK(rec.backordered == 3);
  // Selling backordered units needs stock: the commit waits for it.
  auto c = call_order(*g, on_order(order_op::commit, r.doc.id));
  CHECK(c.code == outcome::insufficient_stock);
  CHECK(c.doc.status == orders::order_status::committing);
  REQUIRE(call(*g, adjust("w1", "a", 3)).code == outcome::ok);
  CHECK(eventually([&] {
    return call_order(*g, on_order(order_op::get, r.doc.id)).doc.status == orders::order_status::committed;
  }));
  rec = record(*g, "w1", "a");
  CHECK(rec.on_hand == 0);
  CHECK(rec.reserved == 0);
}

TEST_CASE("another tenant's order or transfer is NOT_FOUND, whatever the call", "[orders][tenants]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 5)).code == outcome::ok);
  auto o = call_order(*g, reserve_order({{"a", 2, "w1"}}));
  REQUIRE(o.code == outcome::ok);
  auto t = call_transfer(*g, create_transfer("a", "w1", "w2", 1));
  REQUIRE(t.code == outcome::ok);
  for (auto kind : {order_op::get, order_op::commit, order_op::release, order_op::extend}) {
    auto r = on_order(kind, o.doc.id, 60'000);
    r.who = who("t2");
    auto rep = call_order(*g, r);
    CHECK(rep.code == outcome::not_found);
    CHECK_FALSE(rep.has_order);
  }
  for (auto kind : {transfer_op::get, transfer_op::receive, transfer_op::cancel}) {
    auto r = on_transfer(kind, t.doc.id);
    r.who = who("t2");
    auto rep = call_transfer(*g, r);
    CHECK(rep.code == outcome::not_found);
    CHECK_FALSE(rep.has_transfer);
  }
  // Nothing moved for the owner.
  CHECK(call_order(*g, on_order(order_op::get, o.doc.id)).doc.status == orders::order_status::held);
  CHECK(record(*g, "w1", "a").reserved == 2);
  CHECK(record(*g, "w2", "a").incoming == 1);
}

TEST_CASE("a key limited to some warehouses sees only orders within them", "[orders][warehouses]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("north", "a", 5)).code == outcome::ok);
  REQUIRE(call(*g, adjust("south", "a", 5)).code == outcome::ok);
  auto limited = who();
  limited.warehouses_allowed = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"north"});
  // Lines without a warehouse are placed only where the key may go.
  auto r = reserve_order({{"a", 3, ""}});
  r.who = limited;
  auto placed = call_order(*g, r);
  REQUIRE(placed.code == outcome::ok);
  REQUIRE(placed.doc.lines.size() == 1);
  CHECK(placed.doc.lines[0].warehouse == "north");
  auto named = reserve_order({{"a", 1, "south"}});
  named.who = limited;
  CHECK(call_order(*g, named).code == outcome::forbidden);
  // An order reaching into south is not the limited key's to see.
  auto wide = call_order(*g, reserve_order({{"a", 1, "north"}, {"a", 1, "south"}}));
  REQUIRE(wide.code == outcome::ok);
  auto peek = on_order(order_op::commit, wide.doc.id);
  peek.who = limited;
  CHECK(call_order(*g, peek).code == outcome::forbidden);
  CHECK(call_order(*g, on_order(order_op::get, wide.doc.id)).doc.status == orders::order_status::held);
}

// Found by the model-based test (tests/model): order and transfer ops took
// an idem with the server's reserved prefix "sg:", which docs/protocol.md
// refuses for every request.
TEST_CASE("order and transfer ops refuse an idem with the server's prefix", "[orders][transfers]") {
  temp_dir dir;
  auto g = open_grid(test_settings(dir.path()));
  REQUIRE(call(*g, adjust("w1", "a", 5)).code == outcome::ok);
  auto check_refused = [](outcome code, const std::string& message) {
    INFO(message);
    CHECK(code == outcome::bad_request);
    CHECK(message.starts_with("idem:"));
  };
  const auto order = call_order(*g, reserve_order({{"a", 1, "w1"}}, order_policy::all_or_nothing, "sg:o1"));
  check_refused(order.code, order.message);
  auto commit = on_order(order_op::commit, "O1");
  commit.idem = "sg:c1";
  const auto committed = call_order(*g, commit);
  check_refused(committed.code, committed.message);
  const auto created = call_transfer(*g, create_transfer("a", "w1", "w2", 1, "sg:t1"));
  check_refused(created.code, created.message);
  const auto received = call_transfer(*g, on_transfer(transfer_op::receive, "T1", 1, "sg:r1"));
  check_refused(received.code, received.message);
  // Nothing moved.
  CHECK(record(*g, "w1", "a").reserved == 0);
  CHECK(record(*g, "w1", "a").on_hand == 5);
}
