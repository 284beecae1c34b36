// Input checks shared by every entry point. A request that fails them is
// refused with BAD_REQUEST naming the field, before anything is routed or
// changed.
#pragma once

#include <cstdint>
#include <string>

#include "domain/request.hpp"

namespace stockgrid {

struct validation_limits {
  std::int64_t max_ttl_ms = 0;
};

// Empty when the request is well-formed, otherwise the message for the
// BAD_REQUEST reply ("qty: must be between 1 and 10^12").
std::string validate(const request& req, const validation_limits& lim);

}  // namespace stockgrid
