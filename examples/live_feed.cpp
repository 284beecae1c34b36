// A live feed, as a dashboard or a POS display would keep one: subscribe to
// a set of records, build the view from the snapshot, then apply every
// change as it happens. The network drops halfway; the client library
// resumes the subscription from the position it kept, and the view gets
// exactly the changes it missed — none lost, none twice — and the
// out-of-stock and back-in-stock alerts.
//
//   build/examples/live_feed --url ws://127.0.0.1:7400/v1/ws --token <writer token>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "examples/common.hpp"

using namespace examples;
using namespace std::chrono_literals;

namespace {

// The dashboard's view: records by SKU, the versions each change arrived
// with, and the alerts. Filled on the client's io thread, read here.
struct view {
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, sg::stock_record> records;
  std::map<std::string, std::vector<std::int64_t>> versions;
  std::vector<std::string> alerts;
  bool snapshot_done = false;
  int resets = 0;

  void on_event(const sg::subscription_event& e) {
    std::lock_guard lk(mu);
    switch (e.kind) {
      case sg::event_kind::snapshot:
        for (const auto& r : e.records) records[r.sku] = r;
        break;
      case sg::event_kind::snapshot_end:
        snapshot_done = true;
        break;
      case sg::event_kind::stock:
        records[e.record.sku] = e.record;
        versions[e.record.sku].push_back(e.change.version);
        std::printf("   %-5s %-8s %+lld -> available %lld (v%lld)\n", e.record.sku.c_str(),
                    e.change.kind.c_str(), static_cast<long long>(e.change.delta),
                    static_cast<long long>(e.record.available), static_cast<long long>(e.change.version));
        break;
      case sg::event_kind::alert:
        alerts.push_back(e.alert);
        std::printf("   ALERT %s: %s available %lld\n", e.alert.c_str(), e.record.sku.c_str(),
                    static_cast<long long>(e.record.available));
        break;
      case sg::event_kind::reset:
        ++resets;
        records.clear();
        break;
      case sg::event_kind::ended:
        std::printf("   the subscription ended: %s\n", show(e.raw).c_str());
        break;
    }
    changed.notify_all();
  }

  // Waits (at most 10 s) until `sku` shows version `v`.
  bool wait_version(const std::string& sku, std::int64_t v) {
    std::unique_lock lk(mu);
    return changed.wait_for(lk, 10s, [&] { return records.count(sku) && records[sku].version >= v; });
  }
};

}  // namespace

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  checks checks;
  sg::client till;     // sells and restocks
  sg::client display;  // the dashboard
  connect_or_exit(till, args.url, args.token);
  connect_or_exit(display, args.url, args.token);
  const std::string prefix = "live-" + run_id() + "-";
  const std::string mug = prefix + "mug", cap = prefix + "cap";
  const std::string warehouse = "lyon";
  std::printf("a live feed of %s* in %s\n", prefix.c_str(), warehouse.c_str());

  till.adjust(warehouse, mug, 5, {.reason = "opening stock"}).get();
  till.adjust(warehouse, cap, 2, {.reason = "opening stock"}).get();

  // 1. Subscribe: a snapshot of what matches, then every change.
  view v;
  sg::subscription_filter filter;
  filter.warehouse = warehouse;
  filter.sku_prefix = prefix;
  auto sub = display.subscribe(filter, [&v](const sg::subscription_event& e) { v.on_event(e); });
  const value answer = sub.answer.get();
  std::printf("\n1. subscribe -> %s\n", show(answer).c_str());
  checks.check(sg::is_ok(answer), "subscribed");
  {
    std::unique_lock lk(v.mu);
    v.changed.wait_for(lk, 10s, [&] { return v.snapshot_done; });
    checks.check(v.snapshot_done && v.records.size() == 2, "the snapshot shows both records");
  }

  // 2. Sales and a restock arrive live, with alerts at zero and back.
  std::printf("\n2. the till sells; the display follows\n");
  till.sell(warehouse, mug, 3, {.reason = "walk-in"}).get();
  till.sell(warehouse, mug, 2, {.reason = "walk-in"}).get();  // 0: out of stock
  till.adjust(warehouse, mug, 10, {.reason = "PO 881"}).get();  // back in stock
  checks.check(v.wait_version(mug, 4), "the display shows the restock");

  // 3. The network drops; changes happen while the display is away.
  std::printf("\n3. the display's connection drops; the till goes on\n");
  display.drop_connection();
  till.sell(warehouse, cap, 1, {.reason = "walk-in"}).get();
  till.sell(warehouse, mug, 1, {.reason = "walk-in"}).get();
  till.adjust(warehouse, cap, 4, {.reason = "PO 882"}).get();
  std::printf("   (the client reconnects and resumes from its position)\n");
  checks.check(v.wait_version(cap, 3) && v.wait_version(mug, 5), "the display caught up");

  // 4. What the display saw: every version once, in order; the alerts.
  std::this_thread::sleep_for(200ms);  // a duplicate, if there were one, would arrive by now
  std::lock_guard lk(v.mu);
  std::printf("\n4. versions seen: %s %zu, %s %zu; alerts: %zu; resets: %d\n", mug.c_str(), v.versions[mug].size(),
              cap.c_str(), v.versions[cap].size(), v.alerts.size(), v.resets);
  checks.check(v.versions[mug] == std::vector<std::int64_t>{2, 3, 4, 5}, "the mug's changes, each once, in order");
  checks.check(v.versions[cap] == std::vector<std::int64_t>{2, 3}, "the cap's changes, each once, in order");
  checks.check(v.records[mug].available == 9 && v.records[cap].available == 5, "the view matches the stock");
  checks.check(v.alerts == std::vector<std::string>{"out_of_stock", "back_in_stock"},
               "out_of_stock at zero, back_in_stock on the restock");
  checks.check(v.resets == 0, "resumed, not reset");
  return checks.exit_code("live_feed");
}
