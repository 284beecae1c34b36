// Tenants and keys across a cluster (auth/replication.hpp): a table's bytes
// and the merge rules, on the in-memory store and the SQLite file.
#include "auth/replication.hpp"

#include <catch2/catch.hpp>

#include <random>

#include "protocol/codec.hpp"
#include "tests/auth/test_support.hpp"

namespace stockgrid::auth {
namespace {

using testing::memory_fixture;
using testing::sqlite_fixture;

constexpr epoch_ms t0 = 1'700'000'000'000;

auth_table table_of(key_store& store) {
  auth_table t;
  const store_status st = read_table(store, &t);
  if (!st) FAIL("read_table: " << st.message());
  return t;
}

std::string key_of(key_store& store, const new_key& k, epoch_ms now) {
  const issued_key issued = create_key(store, k, now);
  REQUIRE(issued.status);
  return issued.key_id;
}

// A table with every field set: a suspended and a deleting tenant, keys
// limited to warehouses, expiring, revoked, and a deleted tenant's
// tombstone.
auth_table full_table() {
  memory_key_store store;
  REQUIRE(create_tenant(store, "old", t0).status);
  REQUIRE(store.set_tenant_suspended("old", true, t0 + 1, ""));
  REQUIRE(store.set_tenant_deleting("old", t0 + 2));
  REQUIRE(store.remove_tenant("old", t0 + 3));
  REQUIRE(create_tenant(store, "acme", t0).status);
  REQUIRE(create_tenant(store, "beta.shop", t0 + 1).status);
  REQUIRE(create_tenant(store, "gone", t0 + 2).status);
  REQUIRE(store.set_tenant_suspended("beta.shop", true, t0 + 3, ""));
  REQUIRE(store.set_tenant_suspended("gone", true, t0 + 4, ""));
  REQUIRE(store.set_tenant_deleting("gone", t0 + 5));
  key_of(store, {"acme", protocol::role::writer, {"berlin", "paris ✓"}, t0 + 60'000}, t0 + 6);
  const auto revoked = key_of(store, {"acme", protocol::role::reader, {}, std::nullopt}, t0 + 7);
  REQUIRE(store.revoke_key("acme", revoked, t0 + 8));
  return table_of(store);
}

key_record system_key(std::string_view token, epoch_ms created_ms) {
  key_info info;
  info.key_id = std::string(system_key_id);
  info.role = protocol::role::system;
  info.created_ms = created_ms;
  key_record row;
  REQUIRE(make_key_record(info, token, &row));
  return row;
}

// A peer's store gets tenant acme (and its admin key) and a writer key of
// it; returns the writer's key id.
std::string add_acme_writer(key_store& peer) {
  REQUIRE(create_tenant(peer, "acme", t0).status);
  return key_of(peer, {"acme", protocol::role::writer, {}, std::nullopt}, t0 + 1);
}

store_status merge_bytes(key_store& store, const auth_table& peer, merge_report* report = nullptr) {
  // Through the bytes, as between nodes.
  auth_table decoded;
  std::string error;
  if (!decode(encode(peer), &decoded, &error)) FAIL("decode: " << error);
  return merge(store, decoded, report);
}

}  // namespace

TEST_CASE("a table crosses nodes whole", "[auth][replication]") {
  const auth_table t = full_table();
  REQUIRE(t.tenants.size() == 3);
  REQUIRE(t.keys.size() == 5);  // three first admin keys, a writer, a revoked reader
  REQUIRE(t.tombstones == std::vector<tenant_tombstone>{{"old", t0, t0 + 3}});
  const std::string bytes = encode(t);
  auth_table back;
  std::string error;
  REQUIRE(decode(bytes, &back, &error));
  CHECK(back == t);
  CHECK(encode(back) == bytes);

  auth_table empty;
  REQUIRE(decode(encode(auth_table{}), &empty, &error));
  CHECK(empty == auth_table{});

  // Without tombstones the table is written in format 2, which the release
  // before reads; with them, in format 3.
  auto version_of = [](const std::string& b) {
    protocol::value v;
    std::string e;
    REQUIRE(protocol::parse(b, protocol::encoding::msgpack, protocol::parse_limits{}, &v, &e));
    return *v.as_array()->at(0).as_int();
  };
  CHECK(version_of(bytes) == 3);
  auth_table no_tombstones = t;
  no_tombstones.tombstones.clear();
  CHECK(version_of(encode(no_tombstones)) == 2);
  REQUIRE(decode(encode(no_tombstones), &back, &error));
  CHECK(back == no_tombstones);
}

TEST_CASE("bytes that are not a table are refused with a reason", "[auth][replication]") {
  using protocol::array;
  using protocol::value;
  const auth_table good = full_table();
  const key_record& k = good.keys.front();
  auto key_value = [&](auto edit) {
    array fields{k.key_id, k.tenant, static_cast<std::int64_t>(k.role), array{}, k.created_ms,
                 nullptr, nullptr, std::int64_t{1}, to_hex(k.salt), to_hex(k.hash)};
    edit(fields);
    return value(std::move(fields));
  };
  auto table_bytes = [](value tenants, value keys, std::int64_t version = 1) {
    return protocol::serialize(array{version, std::move(tenants), std::move(keys)}, protocol::encoding::msgpack);
  };
  auto table_v3 = [](value tombstones) {
    return protocol::serialize(array{std::int64_t{3}, array{}, array{}, std::move(tombstones)},
                               protocol::encoding::msgpack);
  };
  auto same = [](array&) {};
  const value tenant_acme = array{"acme", t0, nullptr, nullptr};
  // The baseline decodes: each case below differs from it in one thing.
  auth_table out;
  std::string error;
  REQUIRE(decode(table_bytes(array{tenant_acme}, array{key_value(same)}), &out, &error));
  // And so does its tenant with a status stamp, in a table of format 2.
  REQUIRE(decode(table_bytes(array{array{"acme", t0, nullptr, nullptr, t0, "127.0.0.1:7401"}},
                             array{key_value(same)}, 2),
                 &out, &error));
  CHECK(out.tenants.at(0).status_ms == t0);
  CHECK(out.tenants.at(0).status_by == "127.0.0.1:7401");
  // And a table of format 3 with tombstones.
  REQUIRE(decode(table_v3(array{array{"gone", t0, t0 + 1}, array{"old", t0, t0}}), &out, &error));
  CHECK(out.tombstones == std::vector<tenant_tombstone>{{"gone", t0, t0 + 1}, {"old", t0, t0}});

  struct refused {
    std::string what;
    std::string bytes;
    std::string reason;
  };
  const std::vector<refused> cases = {
      {"nothing", "", ""},
      {"a newer version", table_bytes(array{}, array{}, 4), "format version 4"},
      {"format 3 without tombstones", table_bytes(array{}, array{}, 3), "table: 3 fields, not 4"},
      {"a tombstone deleted before it was created", table_v3(array{array{"old", t0, t0 - 1}}),
       "tombstone 0 field 2: expected a delete time at or after the creation time"},
      {"a tombstone with a bad name", table_v3(array{array{"Old!", t0, t0}}), "tombstone 0 field 0"},
      {"a short tombstone", table_v3(array{array{"old", t0}}), "tombstone 0: 2 fields, not 3"},
      {"tombstones twice", table_v3(array{array{"old", t0, t0}, array{"old", t0, t0}}), "tombstones: not sorted"},
      {"version 0", table_bytes(array{}, array{}, 0), "format version 0"},
      {"a tenant of format 1 in a table of format 2", table_bytes(array{tenant_acme}, array{}, 2),
       "tenant 0: 4 fields, not 6"},
      {"a negative status time", table_bytes(array{array{"acme", t0, nullptr, nullptr, -1, ""}}, array{}, 2),
       "tenant 0 field 4: expected a time >= 0"},
      {"a status member without a status time",
       table_bytes(array{array{"acme", t0, nullptr, nullptr, nullptr, "127.0.0.1:7401"}}, array{}, 2),
       "tenant 0 field 5"},
      {"a status member too long",
       table_bytes(array{array{"acme", t0, nullptr, nullptr, t0, std::string(260, 'h')}}, array{}, 2),
       "string longer than 259 bytes"},
      {"a map", protocol::serialize(protocol::object{{"v", 1}}, protocol::encoding::msgpack), ""},
      {"a field missing", protocol::serialize(array{std::int64_t{1}, array{}}, protocol::encoding::msgpack),
       "table: 2 fields, not 3"},
      {"a bad tenant name", table_bytes(array{array{"Acme!", t0, nullptr, nullptr}}, array{}),
       "tenant 0 field 0: expected a valid tenant name"},
      {"a negative time", table_bytes(array{array{"acme", -1, nullptr, nullptr}}, array{}),
       "tenant 0 field 1: expected a time >= 0"},
      {"deleting but not suspended", table_bytes(array{array{"acme", t0, nullptr, t0}}, array{}),
       "tenant 0 field 3"},
      {"tenants twice", table_bytes(array{tenant_acme, tenant_acme}, array{}), "tenants: not sorted"},
      {"a short salt", table_bytes(array{tenant_acme}, array{key_value([](array& f) { f[8] = "00ff"; })}),
       "key 0 field 8: expected 32 lowercase hex digits"},
      {"an uppercase hash",
       table_bytes(array{tenant_acme}, array{key_value([&](array& f) { f[9] = std::string(64, 'A'); })}),
       "key 0 field 9: expected 64 lowercase hex digits"},
      {"an unknown role", table_bytes(array{tenant_acme}, array{key_value([](array& f) { f[2] = 9; })}),
       "key 0 field 2: expected a known role"},
      {"an unknown hash scheme", table_bytes(array{tenant_acme}, array{key_value([](array& f) { f[7] = 2; })}),
       "key 0 field 7: expected a known hash scheme"},
      {"a bad key id", table_bytes(array{tenant_acme}, array{key_value([](array& f) { f[0] = "k1"; })}),
       "key 0 field 0"},
      {"a duplicate warehouse",
       table_bytes(array{tenant_acme}, array{key_value([](array& f) { f[3] = array{"a", "a"}; })}),
       "warehouses[1]: duplicate"},
      {"a tenant key with role system",
       table_bytes(array{tenant_acme}, array{key_value([](array& f) { f[2] = 4; })}), "role system"},
      {"keys twice", table_bytes(array{tenant_acme}, array{key_value(same), key_value(same)}),
       "keys: not sorted"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    error.clear();
    CHECK_FALSE(decode(c.bytes, &out, &error));
    CHECK_FALSE(error.empty());
    CHECK_THAT(error, Catch::Matchers::Contains(c.reason));
  }
}

TEST_CASE("mutated tables are refused or decode to something that re-encodes", "[auth][replication]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const std::string source = encode(full_table());
  int refused = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes = source;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
    auth_table t;
    std::string error;
    if (decode(bytes, &t, &error)) {
      auth_table again;
      REQUIRE(decode(encode(t), &again, &error));
      CHECK(again == t);
    } else {
      ++refused;
      CHECK_FALSE(error.empty());
    }
  }
  CHECK(refused > 0);
}

TEMPLATE_TEST_CASE("tables merged in either order give the same store", "[auth][replication]",
                   memory_fixture, sqlite_fixture) {
  // Node A and node B share acme (B merged it from A) and then change it
  // apart: both revoke the same key, B earlier; A suspends acme, B creates
  // beta, and each revokes a different key.
  memory_key_store a, b;
  REQUIRE(create_tenant(a, "acme", t0).status);
  const auto shared = key_of(a, {"acme", protocol::role::writer, {"berlin"}, std::nullopt}, t0 + 1);
  const auto only_a_revokes = key_of(a, {"acme", protocol::role::reader, {}, t0 + 90'000}, t0 + 2);
  REQUIRE(merge(b, table_of(a), nullptr));
  REQUIRE(a.revoke_key("acme", shared, t0 + 30));
  REQUIRE(b.revoke_key("acme", shared, t0 + 20));
  REQUIRE(a.revoke_key("acme", only_a_revokes, t0 + 40));
  REQUIRE(a.set_tenant_suspended("acme", true, t0 + 50, ""));
  REQUIRE(create_tenant(b, "beta", t0 + 3).status);
  const auto only_b_revokes = key_of(b, {"beta", protocol::role::admin, {}, std::nullopt}, t0 + 4);
  REQUIRE(b.revoke_key("beta", only_b_revokes, t0 + 60));

  TestType ab_fixture, ba_fixture;
  key_store& ab = ab_fixture.get();
  key_store& ba = ba_fixture.get();
  REQUIRE(merge_bytes(ab, table_of(a)));
  REQUIRE(merge_bytes(ab, table_of(b)));
  REQUIRE(merge_bytes(ba, table_of(b)));
  REQUIRE(merge_bytes(ba, table_of(a)));
  const auth_table converged = table_of(ab);
  CHECK(table_of(ba) == converged);

  // A and B themselves end the same once each has the other's table.
  const auth_table a_before = table_of(a);
  REQUIRE(merge_bytes(a, table_of(b)));
  REQUIRE(merge_bytes(b, a_before));
  CHECK(table_of(a) == converged);
  CHECK(table_of(b) == converged);

  // And that is the union, with the earlier times.
  REQUIRE(converged.tenants.size() == 2);
  CHECK(converged.tenants[0].name == "acme");
  CHECK(converged.tenants[0].suspended_ms == t0 + 50);
  CHECK(converged.tenants[1].name == "beta");
  CHECK_FALSE(converged.tenants[1].suspended_ms);
  key_record k;
  REQUIRE(ab.find_key(shared, &k));
  CHECK(k.revoked_ms == t0 + 20);
  CHECK(k.warehouses == std::vector<std::string>{"berlin"});
  REQUIRE(ab.find_key(only_a_revokes, &k));
  CHECK(k.revoked_ms == t0 + 40);
  CHECK(k.expires_at_ms == t0 + 90'000);
  REQUIRE(ab.find_key(only_b_revokes, &k));
  CHECK(k.revoked_ms == t0 + 60);
  CHECK(converged.keys.size() == 5);  // two first admin keys and three more
}

TEMPLATE_TEST_CASE("merging a table again changes nothing", "[auth][replication]", memory_fixture,
                   sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  const auth_table peer = full_table();
  merge_report first;
  REQUIRE(merge_bytes(store, peer, &first));
  CHECK(first.changed());
  CHECK(first.tenants_added == 2);     // not "gone": the peer is deleting it; not "old": deleted
  CHECK(first.tenants_suspended == 1);  // beta.shop
  CHECK(first.keys_added == 4);        // not gone's first key
  CHECK(first.keys_waiting == 1);
  const auth_table after_first = table_of(store);

  merge_report second;
  REQUIRE(merge_bytes(store, peer, &second));
  CHECK_FALSE(second.changed());
  CHECK(table_of(store) == after_first);
}

TEMPLATE_TEST_CASE("a revocation wins over a table that predates it", "[auth][replication]",
                   memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& here = f.get();
  memory_key_store peer;
  const auto key = add_acme_writer(peer);
  const auth_table before_revocation = table_of(peer);
  REQUIRE(merge_bytes(here, before_revocation));

  // Revoked at the peer: revoked here.
  REQUIRE(peer.revoke_key("acme", key, t0 + 10));
  merge_report report;
  REQUIRE(merge_bytes(here, table_of(peer), &report));
  CHECK(report.keys_revoked == 1);
  key_record k;
  REQUIRE(here.find_key(key, &k));
  CHECK(k.revoked_ms == t0 + 10);

  // A table from before the revocation (another node that has not heard
  // yet) does not bring the key back.
  REQUIRE(merge_bytes(here, before_revocation, &report));
  CHECK_FALSE(report.changed());
  REQUIRE(here.find_key(key, &k));
  CHECK(k.revoked_ms == t0 + 10);

  // Revoked here, the peer learns it from our table.
  const auto second = key_of(peer, {"acme", protocol::role::reader, {}, std::nullopt}, t0 + 11);
  REQUIRE(merge_bytes(here, table_of(peer)));
  REQUIRE(here.revoke_key("acme", second, t0 + 12));
  REQUIRE(merge_bytes(peer, table_of(here), &report));
  CHECK(report.keys_revoked == 1);
  REQUIRE(peer.find_key(second, &k));
  CHECK(k.revoked_ms == t0 + 12);
}

TEMPLATE_TEST_CASE("a key of an unknown tenant waits for its tenant", "[auth][replication]",
                   memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& here = f.get();
  memory_key_store peer;
  const auto key = add_acme_writer(peer);
  auth_table keys_only = table_of(peer);
  keys_only.tenants.clear();

  merge_report report;
  REQUIRE(merge_bytes(here, keys_only, &report));
  CHECK(report.keys_waiting == 2);
  CHECK_FALSE(report.changed());
  key_record k;
  CHECK(here.find_key(key, &k).kind() == store_status::code::not_found);

  REQUIRE(merge_bytes(here, table_of(peer), &report));
  CHECK(report.tenants_added == 1);
  CHECK(report.keys_added == 2);
  CHECK(report.keys_waiting == 0);
  REQUIRE(here.find_key(key, &k));
  CHECK(k.tenant == "acme");
}

TEMPLATE_TEST_CASE("the system key is never copied", "[auth][replication]", memory_fixture,
                   sqlite_fixture) {
  TestType f;
  key_store& here = f.get();
  memory_key_store peer;
  const key_record system = system_key("a-system-token-0001", t0);
  REQUIRE(peer.add_key(system));
  REQUIRE(create_tenant(peer, "acme", t0).status);

  // read_table leaves it out of what a node sends...
  const auth_table sent = table_of(peer);
  CHECK(sent.keys.size() == 1);
  for (const auto& k : sent.keys) CHECK(k.key_id != system_key_id);

  // ...and merge skips it if a table carries it anyway.
  auth_table with_system = sent;
  with_system.keys.insert(with_system.keys.begin(), system);
  std::sort(with_system.keys.begin(), with_system.keys.end(),
            [](const key_record& a, const key_record& b) { return a.key_id < b.key_id; });
  merge_report report;
  REQUIRE(merge_bytes(here, with_system, &report));
  CHECK(report.keys_added == 1);
  key_record k;
  CHECK(here.find_key(system_key_id, &k).kind() == store_status::code::not_found);

  // A node's own system key stays its own.
  const key_record mine = system_key("another-system-token", t0 + 1);
  REQUIRE(here.add_key(mine));
  REQUIRE(merge_bytes(here, with_system, &report));
  REQUIRE(here.find_key(system_key_id, &k));
  CHECK(k == mine);
}

namespace {

// The status of `tenant` in `store`: its suspended_ms, none = active.
std::optional<epoch_ms> suspended_in(key_store& store, std::string_view tenant) {
  for (const auto& t : table_of(store).tenants)
    if (t.name == tenant) return t.suspended_ms;
  FAIL("no tenant " << tenant);
  return std::nullopt;
}

}  // namespace

TEMPLATE_TEST_CASE("the later status change wins: a resume reaches every node, a later suspension wins over it",
                   "[auth][replication]", memory_fixture, sqlite_fixture) {
  TestType fa, fb, fc;
  key_store& a = fa.get();
  key_store& b = fb.get();
  key_store& c = fc.get();
  REQUIRE(create_tenant(a, "acme", t0).status);
  REQUIRE(merge_bytes(b, table_of(a)));
  REQUIRE(merge_bytes(c, table_of(a)));

  // Suspended at A, then resumed at B: the resume is the later change.
  REQUIRE(a.set_tenant_suspended("acme", true, t0 + 10, "a"));
  const auth_table a_suspended = table_of(a);
  REQUIRE(merge_bytes(b, a_suspended));
  REQUIRE(merge_bytes(c, a_suspended));
  CHECK(suspended_in(b, "acme") == t0 + 10);
  REQUIRE(b.set_tenant_suspended("acme", false, t0 + 20, "b"));
  merge_report report;
  REQUIRE(merge_bytes(a, table_of(b), &report));
  CHECK(report.tenants_resumed == 1);
  CHECK_FALSE(suspended_in(a, "acme"));
  // C hears it through A; an older table (C's own, still suspended) changes
  // nothing at B.
  REQUIRE(merge_bytes(b, table_of(c), &report));
  CHECK_FALSE(report.changed());
  CHECK_FALSE(suspended_in(b, "acme"));
  REQUIRE(merge_bytes(c, table_of(a)));
  CHECK_FALSE(suspended_in(c, "acme"));
  CHECK(table_of(a) == table_of(b));
  CHECK(table_of(c) == table_of(b));

  // Suspended again at C, later: suspended everywhere, and a table from
  // before (B's resume) does not resume it.
  const auth_table b_resumed = table_of(b);
  REQUIRE(c.set_tenant_suspended("acme", true, t0 + 30, "c"));
  REQUIRE(merge_bytes(a, table_of(c)));
  REQUIRE(merge_bytes(b, table_of(c)));
  REQUIRE(merge_bytes(a, b_resumed, &report));
  CHECK_FALSE(report.changed());
  for (key_store* s : {&a, &b, &c}) CHECK(suspended_in(*s, "acme") == t0 + 30);
  CHECK(table_of(a) == table_of(c));
  CHECK(table_of(b) == table_of(c));
}

TEMPLATE_TEST_CASE("two status changes in the same millisecond: every node keeps the same one",
                   "[auth][replication]", memory_fixture, sqlite_fixture) {
  TestType fa, fb;
  key_store& a = fa.get();
  key_store& b = fb.get();
  REQUIRE(create_tenant(a, "acme", t0).status);
  REQUIRE(a.set_tenant_suspended("acme", true, t0 + 1, "127.0.0.1:7401"));
  REQUIRE(merge_bytes(b, table_of(a)));
  // A resumes and B suspends again, at the same time: the change of the
  // greater member id wins, at both.
  REQUIRE(a.set_tenant_suspended("acme", false, t0 + 5, "127.0.0.1:7401"));
  REQUIRE(b.set_tenant_suspended("acme", true, t0 + 5, "127.0.0.1:7402"));
  const auth_table a_before = table_of(a);
  REQUIRE(merge_bytes(a, table_of(b)));
  REQUIRE(merge_bytes(b, a_before));
  CHECK(table_of(a) == table_of(b));
  CHECK(suspended_in(a, "acme") == t0 + 1);
}

TEMPLATE_TEST_CASE("a table of format 1 (no stamps) merges by the old rule where neither side has a stamp",
                   "[auth][replication]", memory_fixture, sqlite_fixture) {
  using protocol::array;
  // A node of the previous version: acme suspended at t0 + 5, no stamp.
  auto old_table = [](std::int64_t suspended_ms) {
    return protocol::serialize(
        array{std::int64_t{1}, array{array{"acme", t0, suspended_ms, nullptr}}, array{}},
        protocol::encoding::msgpack);
  };
  auto merge_old = [&](key_store& store, std::int64_t suspended_ms, merge_report* report) {
    auth_table peer;
    std::string error;
    REQUIRE(decode(old_table(suspended_ms), &peer, &error));
    REQUIRE(merge(store, peer, report));
  };
  TestType f;
  key_store& here = f.get();
  REQUIRE(create_tenant(here, "acme", t0).status);
  merge_report report;
  // Active, never stamped: suspension wins, at the earlier of two times.
  merge_old(here, t0 + 5, &report);
  CHECK(report.tenants_suspended == 1);
  merge_old(here, t0 + 3, &report);
  CHECK(report.times_earlier == 1);
  CHECK(suspended_in(here, "acme") == t0 + 3);
  // Resumed here later: the older suspension does not come back.
  REQUIRE(here.set_tenant_suspended("acme", false, t0 + 10, "127.0.0.1:7401"));
  merge_old(here, t0 + 5, &report);
  CHECK_FALSE(report.changed());
  CHECK_FALSE(suspended_in(here, "acme"));
  // A suspension there after the resume here wins.
  merge_old(here, t0 + 20, &report);
  CHECK(report.tenants_suspended == 1);
  CHECK(suspended_in(here, "acme") == t0 + 20);
}

TEMPLATE_TEST_CASE("a delete travels: the deleting mark, then the tombstone, and nobody gives the tenant back",
                   "[auth][replication]", memory_fixture, sqlite_fixture) {
  // Node A deletes acme; B (the fixture's store) and C have it, with A's
  // keys. C resumed acme after A suspended it: the delete still wins.
  memory_key_store a, c;
  const auto writer = add_acme_writer(a);
  TestType f;
  key_store& b = f.get();
  REQUIRE(merge_bytes(b, table_of(a)));
  REQUIRE(merge_bytes(c, table_of(a)));
  REQUIRE(a.set_tenant_suspended("acme", true, t0 + 10, "a:1"));
  REQUIRE(merge_bytes(c, table_of(a)));
  REQUIRE(c.set_tenant_suspended("acme", false, t0 + 20, "c:1"));
  REQUIRE(a.set_tenant_deleting("acme", t0 + 30));

  // The mark: B (suspended) and C (active, resumed later) are marked.
  merge_report report;
  REQUIRE(merge_bytes(b, table_of(a), &report));
  CHECK(report.tenants_deleting == 1);
  REQUIRE(merge_bytes(c, table_of(a), &report));
  CHECK(report.tenants_deleting == 1);
  CHECK(report.tenants_suspended == 1);
  for (key_store* store : {&b, static_cast<key_store*>(&c)}) {
    std::vector<tenant_record> tenants;
    REQUIRE(store->list_tenants(&tenants));
    REQUIRE(tenants.size() == 1);
    CHECK(tenants[0].deleting_ms == t0 + 30);
    CHECK(tenants[0].suspended_ms);
  }
  // C's later resume does not undo it at A either.
  REQUIRE(merge_bytes(a, table_of(c), &report));
  CHECK_FALSE(report.changed());

  // The removal: A's tombstone removes acme and its keys at B; C's table,
  // which still has them, gives nothing back to A or B.
  const auth_table stale = table_of(c);
  REQUIRE(a.remove_tenant("acme", t0 + 40));
  REQUIRE(merge_bytes(b, table_of(a), &report));
  CHECK(report.tenants_removed == 1);
  key_record k;
  CHECK(b.find_key(writer, &k).kind() == store_status::code::not_found);
  REQUIRE(merge_bytes(b, table_of(c), &report));
  CHECK_FALSE(report.changed());
  REQUIRE(merge_bytes(a, table_of(c), &report));
  CHECK_FALSE(report.changed());
  // B passes the tombstone on to C, which hears only B.
  REQUIRE(merge_bytes(c, table_of(b), &report));
  CHECK(report.tenants_removed == 1);
  const auth_table converged = table_of(a);
  CHECK(converged.tenants.empty());
  CHECK(converged.keys.empty());
  CHECK(converged.tombstones == std::vector<tenant_tombstone>{{"acme", t0, t0 + 40}});
  CHECK(table_of(b) == converged);
  CHECK(table_of(c) == converged);
  // Merging the same tables again changes nothing.
  REQUIRE(merge_bytes(b, table_of(a), &report));
  CHECK_FALSE(report.changed());

  // A tenant of the same name created later is another tenant: it travels,
  // and the old tombstone, still at C, does not remove it.
  REQUIRE(create_tenant(a, "acme", t0 + 50).status);
  REQUIRE(merge_bytes(b, table_of(a), &report));
  CHECK(report.tenants_added == 1);
  REQUIRE(merge_bytes(b, table_of(c), &report));
  CHECK_FALSE(report.changed());
  std::vector<tenant_record> tenants;
  REQUIRE(b.list_tenants(&tenants));
  REQUIRE(tenants.size() == 1);
  CHECK(tenants[0].created_ms == t0 + 50);
  std::vector<tenant_tombstone> tombs;
  REQUIRE(b.list_tombstones(&tombs));
  CHECK(tombs == std::vector<tenant_tombstone>{{"acme", t0, t0 + 40}});
  // A member back with a table from before the delete gives the new acme
  // neither the old one's mark nor its keys.
  REQUIRE(merge_bytes(b, stale, &report));
  CHECK_FALSE(report.changed());
  CHECK(b.find_key(writer, &k).kind() == store_status::code::not_found);
  REQUIRE(b.list_tenants(&tenants));
  REQUIRE(tenants.size() == 1);
  CHECK_FALSE(tenants[0].deleting_ms);
  CHECK_FALSE(tenants[0].suspended_ms);
}

}  // namespace stockgrid::auth
