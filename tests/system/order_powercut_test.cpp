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
          auto o = call_order(*g, order_crash_reserve(i));
          if (o.code != outcome::ok) continue;
          {
            std::lock_guard lk(mu);
            if (!cutting) reserved[i] = {o.doc.id, o.doc.status};
          }
          auto follow = order_crash_follow_up(i, o.doc.id);
          if (!follow) continue;
          auto f = call_order(*g, *follow);
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
    auto o = call_order(*g, order_crash_reserve(i));
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
    CHECK(call_order(*g, get).doc.status == a.status);
  }
  // Every order that exists (the acknowledged ones and any the cut caught
  // after their `held` put) is settled; `reserved` is exactly what held
  // orders hold; stock is conserved.
  std::vector<orders::order> settled;
  for (long i = 0; i < next.load(); ++i) {
    if (is_transfer_step(i)) continue;
    // Retrying places the orders the cut lost (they count like the others).
    auto o = call_order(*g, order_crash_reserve(i));
    if (o.code != outcome::ok) continue;
    REQUIRE((o.doc.status == orders::order_status::held || orders::is_final(o.doc.status)));
    settled.push_back(o.doc);
  }
  check_records_match(*g, settled);
}
