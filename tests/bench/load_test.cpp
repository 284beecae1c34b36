// The load generator's parts that decide what it reports: the latency
// histogram's percentiles, the requests it writes (read back with the
// protocol's own parser), and how it judges answers.
#include <catch2/catch.hpp>

#include <string>

#include "bench/load/histogram.hpp"
#include "bench/load/request_writer.hpp"
#include "bench/load/response_check.hpp"
#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

using namespace stockgrid;
using namespace stockgrid::bench;

TEST_CASE("histogram buckets keep every value within 1/32 of its bucket's bound") {
  for (std::uint64_t v : {0ULL, 1ULL, 31ULL, 32ULL, 33ULL, 1000ULL, 123'456ULL, 10'000'000'000ULL}) {
    const int i = histogram::index_of(v);
    const std::uint64_t upper = histogram::upper_bound_of(i);
    INFO("value " << v << " bucket " << i << " upper " << upper);
    CHECK(upper >= v);
    CHECK(static_cast<double>(upper - v) <= static_cast<double>(v) / histogram::sub_buckets + 1);
    if (i > 0) CHECK(histogram::upper_bound_of(i - 1) < v);
  }
}

TEST_CASE("histogram percentiles of a known distribution") {
  histogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);  // 1 µs .. 1 ms
  CHECK(h.count() == 1000);
  CHECK(h.max() == 1'000'000);
  auto near = [](std::uint64_t got, double want) { return got >= want && got <= want * 1.04; };
  CHECK(near(h.percentile(0.5), 500'000));
  CHECK(near(h.percentile(0.99), 990'000));
  CHECK(h.percentile(1.0) == 1'000'000);

  histogram other;
  other.record(5'000'000);
  h.merge(other);
  CHECK(h.count() == 1001);
  CHECK(h.max() == 5'000'000);
  CHECK(h.percentile(1.0) == 5'000'000);
  CHECK(histogram{}.percentile(0.5) == 0);
}

TEST_CASE("requests written by the bench read back as the protocol's requests") {
  bench_request r;
  r.op = bench_op::reserve;
  r.id = 70'000;
  r.warehouse = "bench";
  r.sku = "sku-0000042";
  r.ttl_ms = 700'000;
  r.idem = "b-1-70000";
  for (bool json : {false, true}) {
    std::string frame;
    if (json) write_json(r, frame);
    else write_msgpack(r, frame);
    protocol::value v;
    std::string error;
    REQUIRE(protocol::parse(frame, json ? protocol::encoding::json : protocol::encoding::msgpack,
                            protocol::parse_limits{}, &v, &error));
    auto result = protocol::decode_request(v);
    REQUIRE(std::holds_alternative<protocol::op_request>(result));
    const auto& decoded = std::get<protocol::op_request>(result);
    CHECK(decoded.op == "stock.reserve");
    CHECK(decoded.id == 70'000);
    CHECK(decoded.grid.key.warehouse == "bench");
    CHECK(decoded.grid.key.sku == "sku-0000042");
    CHECK(decoded.grid.qty == 1);
    CHECK(decoded.grid.ttl_ms == 700'000);
    CHECK(decoded.grid.idem == "b-1-70000");
  }

  bench_request release;
  release.op = bench_op::release;
  release.id = 3;
  release.hold = "H2a-3f1";
  std::string frame;
  write_msgpack(release, frame);
  protocol::value v;
  std::string error;
  REQUIRE(protocol::parse(frame, protocol::encoding::msgpack, protocol::parse_limits{}, &v, &error));
  auto result = protocol::decode_request(v);
  REQUIRE(std::holds_alternative<protocol::op_request>(result));
  const auto& decoded = std::get<protocol::op_request>(result);
  CHECK(decoded.op == "stock.release");
  CHECK(decoded.grid.hold == "H2a-3f1");
  CHECK(decoded.grid.idem.empty());
}

namespace {

response_view good_reserve() {
  response_view r;
  r.has_id = true;
  r.id = 1;
  r.ok = true;
  r.hold = "H1-2";
  r.has_record = true;
  r.warehouse = "bench";
  r.sku = "sku-1";
  r.on_hand = 10;
  r.reserved = 3;
  r.available = 7;
  r.version = 4;
  return r;
}

const expectation reserve_one{bench_op::reserve, "bench", "sku-1", 1};

}  // namespace

TEST_CASE("the judge accepts correct answers and counts expected errors by code") {
  CHECK(judge(good_reserve(), reserve_one, validation::full).kind == verdict_kind::ok);

  response_view short_of_stock;
  short_of_stock.has_id = true;
  short_of_stock.error_code = "INSUFFICIENT_STOCK";
  const verdict v = judge(short_of_stock, reserve_one, validation::full);
  CHECK(v.kind == verdict_kind::error);
  CHECK(v.detail == "INSUFFICIENT_STOCK");

  response_view overloaded = short_of_stock;
  overloaded.error_code = "OVERLOADED";
  CHECK(judge(overloaded, {bench_op::get, "bench", "sku-1", 1}, validation::full).kind == verdict_kind::error);
}

TEST_CASE("the judge calls wrong what no correct server answers") {
  auto wrong = [](const response_view& r, const expectation& e, validation level = validation::full) {
    return judge(r, e, level).kind == verdict_kind::wrong;
  };
  response_view r = good_reserve();
  r.hold = {};
  CHECK(wrong(r, reserve_one));  // a reserve without a hold

  r = good_reserve();
  r.sku = "sku-2";
  CHECK(wrong(r, reserve_one));  // another record's state

  r = good_reserve();
  r.reserved = 0;
  r.available = 10;
  CHECK(wrong(r, reserve_one));  // a granted reserve the record does not show
  CHECK_FALSE(wrong(r, reserve_one, validation::shape));

  r = good_reserve();
  r.available = 8;  // more available than on hand minus reserved
  CHECK(wrong(r, reserve_one));

  response_view e;
  e.has_id = true;
  e.error_code = "BAD_REQUEST";
  CHECK(wrong(e, reserve_one));  // the bench's requests are well formed
  e.error_code = "INSUFFICIENT_STOCK";
  CHECK(wrong(e, {bench_op::commit, "bench", "sku-1", 1}));  // a commit never runs short
  e.error_code = {};
  CHECK(wrong(e, reserve_one));  // neither ok nor an error code
}

TEST_CASE("msgpack answers are read without copying, JSON through the protocol parser") {
  const std::string json =
      R"({"id":9,"ok":true,"hold":"H1-2","expires_at_ms":1,"record":{"warehouse":"bench","sku":"sku-1",)"
      R"("on_hand":10,"reserved":3,"available":7,"version":4}})";
  protocol::value tree;
  std::string error;
  REQUIRE(protocol::parse(json, protocol::encoding::json, protocol::parse_limits{}, &tree, &error));
  response_view from_json;
  REQUIRE(read_value(tree, &from_json));

  const std::string packed = protocol::serialize(tree, protocol::encoding::msgpack);
  msgpack_reader reader;
  response_view from_msgpack;
  REQUIRE(reader.read(packed, &from_msgpack));

  for (const response_view* r : {&from_json, &from_msgpack}) {
    CHECK(r->has_id);
    CHECK(r->id == 9);
    CHECK(r->ok);
    CHECK(r->hold == "H1-2");
    CHECK(r->warehouse == "bench");
    CHECK(r->sku == "sku-1");
    CHECK(r->on_hand == 10);
    CHECK(r->reserved == 3);
    CHECK(r->available == 7);
    CHECK(r->version == 4);
    CHECK(judge(*r, {bench_op::reserve, "bench", "sku-1", 1}, validation::full).kind == verdict_kind::ok);
  }

  response_view broken;
  CHECK_FALSE(reader.read(packed.substr(0, packed.size() - 1), &broken));
  CHECK_FALSE(reader.read(packed + "x", &broken));
}
