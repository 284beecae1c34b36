// stockgrid-bench as users run it: against a real node (`stockgrid --demo`,
// real sockets, CAF, SQLite in a temp dir) it must pass and its totals check
// must hold; against answers that are wrong — the stub gateway's canned
// records, or stock moved behind its back — it must fail. Each run lasts about
// a second; no throughput is asserted.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/process.hpp"
#include "tests/system/node_fixture.hpp"

using namespace stockgrid;
using namespace stockgrid::node_test;

namespace {

std::string bench_program() { return testing::built_program("bench/stockgrid-bench"); }

node_options durability(const std::string& mode) {
  node_options options;
  // The node's capacity is under test, not a tenant's quota.
  options.args = {"--durability", mode, "--tenant-rate-per-second", "100000000", "--tenant-rate-burst", "1000000000"};
  return options;
}

std::string url_of(std::uint16_t port) { return "ws://127.0.0.1:" + std::to_string(port) + "/v1/ws"; }

testing::command_result run_bench(std::uint16_t port, const std::string& token, const std::string& args) {
  return testing::run_command(bench_program() + " --url " + url_of(port) + " --token '" + token + "' " + args, 120);
}

// The bench's last line: its machine-readable summary.
value summary_of(const testing::command_result& r) {
  const auto start = r.output.rfind("\n{");
  INFO(r.output);
  REQUIRE(start != std::string::npos);
  value v;
  std::string error;
  REQUIRE(protocol::parse(std::string_view(r.output).substr(start + 1), encoding::json,
                          protocol::parse_limits{}, &v, &error));
  return v;
}

// A run that passed: answers all right and present, totals checked and equal.
void check_passed(const value& summary) {
  CHECK(integer(summary, "wrong") == 0);
  CHECK(integer(summary, "missing") == 0);
  CHECK(at(summary, "totals_checked") == value(true));
  CHECK(at(summary, "totals_ok") == value(true));
  CHECK(at(summary, "passed") == value(true));
}

// A record field (record.reserved, record.on_hand) summed over the bench's
// first `records` records, read from the node.
std::int64_t sum_over_records(session& s, int records, const std::string& field) {
  std::int64_t sum = 0;
  for (int i = 0; i < records; ++i) {
    char sku[16];
    std::snprintf(sku, sizeof sku, "sku-%07d", i);
    const value got = s.call({{"op", "stock.get"}, {"warehouse", "bench"}, {"sku", sku}});
    REQUIRE(ok(got));
    sum += integer(got, field);
  }
  return sum;
}

// The gateway alone, answering every op with canned records (bench/stub_node).
class stub_node {
 public:
  stub_node() {
    process_ = std::make_unique<testing::child_process>(
        std::vector<std::string>{testing::built_program("bench/stub_node"), "--port", "0"});
    auto startup = std::async(std::launch::async, [this] {
      while (auto line = process_->read_line()) {
        if (line->starts_with("listening on 127.0.0.1:")) {
          return std::stoi(line->substr(std::string("listening on 127.0.0.1:").size()));
        }
      }
      return 0;
    });
    if (startup.wait_for(node_start_timeout) != std::future_status::ready) process_->kill(SIGKILL);
    port_ = static_cast<std::uint16_t>(startup.get());
    REQUIRE(port_ != 0);
  }
  ~stub_node() {
    process_->kill(SIGTERM);
    CHECK(process_->wait_exit(node_stop_timeout) == 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  std::unique_ptr<testing::child_process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("the bench passes against a real node, and the node's totals agree", "[bench]") {
  test_node node(durability("batched"));
  for (const std::string workload : {"-P 2 --op reserve", "-P 2 --op mix --encoding json", "-P 4 --op reserve --hot",
                                     "-P 2 --op get --threads 2", "-P 2 --op mix --rate 2000",
                                     "-P 8 --op mix --batch", "-P 8 --op reserve --batch --encoding json"}) {
    INFO(workload);
    const auto r = run_bench(node.port(), node.demo_writer(), "-c 4 --duration-s 1 --records 300 " + workload);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    const value s = summary_of(r);
    CHECK(integer(s, "ok") > 0);
    check_passed(s);
  }

  // The node agrees with what the bench counted: after a reserve-only run,
  // the records' reserved units add up to the bench's successful reserves.
  test_node fresh(durability("sync"));
  const auto r = run_bench(fresh.port(), fresh.demo_writer(), "-c 2 -n 200 --records 5 --op reserve");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  session s(fresh, encoding::json, fresh.demo_writer());
  CHECK(sum_over_records(s, 5, "record.reserved") == 200);
  CHECK(integer(summary_of(r), "ok") == 200);
  fresh.stop();
  node.stop();
}

TEST_CASE("the bench's orders pass against a real node, and every released order gives its units back",
          "[bench]") {
  test_node node(durability("batched"));
  // Five records: every order holds one unit of each, so all orders contend
  // for the same records; then many records, pipelined in batch frames.
  for (const std::string workload : {"-c 4 -P 2 --records 5", "-c 4 -P 8 --records 300 --batch --encoding json",
                                     "-c 2 -P 4 --records 300 --threads 2"}) {
    INFO(workload);
    const auto r = run_bench(node.port(), node.demo_writer(), workload + " --duration-s 1 --op order");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("orders/s (each = 5 holds") != std::string::npos);
    const value s = summary_of(r);
    CHECK(at(s, "op") == value("order"));
    CHECK(integer(s, "order_lines") == 5);
    CHECK(integer(s, "orders_ok") > 0);
    check_passed(s);
  }

  // A fresh node holds afterwards exactly what the bench says it left held:
  // 5 units per order granted and not released (a request budget that ends
  // between an order.reserve and its release leaves that order held).
  test_node fresh(durability("sync"));
  const auto r = run_bench(fresh.port(), fresh.demo_writer(), "-c 2 -n 301 --records 7 --op order");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const value summary = summary_of(r);
  const std::int64_t left_held = integer(summary, "orders_ok") - integer(summary, "order_releases_ok");
  CHECK(integer(summary, "orders_ok") > 100);
  CHECK(left_held >= 0);
  CHECK(left_held <= 2);  // one per slot at the most
  session s(fresh, encoding::json, fresh.demo_writer());
  CHECK(sum_over_records(s, 7, "record.reserved") == 5 * left_held);
  CHECK(sum_over_records(s, 7, "record.on_hand") == 7 * 1'000'000'000LL);  // released, never sold
  fresh.stop();

  // An order's lines need distinct records.
  CHECK(run_bench(node.port(), node.demo_writer(), "-c 1 --records 4 --op order").exit_code == 2);
  CHECK(run_bench(node.port(), node.demo_writer(), "-c 1 --records 10 --hot --op order").exit_code == 2);
  node.stop();
}

TEST_CASE("the bench fails on answers that break the stock rules", "[bench]") {
  stub_node stub;
  // The stub grants every reserve but shows a record of zeros: version 0,
  // nothing on hand, nothing reserved.
  const auto strict = run_bench(stub.port(), "writer-token",
                                "-c 2 --duration-s 1 --records 10 --skip-setup --no-totals-check");
  INFO(strict.output);
  CHECK(strict.exit_code == 1);
  CHECK(strict.output.find("record counts break the stock rules") != std::string::npos);
  const value s = summary_of(strict);
  CHECK(integer(s, "wrong") > 0);
  CHECK(at(s, "passed") == value(false));

  // Checking only the answers' shape, the same run passes: that is how the
  // gateway-only figure is taken.
  const auto shape = run_bench(stub.port(), "writer-token",
                               "-c 2 --duration-s 1 --records 10 --skip-setup --no-totals-check --validate shape");
  INFO(shape.output);
  CHECK(shape.exit_code == 0);
  CHECK(integer(summary_of(shape), "wrong") == 0);
}

TEST_CASE("the bench fails when stock moves that it did not move", "[bench]") {
  test_node node(durability("batched"));
  // While the bench runs, another client reserves one of its records: the
  // records' reserved total then moves by more than the bench's reserves.
  std::atomic<bool> bench_done{false};
  std::atomic<int> sneaked{0};
  std::thread intruder([&] {
    session s(node, encoding::json, node.demo_writer());
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (!bench_done && std::chrono::steady_clock::now() < until) {
      const value r = s.call({{"op", "stock.reserve"}, {"warehouse", "bench"}, {"sku", "sku-0000000"}, {"qty", 1}});
      if (ok(r)) ++sneaked;
      std::this_thread::sleep_for(20ms);
    }
  });
  const auto r = run_bench(node.port(), node.demo_writer(), "-c 2 --duration-s 2 --records 20 --op reserve");
  bench_done = true;
  intruder.join();
  INFO(r.output);
  REQUIRE(sneaked > 0);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("MISMATCH") != std::string::npos);
  const value s = summary_of(r);
  CHECK(integer(s, "wrong") == 0);
  CHECK(at(s, "totals_ok") == value(false));
  node.stop();
}
