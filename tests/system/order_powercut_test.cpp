// Orders under a power cut (sync durability): clients place, commit and
// release orders concurrently (order_crash_ops.hpp) when the power goes, so
// the cut lands in the middle of phases. Everything acknowledged before the
// cut must be there afterwards, exactly: acknowledged orders replay their id
// and status, nothing is half held (each record's `reserved` is what held
// orders hold there) and stock is conserved. Orders the cut caught before
// they were held hold nothing after the restart.
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "persistence/testing/powercut_vfs.hpp"
#include "tests/support/grid_harness.hpp"
#include "tests/system/order_crash_ops.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;
namespace powercut = stockgrid::persistence::powercut;

namespace {

orders::order_reply order_call(grid& g, orders::order_request r) {
  auto p = std::make_shared<std::promise<orders::order_reply>>();
  auto f = p->get_future();
  g.order(std::move(r), [p](orders::order_reply&& rep) { p->set_value(std::move(rep)); });
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

struct ack {
  std::string id;
  orders::order_status status;
};

}  // namespace

TEST_CASE("sync durability keeps every acknowledged order exactly through a power cut",
          "[powercut][orders][system]") {
  powercut::install();
  temp_dir dir;
  auto s = test_settings(dir.path());
  s.journal.durability = config::durability_mode::sync;

  std::mutex mu;
  std::map<long, ack> reserved;   // step -> the reserve's answer
  std::map<long, ack> followed;   // step -> the commit's or release's answer
  std::atomic<bool> cutting{false};
  std::atomic<long> next{0};
  {
    auto g = open_grid(s, powercut::vfs_name);
    for (const auto& w : order_crash_warehouses)
      for (int k = 0; k < order_crash_skus; ++k) {
        auto r = adjust(w, "sku" + std::to_string(k), order_crash_stock);
        r.key.tenant = "crash";
        REQUIRE(call(*g, r).code == outcome::ok);
      }
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        while (!cutting) {
          const long i = next++;
          if (is_transfer_step(i)) continue;
          auto o = order_call(*g, order_crash_reserve(i));
          if (o.code != outcome::ok) continue;
          {
            std::lock_guard lk(mu);
            if (!cutting) reserved[i] = {o.doc.id, o.doc.status};
          }
          auto follow = order_crash_follow_up(i, o.doc.id);
          if (!follow) continue;
          auto f = order_call(*g, *follow);
          std::lock_guard lk(mu);
          if (!cutting && f.code == outcome::ok) followed[i] = {o.doc.id, f.doc.status};
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    {
      std::lock_guard lk(mu);  // no answer is recorded once this is set
      cutting = true;
    }
    powercut::cut();
    for (auto& t : clients) t.join();
    g->stop();
  }
  REQUIRE(powercut::restore_unsynced().is_ok());
  INFO(reserved.size() << " orders and " << followed.size() << " follow-ups acknowledged before the cut");
  REQUIRE(reserved.size() > 10);

  auto g = open_grid(s);
  // Acknowledged orders replay; their follow-ups stuck.
  for (const auto& [i, a] : reserved) {
    auto o = order_call(*g, order_crash_reserve(i));
    INFO("step " << i);
    REQUIRE(o.code == outcome::ok);
    CHECK(o.replayed);
    CHECK(o.doc.id == a.id);
  }
  for (const auto& [i, a] : followed) {
    orders::order_request get;
    get.kind = orders::order_op::get;
    get.who = order_crash_caller();
    get.order = a.id;
    INFO("step " << i);
    CHECK(order_call(*g, get).doc.status == a.status);
  }
  // Every order that exists (the acknowledged ones and any the cut caught
  // after their `held` put) is settled; `reserved` is exactly what held
  // orders hold; stock is conserved.
  std::map<std::pair<std::string, std::string>, std::int64_t> held;
  std::int64_t sold = 0;
  for (long i = 0; i < next.load(); ++i) {
    if (is_transfer_step(i)) continue;
    // Retrying places the orders the cut lost (they count like the others).
    auto o = order_call(*g, order_crash_reserve(i));
    if (o.code != outcome::ok) continue;
    REQUIRE((o.doc.status == orders::order_status::held || orders::is_final(o.doc.status)));
    for (const auto& l : o.doc.lines) {
      if (o.doc.status == orders::order_status::held) held[{l.warehouse, l.sku}] += l.qty;
      if (o.doc.status == orders::order_status::committed) sold += l.qty;
    }
  }
  std::int64_t on_hand = 0;
  for (const auto& w : order_crash_warehouses)
    for (int k = 0; k < order_crash_skus; ++k) {
      const auto sku = "sku" + std::to_string(k);
      auto r = call(*g, get(w, sku, "crash"));
      REQUIRE(r.code == outcome::ok);
      INFO(w << "/" << sku);
      CHECK(r.record.reserved == held[{w, sku}]);
      on_hand += r.record.on_hand;
    }
  CHECK(on_hand + sold == 2 * order_crash_skus * order_crash_stock);
}
