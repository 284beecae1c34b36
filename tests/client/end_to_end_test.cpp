// End to end: a real node (`stockgrid --demo`, real sockets, CAF, SQLite)
// started by the test, and against it stockctl (one-shot commands, the
// prompt, scripts, import), every example program, every script in
// examples/scripts, and the client library's pipelining and its resending
// after a dropped connection. The node is stopped with SIGTERM at the end and
// must exit 0.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "protocol/codec.hpp"
#include "tests/support/process.hpp"

using namespace stockgrid;
using namespace std::chrono_literals;
using client::value;

namespace {

constexpr const char* system_token = "sg-e2e-system-token-5f2c9a71d0e84b36";

std::string source_dir() { return STOCKGRID_SOURCE_DIR; }
std::string stockctl() { return testing::built_program("client/stockctl"); }
std::string example(const std::string& name) { return testing::built_program("examples/" + name); }

// The node under test, started once for the whole file.
struct node {
  node()
      : dir(std::filesystem::temp_directory_path() /
            ("stockgrid-client-e2e-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ::setenv("STOCKGRID_ADMIN_TOKEN", system_token, 1);
    process = std::make_unique<testing::child_process>(
        std::vector<std::string>{testing::built_program("app/stockgrid"), "--data-dir",
                                 (dir / "data").string(), "--port", "0", "--demo"},
        (dir / "stderr.log").string());
    ::unsetenv("STOCKGRID_ADMIN_TOKEN");
    // The demo prints its tokens, then "listening on 127.0.0.1:PORT".
    while (auto line = process->read_line()) {
      output += *line + "\n";
      auto token_after = [&](const std::string& label) -> std::string {
        const auto at = line->find(label);
        return at == std::string::npos ? "" : line->substr(at + label.size());
      };
      if (auto t = token_after("writer token: "); !t.empty()) writer = t;
      if (auto t = token_after("reader token: "); !t.empty()) reader = t;
      if (line->starts_with("listening on 127.0.0.1:")) {
        port = std::stoi(line->substr(std::string("listening on 127.0.0.1:").size()));
        break;
      }
    }
  }
  ~node() {
    process.reset();  // kills it if the test did not stop it
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port) + "/v1/ws"; }
  std::string stderr_text() const {
    std::ifstream in(dir / "stderr.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::filesystem::path dir;
  std::unique_ptr<testing::child_process> process;
  std::string output;
  std::string writer, reader;
  int port = 0;
};

node& the_node() {
  static node n;
  INFO("node stdout:\n" << n.output << "\nnode stderr:\n" << n.stderr_text());
  REQUIRE(n.port > 0);
  REQUIRE_FALSE(n.writer.empty());
  REQUIRE_FALSE(n.reader.empty());
  return n;
}

using run_result = testing::command_result;

// Runs a shell command line, bounded by `timeout_s`, collecting its output.
run_result run(const std::string& command, int timeout_s = 120) {
  run_result r = testing::run_command(command, timeout_s);
  REQUIRE(r.exit_code >= 0);
  return r;
}

std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

// Checks that a command's output has `text`, showing the output if not.
void check_output(const run_result& r, const std::string& text) {
  INFO(r.output);
  CHECK(r.output.find(text) != std::string::npos);
}

// Checks a command's exit code, showing its output when it differs.
void check_exit(const run_result& r, int expected) {
  INFO(r.output);
  CHECK(r.exit_code == expected);
}
void require_exit(const run_result& r, int expected) {
  INFO(r.output);
  REQUIRE(r.exit_code == expected);
}

run_result ctl(const std::string& token, const std::string& args, int timeout_s = 120) {
  return run(stockctl() + " --url " + the_node().url() + " --token " + shell_quoted(token) + " " + args,
             timeout_s);
}

value json_of(const std::string& text) {
  value v;
  std::string error;
  INFO(text);
  REQUIRE(protocol::parse(text, protocol::encoding::json, {}, &v, &error));
  return v;
}

std::string write_file(const std::string& name, const std::string& text) {
  const auto path = the_node().dir / name;
  std::ofstream(path) << text;
  return path.string();
}

void connect(client::client& c, const std::string& token) {
  const value answer = c.connect(the_node().url(), token).get();
  INFO(client::to_json(answer));
  REQUIRE(client::is_ok(answer));
}

}  // namespace

TEST_CASE("the node starts with the demo tenant and prints its tokens") {
  node& n = the_node();
  CHECK(n.output.find("Demo tenant `demo`") != std::string::npos);
}

TEST_CASE("stockctl one-shot commands") {
  const std::string writer = the_node().writer, reader = the_node().reader;

  auto r = ctl(writer, "get berlin mug");
  check_exit(r, 0);
  check_output(r, "\"sku\": \"mug\"");

  r = ctl(writer, "reserve berlin mug 3 --ttl 30s --ref e2e");
  check_exit(r, 0);
  const value held = json_of(r.output);
  const std::string hold = client::lookup_string(held, "hold").value_or("");
  CHECK_FALSE(hold.empty());
  CHECK(client::lookup(held, "id") == nullptr);  // the id means nothing to a person

  r = ctl(writer, "--raw --json holds berlin mug");
  check_exit(r, 0);
  check_output(r, "\"hold\":\"" + hold + "\"");
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);  // compact: one line

  r = ctl(writer, "release " + hold);
  check_exit(r, 0);
  r = ctl(writer, "sell berlin mug 100000");
  check_exit(r, 1);
  CHECK(client::error_code(json_of(r.output)) == "INSUFFICIENT_STOCK");
  r = ctl(reader, "sell berlin mug 1");
  check_exit(r, 1);
  CHECK(client::error_code(json_of(r.output)) == "FORBIDDEN");
  r = ctl(writer, "get berlin never-stocked");
  check_exit(r, 1);
  CHECK(client::error_code(json_of(r.output)) == "NOT_FOUND");

  // The token from the environment; errors of usage and connection.
  r = run("env STOCKGRID_TOKEN=" + shell_quoted(writer) + " " + stockctl() + " --url " + the_node().url() + " ping");
  check_exit(r, 0);
  r = ctl(writer, "reserve berlin mug");
  check_exit(r, 2);
  check_output(r, "usage: reserve WH SKU QTY");
  r = ctl("not-a-token", "ping");
  check_exit(r, 3);
  check_output(r, "UNAUTHENTICATED");
  r = run(stockctl() + " --url ws://127.0.0.1:1/v1/ws --token x ping");
  check_exit(r, 3);
  r = run("env -u STOCKGRID_TOKEN " + stockctl() + " ping");
  check_exit(r, 2);
  r = run(stockctl() + " help");
  check_exit(r, 0);
  check_output(r, "key revoke KEY_ID");
}

TEST_CASE("stockctl admin commands: tenants and keys") {
  auto r = ctl(system_token, "tenant create e2e-admin");
  require_exit(r, 0);
  const std::string admin = client::lookup_string(json_of(r.output), "token").value_or("");
  REQUIRE_FALSE(admin.empty());
  r = ctl(system_token, "tenant list");
  check_output(r, "\"e2e-admin\"");
  check_output(r, "\"demo\"");

  r = ctl(admin, "key create writer --warehouses store-7 --expires-in 1h");
  require_exit(r, 0);
  const value key = json_of(r.output);
  const std::string key_id = client::lookup_string(key, "key_id").value_or("");
  const std::string pos_token = client::lookup_string(key, "token").value_or("");
  r = ctl(admin, "--raw key list");
  check_output(r, "\"key_id\":\"" + key_id + "\"");
  check_output(r, "\"warehouses\":[\"store-7\"]");

  // The store's key may touch its own warehouse only.
  CHECK(ctl(pos_token, "set store-7 mug 5").exit_code == 0);
  r = ctl(pos_token, "set berlin mug 5");
  CHECK(client::error_code(json_of(r.output)) == "FORBIDDEN");

  CHECK(ctl(admin, "key revoke " + key_id).exit_code == 0);
  r = ctl(pos_token, "get store-7 mug");
  check_exit(r, 3);
  CHECK(ctl(system_token, "get berlin mug").exit_code == 1);  // FORBIDDEN for the operator
}

TEST_CASE("stockctl's interactive prompt reads commands from stdin") {
  const std::string input =
      "get berlin poster\\n"
      "expect record.sku == poster\\n"
      "reserve berlin poster 1 -> \\$h\\n"
      "release \\$h\\n"
      "expect ok\\n"
      "bogus\\n"
      "help\\n"
      "quit\\n"
      "ping\\n";
  auto r = run("printf \"" + input + "\" | " + stockctl() + " --url " + the_node().url() +
               " --token " + shell_quoted(the_node().writer));
  check_exit(r, 0);
  check_output(r, "\"sku\": \"poster\"");
  check_output(r, "expect record.sku == poster  ok");
  check_output(r, "unknown command \"bogus\"");
  check_output(r, "repeat N [concurrently]");  // help
}

TEST_CASE("every example runs against the node") {
  const std::string url = " --url " + the_node().url();
  const std::string writer = " --token " + shell_quoted(the_node().writer);

  auto r = run(example("pos_terminal") + url + writer);
  check_exit(r, 0);
  check_output(r, "replayed true");
  check_output(r, "pos_terminal: all checks passed");

  r = run(example("flash_sale") + url + writer);
  check_exit(r, 0);
  check_output(r, "sold 100, refused 900");

  r = run(example("restock_cycle_count") + url + writer);
  check_exit(r, 0);
  check_output(r, "VERSION_CONFLICT");
  check_output(r, "restock_cycle_count: all checks passed");

  r = run(example("checkout") + url + writer);
  check_exit(r, 0);
  check_output(r, "checkout: all checks passed");

  // The system token from the environment, as the README shows.
  r = run("env STOCKGRID_ADMIN_TOKEN=" + shell_quoted(system_token) + " " + example("multi_tenant") + url);
  check_exit(r, 0);
  check_output(r, "multi_tenant: all checks passed");

  // A reader token cannot run the POS: the example says so and fails.
  r = run(example("pos_terminal") + url + " --token " + shell_quoted(the_node().reader));
  CHECK(r.exit_code != 0);
}

TEST_CASE("every script in examples/scripts passes") {
  int scripts = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() + "/examples/scripts")) {
    if (entry.path().extension() != ".sg") continue;
    ++scripts;
    auto r = ctl(the_node().writer, "run " + entry.path().string());
    INFO(entry.path().string());
    check_exit(r, 0);
    check_output(r, "PASS " + entry.path().string());
    // Twice: scripts make their own SKUs ($run), so they can run again.
    CHECK(ctl(the_node().writer, "--quiet run " + entry.path().string()).exit_code == 0);
  }
  CHECK(scripts >= 2);
}

TEST_CASE("a failing script names its lines and exits non-zero") {
  const std::string failing = write_file("failing.sg",
                                         "set berlin e2e-fail-$run 5\n"
                                         "# a comment\n"
                                         "expect record.on_hand == 6\n"
                                         "sell berlin e2e-fail-$run 10\n"
                                         "get berlin e2e-fail-$run\n"
                                         "commit $nope\n"
                                         "repeat 20 concurrently: sell berlin e2e-fail-$run 1\n"
                                         "expect count ok == 6\n"
                                         "expect count INSUFFICIENT_STOCK == 15\n");
  auto r = ctl(the_node().writer, "run " + failing);
  check_exit(r, 1);
  check_output(r, "FAIL line 3: expect record.on_hand == 6");
  check_output(r, "got 5");
  // An error no expect looked at is a failure too.
  check_output(r, "FAIL line 4: sell berlin e2e-fail-$run 10");
  check_output(r, "undefined variable $nope");
  check_output(r, "repeat: 20 requests");
  check_output(r, "FAIL line 8: expect count ok == 6");
  CHECK(r.output.find("FAIL line 9") == std::string::npos);
  check_output(r, "4 failure(s)");

  const std::string broken = write_file("broken.sg", "ping\nexpect it\nrepeat 0: ping\n");
  r = ctl(the_node().writer, "run " + broken);
  check_exit(r, 2);
  check_output(r, broken + ":2:");
  check_output(r, broken + ":3:");
  check_output(r, "nothing was run");
}

TEST_CASE("stockctl import sends stock counts in bulk and reports bad rows") {
  std::string csv = "warehouse,sku,on_hand\n";
  for (int i = 0; i < 2500; ++i) csv += "warsaw,import-" + std::to_string(i) + "," + std::to_string(i) + "\n";
  const std::string good = write_file("good.csv", csv);
  auto r = ctl(the_node().writer, "import " + good);
  check_exit(r, 0);
  CHECK(r.output.find("2500 rows in 3 bulk request(s): 2500 applied, 0 failed, 0 skipped") !=
        std::string::npos);
  r = ctl(the_node().writer, "--raw get warsaw import-2499");
  check_output(r, "\"on_hand\":2499");

  const std::string bad = write_file("bad.csv",
                                     "sku,warehouse,on_hand\n"
                                     "import-0,warsaw,7\n"
                                     "import-1,warsaw,lots\n"
                                     "import-2,warsaw,2000000000000\n");
  r = ctl(the_node().writer, "import " + bad);
  check_exit(r, 1);
  check_output(r, bad + ":3: skipped: on_hand: not a count");
  check_output(r, bad + ":4: warsaw,import-2,2000000000000: BAD_REQUEST");
  check_output(r, "1 applied, 1 failed, 1 skipped");
  r = ctl(the_node().writer, "--raw get warsaw import-0");
  check_output(r, "\"on_hand\":7");
}

TEST_CASE("client library: pipelined requests are matched and same-record order holds") {
  client::client c;
  connect(c, the_node().writer);
  REQUIRE(client::is_ok(c.set("berlin", "e2e-pipeline", 0).get()));
  constexpr int n = 2000;
  std::vector<std::future<value>> adjusts;
  std::vector<std::future<value>> gets;
  for (int i = 0; i < n; ++i) {
    adjusts.push_back(c.adjust("berlin", "e2e-pipeline", 1));
    gets.push_back(c.get(i % 2 == 0 ? "paris" : "warsaw", i % 3 == 0 ? "mug" : "poster"));
  }
  // Adjusts of one record on one connection are applied in the order sent:
  // the i-th sees version i + 2 (the set made version 1).
  int in_order = 0, matched = 0;
  for (int i = 0; i < n; ++i) {
    const value a = adjusts[static_cast<std::size_t>(i)].get();
    in_order += client::lookup_int(a, "record.on_hand") == i + 1 &&
                client::lookup_int(a, "record.version") == i + 2;
    const value g = gets[static_cast<std::size_t>(i)].get();
    matched += client::lookup_string(g, "record.warehouse") == (i % 2 == 0 ? "paris" : "warsaw") &&
               client::lookup_string(g, "record.sku") == (i % 3 == 0 ? "mug" : "poster");
  }
  CHECK(in_order == n);
  CHECK(matched == n);
}

TEST_CASE("client library: a connection killed mid-flight is retried with the same keys") {
  client::client c;
  connect(c, the_node().writer);
  const std::string sku = "e2e-retry";
  REQUIRE(client::is_ok(c.set("berlin", sku, 1000).get()));

  // 200 reserves in flight, then the connection dies under them.
  constexpr int n = 200;
  std::vector<std::future<value>> answers;
  for (int i = 0; i < n; ++i) answers.push_back(c.reserve("berlin", sku, 1, {.ttl_ms = 600'000, .ref = "", .idem = ""}));
  c.drop_connection();
  int ok = 0, replayed = 0;
  std::set<std::string> holds;
  for (auto& a : answers) {
    const value answer = a.get();
    ok += client::is_ok(answer);
    replayed += client::is_replayed(answer);
    holds.insert(client::lookup_string(answer, "hold").value_or(""));
  }
  const auto stats = c.stats();
  INFO("resent " << stats.resends << ", replayed " << replayed);
  CHECK(ok == n);
  CHECK(holds.size() == n);
  CHECK(stats.connects == 2);
  CHECK(stats.resends > 0);
  // Applied once each: 200 units held, 200 reserve events, 200 distinct keys.
  const value record = c.get("berlin", sku).get();
  CHECK(client::lookup_int(record, "record.reserved") == n);
  const value history = c.history("berlin", sku, 1000).get();
  std::set<std::string> keys;
  int reserves = 0;
  for (const auto& e : *client::lookup(history, "events")->as_array()) {
    if (client::lookup_string(e, "kind") != "reserve") continue;
    ++reserves;
    keys.insert(client::lookup_string(e, "idem").value_or(""));
  }
  CHECK(reserves == n);
  CHECK(keys.size() == n);

  // The same key after a reconnect: the same hold, `replayed`.
  const std::string idem = client::new_idempotency_key();
  const value first = c.reserve("berlin", sku, 2, {.ttl_ms = 600'000, .ref = "", .idem = idem}).get();
  REQUIRE(client::is_ok(first));
  c.drop_connection();
  const value again = c.reserve("berlin", sku, 2, {.ttl_ms = 600'000, .ref = "", .idem = idem}).get();
  CHECK(client::is_replayed(again));
  CHECK(client::lookup_string(again, "hold") == client::lookup_string(first, "hold"));
  CHECK(client::lookup_int(c.get("berlin", sku).get(), "record.reserved") == n + 2);
  CHECK(c.stats().connects == 3);
}

TEST_CASE("client library: a revoked key's connection is closed and its requests fail") {
  client::client admin;
  connect(admin, system_token);
  const value tenant = admin.tenant_create("e2e-revoke").get();
  REQUIRE(client::is_ok(tenant));
  client::client tenant_admin;
  connect(tenant_admin, client::lookup_string(tenant, "token").value_or(""));
  const value key = tenant_admin.key_create(protocol::role::writer).get();
  REQUIRE(client::is_ok(key));

  client::client shop;
  connect(shop, client::lookup_string(key, "token").value_or(""));
  CHECK(client::is_ok(shop.set("berlin", "mug", 3).get()));
  REQUIRE(client::is_ok(tenant_admin.key_revoke(*client::lookup_string(key, "key_id")).get()));
  // The node closes the connection (1008) within a second or two; the client
  // reconnects, the token is refused, and from then on requests fail with
  // UNAUTHENTICATED instead of waiting for a connection that cannot be.
  std::string code;
  for (int i = 0; i < 100 && code != "UNAUTHENTICATED"; ++i) {
    code = client::error_code(shop.get("berlin", "mug").get());
    if (code != "UNAUTHENTICATED") std::this_thread::sleep_for(100ms);
  }
  CHECK(code == "UNAUTHENTICATED");
}

// Reads the lines a child prints until `enough` says so, within `timeout`:
// at the deadline the child is killed, which ends the read (EOF).
std::vector<std::string> read_lines_until(testing::child_process& child,
                                          const std::function<bool(const std::vector<std::string>&)>& enough,
                                          std::vector<std::string> lines, std::chrono::seconds timeout) {
  auto reading = std::async(std::launch::async, [&child, &enough, &lines] {
    while (!enough(lines)) {
      auto line = child.read_line();
      if (!line) return;
      lines.push_back(*line);
    }
  });
  if (reading.wait_for(timeout) != std::future_status::ready) child.kill(SIGKILL);
  reading.get();
  return lines;
}

std::vector<value> stock_events_of(const std::vector<std::string>& lines) {
  std::vector<value> events;
  for (const auto& line : lines) {
    const value v = json_of(line);
    if (client::lookup_string(v, "event") == "stock") events.push_back(v);
  }
  return events;
}

TEST_CASE("stockctl watch --json prints a record's changes in order, then stops at --count") {
  const std::string sku = "e2e-watch-" + std::to_string(::getpid());
  client::client writer;
  connect(writer, the_node().writer);
  REQUIRE(client::is_ok(writer.set("berlin", sku, 10).get()));

  testing::child_process watch({stockctl(), "--url", the_node().url(), "--token", the_node().reader, "--json",
                                "watch", "--warehouse", "berlin", "--sku", sku, "--count", "3", "--seconds", "60"});
  // The snapshot comes first: then the subscription is live.
  auto lines = read_lines_until(
      watch, [](const auto& l) { return !l.empty() && l.back().find("\"snapshot_end\"") != std::string::npos; }, {},
      30s);
  INFO("watch printed:\n" << [&] { std::string all; for (auto& l : lines) all += l + "\n"; return all; }());
  REQUIRE_FALSE(lines.empty());
  REQUIRE(lines.back().find("\"snapshot_end\"") != std::string::npos);
  const value snapshot = json_of(lines.front());
  CHECK(client::lookup_string(snapshot, "event") == "snapshot");
  CHECK(client::lookup_int(snapshot, "records.0.on_hand") == 10);
  CHECK(client::lookup_int(snapshot, "records.0.version") == 1);

  REQUIRE(client::is_ok(writer.adjust("berlin", sku, 5).get()));
  const value held = writer.reserve("berlin", sku, 4).get();
  REQUIRE(client::is_ok(held));
  REQUIRE(client::is_ok(writer.release(*client::lookup_string(held, "hold")).get()));

  lines = read_lines_until(watch, [](const auto& l) { return stock_events_of(l).size() >= 3; }, lines, 30s);
  const auto code = watch.wait_exit(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);  // --count 3 reached
  const auto events = stock_events_of(lines);
  REQUIRE(events.size() == 3);
  const char* kinds[] = {"adjust", "reserve", "release"};
  const std::int64_t available[] = {15, 11, 15};
  const std::int64_t delta[] = {5, -4, 4};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO(client::to_json(events[i]));
    CHECK(client::lookup_string(events[i], "record.sku") == sku);
    CHECK(client::lookup_int(events[i], "record.version") == static_cast<std::int64_t>(i) + 2);
    CHECK(client::lookup_string(events[i], "change.kind") == kinds[i]);
    CHECK(client::lookup_int(events[i], "change.delta") == delta[i]);
    CHECK(client::lookup_int(events[i], "record.available") == available[i]);
    CHECK(client::lookup(events[i], "at_ms") != nullptr);
  }
}

TEST_CASE("client library: a subscription resumes after a dropped connection, every change once, in order") {
  const std::string sku = "e2e-resume-" + std::to_string(::getpid());
  client::client writer;
  connect(writer, the_node().writer);
  REQUIRE(client::is_ok(writer.set("berlin", sku, 1000).get()));

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::int64_t> versions;
  int snapshots_ended = 0, resets = 0, ended = 0;
  client::client_options options;
  options.reconnect.initial = 50ms;
  client::client watcher(options);
  connect(watcher, the_node().reader);
  auto sub = watcher.subscribe({.warehouse = "berlin", .sku = sku, .sku_prefix = "", .alerts = false},
                               [&](const client::subscription_event& e) {
                                 std::lock_guard lock(mutex);
                                 if (e.kind == client::event_kind::stock) versions.push_back(e.record.version);
                                 snapshots_ended += e.kind == client::event_kind::snapshot_end;
                                 resets += e.kind == client::event_kind::reset;
                                 ended += e.kind == client::event_kind::ended;
                                 changed.notify_all();
                               });
  const value answer = sub.answer.get();
  INFO(client::to_json(answer));
  REQUIRE(client::is_ok(answer));
  auto wait_for_versions = [&](std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 20s, [&] { return versions.size() >= n && snapshots_ended > 0; });
  };

  for (int i = 0; i < 5; ++i) REQUIRE(client::is_ok(writer.adjust("berlin", sku, -1).get()));
  REQUIRE(wait_for_versions(5));
  // The connection dies; changes go on while the watcher is away.
  watcher.drop_connection();
  for (int i = 0; i < 10; ++i) REQUIRE(client::is_ok(writer.adjust("berlin", sku, -1).get()));
  REQUIRE(wait_for_versions(15));
  // And once more, with changes racing the reconnect.
  watcher.drop_connection();
  for (int i = 0; i < 10; ++i) REQUIRE(client::is_ok(writer.adjust("berlin", sku, -1).get()));
  REQUIRE(wait_for_versions(25));
  // After unsubscribe a change reaches no callback.
  REQUIRE(client::is_ok(watcher.unsubscribe(sub.handle).get()));
  REQUIRE(client::is_ok(writer.adjust("berlin", sku, -1).get()));

  std::lock_guard lock(mutex);
  std::vector<std::int64_t> expected;
  for (std::int64_t v = 2; v <= 26; ++v) expected.push_back(v);  // the set made version 1
  CHECK(versions == expected);
  CHECK(snapshots_ended == 1);
  CHECK(resets == 0);
  CHECK(ended == 0);
  const auto stats = watcher.stats();
  CHECK(stats.connects == 3);
  CHECK(stats.resubscribes == 2);
}

TEST_CASE("the node stops cleanly on SIGTERM") {
  node& n = the_node();
  n.process->kill(SIGTERM);
  const auto code = n.process->wait_exit(60s);
  INFO(n.stderr_text());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}
