// The load generator's parts that decide what it reports: the latency
// histogram's percentiles, the requests it writes (read back with the
// protocol's own parser), and how it judges answers.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <string_view>

#include "bench/load/histogram.hpp"
#include "bench/load/request_writer.hpp"
#include "bench/load/response_check.hpp"
#include "orders/wire.hpp"
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

// A frame the bench wrote, read back with the protocol's parser and
// decode_request, then with the orders' own decoder.
orders::order_request decoded_order(const std::string& frame, bool json) {
  protocol::value v;
  std::string error;
  REQUIRE(protocol::parse(frame, json ? protocol::encoding::json : protocol::encoding::msgpack,
                          protocol::parse_limits{}, &v, &error));
  auto request = protocol::decode_request(v);
  REQUIRE(std::holds_alternative<protocol::op_request>(request));
  auto order = orders::decode_order(std::get<protocol::op_request>(request));
  REQUIRE(std::holds_alternative<orders::order_request>(order));
  return std::get<orders::order_request>(order);
}

}  // namespace

TEST_CASE("order requests written by the bench read back as the protocol's order requests") {
  const std::array<std::string_view, 5> skus{"sku-0000001", "sku-0000042", "sku-0099999", "sku-0000007",
                                             "sku-0000300"};
  bench_request reserve;
  reserve.op = bench_op::order_reserve;
  reserve.id = 90'001;
  reserve.warehouse = "bench";
  reserve.line_skus = skus;
  reserve.ttl_ms = 700'000;
  reserve.idem = "b-2-90001";
  bench_request release;
  release.op = bench_op::order_release;
  release.id = 90'002;
  release.order = "O1f";
  std::string frame;  // reused, as the driver does
  for (bool json : {false, true}) {
    INFO((json ? "json" : "msgpack"));
    if (json) write_json(reserve, frame);
    else write_msgpack(reserve, frame);
    const orders::order_request r = decoded_order(frame, json);
    CHECK(r.kind == orders::order_op::reserve);
    CHECK(r.policy == orders::order_policy::all_or_nothing);
    CHECK(r.ttl_ms == 700'000);
    CHECK(r.idem == "b-2-90001");
    CHECK(r.ref.empty());
    CHECK_FALSE(r.dry_run);
    REQUIRE(r.lines.size() == skus.size());
    for (std::size_t i = 0; i < skus.size(); ++i) {
      CHECK(r.lines[i].sku == skus[i]);
      CHECK(r.lines[i].qty == 1);
      CHECK(r.lines[i].warehouse == "bench");
    }

    if (json) write_json(release, frame);
    else write_msgpack(release, frame);
    const orders::order_request released = decoded_order(frame, json);
    CHECK(released.kind == orders::order_op::release);
    CHECK(released.order == "O1f");
    CHECK(released.idem.empty());
  }

  // More than 15 lines takes msgpack's 16-bit array header.
  std::array<std::string, 20> many_names;
  std::array<std::string_view, 20> many;
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = many_names[i] = "sku-" + std::to_string(i);
  reserve.line_skus = many;
  reserve.ttl_ms = 0;
  write_msgpack(reserve, frame);
  const orders::order_request r = decoded_order(frame, false);
  CHECK(r.ttl_ms == 0);
  REQUIRE(r.lines.size() == many.size());
  CHECK(r.lines.back().sku == "sku-19");
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

// One answer, given as JSON, read both ways the driver reads answers: from
// the JSON tree, and from the same answer packed as msgpack. The views point
// into the tree and the packed bytes, which live as long as this.
struct answer_read_both_ways {
  explicit answer_read_both_ways(const std::string& json) {
    std::string error;
    REQUIRE(protocol::parse(json, protocol::encoding::json, protocol::parse_limits{}, &tree, &error));
    REQUIRE(read_value(tree, &from_json));
    packed = protocol::serialize(tree, protocol::encoding::msgpack);
    REQUIRE(reader.read(packed, &from_msgpack));
  }
  protocol::value tree;
  std::string packed;
  msgpack_reader reader;
  response_view from_json;
  response_view from_msgpack;
};

response_view good_order(std::string_view status) {
  response_view r;
  r.has_id = true;
  r.id = 2;
  r.ok = true;
  r.has_order = true;
  r.order = "O1f";
  r.order_status = status;
  r.order_lines = 5;
  r.order_lines_held = 5;
  return r;
}

const expectation order_reserve_of_5{bench_op::order_reserve, "bench", {}, 1, 5, {}};
const expectation order_release_of_o1f{bench_op::order_release, "bench", {}, 1, 0, "O1f"};

bool judged_wrong(const response_view& r, const expectation& e) {
  return judge(r, e, validation::full).kind == verdict_kind::wrong;
}

}  // namespace

TEST_CASE("the judge accepts an order held in full and then released") {
  CHECK(judge(good_order("held"), order_reserve_of_5, validation::full).kind == verdict_kind::ok);
  CHECK(judge(good_order("released"), order_release_of_o1f, validation::full).kind == verdict_kind::ok);

  response_view refused;
  refused.has_id = true;
  for (std::string_view code : {"INSUFFICIENT_STOCK", "LIMIT_EXCEEDED", "OVERLOADED"}) {
    refused.error_code = code;
    const verdict v = judge(refused, order_reserve_of_5, validation::full);
    CHECK(v.kind == verdict_kind::error);
    CHECK(v.detail == code);
  }
  refused.error_code = "OVERLOADED";
  CHECK(judge(refused, order_release_of_o1f, validation::full).kind == verdict_kind::error);
}

TEST_CASE("the judge calls an order answer wrong when its status, id or lines are") {
  response_view r = good_order("pending");
  CHECK(judged_wrong(r, order_reserve_of_5));  // not held
  r = good_order("released");
  CHECK(judged_wrong(r, order_reserve_of_5));
  r = good_order("held");
  CHECK(judged_wrong(r, order_release_of_o1f));  // a release that left it held
  r = good_order("committed");
  CHECK(judged_wrong(r, order_release_of_o1f));

  r = good_order("held");
  r.order = {};
  CHECK(judged_wrong(r, order_reserve_of_5));  // no order id
  r = good_order("released");
  r.order = "O2a";
  CHECK(judged_wrong(r, order_release_of_o1f));  // another order's answer

  r = good_order("held");
  r.order_lines = 4;
  r.order_lines_held = 4;
  CHECK(judged_wrong(r, order_reserve_of_5));  // a line missing
  r = good_order("held");
  r.order_lines = -1;
  r.order_lines_held = 0;
  CHECK(judged_wrong(r, order_reserve_of_5));  // no lines at all
  r = good_order("held");
  r.order_lines_held = 4;
  CHECK(judged_wrong(r, order_reserve_of_5));  // a line without its hold

  r = good_order("held");
  r.has_order = false;
  CHECK(judged_wrong(r, order_reserve_of_5));  // no order object

  response_view refused;
  refused.has_id = true;
  refused.error_code = "INSUFFICIENT_STOCK";
  CHECK(judged_wrong(refused, order_release_of_o1f));  // a release never runs short
  refused.error_code = "NOT_FOUND";
  CHECK(judged_wrong(refused, order_release_of_o1f));  // the order was just granted
}

TEST_CASE("order answers are read in place from msgpack and through the parser from JSON") {
  const std::string json =
      R"({"id":12,"ok":true,"order":"O1f","status":"held","policy":"all_or_nothing","ref":"",)"
      R"("lines":[{"sku":"sku-1","warehouse":"bench","qty":1,"hold":"H1-2a"},)"
      R"({"sku":"sku-2","warehouse":"bench","qty":1,"hold":"H2-7"},)"
      R"({"sku":"sku-3","warehouse":"bench","qty":1,"hold":""}],)"
      R"("unfilled":[],"expires_at_ms":1764417900000,"created_ms":1764417000000})";
  answer_read_both_ways answer(json);
  for (const response_view* r : {&answer.from_json, &answer.from_msgpack}) {
    CHECK(r->has_id);
    CHECK(r->id == 12);
    CHECK(r->ok);
    CHECK(r->has_order);
    CHECK(r->order == "O1f");
    CHECK(r->order_status == "held");
    CHECK(r->order_lines == 3);
    CHECK(r->order_lines_held == 2);
    CHECK_FALSE(r->has_record);
    const expectation three{bench_op::order_reserve, "bench", {}, 1, 3, {}};
    CHECK(judge(*r, three, validation::full).kind == verdict_kind::wrong);  // one line not held
  }
}

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
  answer_read_both_ways answer(json);
  for (const response_view* r : {&answer.from_json, &answer.from_msgpack}) {
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
  CHECK_FALSE(answer.reader.read(answer.packed.substr(0, answer.packed.size() - 1), &broken));
  CHECK_FALSE(answer.reader.read(answer.packed + "x", &broken));
}
