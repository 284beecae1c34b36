// Damage the store must notice: a row changed behind its back (CRC), a broken
// version chain with a valid CRC, a truncated WAL, a bad file header. Every
// error names the file and the row, and a failed recovery changes nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "persistence/check.hpp"
#include "persistence/format.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/test_support.hpp"

namespace stockgrid::persistence {
namespace {

using testing::journal_sim;
using testing::key_of;
using testing::temp_dir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A closed partition with a snapshot of 5 records and a tail of 5 entries.
journal_sim make_partition(const std::string& path) {
  journal_sim sim;
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st);
  for (int i = 0; i < 5; ++i) sim.adjust(key_of("sku-" + std::to_string(i)), 10);
  sim.reserve(key_of("sku-0"), 2);
  REQUIRE(sim.flush(*store));
  snapshot_report snap;
  REQUIRE(store->snapshot(0, &snap));
  for (int i = 0; i < 5; ++i) sim.adjust(key_of("sku-" + std::to_string(i)), 1);
  REQUIRE(sim.flush(*store));
  return sim;  // seqs 1..6 in the snapshot, 7..11 in the tail
}

status recover_file(const std::string& path) {
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  if (!st) return st;
  recovery_report report;
  return store->recover(&report);
}

TEST_CASE("a journal row changed behind the store's back fails its CRC") {
  temp_dir dir;
  const auto path = dir.file("p-0003.db");
  make_partition(path);
  testing::raw_exec(path, "UPDATE journal SET qty = qty + 1 WHERE seq = 9");

  const status st = recover_file(path);
  CHECK(st.kind() == status::code::corruption);
  CHECK(st.to_string() == "corruption: " + path + ": journal row seq=9: CRC mismatch");
  // Nothing was folded.
  CHECK(testing::raw_int(path, "SELECT value FROM meta WHERE key='snapshot_seq'") == 6);

  status open_st;
  auto store = open_sqlite_store({path, ""}, &open_st);
  REQUIRE(open_st);
  record_image image;
  bool found = false;
  CHECK(store->load_record(key_of("sku-2"), &image, &found).kind() == status::code::corruption);
  CHECK(store->load_record(key_of("sku-1"), &image, &found));
  std::vector<journal_entry> events;
  CHECK(store->history(key_of("sku-2"), 0, 10, &events).kind() == status::code::corruption);

  check_report report;
  CHECK(contains(check_partition(path, &report).message(), "journal row seq=9: CRC mismatch"));
}

TEST_CASE("an old journal row is CRC-checked by check, a text column too") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  make_partition(path);
  testing::raw_exec(path, "UPDATE journal SET reason = 'forged' WHERE seq = 2");
  check_report report;
  const status st = check_partition(path, &report);
  CHECK(st.to_string() == "corruption: " + path + ": journal row seq=2: CRC mismatch");
}

TEST_CASE("a damaged snapshot row is detected") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  make_partition(path);
  testing::raw_exec(path, "UPDATE snapshot SET on_hand = 99 WHERE sku = 'sku-4'");
  const status st = recover_file(path);
  CHECK(st.to_string() == "corruption: " + path + ": snapshot row acme/berlin/sku-4: CRC mismatch");
  check_report report;
  CHECK(check_partition(path, &report).to_string() == st.to_string());

  testing::raw_exec(path, "UPDATE snapshot SET holds = x'01ff' WHERE sku = 'sku-0'");
  CHECK(recover_file(path).kind() == status::code::corruption);
}

TEST_CASE("a journal row with a valid CRC that breaks the version chain is detected") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  journal_sim sim = make_partition(path);
  journal_entry forged = sim.all[8];  // seq 9, sku-2, in the tail
  REQUIRE(forged.seq == 9);
  forged.c.on_hand_before += 1;
  testing::raw_exec(path, "UPDATE journal SET on_hand_before = " + std::to_string(forged.c.on_hand_before) +
                              ", crc = " + std::to_string(format::journal_row_crc(forged)) + " WHERE seq = 9");
  const status st = recover_file(path);
  CHECK(st.kind() == status::code::corruption);
  CHECK(contains(st.message(), path + ": journal row seq=9: does not follow"));
  check_report report;
  CHECK(contains(check_partition(path, &report).message(), "journal row seq=9"));
}

TEST_CASE("check compares the snapshot with the last folded journal entry") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  make_partition(path);
  // A CRC-valid snapshot row that disagrees with journal row seq=4 (sku-3).
  record_image image;
  image.key = key_of("sku-3");
  image.on_hand = 11;
  image.version = 1;
  image.last_seq = 4;
  testing::raw_exec(path, "UPDATE snapshot SET on_hand = 11, crc = " +
                              std::to_string(format::snapshot_row_crc(image, "")) + " WHERE sku = 'sku-3'");
  check_report report;
  const status st = check_partition(path, &report);
  CHECK(contains(st.message(), "snapshot row acme/berlin/sku-3"));
  CHECK(contains(st.message(), "journal row seq=4"));
}

TEST_CASE("a truncated WAL is refused before SQLite opens the database") {
  temp_dir dir;
  const auto path = dir.file("p-0003.db");
  const auto copy = dir.file("copy.db");
  journal_sim sim;
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st);
  for (int i = 0; i < 50; ++i) sim.adjust(key_of("sku-" + std::to_string(i)), 1);
  REQUIRE(sim.flush(*store));
  // The store is open, so its WAL holds the journal (no checkpoint yet).
  namespace fs = std::filesystem;
  REQUIRE(fs::file_size(path + "-wal") > 32);
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");
  {
    check_report report;  // read-only, with a WAL and no -shm file
    CHECK(check_partition(copy, &report).to_string() == "ok");
    CHECK(report.journal_entries == 50);
    auto intact = open_sqlite_store({copy, ""}, &st);
    REQUIRE(st.to_string() == "ok");
    record_image image;
    bool found = false;
    REQUIRE(intact->load_record(key_of("sku-49"), &image, &found));
    CHECK(found);
  }
  fs::remove(copy);
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal", fs::copy_options::overwrite_existing);
  const auto size = fs::file_size(copy + "-wal") - 3;
  REQUIRE(size % 4096 != 0);  // not where a killed write can end (see below)
  fs::resize_file(copy + "-wal", size);

  auto damaged = open_sqlite_store({copy, ""}, &st);
  CHECK_FALSE(damaged);
  CHECK(st.to_string() == "corruption: truncated WAL: " + copy + "-wal has " + std::to_string(size) +
                              " bytes, not a whole number of frames");
  check_report report;
  CHECK(check_partition(copy, &report).to_string() == st.to_string());

  fs::resize_file(copy + "-wal", 20);
  CHECK(contains(open_sqlite_store({copy, ""}, &st) ? "" : st.message(), "truncated WAL"));
}

// Writes 20 entries, copies the database and its WAL, lets `tear` append a
// torn tail to the copy's WAL (given the WAL's size), and checks the copy opens
// with the last entry's record.
template <typename Tear>
void check_torn_wal_opens(Tear tear) {
  temp_dir dir;
  const auto path = dir.file("p-0001.db");
  const auto copy = dir.file("copy.db");
  journal_sim sim;
  status st;
  auto store = open_sqlite_store({path, ""}, &st);
  REQUIRE(st);
  for (int i = 0; i < 20; ++i) sim.adjust(key_of("sku-" + std::to_string(i)), 1);
  REQUIRE(sim.flush(*store));
  namespace fs = std::filesystem;
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");
  const auto whole = fs::file_size(copy + "-wal");
  const std::string tail = tear(whole);
  {
    std::ofstream out(copy + "-wal", std::ios::binary | std::ios::app);
    out << tail;
  }
  REQUIRE(fs::file_size(copy + "-wal") == whole + tail.size());
  auto reopened = open_sqlite_store({copy, ""}, &st);
  INFO(st.to_string());
  REQUIRE(reopened);
  record_image image;
  bool found = false;
  REQUIRE(reopened->load_record(key_of("sku-19"), &image, &found));
  CHECK(found);
}

TEST_CASE("a WAL ending in a torn frame header (a crash mid-append) opens") {
  // SQLite writes a frame's 24-byte header before its page; SIGKILL between
  // the two leaves exactly this.
  check_torn_wal_opens([](std::uintmax_t) { return std::string(24, '\0'); });
}

TEST_CASE("a WAL ending in a frame cut at an OS page boundary (a write killed mid-page) opens") {
  // A fatal signal stops the kernel copying a write between two page-cache
  // pages, so a frame's page can be cut at any 4096-byte file offset; a CI run
  // once left a 495,616-byte WAL (121 pages, 1,184 bytes into a frame).
  check_torn_wal_opens([](std::uintmax_t whole) {
    auto cut = (whole / 4096 + 1) * 4096;
    if (cut - whole <= 24) cut += 4096;  // room for a frame header and part of its page
    REQUIRE((cut - 32) % (24 + 4096) != 0);
    return std::string(24, '\x01') + std::string(cut - whole - 24, '\x02');
  });
}

void overwrite(const std::string& path, std::streamoff offset, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST_CASE("a database with a bad header is reported as corruption naming the file") {
  temp_dir dir;
  const auto path = dir.file("p-0003.db");
  make_partition(path);
  SECTION("the magic string") {
    overwrite(path, 0, "NOT A DATABASE!!");
    status st;
    CHECK_FALSE(open_sqlite_store({path, ""}, &st));
    CHECK(st.kind() == status::code::corruption);
    CHECK(contains(st.message(), path));
  }
  SECTION("the header after the magic string") {
    overwrite(path, 16, std::string("\x12\x34\x99\x99", 4));  // page size, format versions
    status st;
    CHECK_FALSE(open_sqlite_store({path, ""}, &st));
    CHECK(st.kind() == status::code::corruption);
    CHECK(contains(st.message(), path));
    check_report report;
    CHECK(check_partition(path, &report).kind() == status::code::corruption);
  }
}

TEST_CASE("check finds index rows that do not match the journal") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  make_partition(path);
  check_report report;
  SECTION("a missing record_index row") {
    testing::raw_exec(path, "DELETE FROM record_index WHERE seq = 3");
    CHECK(check_partition(path, &report).message() == path + ": record_index has 5 rows for 6 journal changes");
  }
  SECTION("a record_index row pointing at the wrong entry") {
    testing::raw_exec(path, "UPDATE record_index SET seq = 4 WHERE seq = 3");
    CHECK(contains(check_partition(path, &report).message(), "record_index row seq=4: no matching journal change"));
  }
  SECTION("an idem_index row for the tail") {
    testing::raw_exec(path, "INSERT INTO idem_index VALUES (42, 9)");
    CHECK(contains(check_partition(path, &report).message(), "idem_index row seq=9"));
  }
}

TEST_CASE("check passes a healthy partition and counts it") {
  temp_dir dir;
  const auto path = dir.file("p.db");
  make_partition(path);
  check_report report;
  REQUIRE(check_partition(path, &report).to_string() == "ok");
  CHECK(report.snapshot_records == 5);
  CHECK(report.snapshot_holds == 1);
  CHECK(report.journal_entries == 11);
  CHECK(report.tail_entries == 5);
  CHECK(report.journal_records == 5);
  CHECK(report.records_with_tail == 5);
  CHECK(report.snapshot_seq == 6);
  CHECK(report.last_seq == 11);
  CHECK(report.seq_lease > 11);

  CHECK(check_partition(dir.file("missing.db"), &report).kind() == status::code::invalid);
}

}  // namespace
}  // namespace stockgrid::persistence
