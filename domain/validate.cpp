#include "domain/validate.hpp"

#include "config/limits.hpp"

namespace stockgrid {

namespace {
std::string check_id(const char* field, const std::string& v) {
  if (v.empty()) return std::string(field) + ": must not be empty";
  if (v.size() > limits::id_bytes_max)
    return std::string(field) + ": longer than " + std::to_string(limits::id_bytes_max) + " bytes";
  return {};
}

std::string check_optional_id(const char* field, const std::string& v) {
  return v.empty() ? std::string{} : check_id(field, v);
}

std::string check_positive(const char* field, std::int64_t v) {
  if (v <= 0 || v > limits::quantity_max)
    return std::string(field) + ": must be between 1 and 10^12";
  return {};
}
}  // namespace

std::string validate(const request& req, const validation_limits& lim) {
  std::string err;
  auto fail = [&](std::string e) {
    if (err.empty()) err = std::move(e);
  };
  fail(check_id("tenant", req.key.tenant));
  if (targets_hold(req.kind)) {
    // A hold id of the right length that is not one of ours is not bad input:
    // the grid answers HOLD_NOT_FOUND, as for any id it never issued.
    if (req.hold.empty() || req.hold.size() > limits::hold_id_bytes_max)
      fail("hold: must be 1 to " + std::to_string(limits::hold_id_bytes_max) + " bytes");
  } else {
    fail(check_id("warehouse", req.key.warehouse));
    fail(check_id("sku", req.key.sku));
  }
  fail(req.internal ? check_optional_id("idem", req.idem) : validate_client_idem(req.idem));
  fail(check_optional_id("ref", req.ref));
  if (!req.internal && is_internal(req.kind)) fail("op: not a client operation");
  if (!req.internal && is_order_ref(req.ref))
    fail("ref: the prefix \"order:\" is reserved for orders' holds");
  if (req.reason.size() > limits::reason_bytes_max)
    fail("reason: longer than " + std::to_string(limits::reason_bytes_max) + " bytes");
  switch (req.kind) {
    case op::adjust:
      if (req.delta == 0 || req.delta < -limits::quantity_max || req.delta > limits::quantity_max)
        fail("delta: must be non-zero and within ±10^12");
      break;
    case op::set:
      if (req.on_hand < 0 || req.on_hand > limits::quantity_max)
        fail("on_hand: must be between 0 and 10^12");
      if (req.expected_version && *req.expected_version < 0)
        fail("expected_version: must not be negative");
      break;
    case op::reserve:
    case op::sell:
    case op::transfer_out:
    case op::receive:
    case op::transfer_back:
      fail(req.qty ? check_positive("qty", *req.qty) : "qty: required");
      break;
    case op::incoming:
      if (req.delta == 0 || req.delta < -limits::quantity_max || req.delta > limits::quantity_max)
        fail("delta: must be non-zero and within ±10^12");
      break;
    case op::policy:
      fail(validate_policy(req.safety_stock, req.allow_backorder, req.low_stock_threshold));
      break;
    case op::commit:
    case op::release:
      if (req.qty) fail(check_positive("qty", *req.qty));
      break;
    case op::history:
      if (req.limit < 0 || req.limit > limits::history_limit_max)
        fail("limit: must be between 1 and " + std::to_string(limits::history_limit_max) +
             " (0 or absent = " + std::to_string(limits::history_limit_default) + ")");
      if (req.before_version < 0) fail("before_version: must not be negative");
      break;
    default:
      break;
  }
  if (req.kind == op::reserve || req.kind == op::extend) {
    if (req.ttl_ms < 0 || (req.kind == op::extend && req.ttl_ms == 0))
      fail("ttl_ms: must be positive");
    else if (req.ttl_ms > lim.max_ttl_ms)
      fail("ttl_ms: above the maximum of " + std::to_string(lim.max_ttl_ms) + " ms");
  }
  return err;
}

std::string validate_client_idem(const std::string& idem) {
  if (auto bad = check_optional_id("idem", idem); !bad.empty()) return bad;
  if (idem.starts_with(internal_idem_prefix))
    return "idem: the prefix \"sg:\" is reserved for the server's own keys";
  return {};
}

std::string validate_policy(std::optional<std::int64_t> safety_stock,
                            std::optional<bool> allow_backorder,
                            std::optional<std::int64_t> low_stock_threshold) {
  if (!safety_stock && !allow_backorder && !low_stock_threshold)
    return "safety_stock, allow_backorder or low_stock_threshold: at least one is required";
  const auto check_count = [](const char* field, std::optional<std::int64_t> v) {
    if (v && (*v < 0 || *v > limits::quantity_max))
      return std::string(field) + ": must be between 0 and 10^12";
    return std::string{};
  };
  if (auto e = check_count("safety_stock", safety_stock); !e.empty()) return e;
  return check_count("low_stock_threshold", low_stock_threshold);
}

}  // namespace stockgrid
