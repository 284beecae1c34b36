// A corrupt or unreadable data file stops the node with an error naming the
// file (and the row where there is one), never a silent start.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <iterator>

#include "tests/support/grid_harness.hpp"
#include "tests/support/process.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;
namespace fs = std::filesystem;

namespace {

// Starts the real node on `dir`; returns its exit code and stderr.
std::pair<int, std::string> start_node(const std::string& dir, const std::vector<std::string>& extra = {}) {
  const auto err_path = dir + "/../stderr.txt";
  std::vector<std::string> argv{built_program("app/stockgrid"), "--data-dir", dir, "--partitions", "4",
                                "--port", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  child_process node(argv, err_path);
  // A sound data dir: the node prints "listening on ..." and serves; a damaged
  // one: it exits (stdout closes) without listening. The read is bounded: at
  // the deadline the node is killed, which ends it.
  auto listening = std::async(std::launch::async, [&node] {
    while (auto line = node.read_line()) {
      if (line->find("listening on") != std::string::npos) return true;
    }
    return false;
  });
  if (listening.wait_for(std::chrono::seconds(20)) != std::future_status::ready) node.kill(SIGKILL);
  if (listening.get()) node.kill(SIGTERM);
  auto code = node.wait_exit(std::chrono::seconds(20));
  std::ifstream in(err_path);
  std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {code.value_or(-1), err};
}

void exec_sql(const std::string& file, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* msg = nullptr;
  auto rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  INFO((msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// Stocks one record with a reason we can find in the file, and ends like a
// crash: a child process opens the grid, writes (sync: durable once
// answered) and exits without stopping it, so the row stays in the journal
// tail that recovery replays (a clean stop would fold it into the snapshot).
std::string make_data(const std::string& dir, const std::string& marker) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // no Catch assertions in the child
    std::string error;
    auto g = grid::open(grid_options{test_settings(dir), {}}, &error);
    if (!g) ::_exit(2);
    auto a = adjust("wh", "sku", 10);
    a.reason = marker;
    auto answer = send(*g, a);
    const bool answered = answer.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    ::_exit(answered && answer.get().code == outcome::ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  // Its pages into the database file, where the tests look for the marker.
  const auto path = partition_path(dir, partition_of({"t1", "wh", "sku"}, 4));
  exec_sql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
  return path;
}

void flip_first(const std::string& file, const std::string& needle) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto pos = bytes.find(needle);
  REQUIRE(pos != std::string::npos);
  f.seekp(static_cast<std::streamoff>(pos));
  f.put(static_cast<char>(bytes[pos] ^ 0x01));
}


}  // namespace

TEST_CASE("a sound data dir starts and passes check", "[corrupt][system]") {
  temp_dir root;
  const auto dir = root.path() + "/data";
  make_data(dir, "fine");
  auto [code, err] = start_node(dir);
  INFO(err);
  CHECK(code == 0);
  child_process check({built_program("app/stockgrid"), "check", "--data-dir", dir, "--partitions", "4"});
  CHECK(check.wait_exit(std::chrono::seconds(20)) == 0);
}

TEST_CASE("a flipped byte inside a journal row stops the node naming file and row", "[corrupt][system]") {
  temp_dir root;
  const auto dir = root.path() + "/data";
  auto file = make_data(dir, "MARKER-RECEIVING-ROW");
  flip_first(file, "MARKER-RECEIVING-ROW");
  auto [code, err] = start_node(dir);
  INFO(err);
  CHECK(code == 3);
  CHECK_THAT(err, Catch::Contains(fs::path(file).filename().string()));
  CHECK_THAT(err, Catch::Contains("seq"));
  child_process check({built_program("app/stockgrid"), "check", "--data-dir", dir, "--partitions", "4"});
  CHECK(check.wait_exit(std::chrono::seconds(20)) == 3);
}

TEST_CASE("a damaged snapshot row stops the node naming the file", "[corrupt][system]") {
  temp_dir root;
  const auto dir = root.path() + "/data";
  auto file = make_data(dir, "snap");
  { auto g = open_grid(test_settings(dir)); }  // recovery folds the journal into the snapshot
  exec_sql(file, "UPDATE snapshot SET on_hand = on_hand + 5");
  auto [code, err] = start_node(dir);
  INFO(err);
  CHECK(code == 3);
  CHECK_THAT(err, Catch::Contains(fs::path(file).filename().string()));
  CHECK_THAT(err, Catch::Contains("snapshot"));
}

TEST_CASE("a bad database header stops the node naming the file", "[corrupt][system]") {
  temp_dir root;
  const auto dir = root.path() + "/data";
  auto file = make_data(dir, "hdr");
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.write("garbage-garbage-", 16);
  }
  auto [code, err] = start_node(dir);
  INFO(err);
  CHECK(code == 3);
  CHECK_THAT(err, Catch::Contains(fs::path(file).filename().string()));
}

TEST_CASE("a truncated WAL stops the node naming the WAL", "[corrupt][system]") {
  temp_dir root;
  const auto dir = root.path() + "/data";
  {
    // A worker killed mid-load leaves its WAL un-checkpointed.
    child_process worker({built_program("tests/system/crash_worker"), dir, "sync", "0", "1000000"});
    for (int i = 0; i < 300; ++i) REQUIRE(worker.read_line());
    worker.kill(SIGKILL);
    worker.wait_exit(std::chrono::seconds(10));
  }
  std::string wal;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().string().ends_with("-wal") && fs::file_size(e.path()) > 4096) wal = e.path().string();
  REQUIRE_FALSE(wal.empty());
  // Cut about 100 bytes, but not where a killed append can end (a frame
  // boundary, a frame header, an OS page boundary): those are not damage.
  const auto size = fs::file_size(wal);
  auto cut = size - 100;
  while (cut % 4096 == 0 || (cut - 32) % (24 + 4096) == 0 || (cut - 32) % (24 + 4096) == 24) --cut;
  fs::resize_file(wal, cut);
  auto [code, err] = start_node(dir);
  INFO(err);
  CHECK(code == 3);
  CHECK_THAT(err, Catch::Contains(fs::path(wal).filename().string()));
}

TEST_CASE("bad flags, bad config keys and values out of bounds exit 1 (usage), naming the problem") {
  temp_dir dir;
  const auto conf = dir.path() + "/bad.conf";
  std::ofstream(conf) << "no-such-key = 3\n";
  std::filesystem::create_directories(dir.path() + "/data");  // start_node's stderr file is beside it
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--no-such-flag"}, "no-such-flag"},
      {{"--partitions", "0"}, "partitions"},
      {{"--log-format", "xml"}, "--log-format"},
      {{"--config", conf}, "no-such-key"},
      {{"--config", dir.path() + "/missing.conf"}, "missing.conf"},
  };
  for (const auto& [args, named] : cases) {
    INFO(args.front() << " " << (args.size() > 1 ? args[1] : ""));
    const auto [code, err] = start_node(dir.path() + "/data", args);
    INFO(err);
    CHECK(code == 1);
    CHECK(err.find(named) != std::string::npos);
  }
}
