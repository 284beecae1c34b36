// Crash recovery: a child process applies acknowledged mutations and is
// killed with SIGKILL in the middle of its load; after each restart every
// acknowledged mutation is present exactly once and replays its original
// response, and `stockgrid check` passes.
#include <map>
#include <random>
#include <set>

#include "persistence/check.hpp"
#include "tests/support/grid_harness.hpp"
#include "tests/support/process.hpp"
#include "tests/system/crash_ops.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;

namespace {

config::settings crash_settings(const std::string& dir) {
  auto s = test_settings(dir);
  s.node.partitions = crash_partitions;
  return s;
}

// Runs the worker from op `first` and kills it after `kill_after` ACKs.
// Returns the ACK lines by op index.
std::map<long, std::string> run_and_kill(const std::string& dir, long first, int kill_after) {
  child_process worker({built_program("tests/system/crash_worker"), dir, "sync",
                        std::to_string(first), "1000000"});
  std::map<long, std::string> acks;
  while (static_cast<int>(acks.size()) < kill_after) {
    auto line = worker.read_line();
    REQUIRE(line);  // the worker must not die on its own
    if (line->rfind("ACK ", 0) != 0) continue;
    acks[std::stol(line->substr(4))] = *line;
  }
  worker.kill(SIGKILL);
  REQUIRE(worker.wait_exit(std::chrono::seconds(10)) == 128 + SIGKILL);
  // Lines already in the pipe were acknowledged too.
  while (auto line = worker.read_line())
    if (line->rfind("ACK ", 0) == 0) acks[std::stol(line->substr(4))] = *line;
  return acks;
}

void check_files(const std::string& dir) {
  for (std::uint32_t p = 0; p < crash_partitions; ++p) {
    persistence::check_report report;
    auto st = persistence::check_partition(partition_path(dir, p), &report);
    INFO(st.to_string());
    CHECK(st.is_ok());
  }
}

}  // namespace

TEST_CASE("acknowledged mutations survive SIGKILL exactly once", "[crash][system]") {
  temp_dir dir;
  std::mt19937 rng(std::random_device{}());
  const auto seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);
  std::map<long, std::string> acked;
  long next = 0;
  for (int round = 0; round < 4; ++round) {
    const int kill_after = std::uniform_int_distribution<int>(50, 1500)(rng);
    INFO("round " << round << ", kill after " << kill_after << " acks");
    auto acks = run_and_kill(dir.path(), next, kill_after);
    acked.insert(acks.begin(), acks.end());
    next = acks.rbegin()->first + 1000;  // skip whatever was in flight

    check_files(dir.path());
    auto g = open_grid(crash_settings(dir.path()));
    // Every acknowledged op replays its original response, so it was
    // applied and is not applied again.
    for (const auto& [i, line] : acked) {
      auto r = call(*g, crash_op(i));
      INFO("op " << i);
      CHECK(r.replayed);
      CHECK(ack_line(i, r) == line);
    }
    // Each idempotency key appears at most once in the records' histories.
    std::multiset<std::string> keys;
    for (int k = 0; k < crash_records; ++k) {
      auto h = history("wh", "sku" + std::to_string(k), 1000);
      h.key.tenant = "crash";
      std::int64_t before = 0;
      for (;;) {
        h.before_version = before;
        auto page = call(*g, h);
        REQUIRE(page.code == outcome::ok);
        for (auto& ev : page.events) keys.insert(ev.idem);
        if (page.events.size() < 1000) break;
        before = page.events.back().c.version;
      }
    }
    for (const auto& [i, line] : acked) {
      // A refused op (INSUFFICIENT_STOCK) is remembered but is no movement.
      const bool refused =
          line.rfind("ACK " + std::to_string(i) + " " +
                         std::to_string(static_cast<int>(outcome::insufficient_stock)) + " ",
                     0) == 0;
      if (!refused) CHECK(keys.count("op-" + std::to_string(i)) == 1);
    }
    for (const auto& k : keys) CHECK(keys.count(k) == 1);
    g->stop();
    check_files(dir.path());
  }
}
