// The node-to-node format of requests and replies (cluster/wire.hpp).
#include <catch2/catch.hpp>

#include <random>

#include "cluster/wire.hpp"
#include "persistence/document_entry.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;

namespace {

request full_request() {
  request r;
  r.kind = op::policy;
  r.key = {"acme", "berlin-1", "A-100"};
  r.hold = "H0007-1f";
  r.qty = 3;
  r.delta = -4;
  r.on_hand = 17;
  r.expected_version = 0;
  r.ttl_ms = 60'000;
  r.ref = "cart-9 ✓";
  r.reason = "cycle count";
  r.idem = "k-1";
  r.key_id = "key_abc";
  r.warehouses_allowed = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"berlin-1", "x"});
  r.limit = 50;
  r.before_version = 9;
  r.safety_stock = 2;
  r.allow_backorder = false;
  r.low_stock_threshold = 5;
  r.internal = true;
  r.idem_fresh = true;
  r.follower_read = true;
  return r;
}

reply full_reply() {
  reply r;
  r.code = outcome::version_conflict;
  r.message = "the record's version is 13, not 12";
  r.has_record = true;
  r.record = {{"acme", "berlin-1", "A-100"}, 40, 3, 13, 2, true, 1, 7, 4};
  r.hold = "H0007-20";
  r.expires_at_ms = 1'800'000'000'000;
  r.available = -1;
  r.limit = 1'000'000;
  r.retry_after_ms = 1000;
  r.holds = {{"H0007-20", 2, 1'800'000'000'000, "cart"}, {"H0007-21", 1, 5, ""}};
  history_event e;
  e.seq = 0x7fff'ffff'ffff'fff0ull;
  e.c.kind = change_kind::transfer_back;
  e.c.version = 13;
  e.c.on_hand_before = 1;
  e.c.on_hand_after = 2;
  e.c.reserved_before = 3;
  e.c.reserved_after = 4;
  e.c.backordered_before = 5;
  e.c.backordered_after = 6;
  e.c.incoming_before = 7;
  e.c.incoming_after = 8;
  e.c.policy = {9, true, 10};
  e.c.qty = -11;
  e.c.hold_seq = 12;
  e.c.expires_at_ms = 13;
  e.c.ref = "r";
  e.c.reason = "why";
  e.hold = "H0007-c";
  e.idem = "i";
  e.key_id = "k";
  e.at_ms = 14;
  r.events = {e, history_event{}};
  r.events[1].c.kind = change_kind::adjust;
  r.replayed = true;
  return r;
}

}  // namespace

TEST_CASE("a request crosses nodes whole", "[cluster][wire]") {
  const request r = full_request();
  request back;
  std::string error;
  REQUIRE(cluster::decode(cluster::encode(r), &back, &error));
  CHECK(back.kind == r.kind);
  CHECK(back.key == r.key);
  CHECK(back.hold == r.hold);
  CHECK(back.qty == r.qty);
  CHECK(back.delta == r.delta);
  CHECK(back.on_hand == r.on_hand);
  CHECK(back.expected_version == r.expected_version);
  CHECK(back.ttl_ms == r.ttl_ms);
  CHECK(back.ref == r.ref);
  CHECK(back.reason == r.reason);
  CHECK(back.idem == r.idem);
  CHECK(back.key_id == r.key_id);
  REQUIRE(back.warehouses_allowed);
  CHECK(*back.warehouses_allowed == *r.warehouses_allowed);
  CHECK(back.limit == r.limit);
  CHECK(back.before_version == r.before_version);
  CHECK(back.safety_stock == r.safety_stock);
  CHECK(back.allow_backorder == r.allow_backorder);
  CHECK(back.low_stock_threshold == r.low_stock_threshold);
  CHECK(back.internal);
  CHECK(back.idem_fresh);
  CHECK(back.follower_read);

  // Absent optionals stay absent; null warehouses_allowed means all.
  request plain;
  plain.kind = op::get;
  plain.key = {"t", "w", "s"};
  REQUIRE(cluster::decode(cluster::encode(plain), &back, &error));
  CHECK_FALSE(back.qty);
  CHECK_FALSE(back.expected_version);
  CHECK_FALSE(back.allow_backorder);
  CHECK_FALSE(back.warehouses_allowed);
  CHECK_FALSE(back.internal);
  CHECK(request_fingerprint(back) == request_fingerprint(plain));
  CHECK(request_fingerprint(full_request()) != request_fingerprint(plain));
}

TEST_CASE("a reply crosses nodes whole", "[cluster][wire]") {
  const reply r = full_reply();
  reply back;
  std::string error;
  const auto bytes = cluster::encode(r);
  REQUIRE(cluster::decode(bytes, &back, &error));
  CHECK(cluster::encode(back) == bytes);
  CHECK(back.code == r.code);
  CHECK(back.message == r.message);
  REQUIRE(back.has_record);
  CHECK(back.record.key == r.record.key);
  CHECK(back.record.available() == r.record.available());
  CHECK(back.record.low_stock_threshold == 4);
  CHECK(back.holds.size() == 2);
  CHECK(back.holds[1].expires_at_ms == 5);
  REQUIRE(back.events.size() == 2);
  CHECK(back.events[0].seq == r.events[0].seq);
  CHECK(back.events[0].c.kind == change_kind::transfer_back);
  CHECK(back.events[0].c.policy == r.events[0].c.policy);
  CHECK(back.events[0].c.qty == -11);
  CHECK(back.events[0].c.reason == "why");
  CHECK(back.replayed);

  reply none = reply::error(outcome::unavailable, "partition moving");
  REQUIRE(cluster::decode(cluster::encode(none), &back, &error));
  CHECK_FALSE(back.has_record);
  CHECK(back.code == outcome::unavailable);
  CHECK(back.events.empty());
}

TEST_CASE("bytes that are not what encode writes are refused with the reason", "[cluster][wire]") {
  request rq;
  reply rp;
  std::string error;
  const auto good = cluster::encode(full_request());
  CHECK_FALSE(cluster::decode(good.substr(0, good.size() - 1), &rq, &error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(cluster::decode(cluster::encode(full_reply()), &rq, &error));  // a reply is not a request
  CHECK(error == "request: 12 fields, not 24");
  CHECK_FALSE(cluster::decode(good, &rp, &error));
  CHECK(error == "reply: 24 fields, not 12");
  // Version 2, and an op number no node knows (23 items: an array16
  // header of 3 bytes, then the version, then the op).
  std::string v2 = good;
  REQUIRE(static_cast<unsigned char>(v2[0]) == 0xdc);
  v2[3] = 0x02;
  CHECK_FALSE(cluster::decode(v2, &rq, &error));
  CHECK(error == "format version 2, this node reads 1");
  std::string bad_op = good;
  bad_op[4] = 0x10;  // op 16
  CHECK_FALSE(cluster::decode(bad_op, &rq, &error));
  CHECK(error == "request field 1: expected a known value");
  std::string zero_op = good;
  zero_op[4] = 0x00;
  CHECK_FALSE(cluster::decode(zero_op, &rq, &error));
}

TEST_CASE("mutated messages are refused or decode to something that re-encodes", "[cluster][wire]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const std::string sources[] = {cluster::encode(full_request()), cluster::encode(full_reply())};
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes = sources[i % 2];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
    std::string error;
    request rq;
    if (cluster::decode(bytes, &rq, &error)) {
      request again;
      REQUIRE(cluster::decode(cluster::encode(rq), &again, &error));
      CHECK(cluster::encode(again) == cluster::encode(rq));
    }
    reply rp;
    if (cluster::decode(bytes, &rp, &error)) {
      reply again;
      REQUIRE(cluster::decode(cluster::encode(rp), &again, &error));
      CHECK(cluster::encode(again) == cluster::encode(rp));
    }
  }
}

namespace {

persistence::journal_entry full_entry(std::uint64_t seq) {
  persistence::journal_entry e;
  e.seq = seq;
  e.epoch = 7;
  e.at_ms = 1'800'000'000'123;
  e.key = {"acme", "berlin-1", "A-100"};
  e.c.kind = change_kind::reserve;
  e.c.version = 4;
  e.c.on_hand_before = e.c.on_hand_after = 10;
  e.c.reserved_before = 1;
  e.c.reserved_after = 3;
  e.c.qty = 2;
  e.c.hold_seq = seq;
  e.c.expires_at_ms = 1'800'000'060'123;
  e.c.ref = "cart-9";
  e.idem = "k-1";
  e.fingerprint = 0xfedc'ba98'7654'3210ull;  // above INT64_MAX: all 64 bits must survive
  e.result = outcome::ok;
  e.detail = -5;
  e.key_id = "key_abc";
  return e;
}

cluster::peer_message full_peer_message() {
  cluster::peer_message m;
  m.sent_ms = 123'456;
  m.echo_ms = 123'000;
  m.appends.push_back({3, 7, 40, 6, 39, {full_entry(41), full_entry(44)}});
  m.appends.push_back({4, 7, 10, 7, 10, {}});
  m.results.push_back({3, 7, true, 44, 7});
  m.results.push_back({5, 8, false, 2, 1});
  m.votes.push_back({9, 12, 100, 11, true});
  m.votes.push_back({10, 13, 90, 12, false, true});
  m.vote_results.push_back({9, 12, true, true});
  m.truncates.push_back({2, 7, 30});
  m.requests.emplace_back(77, full_request());
  m.replies.emplace_back(78, full_reply());
  m.has_leads = true;
  m.leads = {{0, 7}, {4095, 1}};
  m.takeovers = {{10, 12, false}, {4095, 3, true}};
  return m;
}

}  // namespace

TEST_CASE("a journaled order document crosses nodes byte for byte, up to its bound", "[cluster][wire]") {
  // Binary bodies (msgpack) in a change's text field, and the largest one
  // a journaled document may be.
  for (const std::size_t body_bytes : {std::size_t{300}, persistence::document_body_bytes_max}) {
    persistence::document d;
    d.tenant = "shop";
    d.id = "O2-1f";
    d.idem = "cart-1";
    d.open = true;
    d.updated_ms = 1'000;
    for (std::size_t i = 0; i < body_bytes; ++i) d.body.push_back(static_cast<char>(i * 7 % 256));
    persistence::journal_entry e;
    REQUIRE(persistence::document_entry(d, &e).to_string() == "ok");
    e.seq = 5;
    e.epoch = 2;
    cluster::peer_message m;
    m.appends.push_back({1, 2, 4, 2, 4, {e}});
    cluster::peer_message back;
    std::string error;
    REQUIRE(cluster::decode(cluster::encode(m), &back, &error));
    REQUIRE(back.appends.size() == 1);
    REQUIRE(back.appends[0].entries.size() == 1);
    persistence::document got;
    REQUIRE(persistence::decode_document_entry(back.appends[0].entries[0], &got));
    CHECK(got.body == d.body);
    CHECK(got.id == d.id);
    CHECK(got.open);
  }
}

TEST_CASE("a peer message crosses nodes whole", "[cluster][wire]") {
  const auto m = full_peer_message();
  const auto bytes = cluster::encode(m);
  cluster::peer_message back;
  std::string error;
  REQUIRE(cluster::decode(bytes, &back, &error));
  CHECK(back.sent_ms == m.sent_ms);
  CHECK(back.echo_ms == m.echo_ms);
  REQUIRE(back.appends.size() == 2);
  CHECK(back.appends[0].partition == 3);
  CHECK(back.appends[0].prev_seq == 40);
  CHECK(back.appends[0].prev_epoch == 6);
  CHECK(back.appends[0].commit_seq == 39);
  REQUIRE(back.appends[0].entries.size() == 2);
  const auto& e = back.appends[0].entries[1];
  const auto want = full_entry(44);
  CHECK(e.seq == 44);
  CHECK(e.epoch == 7);
  CHECK(e.at_ms == want.at_ms);
  CHECK(e.key == want.key);
  CHECK(e.c.kind == change_kind::reserve);
  CHECK(e.c.reserved_after == 3);
  CHECK(e.c.hold_seq == 44);
  CHECK(e.c.ref == "cart-9");
  CHECK(e.fingerprint == want.fingerprint);
  CHECK(e.detail == -5);
  CHECK(e.key_id == "key_abc");
  CHECK(back.appends[1].entries.empty());
  REQUIRE(back.results.size() == 2);
  CHECK(back.results[0].ok);
  CHECK_FALSE(back.results[1].ok);
  CHECK(back.results[1].last_epoch == 1);
  REQUIRE(back.votes.size() == 2);
  CHECK(back.votes[0].last_seq == 100);
  CHECK(back.votes[0].pre);
  CHECK_FALSE(back.votes[0].transfer);
  CHECK(back.votes[1].transfer);
  CHECK_FALSE(back.votes[1].pre);
  REQUIRE(back.takeovers.size() == 2);
  CHECK(back.takeovers[0].partition == 10);
  CHECK(back.takeovers[0].epoch == 12);
  CHECK_FALSE(back.takeovers[0].refused);
  CHECK(back.takeovers[1].partition == 4095);
  CHECK(back.takeovers[1].refused);
  CHECK(back.vote_results[0].pre);
  REQUIRE(back.vote_results.size() == 1);
  CHECK(back.vote_results[0].granted);
  REQUIRE(back.truncates.size() == 1);
  CHECK(back.truncates[0].after_seq == 30);
  REQUIRE(back.requests.size() == 1);
  CHECK(back.requests[0].first == 77);
  CHECK(cluster::encode(back.requests[0].second) == cluster::encode(full_request()));
  REQUIRE(back.replies.size() == 1);
  CHECK(cluster::encode(back.replies[0].second) == cluster::encode(full_reply()));
  CHECK(back.has_leads);
  CHECK(back.leads == m.leads);
  // Re-encoding gives the same bytes: nothing was lost or defaulted.
  CHECK(cluster::encode(back) == bytes);

  cluster::peer_message quiet;  // no leads list: nil on the wire
  REQUIRE(cluster::decode(cluster::encode(quiet), &back, &error));
  CHECK_FALSE(back.has_leads);
  CHECK(back.empty());
}

// A node of the release before the hand-off reads exactly 11 fields per
// peer message and 5 per vote: what does not hand off must still look so.
TEST_CASE("a peer message without a hand-off keeps the earlier format", "[cluster][wire]") {
  auto m = full_peer_message();
  m.takeovers.clear();
  m.votes.pop_back();  // the transfer vote
  protocol::value v;
  std::string error;
  REQUIRE(protocol::parse(cluster::encode(m), protocol::encoding::msgpack, {}, &v, &error));
  REQUIRE(v.as_array());
  CHECK(v.as_array()->size() == 11);
  const auto& votes = *(*v.as_array())[5].as_array();
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].as_array()->size() == 5);

  // With them, a message has 12 fields and the vote 6; a 13th is refused.
  REQUIRE(protocol::parse(cluster::encode(full_peer_message()), protocol::encoding::msgpack, {}, &v, &error));
  CHECK(v.as_array()->size() == 12);
  CHECK((*(*v.as_array())[5].as_array())[1].as_array()->size() == 6);
  auto longer = *v.as_array();
  longer.emplace_back(protocol::array{});
  cluster::peer_message out;
  CHECK_FALSE(cluster::decode(protocol::serialize(protocol::value(std::move(longer)), protocol::encoding::msgpack),
                              &out, &error));
  CHECK(error.find("12") != std::string::npos);
}

TEST_CASE("a peer message that is not what encode writes is refused whole", "[cluster][wire]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const auto source = cluster::encode(full_peer_message());
  std::string error;
  cluster::peer_message out;
  CHECK_FALSE(cluster::decode(cluster::encode(full_request()), &out, &error));
  CHECK_FALSE(error.empty());
  for (int i = 0; i < 5'000; ++i) {
    std::string bytes = source;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
    cluster::peer_message m;
    if (cluster::decode(bytes, &m, &error)) {
      cluster::peer_message again;
      REQUIRE(cluster::decode(cluster::encode(m), &again, &error));
      CHECK(cluster::encode(again) == cluster::encode(m));
    }
  }
}
