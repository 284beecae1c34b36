// Writes the load generator's requests into a reused buffer: msgpack by hand
// (the map layout of docs/protocol.md) or JSON text. Nothing is allocated once
// the buffer has grown to a request's size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "bench/load/response_check.hpp"

namespace stockgrid::bench {

struct bench_request {
  bench_op op = bench_op::reserve;
  std::int64_t id = 0;
  std::string_view warehouse;  // reserve, get; order.reserve: every line's
  std::string_view sku;        // reserve, get
  std::int64_t qty = 1;        // reserve; order.reserve: every line's
  std::int64_t ttl_ms = 0;     // reserve, order.reserve; 0 = not sent
  std::string_view hold;       // commit, release
  std::span<const std::string_view> line_skus;  // order.reserve: one line each (1..100)
  std::string_view order;      // order.release
  std::string_view idem;       // mutations; empty = not sent
};

// Replaces `out` with the encoded request.
void write_msgpack(const bench_request& r, std::string& out);
void write_json(const bench_request& r, std::string& out);

}  // namespace stockgrid::bench
