// orders/settings_table: the settings document body (old documents
// included), the cluster's table of every tenant's settings, and the rule
// that picks the later change.
#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include "orders/document.hpp"
#include "orders/settings_table.hpp"
#include "orders/wire.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::orders;

namespace {

tenant_settings sample(std::int64_t changed_ms, std::string by) {
  tenant_settings ts;
  ts.allocation.policy = allocation_policy::fewest_splits;
  ts.allocation.priority = {"w2", "w1"};
  ts.low_stock_threshold = 5;
  ts.rate_per_second = 100;
  ts.records_max = 7;
  ts.ack = ack_mode::leader;
  ts.changed_ms = changed_ms;
  ts.changed_by = std::move(by);
  return ts;
}

bool same(const tenant_settings& a, const tenant_settings& b) {
  return a.allocation.policy == b.allocation.policy && a.allocation.priority == b.allocation.priority &&
         a.low_stock_threshold == b.low_stock_threshold && a.rate_per_second == b.rate_per_second &&
         a.rate_burst == b.rate_burst && a.subscriptions_max == b.subscriptions_max &&
         a.records_max == b.records_max && a.connections_max == b.connections_max && a.ack == b.ack &&
         a.changed_ms == b.changed_ms && a.changed_by == b.changed_by;
}

std::string refusal(const std::string& bytes) {
  settings_table t;
  std::string error;
  CHECK_FALSE(decode(bytes, &t, &error));
  return error;
}

std::string msgpack(protocol::value v) { return protocol::serialize(v, protocol::encoding::msgpack); }

}  // namespace

TEST_CASE("settings document: every field round-trips; documents from before ack read as quorum", "[settings]") {
  const auto ts = sample(42, "127.0.0.1:7401");
  tenant_settings back;
  REQUIRE(decode(encode(ts), &back));
  CHECK(same(back, ts));

  // A body as the previous version wrote it: no ack, no stamp.
  const auto old = document::serialize({{"v", document::format_version},
                                        {"allocation", std::int64_t{1}},
                                        {"priority", protocol::array{}},
                                        {"low_stock_threshold", std::int64_t{3}}});
  REQUIRE(decode(old, &back));
  CHECK(back.ack == ack_mode::quorum);
  CHECK(back.changed_ms == 0);
  CHECK(back.changed_by.empty());
  CHECK(back.low_stock_threshold == 3);

  // Out of range: refused, not clamped.
  const auto bad_ack = document::serialize({{"v", document::format_version},
                                            {"allocation", std::int64_t{1}},
                                            {"priority", protocol::array{}},
                                            {"ack", std::int64_t{2}}});
  CHECK_FALSE(decode(bad_ack, &back));
  const auto bad_stamp = document::serialize({{"v", document::format_version},
                                              {"allocation", std::int64_t{1}},
                                              {"priority", protocol::array{}},
                                              {"changed_ms", std::int64_t{-1}}});
  CHECK_FALSE(decode(bad_stamp, &back));
  // A stamp beyond any clock: refused, so one later never overflows.
  const auto far = document::serialize({{"v", document::format_version},
                                        {"allocation", std::int64_t{1}},
                                        {"priority", protocol::array{}},
                                        {"changed_ms", std::numeric_limits<std::int64_t>::max()}});
  CHECK_FALSE(decode(far, &back));
  // More warehouses than tenant.settings takes.
  protocol::array many(orders::priority_warehouses_max + 1, protocol::value("w"));
  const auto long_list = document::serialize(
      {{"v", document::format_version}, {"allocation", std::int64_t{1}}, {"priority", std::move(many)}});
  CHECK_FALSE(decode(long_list, &back));
}

TEST_CASE("settings table: round trip, equal tables give equal bytes", "[settings][cluster]") {
  settings_table t{{"acme", sample(5, "a:1")}, {"globex", sample(9, "b:2")}, {"initech", tenant_settings{}}};
  const auto bytes = encode(t);
  settings_table back;
  std::string error;
  REQUIRE(decode(bytes, &back, &error));
  REQUIRE(back.size() == 3);
  for (std::size_t i = 0; i < t.size(); ++i) {
    CHECK(back[i].first == t[i].first);
    CHECK(same(back[i].second, t[i].second));
  }
  CHECK(encode(back) == bytes);
  REQUIRE(decode(encode(settings_table{}), &back, &error));
  CHECK(back.empty());
}

TEST_CASE("settings table: anything but the format is refused whole, with the reason", "[settings][cluster]") {
  using protocol::array;
  using protocol::value;
  const auto body = settings_body(sample(1, "a:1"));
  CHECK(refusal("") != "");
  CHECK(refusal(msgpack(value(array{value(std::int64_t{2}), value(array{})}))) ==
        "format version 2, this node reads 1");
  CHECK(refusal(msgpack(value(array{value(std::int64_t{1})}))) == "table: 1 fields, not 2");
  CHECK(refusal(msgpack(value(array{value(std::int64_t{1}), value(array{value(array{value("acme")})})}))) ==
        "entry 0: 1 fields, not 2");
  CHECK(refusal(msgpack(value(array{value(std::int64_t{1}), value(array{value(array{value(""), body})})}))) ==
        "entry 0: not a tenant name");
  CHECK(refusal(msgpack(value(array{value(std::int64_t{1}), value(array{value(array{value("Acme!"), body})})}))) ==
        "entry 0: not a tenant name");
  CHECK(refusal(msgpack(value(
            array{value(std::int64_t{1}), value(array{value(array{value("acme"), value(std::int64_t{3})})})}))) ==
        "entry 0: settings do not decode");
  // Unsorted, or a tenant twice: equal tables must have equal bytes.
  CHECK(refusal(msgpack(value(array{value(std::int64_t{1}),
                                    value(array{value(array{value("b"), body}), value(array{value("a"), body})})}))) ==
        "entries: not sorted by tenant, or a tenant twice");
  CHECK(refusal(msgpack(value(array{value(std::int64_t{1}),
                                    value(array{value(array{value("a"), body}), value(array{value("a"), body})})}))) ==
        "entries: not sorted by tenant, or a tenant twice");
  CHECK(refusal(std::string(settings_table_bytes_max + 1, '\x90')).find("more than") != std::string::npos);
}

TEST_CASE("settings table: the later change wins, the same at every node", "[settings][cluster]") {
  const auto a = sample(100, "a:1");
  const auto b = sample(100, "b:1");
  const auto later = sample(101, "a:1");
  CHECK(newer(later, a));
  CHECK_FALSE(newer(a, later));
  // The same millisecond: the member id decides, the same way both ways.
  CHECK(newer(b, a));
  CHECK_FALSE(newer(a, b));
  // Never newer than itself: a table merged twice changes nothing.
  CHECK_FALSE(newer(a, a));
  // Settings never changed (no document yet) lose to any change.
  CHECK(newer(a, tenant_settings{}));

  // A change is stamped after the one it replaces even when this node's
  // clock is behind the other's.
  tenant_settings next;
  stamp(next, 50, "c:1", later);
  CHECK(next.changed_ms == 102);
  CHECK(next.changed_by == "c:1");
  CHECK(newer(next, later));
  stamp(next, 5000, "c:1", later);
  CHECK(next.changed_ms == 5000);
  // Never past the largest stamp a document may carry.
  stamp(next, 5000, "c:1", sample(settings_changed_ms_max, "z:9"));
  CHECK(next.changed_ms == settings_changed_ms_max);

  // Equal stamps (documents from before stamps: all (0, "")) but different
  // settings: one of the two wins, the same one both ways.
  tenant_settings x, y;
  x.low_stock_threshold = 1;
  y.low_stock_threshold = 2;
  CHECK(newer(x, y) != newer(y, x));
  CHECK_FALSE(newer(x, x));
}
