// Setting up a bench's records through the client library (not timed):
// shared by stockgrid-bench and stockgrid-fanout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "bench/load/driver.hpp"
#include "client/client.hpp"

namespace stockgrid::bench {

// Units per record: never runs out in a run.
inline constexpr std::int64_t stock_level = 1'000'000'000;

// The bench's SKU names: "sku-0000042".
std::string sku_name(std::size_t i);

// Stocks every record of `o` (o.warehouse, o.skus) with stock.bulk `set`
// on_hand = stock_level, a few bulks in flight; false with the first failure
// in `error`.
bool stock_records(client::client& c, const driver_options& o, std::string* error);

}  // namespace stockgrid::bench
