// GET /metrics on a real node: who may scrape it, that it is valid
// Prometheus text (promtool, from Debian's prometheus package), that counters
// move with traffic, that no label carries a SKU, and that a failed request's
// id is in its error answer and in the node's JSON log.
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/system/node_fixture.hpp"

using namespace stockgrid;
using namespace stockgrid::node_test;

namespace {

// The value of the sample `series` (name and labels exactly as written), or
// -1 when the scrape has no such line.
double sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);)
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

gateway_test::http_result scrape(std::uint16_t port, const std::string& token) {
  auto http = gateway_test::http_client::connect(port);
  REQUIRE(http);
  gateway_test::headers h;
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  return http->request("GET", "/metrics", h);
}

// Runs `promtool check metrics` on the text; its exit status and output.
std::pair<int, std::string> promtool_check(const std::string& text, const std::string& dir) {
  const std::string path = dir + "/scrape.txt";
  std::ofstream(path) << text;
  const std::string cmd = "promtool check metrics < '" + path + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("node: /metrics needs a system token on the gateway port and none on the admin port",
          "[node][metrics]") {
  test_node node(node_options{{"--admin-port", "0"}});
  REQUIRE(node.admin_port() != 0);
  CHECK(scrape(node.port(), "").status == 401);
  CHECK(scrape(node.port(), "not-a-token").status == 401);
  CHECK(scrape(node.port(), node.demo_writer()).status == 403);
  const auto by_token = scrape(node.port(), system_token);
  CHECK(by_token.status == 200);
  CHECK(by_token.body.find("# TYPE stockgrid_requests_total counter") != std::string::npos);
  const auto admin = scrape(node.admin_port(), "");
  CHECK(admin.status == 200);
  CHECK(admin.body.find("# TYPE stockgrid_ready gauge") != std::string::npos);
  CHECK(sample(admin.body, "stockgrid_ready") == 1);
  // The admin port serves no WebSocket.
  CHECK(gateway_test::upgrade_status(node.admin_port()) == 404);
  CHECK(gateway_test::http_get(node.admin_port(), "/readyz").status == 200);
  node.stop();
}

TEST_CASE("node: counters move with traffic, promtool accepts the scrape, no label names a SKU",
          "[node][metrics]") {
  testing::temp_dir dir;
  test_node node(node_options{{"--admin-port", "0", "--log-format", "json", "--log-level", "debug"}});
  const std::string get_ok = R"(stockgrid_requests_total{tenant="demo",op="stock.get",code="ok"})";
  const std::string reserve_missing = R"(stockgrid_requests_total{tenant="demo",op="stock.reserve",code="NOT_FOUND"})";
  const std::string get_count = R"(stockgrid_request_duration_seconds_count{op="stock.get"})";
  const auto before = scrape(node.admin_port(), "").body;
  const double gets_before = std::max(0.0, sample(before, get_ok));
  const double timed_before = std::max(0.0, sample(before, get_count));

  std::string request_id;
  {
    session s(node, encoding::json, node.demo_writer());
    for (int i = 0; i < 25; ++i) REQUIRE(ok(s.call({{"op", "stock.get"}, {"warehouse", "berlin"}, {"sku", "mug"}})));
    const value missing =
        s.call({{"op", "stock.reserve"}, {"warehouse", "berlin"}, {"sku", "no-such-sku-42"}, {"qty", 1}});
    CHECK(code(missing) == "NOT_FOUND");
    request_id = text(missing, "error.request_id");
    // Refused by the gateway itself, before any dispatch: counted as op
    // _gateway, and named with a request id as well.
    s.send_text("{not json");
    const value unparsable = s.next();
    CHECK(code(unparsable) == "BAD_REQUEST");
    CHECK(std::regex_match(text(unparsable, "error.request_id"), std::regex("[0-9a-f]{8}-[0-9a-f]+")));
    const value unknown = s.call({{"op", "stock.no-such-op"}});
    CHECK(code(unknown) == "UNKNOWN_OP");
    CHECK(text(unknown, "error.request_id") != request_id);
    s.close();
  }
  CHECK(std::regex_match(request_id, std::regex("[0-9a-f]{8}-[0-9a-f]+")));

  const auto after = scrape(node.admin_port(), "").body;
  CHECK(sample(after, get_ok) == gets_before + 25);
  CHECK(sample(after, reserve_missing) == 1);
  CHECK(sample(after, R"(stockgrid_requests_total{tenant="demo",op="_gateway",code="BAD_REQUEST"})") == 1);
  CHECK(sample(after, R"(stockgrid_requests_total{tenant="demo",op="_gateway",code="UNKNOWN_OP"})") == 1);
  CHECK(sample(after, get_count) == timed_before + 25);
  CHECK(sample(after, "stockgrid_records_resident") >= 1);
  CHECK(sample(after, "stockgrid_journal_batch_entries_count") >= 1);  // the demo's stock
  CHECK(sample(after, "stockgrid_requests_in_flight") == 0);

  // Valid exposition format, by Prometheus's own checker (also its lint:
  // counters end in _total, units in names).
  const auto [status, output] = promtool_check(after, dir.path());
  INFO(output);
  CHECK(status == 0);
  CHECK(output.empty());

  // Label cardinality: no sku label, and no SKU of the demo in any label value.
  CHECK(after.find("sku=") == std::string::npos);
  for (const char* sku : {"mug", "poster", "tshirt-s", "no-such-sku-42"})
    CHECK(after.find(std::string("\"") + sku + "\"") == std::string::npos);

  // Every log line is one JSON object; the failed request's line carries its id.
  const std::string log = node.log();
  std::istringstream lines(log);
  int json_lines = 0;
  bool found_id = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    INFO(line);
    const value parsed = gateway_test::json(line);
    CHECK(parsed.find("ts") != nullptr);
    CHECK(parsed.find("level") != nullptr);
    REQUIRE(parsed.find("msg") != nullptr);
    ++json_lines;
    if (parsed.find("msg")->as_string()->find("request " + request_id) != std::string::npos) found_id = true;
  }
  CHECK(json_lines > 3);
  CHECK(found_id);
  node.stop();
}
