// Input checks shared by every entry point. A request that fails them is
// refused with BAD_REQUEST naming the field, before anything is routed or
// changed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "domain/request.hpp"

namespace stockgrid {

struct validation_limits {
  std::int64_t max_ttl_ms = 0;
};

// Empty when the request is well-formed, otherwise the message for the
// BAD_REQUEST reply ("qty: must be between 1 and 10^12").
std::string validate(const request& req, const validation_limits& lim);

// A client's idempotency key (any op that takes one): at most 128 bytes,
// not starting with the server's reserved "sg:". Empty when well-formed,
// otherwise the BAD_REQUEST message naming `idem`.
std::string validate_client_idem(const std::string& idem);

// The fields of a policy update (stock_record::decide_policy): at least one
// present, quantities within [0, 10^12]. Empty when well-formed, otherwise
// the BAD_REQUEST message naming the field.
std::string validate_policy(std::optional<std::int64_t> safety_stock,
                            std::optional<bool> allow_backorder,
                            std::optional<std::int64_t> low_stock_threshold);

}  // namespace stockgrid
