// The document store seam against both implementations: the SQLite file
// nodes run (in a temp dir) and the in-memory twin.
#include <catch2/catch.hpp>

#include "persistence/document_store.hpp"
#include "tests/persistence/test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::persistence;
using namespace stockgrid::persistence::testing;

namespace {

document order(std::string tenant, std::string id, bool open, epoch_ms updated_ms, std::string body = "b",
               std::string idem = "") {
  document d;
  d.kind = document_kind::order;
  d.tenant = std::move(tenant);
  d.id = std::move(id);
  d.idem = std::move(idem);
  d.fingerprint = 0xfeedface12345678ull;
  d.open = open;
  d.updated_ms = updated_ms;
  d.body = std::move(body);
  return d;
}

bool same(const document& a, const document& b) {
  return a.kind == b.kind && a.tenant == b.tenant && a.id == b.id && a.idem == b.idem &&
         a.fingerprint == b.fingerprint && a.open == b.open && a.updated_ms == b.updated_ms && a.body == b.body;
}

std::unique_ptr<document_store> open_sqlite(const std::string& path) {
  status st;
  auto store = open_sqlite_document_store(path, "", &st);
  INFO(st.to_string());
  REQUIRE(st);
  REQUIRE(store);
  return store;
}

// A store of the kind named: "sqlite" (a file in `dir`) or "memory".
std::unique_ptr<document_store> open_backend(const std::string& backend, const temp_dir& dir) {
  if (backend == "sqlite") return open_sqlite(dir.file("documents.db"));
  return make_memory_document_store();
}

}  // namespace

TEST_CASE("documents are upserted by key and found by key, idempotency key and openness",
          "[document_store]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(backend);
  temp_dir dir;
  auto store = open_backend(backend, dir);

  document a = order("acme", "O1", true, 100, std::string("\0binary\xff", 8), "req-1");
  document b = order("acme", "O2", false, 100, "done");
  document t = a;
  t.kind = document_kind::transfer;  // same tenant and id, another kind: another document
  t.id = "O1";
  t.body = "transfer";
  document other = order("globex", "O1", true, 100, "theirs", "req-1");
  REQUIRE(store->put({a, b, t, other}, true));

  std::optional<document> got;
  REQUIRE(store->get(document_kind::order, "acme", "O1", &got));
  REQUIRE(got);
  CHECK(same(*got, a));
  REQUIRE(store->get(document_kind::transfer, "acme", "O1", &got));
  REQUIRE(got);
  CHECK(got->body == "transfer");
  REQUIRE(store->get(document_kind::order, "acme", "O9", &got));
  CHECK(!got);

  REQUIRE(store->find_idem(document_kind::order, "acme", "req-1", &got));
  REQUIRE(got);
  CHECK(got->id == "O1");
  CHECK(got->tenant == "acme");
  REQUIRE(store->find_idem(document_kind::order, "acme", "req-2", &got));
  CHECK(!got);
  CHECK(store->find_idem(document_kind::order, "acme", "", &got).kind() == status::code::invalid);

  // An upsert replaces the row; the later of two puts of one key in a call wins.
  document a2 = a;
  a2.open = false;
  a2.body = "shipped";
  a2.updated_ms = 200;
  document a3 = a2;
  a3.body = "delivered";
  REQUIRE(store->put({a2, a3}, false));
  REQUIRE(store->sync());
  REQUIRE(store->get(document_kind::order, "acme", "O1", &got));
  REQUIRE(got);
  CHECK(same(*got, a3));

  std::vector<document> open;
  REQUIRE(store->list_open(&open));
  REQUIRE(open.size() == 2);
  CHECK(open[0].kind == document_kind::order);
  CHECK(open[0].tenant == "globex");
  CHECK(open[1].kind == document_kind::transfer);

  // Only final documents older than the cut go.
  std::uint64_t removed = 0;
  REQUIRE(store->prune(150, &removed));
  CHECK(removed == 1);  // b (final, 100); a3 is final but 200; t and other are open
  REQUIRE(store->get(document_kind::order, "acme", "O2", &got));
  CHECK(!got);
  REQUIRE(store->get(document_kind::order, "acme", "O1", &got));
  CHECK(got);
  REQUIRE(store->prune(1000, &removed));
  CHECK(removed == 1);
  REQUIRE(store->list_open(&open));
  CHECK(open.size() == 2);
}

TEST_CASE("documents breaking a limit are refused and nothing of the call is written",
          "[document_store]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(backend);
  temp_dir dir;
  auto store = open_backend(backend, dir);

  document ok = order("acme", "O1", true, 1);
  document largest = order("acme", "O2", true, 1, std::string(document_body_bytes_max, 'x'),
                           std::string(document_key_bytes_max, 'i'));
  largest.tenant = std::string(document_key_bytes_max, 't');

  std::vector<document> too_big;
  too_big.push_back(order("acme", "O3", true, 1, std::string(document_body_bytes_max + 1, 'x')));
  too_big.push_back(order(std::string(document_key_bytes_max + 1, 't'), "O3", true, 1));
  too_big.push_back(order("acme", std::string(document_key_bytes_max + 1, 'o'), true, 1));
  too_big.push_back(order("acme", "O3", true, 1, "b", std::string(document_key_bytes_max + 1, 'i')));
  too_big.push_back(order("acme", "", true, 1));
  too_big.push_back(order("acme", "O3", true, 1));
  too_big.back().kind = static_cast<document_kind>(0);
  for (const document& bad : too_big) {
    const status st = store->put({ok, bad}, true);
    INFO(st.to_string());
    CHECK(st.kind() == status::code::invalid);
  }
  std::vector<document> open;
  REQUIRE(store->list_open(&open));
  CHECK(open.empty());

  REQUIRE(store->put({ok, largest}, true));
  std::optional<document> got;
  REQUIRE(store->get(document_kind::order, largest.tenant, "O2", &got));
  REQUIRE(got);
  CHECK(same(*got, largest));
}

TEST_CASE("leased ids are never handed out twice", "[document_store]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "memory");
  INFO(backend);
  temp_dir dir;
  auto store = open_backend(backend, dir);
  std::uint64_t first = 0, second = 0;
  REQUIRE(store->lease_ids(10, &first));
  CHECK(first >= 1);
  REQUIRE(store->lease_ids(1, &second));
  CHECK(second == first + 10);
  CHECK(store->lease_ids(0, &second).kind() == status::code::invalid);
  CHECK(store->lease_ids(document_id_lease_max + 1, &second).kind() == status::code::invalid);
}

TEST_CASE("the id lease survives reopening the file", "[document_store]") {
  temp_dir dir;
  const auto path = dir.file("documents.db");
  std::uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    auto store = open_sqlite(path);
    std::uint64_t first = 0;
    REQUIRE(store->lease_ids(100, &first));
    CHECK(first > last);
    CHECK(first >= last + 100 * (round > 0));
    last = first;
  }
  CHECK(raw_int(path, "SELECT value FROM meta WHERE key='id_lease'") == static_cast<std::int64_t>(last + 100));
}

TEST_CASE("documents survive reopening the file", "[document_store]") {
  temp_dir dir;
  const auto path = dir.file("documents.db");
  const document a = order("acme", "O1", true, 5, "body", "req-1");
  REQUIRE(open_sqlite(path)->put({a}, false));  // closing makes it durable
  auto store = open_sqlite(path);
  std::optional<document> got;
  REQUIRE(store->find_idem(document_kind::order, "acme", "req-1", &got));
  REQUIRE(got);
  CHECK(same(*got, a));
  CHECK(raw_int(path, "SELECT count(*) FROM documents WHERE idem IS NULL") == 0);
}

TEST_CASE("a damaged document row is reported as corruption naming the file and the row",
          "[document_store]") {
  temp_dir dir;
  const auto path = dir.file("documents.db");
  REQUIRE(open_sqlite(path)->put({order("acme", "O1", true, 5, "hello world", "req-1"),
                                  order("acme", "O2", true, 5, "fine")},
                                 true));
  // One byte of the body changes behind the store's back.
  raw_exec(path, "UPDATE documents SET body = CAST('hellO world' AS BLOB) WHERE id = 'O1'");

  auto store = open_sqlite(path);
  std::optional<document> got;
  const status st = store->get(document_kind::order, "acme", "O1", &got);
  CHECK(st.kind() == status::code::corruption);
  CHECK(st.message().find(path) != std::string::npos);
  CHECK(st.message().find("(order, acme, O1)") != std::string::npos);
  CHECK(!got);
  CHECK(store->find_idem(document_kind::order, "acme", "req-1", &got).kind() == status::code::corruption);
  std::vector<document> open;
  CHECK(store->list_open(&open).kind() == status::code::corruption);
  REQUIRE(store->get(document_kind::order, "acme", "O2", &got));  // other rows still read
  CHECK(got);

  // A row moved under another key is caught too: the CRC covers the key.
  raw_exec(path, "UPDATE documents SET id = 'O3' WHERE id = 'O2'");
  CHECK(store->get(document_kind::order, "acme", "O3", &got).kind() == status::code::corruption);
}

TEST_CASE("a documents file of an unknown format version is refused", "[document_store]") {
  temp_dir dir;
  const auto path = dir.file("documents.db");
  open_sqlite(path);
  raw_exec(path, "UPDATE meta SET value = 7 WHERE key = 'format_version'");
  status st;
  auto store = open_sqlite_document_store(path, "", &st);
  CHECK(!store);
  CHECK(st.kind() == status::code::invalid);
  CHECK(st.message().find("format version 7") != std::string::npos);
  CHECK(st.message().find(path) != std::string::npos);
}

TEST_CASE("a file that is not SQLite is refused as corruption", "[document_store]") {
  temp_dir dir;
  const auto path = dir.file("documents.db");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fputs("this is not a database at all, just text", f);
    std::fclose(f);
  }
  status st;
  CHECK(!open_sqlite_document_store(path, "", &st));
  CHECK(st.kind() == status::code::corruption);
}

TEST_CASE("document ids are the prefix and the number in lowercase hex", "[document_store]") {
  CHECK(format_document_id('O', 0x1a2b) == "O1a2b");
  CHECK(format_document_id('T', 1) == "T1");
  CHECK(format_document_id('O', ~0ull) == "Offffffffffffffff");
  CHECK(to_string(document_kind::tenant_settings) == "tenant_settings");
}
