#include "app/demo_load.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <spdlog/spdlog.h>
#include <vector>

namespace stockgrid::app {

namespace {

constexpr std::uint32_t ops_per_second_max = 200;
constexpr auto list_timeout = std::chrono::seconds(10);
constexpr int records_max = 1000;  // the first page of the tenant is enough for a demo
constexpr std::size_t alerting_records = 3;

}  // namespace

// What the reply callbacks update: they may run after stop() returned, so
// they hold this, never the demo_load.
struct demo_load::state {
  std::vector<record_key> records;
  // The last on_hand seen per record (index as in `records`).
  std::unique_ptr<std::atomic<std::int64_t>[]> on_hand;
  std::atomic<std::uint32_t> in_flight{0};
};

demo_load::demo_load(grid& g, demo_load_settings settings)
    : grid_(g), settings_(std::move(settings)), state_(std::make_shared<state>()) {
  settings_.ops_per_second = std::clamp<std::uint32_t>(settings_.ops_per_second, 1, ops_per_second_max);
  thread_ = std::thread([this] { run(); });
}

demo_load::~demo_load() { stop(); }

void demo_load::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void demo_load::run() {
  // The records to move: the tenant's first page, as a client would list them.
  auto listed = std::make_shared<std::promise<list_page>>();
  auto page = listed->get_future();
  list_query query;
  query.tenant = settings_.tenant;
  query.limit = records_max;
  grid_.list(std::move(query), [listed](list_page&& p) { listed->set_value(std::move(p)); });
  if (page.wait_for(list_timeout) != std::future_status::ready) {
    spdlog::warn("demo load: listing the {} tenant timed out; no load", settings_.tenant);
    return;
  }
  const list_page records = page.get();
  if (records.code != outcome::ok || records.records.empty()) {
    spdlog::warn("demo load: the {} tenant has no records; no load", settings_.tenant);
    return;
  }
  const std::size_t count = records.records.size();
  state_->on_hand = std::make_unique<std::atomic<std::int64_t>[]>(count);
  for (std::size_t i = 0; i < count; ++i) {
    state_->records.push_back(records.records[i].key);
    state_->on_hand[i] = records.records[i].on_hand;
  }
  // A few records get a low-stock threshold in the range the load moves
  // them through, so the dashboard's alert list has something to show.
  for (std::size_t i = 0; i < std::min(count, alerting_records); ++i) {
    request policy;
    policy.kind = op::policy;
    policy.key = state_->records[i];
    policy.low_stock_threshold = settings_.low_stock_threshold;
    grid_.submit(std::move(policy), [](reply&&) {});
  }
  spdlog::info("demo load: {} requests/s on {} records of tenant {}", settings_.ops_per_second,
               count, settings_.tenant);

  std::mt19937_64 random(std::random_device{}());
  const auto interval = std::chrono::microseconds(1'000'000 / settings_.ops_per_second);
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    next += interval;
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) break;
    if (state_->in_flight.load() >= settings_.in_flight_max) continue;
    const std::size_t index = std::uniform_int_distribution<std::size_t>(0, count - 1)(random);
    request r;
    r.key = state_->records[index];
    const int roll = std::uniform_int_distribution<int>(0, 99)(random);
    if (state_->on_hand[index].load() < settings_.restock_below) {
      r.kind = op::adjust;
      r.delta = settings_.restock_units;
      r.reason = "demo restock";
    } else if (roll < 70) {
      r.kind = op::reserve;
      r.qty = std::uniform_int_distribution<std::int64_t>(1, 3)(random);
      r.ttl_ms = std::uniform_int_distribution<std::int64_t>(1'000, settings_.hold_ttl_ms_max)(random);
      r.ref = "demo-load";
    } else if (roll < 90) {
      r.kind = op::sell;
      r.qty = std::uniform_int_distribution<std::int64_t>(1, 2)(random);
      r.reason = "demo sale";
    } else {
      r.kind = op::adjust;
      r.delta = std::uniform_int_distribution<std::int64_t>(1, 4)(random);
      r.reason = "demo delivery";
    }
    ++state_->in_flight;
    grid_.submit(std::move(r), [state = state_, index](reply&& rep) {
      if (rep.code == outcome::ok && rep.has_record) state->on_hand[index] = rep.record.on_hand;
      --state->in_flight;
    });
  }
}

}  // namespace stockgrid::app
