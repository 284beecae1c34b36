// The publisher over a real journal writer with in-memory stores: joining
// the stream exactly (snapshot or resume, then live), filters, resets,
// alerts and the hand-off bound (feed/publisher.hpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "feed/publisher.hpp"
#include "protocol/codec.hpp"
#include "persistence/journal_writer.hpp"
#include "persistence/memory_store.hpp"
#include "tests/persistence/test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::feed;
using namespace std::chrono_literals;
using persistence::journal_entry;
using persistence::journal_writer;
using persistence::journal_writer_options;
using persistence::testing::journal_sim;
using protocol::value;

namespace {

record_key key(const std::string& sku) { return {"acme", "berlin", sku}; }
// SKUs starting with "a" live in partition 0, the others in partition 1.
std::uint32_t partition_of(const std::string& sku) { return sku[0] == 'a' ? 0 : 1; }

std::string str(const value& v, const char* k) {
  const value* m = v.find(k);
  return m && m->as_string() ? *m->as_string() : "";
}
std::int64_t num(const value& v, const char* k) {
  const value* m = v.find(k);
  return m && m->as_int() ? *m->as_int() : -1;
}

struct rig {
  journal_sim sim;
  std::unique_ptr<publisher> pub;
  std::unique_ptr<journal_writer> writer;

  explicit rig(config::subscription_settings s = {}, journal_writer_options o = {}) {
    pub = std::make_unique<publisher>(s, 16 * 1024);
    o.threads = 1;
    o.on_committed = [p = pub.get()](std::uint32_t part, const std::vector<journal_entry>& b) {
      p->on_committed(part, b);
    };
    std::vector<std::unique_ptr<persistence::partition_store>> stores;
    stores.push_back(persistence::make_memory_store());
    stores.push_back(persistence::make_memory_store());
    persistence::status st;
    writer = std::make_unique<journal_writer>(std::move(stores), o, &st, nullptr);
    REQUIRE(st);
    pub->bind(writer.get());
  }
  ~rig() {
    writer->stop();
    pub->stop();
  }

  // Journals a change and waits until it is durable; its seq.
  std::uint64_t adjust(const std::string& sku, std::int64_t delta) {
    REQUIRE(sim.adjust(key(sku), delta));
    journal_entry e = std::move(sim.batch.back());
    sim.batch.clear();
    std::promise<bool> done;
    const auto seq = writer->append(partition_of(sku), std::move(e),
                                    [&](const persistence::status& s, const journal_entry*) { done.set_value(bool(s)); });
    REQUIRE(done.get_future().get());
    return seq;
  }

  // Subscribes; the outcome of the subscribe.
  outcome subscribe(const std::shared_ptr<subscription>& sub, std::optional<position> from = {}) {
    std::promise<outcome> done;
    pub->subscribe(sub, std::move(from), [&](outcome code, std::string, std::int64_t) { done.set_value(code); });
    auto f = done.get_future();
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  }
};

filter make_filter(std::string warehouse = {}, std::string sku = {}, std::string sku_prefix = {},
                   bool alerts_only = false, std::string tenant = "acme") {
  filter f;
  f.tenant = std::move(tenant);
  f.warehouse = std::move(warehouse);
  f.sku = std::move(sku);
  f.sku_prefix = std::move(sku_prefix);
  f.alerts_only = alerts_only;
  return f;
}

std::shared_ptr<subscription> make_sub(filter f = make_filter(), subscription_limits l = {}) {
  static std::uint64_t next = 1;
  return std::make_shared<subscription>(next++, std::move(f), l, [] {});
}

// Takes frames until `n` have arrived (or 5 s passed).
std::vector<value> take(subscription& s, std::size_t n) {
  std::vector<value> out;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    if (s.take(n - out.size(), out) == 0) std::this_thread::sleep_for(1ms);
  }
  return out;
}

// Nothing more arrives within a short while.
bool quiet(subscription& s) {
  std::this_thread::sleep_for(50ms);
  std::vector<value> out;
  return s.take(10, out) == 0;
}

position position_of(const value& snapshot_end) {
  position at;
  for (const value& pair : *snapshot_end.find("position")->as_array()) {
    const auto& a = *pair.as_array();
    at.emplace_back(static_cast<std::uint32_t>(*a[0].as_int()), static_cast<std::uint64_t>(*a[1].as_int()));
  }
  return at;
}

}  // namespace

TEST_CASE("publisher: a snapshot, its position, then live changes, none missed or doubled", "[feed][publisher]") {
  rig r;
  r.adjust("a1", 10);
  const auto b1 = r.adjust("b1", 5);
  auto sub = make_sub();
  REQUIRE(r.subscribe(sub) == outcome::ok);
  auto frames = take(*sub, 2);
  REQUIRE(frames.size() == 2);
  CHECK(str(frames[0], "event") == "snapshot");
  const auto& records = *frames[0].find("records")->as_array();
  REQUIRE(records.size() == 2);
  CHECK(str(records[0], "sku") == "a1");
  CHECK(num(records[0], "on_hand") == 10);
  CHECK(str(records[1], "sku") == "b1");
  CHECK(str(frames[1], "event") == "snapshot_end");
  const position at = position_of(frames[1]);
  REQUIRE(at.size() == 2);
  CHECK(at[1] == std::pair<std::uint32_t, std::uint64_t>{1, b1});

  const auto a2 = r.adjust("a1", -3);
  frames = take(*sub, 1);
  REQUIRE(frames.size() == 1);
  CHECK(str(frames[0], "event") == "stock");
  CHECK(num(frames[0], "partition") == 0);
  CHECK(num(frames[0], "seq") == static_cast<std::int64_t>(a2));
  CHECK(num(*frames[0].find("record"), "on_hand") == 7);
  CHECK(num(*frames[0].find("record"), "available") == 7);
  CHECK(num(*frames[0].find("change"), "delta") == -3);
  CHECK(str(*frames[0].find("change"), "kind") == "adjust");
  CHECK(num(*frames[0].find("change"), "version") == 2);
  CHECK(quiet(*sub));
}

TEST_CASE("publisher: filters pick records; other tenants never show", "[feed][publisher]") {
  rig r;
  r.adjust("a1", 1);
  r.adjust("b1", 1);
  auto only_b = make_sub(make_filter("", "", "b"));
  REQUIRE(r.subscribe(only_b) == outcome::ok);
  auto frames = take(*only_b, 2);
  REQUIRE(frames.size() == 2);
  REQUIRE(frames[0].find("records")->as_array()->size() == 1);
  r.adjust("a1", 1);
  r.adjust("b1", 2);
  frames = take(*only_b, 1);
  REQUIRE(frames.size() == 1);
  CHECK(str(*frames[0].find("record"), "sku") == "b1");
  CHECK(quiet(*only_b));

  auto other = make_sub(make_filter("", "", "", false, "other-tenant"));
  REQUIRE(r.subscribe(other) == outcome::ok);
  frames = take(*other, 1);
  REQUIRE(frames.size() == 1);
  CHECK(str(frames[0], "event") == "snapshot_end");  // no snapshot records
  r.adjust("a1", 1);
  CHECK(quiet(*other));
}

TEST_CASE("publisher: a resume from a position replays exactly the missed changes, then live ones",
          "[feed][publisher]") {
  rig r;
  r.adjust("a1", 10);
  auto first = make_sub();
  REQUIRE(r.subscribe(first) == outcome::ok);
  auto frames = take(*first, 2);
  REQUIRE(frames.size() == 2);
  position at = position_of(frames[1]);
  const auto s1 = r.adjust("a1", -1);
  frames = take(*first, 1);
  REQUIRE(frames.size() == 1);
  at[0].second = static_cast<std::uint64_t>(num(frames[0], "seq"));  // processed
  first->cancel();  // the connection drops

  const auto s2 = r.adjust("a1", -2);
  const auto s3 = r.adjust("b1", 4);
  const auto s4 = r.adjust("a1", -3);
  auto again = make_sub();
  REQUIRE(r.subscribe(again, at) == outcome::ok);
  frames = take(*again, 3);
  REQUIRE(frames.size() == 3);
  // Per partition in seq order; no snapshot, nothing before the position.
  std::vector<std::uint64_t> p0, p1;
  for (const auto& f : frames) {
    CHECK(str(f, "event") == "stock");
    (num(f, "partition") == 0 ? p0 : p1).push_back(static_cast<std::uint64_t>(num(f, "seq")));
  }
  CHECK(p0 == std::vector<std::uint64_t>{s2, s4});
  CHECK(p1 == std::vector<std::uint64_t>{s3});
  CHECK(s1 < s2);
  const auto s5 = r.adjust("a1", 1);
  frames = take(*again, 1);
  REQUIRE(frames.size() == 1);
  INFO(protocol::serialize(frames[0], protocol::encoding::json));
  CHECK(num(frames[0], "seq") == static_cast<std::int64_t>(s5));
  CHECK(quiet(*again));
}

TEST_CASE("publisher: an alert after the change at the resume position is sent again, the change not",
          "[feed][publisher]") {
  rig r;
  r.adjust("a1", 10);
  auto first = make_sub();
  REQUIRE(r.subscribe(first) == outcome::ok);
  auto frames = take(*first, 2);
  REQUIRE(frames.size() == 2);
  position at = position_of(frames[1]);
  const auto out = r.adjust("a1", -10);  // 0: the change, then its out_of_stock alert
  frames = take(*first, 1);             // the client processes the change only
  REQUIRE(frames.size() == 1);
  CHECK(str(frames[0], "event") == "stock");
  at[0].second = out;
  first->cancel();

  auto again = make_sub();
  REQUIRE(r.subscribe(again, at) == outcome::ok);
  frames = take(*again, 1);
  REQUIRE(frames.size() == 1);
  CHECK(str(frames[0], "event") == "alert");
  CHECK(str(frames[0], "kind") == "out_of_stock");
  CHECK(num(frames[0], "seq") == static_cast<std::int64_t>(out));
  CHECK(quiet(*again));
}

TEST_CASE("publisher: a position it cannot resume gets reset and a fresh snapshot", "[feed][publisher]") {
  SECTION("from the future") {
    rig r;
    r.adjust("a1", 10);
    auto sub = make_sub();
    REQUIRE(r.subscribe(sub, position{{0, 999'999}, {1, 0}}) == outcome::ok);
    auto frames = take(*sub, 3);
    REQUIRE(frames.size() == 3);
    CHECK(str(frames[0], "event") == "reset");
    CHECK(str(frames[1], "event") == "snapshot");
    CHECK(str(frames[2], "event") == "snapshot_end");
  }
  SECTION("compacted away") {
    journal_writer_options o;
    o.snapshot_every_entries = 1;  // snapshot and compact after every pass
    o.retention_ms = 1;            // the sim's entries are from 1970: all past retention
    rig r({}, o);
    r.adjust("a1", 10);
    r.adjust("a1", 1);
    r.adjust("a1", 1);
    // Compaction runs after the pass: wait for it through a later append.
    r.adjust("b1", 1);
    r.adjust("a1", 1);
    auto sub = make_sub();
    REQUIRE(r.subscribe(sub, position{{0, 1}, {1, 0}}) == outcome::ok);
    auto frames = take(*sub, 3);
    REQUIRE(frames.size() == 3);
    CHECK(str(frames[0], "event") == "reset");
    CHECK(str(frames[1], "event") == "snapshot");
    CHECK(str(frames[2], "event") == "snapshot_end");
  }
  SECTION("a bad position is refused") {
    rig r;
    CHECK(r.subscribe(make_sub(), position{{0, 1}}) == outcome::bad_request);             // a partition missing
    CHECK(r.subscribe(make_sub(), position{{0, 1}, {0, 2}}) == outcome::bad_request);     // twice
    CHECK(r.subscribe(make_sub(), position{{0, 1}, {7, 2}}) == outcome::bad_request);     // no such partition
  }
}

TEST_CASE("publisher: alerts-only subscribers get only alerts, with the tenant's default threshold",
          "[feed][publisher]") {
  rig r;
  r.pub->set_tenant_threshold("acme", 5);
  r.adjust("a1", 10);
  auto sub = make_sub(make_filter("", "", "", true));
  REQUIRE(r.subscribe(sub) == outcome::ok);
  auto frames = take(*sub, 2);  // snapshot + end
  REQUIRE(frames.size() == 2);
  r.adjust("a1", -5);  // 5: low
  r.adjust("a1", -1);  // 4
  r.adjust("a1", 2);   // 6: inside the band
  r.adjust("a1", -2);  // 4
  r.adjust("a1", 3);   // 7: back
  frames = take(*sub, 2);
  REQUIRE(frames.size() == 2);
  CHECK(str(frames[0], "event") == "alert");
  CHECK(str(frames[0], "kind") == "low_stock");
  CHECK(num(frames[0], "threshold") == 5);
  CHECK(num(*frames[0].find("record"), "available") == 5);
  CHECK(str(frames[1], "kind") == "back_in_stock");
  CHECK(quiet(*sub));
}

TEST_CASE("publisher: a snapshot over the limit is refused; the node-wide subscription limit holds",
          "[feed][publisher]") {
  config::subscription_settings s;
  s.snapshot_records_max = 2;
  s.subscriptions_max = 2;
  rig r(s);
  r.adjust("a1", 1);
  r.adjust("a2", 1);
  r.adjust("b1", 1);
  CHECK(r.subscribe(make_sub()) == outcome::limit_exceeded);
  auto one = make_sub(make_filter("", "", "a"));
  auto two = make_sub(make_filter("", "b1"));
  REQUIRE(r.subscribe(one) == outcome::ok);
  REQUIRE(r.subscribe(two) == outcome::ok);
  CHECK(r.subscribe(make_sub(make_filter("", "b1"))) == outcome::limit_exceeded);
  one->cancel();
  // The cancelled one is dropped within a sweep interval.
  outcome later = outcome::limit_exceeded;
  for (int i = 0; i < 100 && later != outcome::ok; ++i) {
    std::this_thread::sleep_for(20ms);
    later = r.subscribe(make_sub(make_filter("", "b1")));
  }
  CHECK(later == outcome::ok);
}

TEST_CASE("publisher: a tenant's subscriptions are limited by its own limit, else the default",
          "[feed][publisher][quota]") {
  config::subscription_settings s;
  s.subscriptions_per_tenant_max = 2;
  rig r(s);
  auto other = [] { return make_sub(make_filter("", "", "", false, "other-tenant")); };
  auto one = make_sub();
  REQUIRE(r.subscribe(one) == outcome::ok);
  REQUIRE(r.subscribe(make_sub()) == outcome::ok);
  CHECK(r.subscribe(make_sub()) == outcome::limit_exceeded);
  CHECK(r.subscribe(other()) == outcome::ok);  // another tenant's count is its own

  r.pub->set_tenant_subscriptions_max("other-tenant", 1);
  CHECK(r.subscribe(other()) == outcome::limit_exceeded);
  r.pub->set_tenant_subscriptions_max("other-tenant", 3);
  CHECK(r.subscribe(other()) == outcome::ok);
  r.pub->set_tenant_subscriptions_max("other-tenant", 0);  // back to the default, 2: full
  CHECK(r.subscribe(other()) == outcome::limit_exceeded);

  one->cancel();  // dropped within a sweep interval, freeing its place
  outcome later = outcome::limit_exceeded;
  for (int i = 0; i < 100 && later != outcome::ok; ++i) {
    std::this_thread::sleep_for(20ms);
    later = r.subscribe(make_sub());
  }
  CHECK(later == outcome::ok);
}

TEST_CASE("publisher: when fan-out falls behind its hand-off bound every subscription ends with 1013",
          "[feed][publisher]") {
  config::subscription_settings s;
  s.publisher_queue_entries_max = 1;
  rig r(s);
  auto sub = make_sub();
  REQUIRE(r.subscribe(sub) == outcome::ok);
  // A committed batch bigger than the bound, as a writer would hand it over.
  std::vector<journal_entry> batch(3);
  r.pub->on_committed(0, batch);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!sub->failure() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(sub->failure());
  CHECK(sub->failure()->close_code == 1013);
  CHECK(r.pub->stats().overflows == 1);
}
