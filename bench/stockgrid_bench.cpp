// stockgrid-bench: the load generator. Drives a node (or the gateway alone,
// bench/stub_node) over real WebSocket connections, checks every answer, and
// prints throughput, latency percentiles, errors by code and one final JSON
// line. See docs/benchmarks.md.
//
//   stockgrid-bench --url ws://127.0.0.1:7400/v1/ws --token TOKEN
//                   [-c 64] [-P 1] [--duration-s 10 | -n REQUESTS]
//                   [--records 100000] [--hot] [--op reserve|get|mix|order]
//                   [--rate OPS] [--encoding msgpack|json] [--threads 1]
//
// --op order: each cycle of a request slot is an order.reserve (all_or_nothing,
// 5 lines on distinct random records of the bench's warehouse, 1 unit each)
// and, when granted, the order.release of that order. Its throughput counts
// orders (each 5 holds); latency is reported per order.reserve and per
// order.release.
//
// Before the run it stocks the records (stock.bulk set on_hand, unless
// --skip-setup) and sums their `reserved` and `on_hand` (stock.get); after it, sums them again: `reserved` must have moved by
// exactly the successful reserves minus the commits and releases (for orders:
// 5 units per granted order minus 5 per released one), `on_hand` by minus the
// commits. Exit status: 0 passed, 1 a wrong or missing answer or
// a totals mismatch, 2 usage or connection error.
#include <cinttypes>
#include <deque>
#include <thread>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/load/driver.hpp"
#include "bench/setup.hpp"
#include "client/client.hpp"
#include "client/url.hpp"

using namespace stockgrid;
using namespace stockgrid::bench;

namespace {

struct totals {
  bool ok = false;
  std::string error;
  std::int64_t reserved = 0;
  std::int64_t on_hand = 0;
  std::size_t records = 0;
};

// Sums reserved and on_hand over the bench's records, read with stock.get
// (from the records' actors: the current state), a window of gets in flight.
totals read_totals(client::client& c, const driver_options& o) {
  constexpr std::size_t window = 2048;
  totals t;
  std::deque<std::future<client::value>> pending;
  std::size_t next = 0;
  while (next < o.skus.size() || !pending.empty()) {
    while (next < o.skus.size() && pending.size() < window) pending.push_back(c.get(o.warehouse, o.skus[next++]));
    client::value v = pending.front().get();
    pending.pop_front();
    if (!client::is_ok(v)) {
      if (t.error.empty()) t.error = "get: " + client::error_code(v) + " " + client::error_message(v);
      continue;
    }
    t.reserved += client::lookup_int(v, "record.reserved").value_or(0);
    t.on_hand += client::lookup_int(v, "record.on_hand").value_or(0);
    ++t.records;
  }
  t.ok = t.error.empty();
  return t;
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

void print_latency(const char* label, const histogram& h) {
  std::printf("%s: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", label, ms(h.percentile(0.5)),
              ms(h.percentile(0.99)), ms(h.percentile(0.999)), ms(h.max()));
}

std::string json_errors(const run_result& r) {
  std::string out = "{";
  for (const auto& [code, n] : r.errors) {
    if (out.size() > 1) out += ',';
    out += "\"" + code + "\":" + std::to_string(n);
  }
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stockgrid-bench: load generator for stockgrid nodes (docs/benchmarks.md)"};
  std::string url = "ws://127.0.0.1:7400/v1/ws";
  std::string op_text = "reserve";
  std::string encoding = "msgpack";
  std::string validate_text = "full";
  int records = 100'000;
  bool skip_setup = false;
  bool no_totals = false;
  driver_options o;
  o.warehouse = "bench";
  app.add_option("--url", url, "ws:// URL of the node")->capture_default_str();
  app.add_option("--token", o.token, "writer token (or set STOCKGRID_TOKEN)")->envname("STOCKGRID_TOKEN");
  app.add_option("-c,--connections", o.connections, "connections")->capture_default_str()->check(CLI::Range(1, 10'000));
  app.add_option("-P,--pipeline", o.pipeline, "requests in flight per connection")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--duration-s", o.seconds, "run time in seconds")->capture_default_str()->check(CLI::Range(0.1, 86'400.0));
  app.add_option("-n,--requests", o.requests_max, "stop after this many requests instead")->check(CLI::Range(1ULL, 1'000'000'000'000ULL));
  app.add_option("--records", records, "records to spread the load over")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  app.add_flag("--hot", o.hot, "every connection on one record");
  app.add_option("--op", op_text,
                 "reserve, get, mix (reserve; commit or release; get) or order (order.reserve of 5 lines; "
                 "order.release)")
      ->capture_default_str()->check(CLI::IsMember({"reserve", "get", "mix", "order"}));
  app.add_option("--rate", o.rate, "offered requests/s in total (0 = as fast as answered)")->check(CLI::Range(0.0, 1e9));
  app.add_option("--encoding", encoding, "msgpack or json")->capture_default_str()->check(CLI::IsMember({"msgpack", "json"}));
  app.add_option("--threads", o.threads, "io threads of the bench")->capture_default_str()->check(CLI::Range(1, 2));
  app.add_option("--warehouse", o.warehouse, "warehouse of the bench's records")->capture_default_str();
  app.add_option("--drain-s", o.drain_seconds, "after the run, wait this long for answers")->capture_default_str()->check(CLI::Range(0.1, 600.0));
  app.add_flag("--idem", o.idem, "send an idempotency key with each mutation");
  app.add_flag("--batch", o.batch, "batch frames (subprotocol stockgrid.batch): many requests and answers per frame");
  app.add_flag("--skip-setup", skip_setup, "the records exist: do not stock them");
  app.add_flag("--no-totals-check", no_totals, "skip the reserved/on_hand check (the stub node keeps no stock)");
  app.add_option("--validate", validate_text, "full, or shape for the stub node's canned records")
      ->capture_default_str()->check(CLI::IsMember({"full", "shape"}));
  CLI11_PARSE(app, argc, argv);

  std::string error;
  auto parsed = client::parse_ws_url(url, &error);
  if (!parsed || parsed->tls) {
    std::fprintf(stderr, "stockgrid-bench: %s\n", parsed ? "wss:// is not supported by the bench" : error.c_str());
    return 2;
  }
  if (o.token.empty()) {
    std::fprintf(stderr, "stockgrid-bench: --token (or STOCKGRID_TOKEN) is required\n");
    return 2;
  }
  o.host = parsed->host;
  o.port = parsed->port;
  o.target = parsed->target;
  o.json = encoding == "json";
  o.work = op_text == "get"     ? workload::get
           : op_text == "mix"   ? workload::mix
           : op_text == "order" ? workload::order
                                : workload::reserve;
  if (o.work == workload::order && (o.hot || records < order_lines)) {
    std::fprintf(stderr, "stockgrid-bench: --op order needs --records %d or more and no --hot: an order's lines "
                 "are on distinct records\n", order_lines);
    return 2;
  }
  o.level = validate_text == "shape" ? validation::shape : validation::full;
  for (int i = 0; i < (o.hot ? 1 : records); ++i) o.skus.push_back(sku_name(static_cast<std::size_t>(i)));

  // Set-up and the totals go through the client library: not timed.
  client::client admin;
  client::value auth = admin.connect(url, o.token).get();
  if (!client::is_ok(auth)) {
    std::fprintf(stderr, "stockgrid-bench: cannot connect to %s: %s %s\n", url.c_str(),
                 client::error_code(auth).c_str(), client::error_message(auth).c_str());
    return 2;
  }
  // Holds must outlive the run: a hold expiring mid-run would move the totals.
  const std::int64_t ttl_max = client::lookup_int(auth, "limits.ttl_ms_max").value_or(86'400'000);
  o.ttl_ms = std::min<std::int64_t>(ttl_max, static_cast<std::int64_t>((o.seconds + o.drain_seconds) * 1000) + 600'000);
  if (!skip_setup && !stock_records(admin, o, &error)) {
    std::fprintf(stderr, "stockgrid-bench: stocking the records failed: %s\n", error.c_str());
    return 2;
  }
  totals before;
  if (!no_totals) {
    before = read_totals(admin, o);
    if (!before.ok) {
      std::fprintf(stderr, "stockgrid-bench: reading the totals failed: %s\n", before.error.c_str());
      return 2;
    }
  }

  std::printf("stockgrid-bench: %s%s, %d connections x %d in flight, %zu records, %s%s, %s\n",
              op_text.c_str(), o.hot ? " (hot record)" : "", o.connections, o.pipeline, o.skus.size(),
              encoding.c_str(), o.batch ? " batch frames" : "",
              o.requests_max ? (std::to_string(o.requests_max) + " requests").c_str()
                             : (std::to_string(o.seconds) + " s").c_str());
  std::fflush(stdout);
  run_result r = run_load(o);
  if (!r.connected) {
    std::fprintf(stderr, "stockgrid-bench: %s\n", r.connect_error.c_str());
    return 2;
  }

  // The totals: what the server's records say moved, against what the bench
  // was told. TIMEOUT answers (outcome unknown) widen the allowed range.
  bool totals_ok = true;
  std::string totals_line = "not checked";
  if (!no_totals) {
    const totals after = read_totals(admin, o);
    // Every granted order holds order_lines units, one per line.
    const auto units = [](std::uint64_t orders) { return static_cast<std::int64_t>(orders) * order_lines; };
    const std::int64_t want_reserved = static_cast<std::int64_t>(r.reserves_ok) -
                                       static_cast<std::int64_t>(r.commits_ok + r.releases_ok) +
                                       units(r.orders_ok) - units(r.order_releases_ok);
    const std::int64_t slack_up = static_cast<std::int64_t>(r.reserves_unknown) + units(r.orders_unknown);
    const std::int64_t slack_down =
        static_cast<std::int64_t>(r.commits_unknown + r.releases_unknown) + units(r.order_releases_unknown);
    const std::int64_t moved = after.reserved - before.reserved;
    const std::int64_t sold = before.on_hand - after.on_hand;
    totals_ok = after.ok && moved >= want_reserved - slack_down && moved <= want_reserved + slack_up &&
                sold >= static_cast<std::int64_t>(r.commits_ok) &&
                sold <= static_cast<std::int64_t>(r.commits_ok + r.commits_unknown);
    totals_line = after.ok ? "reserved moved " + std::to_string(moved) + " (expected " + std::to_string(want_reserved) +
                                 "), on_hand moved " + std::to_string(-sold) + " (expected " +
                                 std::to_string(-static_cast<std::int64_t>(r.commits_ok)) + ")"
                           : "reading them failed: " + after.error;
  }
  admin.close();

  const std::uint64_t answered = r.answered_ok + r.answered_error;
  const double seconds = r.seconds > 0 ? r.seconds : 1e-9;
  const bool orders = o.work == workload::order;
  // --op order counts granted orders (each order_lines holds), and times each
  // order.reserve; the other ops count every ok answer and time them all.
  const double ok_per_s = static_cast<double>(orders ? r.orders_ok : r.answered_ok) / seconds;
  const histogram& timed = orders ? r.latency_by_op[static_cast<std::size_t>(bench_op::order_reserve)] : r.latency;
  const histogram& released = r.latency_by_op[static_cast<std::size_t>(bench_op::order_release)];
  const bool passed = r.wrong == 0 && r.missing == 0 && totals_ok;
  std::printf("requests %" PRIu64 "  answered %" PRIu64 " (ok %" PRIu64 ", errors %" PRIu64 ")  wrong %" PRIu64
              "  missing %" PRIu64 "  in %.2f s\n",
              r.requests, answered, r.answered_ok, r.answered_error, r.wrong, r.missing, r.seconds);
  if (orders) {
    std::printf("orders granted %" PRIu64 ", released %" PRIu64 "\n", r.orders_ok, r.order_releases_ok);
    std::printf("throughput %.0f orders/s (each = %d holds: %.0f holds/s; %.0f answers/s)\n", ok_per_s,
                order_lines, ok_per_s * order_lines, static_cast<double>(answered) / seconds);
    print_latency("latency ms (order.reserve)", timed);
    print_latency("latency ms (order.release)", released);
  } else {
    std::printf("throughput %.0f ok/s (%.0f answers/s)\n", ok_per_s, static_cast<double>(answered) / seconds);
    print_latency("latency ms", timed);
  }
  for (const auto& [code, n] : r.errors) std::printf("error %s: %" PRIu64 "\n", code.c_str(), n);
  for (const auto& w : r.wrong_examples) std::printf("wrong: %s\n", w.c_str());
  std::printf("totals: %s%s\n", totals_line.c_str(), no_totals ? "" : totals_ok ? ": ok" : ": MISMATCH");
  std::printf("result: %s\n", passed ? "passed" : "FAILED");
  char order_fields[256] = "";
  if (orders) {
    std::snprintf(order_fields, sizeof order_fields,
                  "\"order_lines\":%d,\"orders_ok\":%" PRIu64 ",\"order_releases_ok\":%" PRIu64
                  ",\"holds_per_s\":%.1f,\"release_p50_us\":%.1f,\"release_p99_us\":%.1f,",
                  order_lines, r.orders_ok, r.order_releases_ok, ok_per_s * order_lines,
                  released.percentile(0.5) / 1e3, released.percentile(0.99) / 1e3);
  }
  std::printf(
      "{\"bench\":\"stockgrid\",\"op\":\"%s\",\"hot\":%s,\"encoding\":\"%s\",\"batch\":%s,\"connections\":%d,\"pipeline\":%d,"
      "\"rate\":%.0f,\"seconds\":%.3f,\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"ops_per_s\":%.1f,%s"
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%s,\"wrong\":%" PRIu64
      ",\"missing\":%" PRIu64 ",\"totals_checked\":%s,\"totals_ok\":%s,\"passed\":%s}\n",
      op_text.c_str(), o.hot ? "true" : "false", encoding.c_str(), o.batch ? "true" : "false", o.connections, o.pipeline, o.rate, r.seconds,
      r.requests, r.answered_ok, ok_per_s, order_fields, timed.percentile(0.5) / 1e3, timed.percentile(0.99) / 1e3,
      timed.percentile(0.999) / 1e3, timed.max() / 1e3, json_errors(r).c_str(), r.wrong, r.missing,
      no_totals ? "false" : "true", totals_ok ? "true" : "false", passed ? "true" : "false");
  return passed ? 0 : 1;
}
