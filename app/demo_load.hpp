// `stockgrid --demo --demo-load`: a small, steady background load on the demo
// tenant's records, so the dashboard has moving numbers to show. It goes
// through the grid like any client (reserves that expire on their own, sales,
// restocks), at a bounded rate with a bounded number of requests in flight,
// and stops when asked (before the grid stops).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "actors/grid.hpp"

namespace stockgrid::app {

struct demo_load_settings {
  std::string tenant = "demo";
  // Requests a second. Bounds 1..200.
  std::uint32_t ops_per_second = 8;
  // Requests sent and not yet answered; a tick that finds this many skips.
  std::uint32_t in_flight_max = 32;
  // A record whose on_hand falls below this is restocked by restock_units.
  std::int64_t restock_below = 85;
  std::int64_t restock_units = 20;
  // Reserves hold for a random time up to this, then expire by themselves.
  std::int64_t hold_ttl_ms_max = 8'000;
  // The low_stock_threshold given to the first few records (0 = none).
  std::int64_t low_stock_threshold = 90;
};

class demo_load {
 public:
  // Starts the load thread. The grid must outlive stop().
  demo_load(grid& g, demo_load_settings settings);
  // Calls stop().
  ~demo_load();
  demo_load(const demo_load&) = delete;
  demo_load& operator=(const demo_load&) = delete;

  // Ends the load and joins its thread; answers still on their way are
  // dropped. Idempotent.
  void stop();

 private:
  struct state;
  void run();

  grid& grid_;
  demo_load_settings settings_;
  std::shared_ptr<state> state_;  // shared with the reply callbacks
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace stockgrid::app
