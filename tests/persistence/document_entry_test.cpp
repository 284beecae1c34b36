// Order and transfer documents journaled in a replicated partition
// (persistence/document_entry.hpp): an entry carries its document exactly,
// through a real partition file and its fold, passes every record reader by,
// and a replay of a journal gives the latest document of each key, with a
// tenant's purge ending its earlier ones.
#include <catch2/catch.hpp>

#include "config/limits.hpp"
#include "orders/order.hpp"
#include "persistence/check.hpp"
#include "persistence/document_entry.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::temp_dir;

document doc(std::string tenant, std::string id, bool open, std::string body, epoch_ms at = 5'000) {
  document d;
  d.kind = document_kind::order;
  d.tenant = std::move(tenant);
  d.id = std::move(id);
  d.idem = "client-key-" + d.id;
  d.fingerprint = 0xfeedfacecafebeefULL;
  d.open = open;
  d.updated_ms = at;
  d.body = std::move(body);
  return d;
}

journal_entry entry_of(const document& d) {
  journal_entry e;
  REQUIRE(document_entry(d, &e).to_string() == "ok");
  return e;
}

bool same(const document& a, const document& b) {
  return a.kind == b.kind && a.tenant == b.tenant && a.id == b.id && a.idem == b.idem &&
         a.fingerprint == b.fingerprint && a.open == b.open && a.updated_ms == b.updated_ms && a.body == b.body;
}

TEST_CASE("a document entry carries its document exactly, binary body included") {
  auto d = doc("acme", "O1-2a", true, std::string("\x00\x01\xff msgpack", 11));
  d.kind = document_kind::transfer;
  const auto e = entry_of(d);
  CHECK(is_document_entry(e));
  CHECK(e.c.kind == change_kind::refusal);
  CHECK(e.key.warehouse.empty());  // no request can name it
  CHECK(e.idem.empty());           // not a record's idempotency key
  CHECK(purged_tenant(e) == nullptr);
  document back;
  REQUIRE(decode_document_entry(e, &back));
  CHECK(same(back, d));

  SECTION("a damaged entry does not decode") {
    auto cut = e;
    cut.c.ref.resize(cut.c.ref.size() - 2);
    CHECK_FALSE(decode_document_entry(cut, &back));
    auto longer = e;
    longer.c.ref += "00";
    CHECK_FALSE(decode_document_entry(longer, &back));
    auto other_key = e;
    other_key.key.sku = "doc/O9";  // the key must name the id inside
    CHECK_FALSE(decode_document_entry(other_key, &back));
    auto version = e;
    version.c.ref[1] = '2';
    CHECK_FALSE(decode_document_entry(version, &back));
    document_replay replay;
    CHECK_FALSE(replay.add(cut));
    CHECK(replay.size() == 0);
  }
  SECTION("a record's refusal is not a document") {
    journal_entry r;
    r.key = {"acme", "paris", "doc/O1"};
    r.c.kind = change_kind::refusal;
    r.c.reason = "document";
    CHECK_FALSE(is_document_entry(r));
  }
}

TEST_CASE("a document past the bounds, or not an order or transfer, is refused and nothing is made") {
  journal_entry e;
  // The store's bound is the journal's: its largest body fits, one byte more does not.
  auto largest = doc("acme", "O1", true, std::string(document_body_bytes_max, 'x'));
  REQUIRE(document_entry(largest, &e).to_string() == "ok");
  CHECK(e.c.ref.size() <= document_entry_bytes_max);
  e = journal_entry{};
  auto big = doc("acme", "O1", true, std::string(document_body_bytes_max + 1, 'x'));
  const auto st = document_entry(big, &e);
  CHECK(st.kind() == status::code::invalid);
  CHECK(e.key.tenant.empty());
  auto settings = doc("acme", "settings", true, "{}");
  settings.kind = document_kind::tenant_settings;
  CHECK(document_entry(settings, &e).kind() == status::code::invalid);
  CHECK(e.key.tenant.empty());
  auto no_id = doc("acme", "", true, "b");
  CHECK(document_entry(no_id, &e).kind() == status::code::invalid);
}

TEST_CASE("the largest order a request can make fits in a journaled document") {
  // Every field at its bound: 100 lines of 128-byte SKUs and warehouses,
  // with holds, shortages and unfilled lines as long.
  orders::order o;
  const std::string id128(limits::id_bytes_max, 'w');
  o.tenant = std::string(64, 't');
  o.id = "O3-ffffffffffffffff";
  o.ref = id128;
  o.idem = id128;
  o.key_id = id128;
  o.failure = std::string(256, 'f');
  for (std::size_t i = 0; i < limits::order_lines_max; ++i) {
    auto sku = id128;
    sku.replace(0, 3, std::to_string(100 + i));
    o.lines.push_back({sku, id128, limits::quantity_max, std::string(limits::hold_id_bytes_max, 'h'), true});
    o.shortages.push_back({sku, id128, limits::quantity_max, limits::quantity_max});
    o.unfilled.push_back({sku, limits::quantity_max});
  }
  auto d = doc(o.tenant, o.id, true, orders::encode(o));
  journal_entry e;
  REQUIRE(document_entry(d, &e).to_string() == "ok");
  INFO(e.c.ref.size() << " bytes");
  CHECK(e.c.ref.size() <= document_entry_bytes_max);
}

TEST_CASE("document entries live through a partition file and its fold, and records ignore them") {
  temp_dir dir;
  status opened;
  auto store = open_sqlite_store({dir.file("p.db"), ""}, &opened);
  REQUIRE(opened);
  const record_key mug{"acme", "paris", "mug"};
  journal_sim sim;
  sim.adjust(mug, 10);
  const auto first = doc("acme", "O1", true, std::string("\x00held", 5));
  sim.raw(entry_of(first));
  sim.adjust(mug, -1);
  REQUIRE(sim.flush(*store).to_string() == "ok");
  snapshot_report rep;
  REQUIRE(store->snapshot(0, &rep).to_string() == "ok");
  const auto second = doc("acme", "O1", false, "committed", 6'000);
  sim.raw(entry_of(second));
  REQUIRE(sim.flush(*store).to_string() == "ok");

  record_image image;
  bool found = false;
  REQUIRE(store->load_record(mug, &image, &found).to_string() == "ok");
  CHECK(image.version == 2);
  std::vector<record_image> listed;
  list_filter all;
  all.tenant = "acme";
  REQUIRE(store->list_records(all, &listed).to_string() == "ok");
  CHECK(listed.size() == 1);
  std::vector<std::pair<std::string, std::uint64_t>> counts;
  REQUIRE(store->count_records(&counts).to_string() == "ok");
  CHECK(counts == std::vector<std::pair<std::string, std::uint64_t>>{{"acme", 1}});

  std::vector<journal_entry> rows;
  REQUIRE(store->read_journal(0, 100, &rows).to_string() == "ok");
  document_replay replay;
  for (const auto& r : rows) CHECK(replay.add(r));
  const auto docs = replay.documents();
  REQUIRE(docs.size() == 1);
  CHECK(same(docs[0], second));

  store.reset();
  check_report checked;
  CHECK(check_partition(dir.file("p.db"), &checked).to_string() == "ok");
}

TEST_CASE("a replay keeps each document's latest version and a purge ends a tenant's earlier ones") {
  document_replay replay;
  CHECK(replay.add(entry_of(doc("acme", "O1", true, "reserving"))));
  CHECK(replay.add(entry_of(doc("beta", "O1", true, "beta's"))));  // same id, another tenant
  CHECK(replay.add(entry_of(doc("acme", "O1", true, "held"))));
  CHECK(replay.add(entry_of(doc("acme", "O2", false, "failed"))));
  CHECK(replay.size() == 3);
  CHECK(replay.add(purge_entry("acme", 9'000)));
  CHECK(replay.size() == 1);
  CHECK(replay.add(entry_of(doc("acme", "O7", true, "the tenant made anew"))));
  journal_entry record_change;
  record_change.key = {"acme", "paris", "mug"};
  record_change.c.kind = change_kind::adjust;
  CHECK(replay.add(record_change));  // passed by
  const auto docs = replay.documents();
  REQUIRE(docs.size() == 2);
  CHECK(docs[0].tenant == "acme");
  CHECK(docs[0].id == "O7");
  CHECK(docs[1].tenant == "beta");
  CHECK(docs[1].body == "beta's");
  CHECK(replay.purged() == std::set<std::string>{"acme"});
}

}  // namespace
}  // namespace stockgrid::persistence
