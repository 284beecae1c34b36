// The idempotency fingerprint: the same request under the same key is a
// replay; any difference in what it asks for is a different request.
#include <catch2/catch.hpp>

#include "domain/request.hpp"

using namespace stockgrid;

namespace {

request a_reserve() {
  request r;
  r.kind = op::reserve;
  r.key = {"acme", "berlin-1", "sku-0001"};
  r.qty = 3;
  r.ttl_ms = 60'000;
  r.ref = "cart-17";
  r.reason = "web order";
  r.idem = "idem-1";
  r.key_id = "key-a";
  return r;
}

}  // namespace

TEST_CASE("identical requests have equal fingerprints", "[fingerprint]") {
  CHECK(request_fingerprint(a_reserve()) == request_fingerprint(a_reserve()));
}

TEST_CASE("the fingerprint ignores the idempotency key and the sender", "[fingerprint]") {
  auto other = a_reserve();
  other.idem = "idem-2";
  other.key_id = "key-b";
  CHECK(request_fingerprint(other) == request_fingerprint(a_reserve()));
}

TEST_CASE("the fingerprint changes when any parameter changes", "[fingerprint]") {
  const auto base = request_fingerprint(a_reserve());
  auto r = a_reserve();

  SECTION("operation") { r.kind = op::sell; }
  SECTION("tenant") { r.key.tenant = "acme2"; }
  SECTION("warehouse") { r.key.warehouse = "berlin-2"; }
  SECTION("sku") { r.key.sku = "sku-0002"; }
  SECTION("hold") { r.hold = "H1-2"; }
  SECTION("qty") { r.qty = 4; }
  SECTION("qty absent") { r.qty.reset(); }
  SECTION("delta") { r.delta = 1; }
  SECTION("on_hand") { r.on_hand = 1; }
  SECTION("ttl") { r.ttl_ms = 60'001; }
  SECTION("ref") { r.ref = "cart-18"; }
  SECTION("ref emptied") { r.ref.clear(); }
  SECTION("reason") { r.reason = "phone order"; }
  SECTION("expected_version present") { r.expected_version = 0; }
  SECTION("expected_version value") {
    auto v1 = a_reserve();
    v1.expected_version = 1;
    r.expected_version = 2;
    CHECK(request_fingerprint(r) != request_fingerprint(v1));
  }

  CHECK(request_fingerprint(r) != base);
}

TEST_CASE("the fingerprint tells an absent qty from any present one", "[fingerprint]") {
  auto absent = a_reserve();
  absent.qty.reset();
  auto minus_one = a_reserve();
  minus_one.qty = -1;
  CHECK(request_fingerprint(absent) != request_fingerprint(minus_one));
}

TEST_CASE("the fingerprint tells which field a value is in", "[fingerprint]") {
  auto a = a_reserve();
  a.key = {"ab", "c", "sku"};
  auto b = a_reserve();
  b.key = {"a", "bc", "sku"};
  CHECK(request_fingerprint(a) != request_fingerprint(b));

  auto in_ref = a_reserve();
  in_ref.ref = "x";
  in_ref.reason = "";
  auto in_reason = a_reserve();
  in_reason.ref = "";
  in_reason.reason = "x";
  CHECK(request_fingerprint(in_ref) != request_fingerprint(in_reason));

  auto delta = a_reserve();
  delta.delta = 5;
  auto on_hand = a_reserve();
  on_hand.on_hand = 5;
  CHECK(request_fingerprint(delta) != request_fingerprint(on_hand));
}
