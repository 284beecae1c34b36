// The deterministic workload of the crash test, shared by the worker that is
// killed and the test that verifies what it acknowledged.
#pragma once

#include <cstdio>
#include <sstream>
#include <string>

#include "domain/request.hpp"

namespace stockgrid::testing {

inline constexpr int crash_records = 16;
inline constexpr int crash_partitions = 4;

// Operation i: over 16 records, rounds of adjust +3, reserve 1, sell 1, each
// with its own idempotency key.
inline request crash_op(long i) {
  request r;
  r.key = {"crash", "wh", "sku" + std::to_string(i % crash_records)};
  r.idem = "op-" + std::to_string(i);
  switch ((i / crash_records) % 3) {
    case 0:
      r.kind = op::adjust;
      r.delta = 3;
      break;
    case 1:
      r.kind = op::reserve;
      r.qty = 1;
      r.ttl_ms = 3'600'000;
      break;
    default:
      r.kind = op::sell;
      r.qty = 1;
      break;
  }
  return r;
}

// "ACK <i> <code> <version> <on_hand> <reserved> <available> <hold>" — what
// the client saw, to compare with the replay after the crash.
inline std::string ack_line(long i, const reply& r) {
  std::ostringstream out;
  out << "ACK " << i << ' ' << static_cast<int>(r.code) << ' ' << r.record.version << ' '
      << r.record.on_hand << ' ' << r.record.reserved << ' ' << r.available << ' '
      << (r.hold.empty() ? "-" : r.hold);
  return out.str();
}

}  // namespace stockgrid::testing
