// Test helpers for driving a real grid (CAF actors, SQLite files in a fresh
// temp dir) with short, readable calls. Blocking on a future is fine in tests;
// it never happens on a grid thread.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "actors/grid.hpp"
#include "tests/support/temp_dir.hpp"

namespace stockgrid::testing {

// Small settings for fast tests: few partitions, one journal thread.
inline config::settings test_settings(const std::string& dir) {
  config::settings s;
  s.node.data_dir = dir;
  s.node.partitions = 4;
  s.node.journal_threads = 1;
  s.node.scheduler_threads = 2;
  return s;
}

inline std::unique_ptr<grid> open_grid(const config::settings& s, const std::string& vfs = {}) {
  std::string error;
  auto g = grid::open(grid_options{s, vfs}, &error);
  INFO("grid::open: " << error);
  REQUIRE(g);
  return g;
}

inline std::future<reply> send(grid& g, request r) {
  auto p = std::make_shared<std::promise<reply>>();
  auto f = p->get_future();
  g.submit(std::move(r), [p](reply&& rep) { p->set_value(std::move(rep)); });
  return f;
}

inline reply call(grid& g, request r) {
  auto f = send(g, std::move(r));
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

// Orders and transfers, answered within 30 s.
inline orders::order_reply call_order(grid& g, orders::order_request r) {
  auto p = std::make_shared<std::promise<orders::order_reply>>();
  auto f = p->get_future();
  g.order(std::move(r), [p](orders::order_reply&& rep) { p->set_value(std::move(rep)); });
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}
inline orders::transfer_reply call_transfer(grid& g, orders::transfer_request r) {
  auto p = std::make_shared<std::promise<orders::transfer_reply>>();
  auto f = p->get_future();
  g.transfer(std::move(r), [p](orders::transfer_reply&& rep) { p->set_value(std::move(rep)); });
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

// Request builders. The tenant is "t1" unless a test says otherwise.
inline request rec_req(op kind, std::string wh, std::string sku, std::string tenant = "t1") {
  request r;
  r.kind = kind;
  r.key = {std::move(tenant), std::move(wh), std::move(sku)};
  return r;
}
inline request adjust(std::string wh, std::string sku, std::int64_t delta, std::string idem = {}) {
  auto r = rec_req(op::adjust, std::move(wh), std::move(sku));
  r.delta = delta;
  r.idem = std::move(idem);
  return r;
}
inline request set_count(std::string wh, std::string sku, std::int64_t on_hand,
                         std::optional<std::int64_t> expected_version = {}) {
  auto r = rec_req(op::set, std::move(wh), std::move(sku));
  r.on_hand = on_hand;
  r.expected_version = expected_version;
  return r;
}
inline request reserve(std::string wh, std::string sku, std::int64_t qty, std::int64_t ttl_ms = 0,
                       std::string idem = {}) {
  auto r = rec_req(op::reserve, std::move(wh), std::move(sku));
  r.qty = qty;
  r.ttl_ms = ttl_ms;
  r.idem = std::move(idem);
  return r;
}
inline request sell(std::string wh, std::string sku, std::int64_t qty) {
  auto r = rec_req(op::sell, std::move(wh), std::move(sku));
  r.qty = qty;
  return r;
}
inline request get(std::string wh, std::string sku, std::string tenant = "t1") {
  return rec_req(op::get, std::move(wh), std::move(sku), std::move(tenant));
}
inline request hold_op(op kind, std::string hold, std::optional<std::int64_t> qty = {},
                       std::string idem = {}, std::string tenant = "t1") {
  request r;
  r.kind = kind;
  r.key.tenant = std::move(tenant);
  r.hold = std::move(hold);
  r.qty = qty;
  r.idem = std::move(idem);
  return r;
}
inline request history(std::string wh, std::string sku, int limit = 0) {
  auto r = rec_req(op::history, std::move(wh), std::move(sku));
  r.limit = limit;
  return r;
}

// Waits (bounded) until `pred` holds; returns whether it did.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace stockgrid::testing
