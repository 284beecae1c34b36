// Outcomes a client can see. The enum is exhaustive and maps 1:1 to the
// protocol's error codes; values are journaled (idempotent replays), so they
// are never renumbered and 0 is reserved.
#pragma once

#include <cstdint>
#include <string_view>

namespace stockgrid {

enum class outcome : std::uint8_t {
  ok = 1,
  bad_request = 2,
  unauthenticated = 3,
  forbidden = 4,
  unknown_op = 5,
  not_found = 6,
  hold_not_found = 7,
  insufficient_stock = 8,
  version_conflict = 9,
  idempotency_mismatch = 10,
  limit_exceeded = 11,
  rate_limited = 12,
  overloaded = 13,
  unavailable = 14,
  timeout = 15,
  internal = 16,
};

// The protocol's error code, e.g. "INSUFFICIENT_STOCK"; "OK" for ok.
std::string_view to_code(outcome o);

// Whether an idempotent replay must return this outcome again. Refusals a
// client can see are remembered; TIMEOUT, INTERNAL and the like are not, so a
// retry decides anew.
constexpr bool remembered(outcome o) {
  return o == outcome::ok || o == outcome::insufficient_stock ||
         o == outcome::version_conflict || o == outcome::limit_exceeded;
}

}  // namespace stockgrid
