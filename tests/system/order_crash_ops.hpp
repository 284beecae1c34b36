// The deterministic workload of the order and transfer crash test, shared by
// the worker that is killed and the test that checks what it acknowledged.
// Step i of the workload is one of:
//   i % 5 == 4       a transfer of 1 unit of sku(i) from w1 to w2, received
//                    in full (idem "t<i>", receipt idem "tr<i>")
//   otherwise        an all_or_nothing order of three lines (idem "o<i>"),
//                    then by i % 3: commit ("c<i>"), release ("x<i>"), or
//                    left held
#pragma once

#include <map>
#include <string>
#include <vector>

#include "orders/requests.hpp"
#include "tests/support/grid_harness.hpp"

namespace stockgrid::testing {

inline constexpr int order_crash_skus = 6;
inline constexpr std::int64_t order_crash_stock = 400;  // per (warehouse, sku) at the start
inline const std::vector<std::string> order_crash_warehouses{"w1", "w2"};

inline orders::caller order_crash_caller() {
  orders::caller c;
  c.tenant = "crash";
  c.key_id = "worker";
  return c;
}

inline std::string order_crash_sku(long i) { return "sku" + std::to_string(i % order_crash_skus); }

inline bool is_transfer_step(long i) { return i % 5 == 4; }

inline orders::order_request order_crash_reserve(long i) {
  orders::order_request r;
  r.kind = orders::order_op::reserve;
  r.who = order_crash_caller();
  r.idem = "o" + std::to_string(i);
  r.ttl_ms = 3'600'000;
  for (int l = 0; l < 3; ++l)
    r.lines.push_back({order_crash_sku(i + l * 7), 1 + (i + l) % 3,
                       order_crash_warehouses[static_cast<std::size_t>((i + l) % 2)]});
  return r;
}

// What follows a held order: commit, release, or nothing.
inline std::optional<orders::order_request> order_crash_follow_up(long i, const std::string& id) {
  if (i % 3 == 2) return std::nullopt;
  orders::order_request r;
  r.kind = i % 3 == 0 ? orders::order_op::commit : orders::order_op::release;
  r.who = order_crash_caller();
  r.order = id;
  r.idem = (i % 3 == 0 ? "c" : "x") + std::to_string(i);
  return r;
}

inline orders::transfer_request order_crash_transfer(long i) {
  orders::transfer_request r;
  r.kind = orders::transfer_op::create;
  r.who = order_crash_caller();
  r.sku = order_crash_sku(i);
  r.from = "w1";
  r.to = "w2";
  r.qty = 1;
  r.idem = "t" + std::to_string(i);
  return r;
}

inline orders::transfer_request order_crash_receive(long i, const std::string& id) {
  orders::transfer_request r;
  r.kind = orders::transfer_op::receive;
  r.who = order_crash_caller();
  r.transfer = id;
  r.idem = "tr" + std::to_string(i);
  return r;
}

// What the records must show for these orders (all settled: held or final):
// each record's `reserved` is exactly what held orders hold there, and stock
// is conserved: on_hand + incoming over the records plus what committed
// orders sold is what was stocked.
inline void check_records_match(grid& g, const std::vector<orders::order>& settled) {
  std::map<std::pair<std::string, std::string>, std::int64_t> held;
  std::int64_t sold = 0;
  for (const auto& o : settled)
    for (const auto& l : o.lines) {
      if (o.status == orders::order_status::held) held[{l.warehouse, l.sku}] += l.qty;
      if (o.status == orders::order_status::committed) sold += l.qty;
    }
  std::int64_t stock = 0;
  for (const auto& w : order_crash_warehouses)
    for (int k = 0; k < order_crash_skus; ++k) {
      const auto sku = "sku" + std::to_string(k);
      auto r = call(g, get(w, sku, "crash"));
      REQUIRE(r.code == outcome::ok);
      INFO(w << "/" << sku);
      CHECK(r.record.reserved == held[{w, sku}]);
      stock += r.record.on_hand + r.record.incoming;
    }
  CHECK(stock + sold == 2 * order_crash_skus * order_crash_stock);
}

}  // namespace stockgrid::testing
