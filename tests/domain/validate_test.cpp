// Input checks: a well-formed request passes, and each malformed field is
// refused with a message that names it.
#include <catch2/catch.hpp>

#include <string>

#include "config/limits.hpp"
#include "domain/validate.hpp"

using namespace stockgrid;

namespace {

const validation_limits lim{.max_ttl_ms = 600'000};

request on_record(op kind) {
  request r;
  r.kind = kind;
  r.key = {"acme", "berlin-1", "sku-0001"};
  return r;
}

request adjust(std::int64_t delta) {
  auto r = on_record(op::adjust);
  r.delta = delta;
  return r;
}
request set(std::int64_t on_hand) {
  auto r = on_record(op::set);
  r.on_hand = on_hand;
  return r;
}
request reserve(std::int64_t qty, std::int64_t ttl_ms = 0) {
  auto r = on_record(op::reserve);
  r.qty = qty;
  r.ttl_ms = ttl_ms;
  return r;
}
request sell(std::int64_t qty) {
  auto r = on_record(op::sell);
  r.qty = qty;
  return r;
}
request on_hold(op kind) {
  request r;
  r.kind = kind;
  r.key.tenant = "acme";  // hold ops carry only the tenant
  r.hold = "H1f-2a";
  return r;
}
request extend(std::int64_t ttl_ms) {
  auto r = on_hold(op::extend);
  r.ttl_ms = ttl_ms;
  return r;
}
request history(int limit) {
  auto r = on_record(op::history);
  r.limit = limit;
  return r;
}

const std::int64_t too_many = limits::quantity_max + 1;
const std::string longest_id(limits::id_bytes_max, 'x');
const std::string too_long_id(limits::id_bytes_max + 1, 'x');

}  // namespace

TEST_CASE("well-formed requests pass validation", "[validate]") {
  CHECK(validate(on_record(op::get), lim).empty());
  CHECK(validate(on_record(op::holds), lim).empty());
  CHECK(validate(history(0), lim).empty());  // 0 = the default
  CHECK(validate(history(1), lim).empty());
  CHECK(validate(history(limits::history_limit_max), lim).empty());
  CHECK(validate(adjust(+1), lim).empty());
  CHECK(validate(adjust(-1), lim).empty());
  CHECK(validate(adjust(limits::quantity_max), lim).empty());
  CHECK(validate(adjust(-limits::quantity_max), lim).empty());
  CHECK(validate(set(0), lim).empty());
  CHECK(validate(set(limits::quantity_max), lim).empty());
  CHECK(validate(reserve(1), lim).empty());  // ttl 0 = the default
  CHECK(validate(reserve(limits::quantity_max, lim.max_ttl_ms), lim).empty());
  CHECK(validate(sell(1), lim).empty());
  CHECK(validate(on_hold(op::commit), lim).empty());  // qty absent = the whole hold
  CHECK(validate(on_hold(op::release), lim).empty());
  CHECK(validate(extend(1), lim).empty());
  CHECK(validate(extend(lim.max_ttl_ms), lim).empty());
}

TEST_CASE("a set with an expected version passes validation", "[validate]") {
  auto r = set(5);
  r.expected_version = 0;
  CHECK(validate(r, lim).empty());
  r.expected_version = 17;
  CHECK(validate(r, lim).empty());
}

TEST_CASE("ids, ref, idem and reason at their maximum length pass validation", "[validate]") {
  auto r = reserve(1);
  r.key = {longest_id, longest_id, longest_id};
  r.ref = longest_id;
  r.idem = longest_id;
  r.reason = std::string(limits::reason_bytes_max, 'r');
  CHECK(validate(r, lim).empty());
}

TEST_CASE("a qty of zero or less is refused naming qty", "[validate][qty]") {
  CHECK_THAT(validate(reserve(0), lim), Catch::StartsWith("qty"));
  CHECK_THAT(validate(reserve(-1), lim), Catch::StartsWith("qty"));
  CHECK_THAT(validate(sell(0), lim), Catch::StartsWith("qty"));
  auto commit = on_hold(op::commit);
  commit.qty = 0;
  CHECK_THAT(validate(commit, lim), Catch::StartsWith("qty"));
  auto release = on_hold(op::release);
  release.qty = -3;
  CHECK_THAT(validate(release, lim), Catch::StartsWith("qty"));
}

TEST_CASE("a qty beyond 10^12 is refused naming qty", "[validate][qty][limits]") {
  CHECK_THAT(validate(reserve(too_many), lim), Catch::StartsWith("qty"));
  CHECK_THAT(validate(sell(too_many), lim), Catch::StartsWith("qty"));
  auto commit = on_hold(op::commit);
  commit.qty = too_many;
  CHECK_THAT(validate(commit, lim), Catch::StartsWith("qty"));
}

TEST_CASE("a reserve or sell without qty is refused naming qty", "[validate][qty]") {
  auto r = on_record(op::reserve);
  CHECK_THAT(validate(r, lim), Catch::StartsWith("qty"));
  auto s = on_record(op::sell);
  CHECK_THAT(validate(s, lim), Catch::StartsWith("qty"));
}

TEST_CASE("an adjust by zero is refused naming delta", "[validate][delta]") {
  CHECK_THAT(validate(adjust(0), lim), Catch::StartsWith("delta"));
}

TEST_CASE("an adjust beyond ±10^12 is refused naming delta", "[validate][delta][limits]") {
  CHECK_THAT(validate(adjust(too_many), lim), Catch::StartsWith("delta"));
  CHECK_THAT(validate(adjust(-too_many), lim), Catch::StartsWith("delta"));
}

TEST_CASE("a set outside 0..10^12 is refused naming on_hand", "[validate][limits]") {
  CHECK_THAT(validate(set(-1), lim), Catch::StartsWith("on_hand"));
  CHECK_THAT(validate(set(too_many), lim), Catch::StartsWith("on_hand"));
}

TEST_CASE("a negative expected version is refused naming expected_version", "[validate]") {
  auto r = set(1);
  r.expected_version = -1;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("expected_version"));
}

TEST_CASE("an empty tenant, warehouse or sku is refused naming it", "[validate][ids]") {
  auto r = sell(1);
  r.key.tenant.clear();
  CHECK_THAT(validate(r, lim), Catch::StartsWith("tenant"));
  r = sell(1);
  r.key.warehouse.clear();
  CHECK_THAT(validate(r, lim), Catch::StartsWith("warehouse"));
  r = sell(1);
  r.key.sku.clear();
  CHECK_THAT(validate(r, lim), Catch::StartsWith("sku"));
}

TEST_CASE("a tenant, warehouse, sku, idem or ref over 128 bytes is refused naming it",
          "[validate][ids][limits]") {
  auto r = reserve(1);
  r.key.tenant = too_long_id;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("tenant"));
  r = reserve(1);
  r.key.warehouse = too_long_id;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("warehouse"));
  r = reserve(1);
  r.key.sku = too_long_id;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("sku"));
  r = reserve(1);
  r.idem = too_long_id;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("idem"));
  r = reserve(1);
  r.ref = too_long_id;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("ref"));
}

TEST_CASE("a reason over 256 bytes is refused naming reason", "[validate][limits]") {
  auto r = adjust(+1);
  r.reason = std::string(limits::reason_bytes_max + 1, 'r');
  CHECK_THAT(validate(r, lim), Catch::StartsWith("reason"));
}

TEST_CASE("a hold op without a hold id or with one too long is refused naming hold",
          "[validate][ids]") {
  auto r = on_hold(op::commit);
  r.hold.clear();
  CHECK_THAT(validate(r, lim), Catch::StartsWith("hold"));
  r.hold = std::string(limits::hold_id_bytes_max + 1, 'H');
  CHECK_THAT(validate(r, lim), Catch::StartsWith("hold"));
}

TEST_CASE("a hold op needs no warehouse nor sku", "[validate][ids]") {
  for (auto kind : {op::commit, op::release}) CHECK(validate(on_hold(kind), lim).empty());
  CHECK(validate(extend(1'000), lim).empty());
}

TEST_CASE("a ttl above the maximum is refused with a message naming the maximum",
          "[validate][ttl][limits]") {
  auto message = validate(reserve(1, lim.max_ttl_ms + 1), lim);
  CHECK_THAT(message, Catch::StartsWith("ttl_ms"));
  CHECK_THAT(message, Catch::Contains("600000"));
  message = validate(extend(lim.max_ttl_ms + 1), lim);
  CHECK_THAT(message, Catch::StartsWith("ttl_ms"));
  CHECK_THAT(message, Catch::Contains("600000"));
}

TEST_CASE("a negative ttl is refused naming ttl_ms", "[validate][ttl]") {
  CHECK_THAT(validate(reserve(1, -1), lim), Catch::StartsWith("ttl_ms"));
  CHECK_THAT(validate(extend(-1), lim), Catch::StartsWith("ttl_ms"));
}

TEST_CASE("an extend with ttl 0 is refused naming ttl_ms", "[validate][ttl]") {
  CHECK_THAT(validate(extend(0), lim), Catch::StartsWith("ttl_ms"));
}

TEST_CASE("a history limit out of range is refused naming limit", "[validate][limits]") {
  CHECK_THAT(validate(history(-1), lim), Catch::StartsWith("limit"));
  CHECK_THAT(validate(history(limits::history_limit_max + 1), lim), Catch::StartsWith("limit"));
}

TEST_CASE("a negative history before_version is refused naming before_version", "[validate]") {
  auto r = history(10);
  r.before_version = -1;
  CHECK_THAT(validate(r, lim), Catch::StartsWith("before_version"));
}
