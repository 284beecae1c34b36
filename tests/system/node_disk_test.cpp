// A real full disk under a real node. The node's data dir is a small tmpfs
// in a mount namespace of its own (tmpfs_namespace.hpp). The test fills it,
// sees writes answered UNAVAILABLE with retry_after_ms while reads go on,
// deletes the filler and sees writes succeed again without a restart; after
// a restart every acknowledged change is there. Needs root (mount); without
// it the test fails, saying so.
#include <unistd.h>

#include <map>
#include <thread>

#include "tests/system/node_fixture.hpp"
#include "tests/system/tmpfs_namespace.hpp"

using namespace stockgrid;
using namespace stockgrid::node_test;

namespace {

constexpr int records = 8;
constexpr int retry_interval_ms = 200;

std::string sku(int k) { return "disk-" + std::to_string(k); }

object adjust(int k, std::int64_t delta, const std::string& idem) {
  return {{"op", "stock.adjust"}, {"warehouse", "disk"}, {"sku", sku(k)}, {"delta", delta}, {"idem", idem}};
}

// Every record reads back with the values acknowledged to this test.
void check_records(session& s, const std::map<int, std::int64_t>& acked) {
  for (const auto& [k, on_hand] : acked) {
    const value r = s.call({{"op", "stock.get"}, {"warehouse", "disk"}, {"sku", sku(k)}});
    INFO(sku(k) << ": " << Catch::Detail::stringify(r));
    REQUIRE(ok(r));
    CHECK(integer(r, "record.on_hand") == on_hand);
  }
}

double metric(std::uint16_t port, const std::string& series) {
  auto http = gateway_test::http_client::connect(port);
  REQUIRE(http);
  const auto scrape = http->request("GET", "/metrics", {{"Authorization", std::string("Bearer ") + system_token}});
  std::istringstream in(scrape.body);
  for (std::string line; std::getline(in, line);)
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("node: a full disk turns writes into UNAVAILABLE while reads go on, and the node recovers "
          "by itself when space returns",
          "[node][disk]") {
  testing::temp_dir base;
  const std::string data = base.path() + "/data";
  tmpfs_namespace ns(data);
  // The test suite runs as root (scripts/test installs packages first); a
  // run without root fails here rather than passing without a full disk.
  INFO("cannot mount a tmpfs in a mount namespace: this test needs root (unshare -m, mount)");
  REQUIRE(ns.mounted());
  node_options options;
  options.data_dir = data;
  options.launcher = ns.launcher();
  options.args = {"--disk-retry-interval-ms", std::to_string(retry_interval_ms)};
  test_node node(options);
  std::map<int, std::int64_t> acked;
  {
    session s(node, encoding::json, node.demo_writer());
    for (int k = 0; k < records; ++k) {
      const value r = s.call(adjust(k, 10 + k, "init-" + std::to_string(k)));
      REQUIRE(ok(r));
      acked[k] = 10 + k;
    }

    // The disk fills up.
    const auto filler = ns.outside(data + "/filler");
    REQUIRE(fill(filler) > 0);

    // Writes are refused with UNAVAILABLE and when to retry (a few may still
    // fit in pages the WAL already had). A refused write's outcome is
    // unknown: it is resent with its idem below, as a client would.
    std::vector<std::pair<int, std::string>> unknown;  // (record, idem)
    int refused = 0;
    for (int i = 0; i < 200 && refused < 2 * records; ++i) {
      const int k = i % records;
      const auto idem = "full-" + std::to_string(i);
      const value r = s.call(adjust(k, 1, idem));
      if (ok(r)) {
        acked[k] += 1;
        continue;
      }
      INFO(Catch::Detail::stringify(r));
      REQUIRE(code(r) == "UNAVAILABLE");
      CHECK(integer(r, "error.retry_after_ms") == retry_interval_ms);
      unknown.emplace_back(k, idem);
      ++refused;
    }
    REQUIRE(refused > 0);

    // Reads go on, in every partition, with the last acknowledged values;
    // the node stays healthy and says how many partitions are degraded.
    check_records(s, acked);
    CHECK(node.healthy());
    CHECK(metric(node.port(), "stockgrid_journal_degraded_partitions") >= 1);
    CHECK(metric(node.port(), "stockgrid_journal_errors_total") >= 1);

    // Space returns: within a bounded wait, writes succeed without a restart.
    REQUIRE(::unlink(filler.c_str()) == 0);
    bool recovered = false;
    for (int attempt = 0; attempt < 100 && !recovered; ++attempt) {
      const value r = s.call(adjust(0, 1, "after-" + std::to_string(attempt)));
      if (ok(r)) {
        acked[0] += 1;
        recovered = true;
        break;
      }
      INFO(Catch::Detail::stringify(r));
      REQUIRE(code(r) == "UNAVAILABLE");
      std::this_thread::sleep_for(std::chrono::milliseconds(integer(r, "error.retry_after_ms")));
    }
    REQUIRE(recovered);
    // The refused writes, resent with their idem keys, now have one outcome
    // each: applied once (or replayed, had the disk kept them).
    for (const auto& [k, idem] : unknown) {
      value r;
      for (int attempt = 0; attempt < 100; ++attempt) {
        r = s.call(adjust(k, 1, idem));
        if (code(r) != "UNAVAILABLE") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(integer(r, "error.retry_after_ms")));
      }
      INFO(Catch::Detail::stringify(r));
      REQUIRE(ok(r));
      acked[k] += 1;
    }
    check_records(s, acked);
    CHECK(metric(node.port(), "stockgrid_journal_degraded_partitions") == 0);
  }
  node.stop();

  // After a restart, every acknowledged change is there.
  node.restart();
  {
    session s(node, encoding::json, node.demo_writer());
    check_records(s, acked);
  }
  node.stop();
}
