// One subscriber's queue: gating, bounds, coalescing and failure
// (feed/subscription.hpp).
#include <catch2/catch.hpp>

#include <atomic>

#include "feed/subscription.hpp"

using namespace stockgrid;
using namespace stockgrid::feed;
using protocol::value;

namespace {

event_ptr change_of(const std::string& sku, std::uint64_t seq, std::int64_t on_hand) {
  auto e = std::make_shared<event>();
  e->partition = 0;
  e->seq = seq;
  e->record.key = {"acme", "berlin", sku};
  e->record.on_hand = on_hand;
  e->record.version = static_cast<std::int64_t>(seq);
  return e;
}

std::string str(const value& v, const char* key) {
  const value* m = v.find(key);
  return m && m->as_string() ? *m->as_string() : "";
}
std::int64_t num(const value& v, const char* key) {
  const value* m = v.find(key);
  return m && m->as_int() ? *m->as_int() : -1;
}
std::string sku_of(const value& frame) { return str(*frame.find("record"), "sku"); }
bool coalesced(const value& frame) { return frame.find("coalesced") != nullptr; }

filter acme() {
  filter f;
  f.tenant = "acme";
  return f;
}

}  // namespace

TEST_CASE("events wait behind the gate; control frames do not", "[feed][subscription]") {
  std::atomic<int> wakes{0};
  subscription s(7, acme(), {8, 8}, [&] { ++wakes; });
  s.push_event(change_of("a", 5, 1));
  std::vector<value> out;
  CHECK(s.take(10, out) == 0);  // gated: nothing
  CHECK(wakes == 0);
  s.push_control(snapshot_end_frame(7, {{0, 4}}));
  CHECK(wakes == 1);
  REQUIRE(s.take(10, out) == 1);
  CHECK(str(out[0], "event") == "snapshot_end");
  s.set_gated(false);
  CHECK(wakes == 2);
  out.clear();
  REQUIRE(s.take(10, out) == 1);
  CHECK(str(out[0], "event") == "stock");
  CHECK(num(out[0], "sub") == 7);
  CHECK(num(out[0], "seq") == 5);
  CHECK_FALSE(coalesced(out[0]));
}

TEST_CASE("a full queue coalesces per record, in seq order, then fails a subscriber that stays behind",
          "[feed][subscription]") {
  subscription s(1, acme(), {4, 3}, [] {});
  s.set_gated(false);
  std::uint64_t seq = 0;
  for (const char* sku : {"a", "b", "c", "d"}) s.push_event(change_of(sku, ++seq, 1));  // the queue is full
  s.push_event(change_of("a", ++seq, 2));   // 5: coalesced
  s.push_event(change_of("b", ++seq, 2));   // 6
  s.push_event(change_of("a", ++seq, 3));   // 7: replaces a@5
  CHECK(s.stats().coalesced == 1);
  std::vector<value> out;
  REQUIRE(s.take(100, out) == 4);  // the queued ones first
  for (std::size_t i = 0; i < 4; ++i) CHECK_FALSE(coalesced(out[i]));
  out.clear();
  REQUIRE(s.take(100, out) == 2);  // then the coalesced set, by seq
  CHECK(sku_of(out[0]) == "b");
  CHECK(num(out[0], "seq") == 6);
  CHECK(sku_of(out[1]) == "a");
  CHECK(num(out[1], "seq") == 7);
  CHECK(num(*out[1].find("record"), "on_hand") == 3);  // the latest state
  CHECK(coalesced(out[0]));
  CHECK(coalesced(out[1]));

  // Behind again, over more records than the coalesce limit: it fails.
  for (int i = 0; i < 4; ++i) s.push_event(change_of("q" + std::to_string(i), ++seq, 1));
  CHECK_FALSE(s.failure());
  for (int i = 0; i < 4; ++i) s.push_event(change_of("r" + std::to_string(i), ++seq, 1));
  REQUIRE(s.failure());
  CHECK(s.failure()->close_code == 1008);
  CHECK(s.failure()->reason == "subscriber too slow");
  out.clear();
  CHECK(s.take(100, out) == 0);
}

TEST_CASE("a resume's backlog is queued whole; a cancelled subscription takes nothing", "[feed][subscription]") {
  subscription s(1, acme(), {2, 2}, [] {});
  s.set_gated(false);
  for (std::uint64_t i = 1; i <= 10; ++i) s.push_event(change_of("a", i, static_cast<std::int64_t>(i)), true);
  std::vector<value> out;
  REQUIRE(s.take(100, out) == 10);
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(num(out[i], "seq") == static_cast<std::int64_t>(i + 1));
    CHECK_FALSE(coalesced(out[i]));
  }
  s.push_event(change_of("a", 11, 1));
  s.cancel();
  out.clear();
  CHECK(s.take(100, out) == 0);
  CHECK(s.cancelled());
}

TEST_CASE("alert frames name the kind, the record and the threshold", "[feed][subscription]") {
  event e = *change_of("a", 9, 3);
  e.alert = alert_kind::low_stock;
  e.threshold = 5;
  const value f = event_frame(2, e, false);
  CHECK(str(f, "event") == "alert");
  CHECK(str(f, "kind") == "low_stock");
  CHECK(num(f, "threshold") == 5);
  CHECK(num(f, "seq") == 9);
  CHECK(sku_of(f) == "a");
}
