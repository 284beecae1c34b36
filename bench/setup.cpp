#include "bench/setup.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <future>
#include <thread>
#include <utility>
#include <vector>

namespace stockgrid::bench {

std::string sku_name(std::size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "sku-%07zu", i);
  return name;
}

namespace {

constexpr std::size_t bulk_chunk = 500;  // items per stock.bulk: well inside the 64 KiB frame

// Whether every item of a stock.bulk answer is ok; the first failure in `error`.
bool bulk_ok(const client::value& v, std::string* error) {
  if (!client::is_ok(v)) {
    *error = "bulk: " + client::error_code(v) + " " + client::error_message(v);
    return false;
  }
  const client::value* results = client::lookup(v, "results");
  const auto* items = results ? results->as_array() : nullptr;
  for (std::size_t i = 0; items && i < items->size(); ++i) {
    if (!client::is_ok((*items)[i])) {
      *error = "bulk item: " + client::to_json((*items)[i]);
      return false;
    }
  }
  return items != nullptr;
}

}  // namespace

// Stocks every record with stock.bulk `set`, a few bulks in flight (a node
// answers OVERLOADED beyond its in-flight limit; such a bulk is sent again:
// setting on_hand twice is harmless).
bool stock_records(client::client& c, const driver_options& o, std::string* error) {
  constexpr std::size_t window = 4;
  constexpr int attempts_max = 20;
  auto chunk = [&](std::size_t first) {
    std::vector<request> items;
    for (std::size_t i = first; i < std::min(o.skus.size(), first + bulk_chunk); ++i) {
      request r;
      r.kind = op::set;
      r.key = {"", o.warehouse, o.skus[i]};
      r.on_hand = stock_level;
      r.reason = "stockgrid-bench setup";
      items.push_back(std::move(r));
    }
    return items;
  };
  std::deque<std::pair<std::size_t, std::future<client::value>>> pending;
  std::size_t next = 0;
  int attempts = 0;
  while (next < o.skus.size() || !pending.empty()) {
    while (next < o.skus.size() && pending.size() < window) {
      pending.emplace_back(next, c.bulk(chunk(next)));
      next += bulk_chunk;
    }
    auto [first, answer] = std::move(pending.front());
    pending.pop_front();
    if (bulk_ok(answer.get(), error)) continue;
    if (++attempts > attempts_max) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pending.emplace_back(first, c.bulk(chunk(first)));
  }
  return true;
}

}  // namespace stockgrid::bench
