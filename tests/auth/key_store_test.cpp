// The key store contract, run against the SQLite store and its in-memory
// twin; then what only the file can show: no secret on disk, durability,
// format version and file mode.
#include "auth/key_store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "auth/limits.hpp"
#include "tests/auth/test_support.hpp"

namespace stockgrid::auth {
namespace {

using testing::any_file_contains;
using testing::memory_fixture;
using testing::open_store;
using testing::sqlite_fixture;
using testing::temp_dir;

constexpr epoch_ms t0 = 1'700'000'000'000;

TEMPLATE_TEST_CASE("a tenant is created once", "[auth][store]", memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  const issued_key acme = create_tenant(store, "acme", t0);
  REQUIRE(acme.status);
  CHECK(parse_token(acme.token));
  CHECK(parse_token(acme.token)->key_id == acme.key_id);

  const issued_key again = create_tenant(store, "acme", t0 + 1);
  CHECK(again.status.kind() == store_status::code::already_exists);
  CHECK(again.token.empty());
  CHECK(create_tenant(store, "Acme!", t0).status.kind() == store_status::code::invalid);

  REQUIRE(create_tenant(store, "beta.shop", t0 + 2).status);
  std::vector<tenant_record> tenants;
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0}, {"beta.shop", t0 + 2}});

  // The duplicate attempt added no key.
  std::vector<key_info> keys;
  REQUIRE(store.list_keys("acme", &keys));
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].key_id == acme.key_id);
  CHECK(keys[0].role == protocol::role::admin);
}

TEMPLATE_TEST_CASE("keys are created, listed without secrets, found and revoked", "[auth][store]",
                   memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  REQUIRE(create_tenant(store, "acme", t0).status);
  const issued_key pos = create_key(
      store, {"acme", protocol::role::writer, {"berlin", "hamburg"}, t0 + 60'000}, t0 + 5);
  REQUIRE(pos.status);
  const issued_key dash =
      create_key(store, {"acme", protocol::role::reader, {}, std::nullopt}, t0 + 6);
  REQUIRE(dash.status);
  CHECK(pos.key_id != dash.key_id);

  std::vector<key_info> keys;
  REQUIRE(store.list_keys("acme", &keys));
  REQUIRE(keys.size() == 3);  // the tenant's admin key first
  CHECK(keys[1] == key_info{pos.key_id,
                            "acme",
                            protocol::role::writer,
                            {"berlin", "hamburg"},
                            t0 + 5,
                            t0 + 60'000,
                            std::nullopt});
  CHECK(keys[2].key_id == dash.key_id);
  CHECK(keys[2].warehouses.empty());
  CHECK_FALSE(keys[2].expires_at_ms);

  key_record row;
  REQUIRE(store.find_key(pos.key_id, &row));
  CHECK(row.salt.size() == 16);
  CHECK(row.hash.size() == 32);
  CHECK(row.hash != parse_token(pos.token)->secret);
  CHECK(verify_secret(row.scheme, row.salt, parse_token(pos.token)->secret, row.hash));
  CHECK(store.find_key("0000000000000000", &row).kind() == store_status::code::not_found);

  REQUIRE(store.revoke_key("acme", pos.key_id, t0 + 100));
  REQUIRE(store.revoke_key("acme", pos.key_id, t0 + 200));  // idempotent, keeps the first time
  REQUIRE(store.find_key(pos.key_id, &row));
  CHECK(row.revoked_ms == t0 + 100);
  CHECK(store.revoke_key("acme", "ffffffffffffffff", t0).kind() == store_status::code::not_found);
}

TEMPLATE_TEST_CASE("a key of tenant A is invisible to tenant B", "[auth][store]", memory_fixture,
                   sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  REQUIRE(create_tenant(store, "a", t0).status);
  REQUIRE(create_tenant(store, "b", t0).status);
  const issued_key key_a = create_key(store, {"a", protocol::role::writer, {}, std::nullopt}, t0);
  REQUIRE(key_a.status);

  CHECK(store.revoke_key("b", key_a.key_id, t0).kind() == store_status::code::not_found);
  key_record row;
  REQUIRE(store.find_key(key_a.key_id, &row));
  CHECK_FALSE(row.revoked_ms);

  std::vector<key_info> keys;
  REQUIRE(store.list_keys("b", &keys));
  for (const auto& k : keys) CHECK(k.key_id != key_a.key_id);
}

TEMPLATE_TEST_CASE("the store refuses rows that break its rules", "[auth][store]", memory_fixture,
                   sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  // A key needs an existing tenant.
  CHECK(create_key(store, {"ghost", protocol::role::reader, {}, std::nullopt}, t0).status.kind() ==
        store_status::code::not_found);
  // Role system only for the key "system" without a tenant.
  REQUIRE(create_tenant(store, "acme", t0).status);
  CHECK(create_key(store, {"acme", protocol::role::system, {}, std::nullopt}, t0).status.kind() ==
        store_status::code::invalid);
  key_info system;
  system.key_id = std::string(system_key_id);
  system.role = protocol::role::system;
  key_record row;
  REQUIRE(make_key_record(system, "a-long-system-token", &row));
  REQUIRE(store.add_key(row));
  CHECK(store.add_key(row).kind() == store_status::code::already_exists);
  row.tenant = "acme";
  CHECK(store.add_key(row).kind() == store_status::code::invalid);

  std::vector<key_record> all;
  REQUIRE(store.load_keys(&all));
  CHECK(all.size() == 2);  // acme's admin key and the system key
}

TEST_CASE("system.db holds no secret and no token", "[auth][store][sqlite]") {
  temp_dir dir;
  std::vector<std::string> tokens;
  {
    auto store = open_store(dir.path());
    const issued_key acme = create_tenant(*store, "acme", t0);
    REQUIRE(acme.status);
    tokens.push_back(acme.token);
    for (int i = 0; i < 5; ++i) {
      const issued_key k =
          create_key(*store, {"acme", protocol::role::writer, {"berlin"}, std::nullopt}, t0);
      REQUIRE(k.status);
      tokens.push_back(k.token);
    }
    // Checked with the WAL still present (store open) ...
    for (const auto& token : tokens) {
      CHECK_FALSE(any_file_contains(dir.path(), token));
      CHECK_FALSE(any_file_contains(dir.path(), std::string(parse_token(token)->secret)));
      CHECK(any_file_contains(dir.path(), std::string(parse_token(token)->key_id)));  // sanity
    }
  }
  // ... and after the last connection checkpointed it into the main file.
  for (const auto& token : tokens) {
    CHECK_FALSE(any_file_contains(dir.path(), token));
    CHECK_FALSE(any_file_contains(dir.path(), std::string(parse_token(token)->secret)));
  }
}

TEST_CASE("keys survive reopening the file", "[auth][store][sqlite]") {
  temp_dir dir;
  issued_key key;
  {
    auto store = open_store(dir.path());
    REQUIRE(create_tenant(*store, "acme", t0).status);
    key = create_key(*store, {"acme", protocol::role::reader, {"berlin", "paris"}, t0 + 9}, t0);
    REQUIRE(key.status);
    REQUIRE(store->revoke_key("acme", key.key_id, t0 + 1));
  }
  auto store = open_store(dir.path());
  key_record row;
  REQUIRE(store->find_key(key.key_id, &row));
  CHECK(row.warehouses == std::vector<std::string>{"berlin", "paris"});
  CHECK(row.expires_at_ms == t0 + 9);
  CHECK(row.revoked_ms == t0 + 1);
  CHECK(verify_secret(row.scheme, row.salt, parse_token(key.token)->secret, row.hash));
}

TEST_CASE("system.db is private, in WAL mode, and refuses a newer format",
          "[auth][store][sqlite]") {
  temp_dir dir;
  const std::string path = system_db_path(dir.path());
  { auto store = open_store(dir.path()); }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "wal");
  sqlite3_finalize(s);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 6", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  std::unique_ptr<sqlite_key_store> store;
  const store_status opened = sqlite_key_store::open(path, &store);
  CHECK(opened.kind() == store_status::code::invalid);
  CHECK_FALSE(store);
}

TEMPLATE_TEST_CASE("a tenant is suspended and resumed, idempotently", "[auth][store]",
                   memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  REQUIRE(create_tenant(store, "acme", t0).status);
  REQUIRE(create_tenant(store, "beta", t0).status);
  const tenant_record beta{"beta", t0, std::nullopt, std::nullopt, std::nullopt, ""};
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 5, "127.0.0.1:7401"));
  // Keeps the first time; the stamp is the latest change's.
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 9, "127.0.0.1:7402"));
  std::vector<tenant_record> tenants;
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, t0 + 5, std::nullopt, t0 + 9, "127.0.0.1:7402"}, beta});
  REQUIRE(store.set_tenant_suspended("acme", false, t0 + 10, ""));
  REQUIRE(store.set_tenant_suspended("acme", false, t0 + 11, ""));
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, std::nullopt, std::nullopt, t0 + 11, ""}, beta});
  // A change is stamped after the one before it even when the clock says
  // earlier (a clock that went back).
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 3, ""));
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, t0 + 3, std::nullopt, t0 + 12, ""}, beta});
  CHECK(store.set_tenant_suspended("nobody", true, t0, "").kind() == store_status::code::not_found);
  CHECK(store.set_tenant_suspended("nobody", false, t0, "").kind() == store_status::code::not_found);
}

TEMPLATE_TEST_CASE("a revocation or a suspension keeps the earlier of two times", "[auth][store]",
                   memory_fixture, sqlite_fixture) {
  // A peer's table (auth/replication.hpp) may bring a time earlier than the
  // local one; both nodes must end with the same.
  TestType f;
  key_store& store = f.get();
  const issued_key acme = create_tenant(store, "acme", t0);
  REQUIRE(acme.status);
  REQUIRE(store.revoke_key("acme", acme.key_id, t0 + 50));
  REQUIRE(store.revoke_key("acme", acme.key_id, t0 + 20));
  REQUIRE(store.revoke_key("acme", acme.key_id, t0 + 30));
  key_record k;
  REQUIRE(store.find_key(acme.key_id, &k));
  CHECK(k.revoked_ms == t0 + 20);
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 50, ""));
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 20, ""));
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 30, ""));
  std::vector<tenant_record> tenants;
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, t0 + 20, std::nullopt, t0 + 52, ""}});
}

TEMPLATE_TEST_CASE("a peer's status is set only over the status the merge compared with", "[auth][store]",
                   memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  REQUIRE(create_tenant(store, "acme", t0).status);
  std::vector<tenant_record> tenants;
  REQUIRE(store.list_tenants(&tenants));
  const tenant_record seen = tenants.at(0);
  const tenant_record peer{"acme", t0, t0 + 3, std::nullopt, t0 + 3, "127.0.0.1:7401"};
  // A local change after the merge read the row: kept.
  REQUIRE(store.set_tenant_suspended("acme", false, t0 + 5, "127.0.0.1:7402"));
  CHECK(store.set_tenant_status(seen, peer).kind() == store_status::code::invalid);
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants.at(0) == tenant_record{"acme", t0, std::nullopt, std::nullopt, t0 + 5, "127.0.0.1:7402"});
  // Over the row as it is now: set as the peer has it.
  REQUIRE(store.set_tenant_status(tenants.at(0), peer));
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants.at(0) == peer);
  // A tenant being deleted is not resumed; an unknown one is not found.
  REQUIRE(store.set_tenant_deleting("acme", t0 + 6));
  REQUIRE(store.list_tenants(&tenants));
  const tenant_record resumed{"acme", t0, std::nullopt, std::nullopt, t0 + 7, "127.0.0.1:7401"};
  CHECK(store.set_tenant_status(tenants.at(0), resumed).kind() == store_status::code::invalid);
  tenant_record nobody = resumed;
  nobody.name = "nobody";
  CHECK(store.set_tenant_status(nobody, nobody).kind() == store_status::code::not_found);
}

TEMPLATE_TEST_CASE("a suspended tenant is marked deleting, stays suspended, then goes with its keys",
                   "[auth][store]", memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  REQUIRE(create_tenant(store, "acme", t0).status);
  REQUIRE(create_tenant(store, "beta", t0).status);
  CHECK(store.set_tenant_deleting("acme", t0 + 1).kind() == store_status::code::invalid);  // active
  CHECK(store.set_tenant_deleting("nobody", t0 + 1).kind() == store_status::code::not_found);
  REQUIRE(store.set_tenant_suspended("acme", true, t0 + 2, ""));
  REQUIRE(store.set_tenant_deleting("acme", t0 + 3));
  REQUIRE(store.set_tenant_deleting("acme", t0 + 4));  // keeps the first time
  CHECK(store.set_tenant_suspended("acme", false, t0 + 5, "").kind() == store_status::code::invalid);
  std::vector<tenant_record> tenants;
  REQUIRE(store.list_tenants(&tenants));
  const tenant_record beta{"beta", t0, std::nullopt, std::nullopt, std::nullopt, ""};
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, t0 + 2, t0 + 3, t0 + 2, ""}, beta});

  REQUIRE(store.remove_tenant("acme", t0 + 5));
  REQUIRE(store.list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{beta});
  std::vector<key_record> keys;
  REQUIRE(store.load_keys(&keys));
  for (const auto& k : keys) CHECK(k.tenant != "acme");
  CHECK_FALSE(keys.empty());  // beta's
  CHECK(store.remove_tenant("acme", t0 + 5).kind() == store_status::code::not_found);
  std::vector<tenant_tombstone> tombs;
  REQUIRE(store.list_tombstones(&tombs));
  CHECK(tombs == std::vector<tenant_tombstone>{{"acme", t0, t0 + 5}});
  // The deleted incarnation cannot come back; a tenant created later can.
  const tenant_record old{"acme", t0 + 5, std::nullopt, std::nullopt, std::nullopt, ""};
  CHECK(store.add_tenant(old, nullptr).kind() == store_status::code::invalid);
  REQUIRE(create_tenant(store, "acme", t0 + 6).status);  // the name is free again
  REQUIRE(store.list_tombstones(&tombs));
  CHECK(tombs == std::vector<tenant_tombstone>{{"acme", t0, t0 + 5}});  // kept: it tells the old from the new
}

TEMPLATE_TEST_CASE("a peer's tombstone removes the tenant it names, never a later one of the name",
                   "[auth][store]", memory_fixture, sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  REQUIRE(create_tenant(store, "acme", t0).status);
  REQUIRE(create_tenant(store, "beta", t0 + 10).status);
  bool removed = false;
  REQUIRE(store.apply_tombstone({"acme", t0, t0 + 3}, &removed));
  CHECK(removed);
  REQUIRE(store.apply_tombstone({"beta", t0, t0 + 3}, &removed));  // beta was made after that delete
  CHECK_FALSE(removed);  // and stays; the tombstone is kept
  REQUIRE(store.apply_tombstone({"gone", t0, t0 + 2}, &removed));  // never here: kept all the same
  CHECK_FALSE(removed);
  REQUIRE(store.apply_tombstone({"gone", t0, t0 + 1}, &removed));  // an older one of the name
  std::vector<tenant_record> tenants;
  REQUIRE(store.list_tenants(&tenants));
  REQUIRE(tenants.size() == 1);
  CHECK(tenants[0].name == "beta");
  std::vector<key_record> keys;
  REQUIRE(store.load_keys(&keys));
  for (const auto& k : keys) CHECK(k.tenant != "acme");
  std::vector<tenant_tombstone> tombs;
  REQUIRE(store.list_tombstones(&tombs));
  CHECK(tombs == std::vector<tenant_tombstone>{{"acme", t0, t0 + 3}, {"beta", t0, t0 + 3}, {"gone", t0, t0 + 2}});
}

TEMPLATE_TEST_CASE("a store keeps the most recent tombstones only", "[auth][store]", memory_fixture,
                   sqlite_fixture) {
  TestType f;
  key_store& store = f.get();
  bool removed = false;
  for (std::size_t i = 0; i <= auth::limits::tombstones_max; ++i)
    REQUIRE(store.apply_tombstone({"t" + std::to_string(i), t0, t0 + static_cast<epoch_ms>(i)}, &removed));
  std::vector<tenant_tombstone> tombs;
  REQUIRE(store.list_tombstones(&tombs));
  CHECK(tombs.size() == auth::limits::tombstones_max);
  CHECK(std::none_of(tombs.begin(), tombs.end(), [](const auto& t) { return t.name == "t0"; }));
}

// Runs `sql` on the file at `path` with SQLite itself (an older layout).
void run_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

TEST_CASE("a version 1 system.db is upgraded in place, its rows kept", "[auth][store][sqlite]") {
  temp_dir dir;
  const std::string path = system_db_path(dir.path());
  // The version 1 layout, as the first release wrote it.
  run_sql(path,
          "CREATE TABLE tenants(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);"
          "CREATE TABLE keys(key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, role INTEGER "
          "NOT NULL, hash_scheme INTEGER NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL, "
          "created_ms INTEGER NOT NULL, expires_at_ms INTEGER, revoked_ms INTEGER);"
          "CREATE TABLE key_warehouses(key_id TEXT NOT NULL, position INTEGER NOT NULL, "
          "warehouse TEXT NOT NULL, PRIMARY KEY(key_id, position));"
          "INSERT INTO tenants VALUES('acme', 1700000000000);"
          "PRAGMA user_version = 1;");

  {
    auto store = open_store(dir.path());
    std::vector<tenant_record> tenants;
    REQUIRE(store->list_tenants(&tenants));
    CHECK(tenants == std::vector<tenant_record>{{"acme", t0, std::nullopt, std::nullopt, std::nullopt, ""}});
    REQUIRE(store->set_tenant_suspended("acme", true, t0 + 1, ""));
  }
  auto store = open_store(dir.path());  // opening again changes nothing
  std::vector<tenant_record> tenants;
  REQUIRE(store->list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, t0 + 1, std::nullopt, t0 + 1, ""}});
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(sqlite3_column_int(s, 0) == system_db_format_version);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_CASE("a version 3 system.db is upgraded in place: its suspensions kept, without a stamp",
          "[auth][store][sqlite]") {
  temp_dir dir;
  const std::string path = system_db_path(dir.path());
  {
    auto store = open_store(dir.path());
    REQUIRE(create_tenant(*store, "acme", t0).status);
    REQUIRE(create_tenant(*store, "beta", t0).status);
    REQUIRE(store->set_tenant_suspended("acme", true, t0 + 1, ""));
  }
  // Back to the version 3 layout, as the release before stamps wrote it.
  run_sql(path,
          "DROP TABLE tombstones;"
          "ALTER TABLE tenants DROP COLUMN status_ms;"
          "ALTER TABLE tenants DROP COLUMN status_by;"
          "PRAGMA user_version = 3;");

  auto store = open_store(dir.path());
  std::vector<tenant_record> tenants;
  REQUIRE(store->list_tenants(&tenants));
  CHECK(tenants == std::vector<tenant_record>{{"acme", t0, t0 + 1, std::nullopt, std::nullopt, ""},
                                              {"beta", t0, std::nullopt, std::nullopt, std::nullopt, ""}});
  // The first change after the upgrade is stamped after the suspension.
  REQUIRE(store->set_tenant_suspended("acme", false, t0, "127.0.0.1:7401"));
  REQUIRE(store->list_tenants(&tenants));
  CHECK(tenants[0] == tenant_record{"acme", t0, std::nullopt, std::nullopt, t0 + 2, "127.0.0.1:7401"});
}

TEST_CASE("a damaged key row is reported as corruption", "[auth][store][sqlite]") {
  temp_dir dir;
  issued_key key;
  {
    auto store = open_store(dir.path());
    REQUIRE(create_tenant(*store, "acme", t0).status);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(system_db_path(dir.path()).c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE keys SET role = 9", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto store = open_store(dir.path());
  std::vector<key_record> keys;
  CHECK(store->load_keys(&keys).kind() == store_status::code::corruption);
}

TEST_CASE("tenant names are 1..64 bytes of [a-z0-9._-]", "[auth][store]") {
  CHECK(check_tenant_name("acme").empty());
  CHECK(check_tenant_name("a-b_c.9").empty());
  CHECK(check_tenant_name(std::string(64, 'x')).empty());
  CHECK_FALSE(check_tenant_name("").empty());
  CHECK_FALSE(check_tenant_name(std::string(65, 'x')).empty());
  CHECK_FALSE(check_tenant_name("Acme").empty());
  CHECK_FALSE(check_tenant_name("a b").empty());
  CHECK_FALSE(check_tenant_name("a/b").empty());
  CHECK_FALSE(check_tenant_name("caf\xc3\xa9").empty());
  CHECK(check_tenant_name("").starts_with("tenant:"));
}

}  // namespace
}  // namespace stockgrid::auth
