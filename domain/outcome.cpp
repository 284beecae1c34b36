#include "domain/outcome.hpp"

#include "domain/change.hpp"
#include "domain/request.hpp"

namespace stockgrid {

std::string_view to_code(outcome o) {
  switch (o) {
    case outcome::ok: return "OK";
    case outcome::bad_request: return "BAD_REQUEST";
    case outcome::unauthenticated: return "UNAUTHENTICATED";
    case outcome::forbidden: return "FORBIDDEN";
    case outcome::unknown_op: return "UNKNOWN_OP";
    case outcome::not_found: return "NOT_FOUND";
    case outcome::hold_not_found: return "HOLD_NOT_FOUND";
    case outcome::insufficient_stock: return "INSUFFICIENT_STOCK";
    case outcome::version_conflict: return "VERSION_CONFLICT";
    case outcome::idempotency_mismatch: return "IDEMPOTENCY_MISMATCH";
    case outcome::limit_exceeded: return "LIMIT_EXCEEDED";
    case outcome::rate_limited: return "RATE_LIMITED";
    case outcome::overloaded: return "OVERLOADED";
    case outcome::unavailable: return "UNAVAILABLE";
    case outcome::timeout: return "TIMEOUT";
    case outcome::internal: return "INTERNAL";
  }
  return "INTERNAL";
}

std::string_view to_string(change_kind k) {
  switch (k) {
    case change_kind::adjust: return "adjust";
    case change_kind::set: return "set";
    case change_kind::reserve: return "reserve";
    case change_kind::commit: return "commit";
    case change_kind::release: return "release";
    case change_kind::extend: return "extend";
    case change_kind::expire: return "expire";
    case change_kind::sell: return "sell";
    case change_kind::refusal: return "refusal";
    case change_kind::policy: return "policy";
    case change_kind::transfer_out: return "transfer_out";
    case change_kind::incoming: return "incoming";
    case change_kind::receive: return "receive";
    case change_kind::transfer_back: return "transfer_back";
  }
  return "unknown";
}

std::string_view to_string(op o) {
  switch (o) {
    case op::get: return "get";
    case op::holds: return "holds";
    case op::history: return "history";
    case op::adjust: return "adjust";
    case op::set: return "set";
    case op::reserve: return "reserve";
    case op::commit: return "commit";
    case op::release: return "release";
    case op::extend: return "extend";
    case op::sell: return "sell";
    case op::policy: return "policy";
    case op::transfer_out: return "transfer_out";
    case op::incoming: return "incoming";
    case op::receive: return "receive";
    case op::transfer_back: return "transfer_back";
  }
  return "unknown";
}

}  // namespace stockgrid
