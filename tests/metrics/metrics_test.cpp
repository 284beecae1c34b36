#include <catch2/catch.hpp>

#include <thread>

#include "metrics/metrics.hpp"

using namespace stockgrid::metrics;

TEST_CASE("the registry writes counters, gauges and labelled series in the text format") {
  registry r;
  auto& requests = r.add_counter_family("app_requests_total", "Requests by op.", {"op", "code"}, 10);
  auto& up = r.add_gauge("app_up", "Whether it is up.");
  r.add_gauge_fn("app_queue", "Queued entries.", [] { return 7.0; });
  requests.with({"stock.get", "ok"}).add(3);
  requests.with({"stock.reserve", "INSUFFICIENT_STOCK"}).add();
  up.set(1);
  CHECK(r.expose() ==
        "# HELP app_requests_total Requests by op.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{op=\"stock.get\",code=\"ok\"} 3\n"
        "app_requests_total{op=\"stock.reserve\",code=\"INSUFFICIENT_STOCK\"} 1\n"
        "# HELP app_up Whether it is up.\n"
        "# TYPE app_up gauge\n"
        "app_up 1\n"
        "# HELP app_queue Queued entries.\n"
        "# TYPE app_queue gauge\n"
        "app_queue 7\n");
}

TEST_CASE("label values and help text are escaped") {
  registry r;
  auto& f = r.add_counter_family("x_total", "Line one\nback\\slash.", {"tenant"}, 10);
  f.with({"a\"b\\c\nd"}).add();
  CHECK(r.expose() ==
        "# HELP x_total Line one\\nback\\\\slash.\n"
        "# TYPE x_total counter\n"
        "x_total{tenant=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("histograms write cumulative buckets, +Inf, sum and count") {
  registry r;
  auto& h = r.add_histogram("lat_seconds", "Latency.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le = less or equal)
  h.observe(0.5);
  h.observe(3);
  CHECK(r.expose() ==
        "# HELP lat_seconds Latency.\n"
        "# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{le=\"0.10000000000000001\"} 2\n"
        "lat_seconds_bucket{le=\"1\"} 3\n"
        "lat_seconds_bucket{le=\"+Inf\"} 4\n"
        "lat_seconds_sum 3.6499999999999999\n"
        "lat_seconds_count 4\n");
  auto& labelled = r.add_histogram_family("op_seconds", "By op.", {"op"}, {1}, 10);
  labelled.with({"ping"}).observe(2);
  CHECK(r.expose().find("op_seconds_bucket{op=\"ping\",le=\"1\"} 0\n"
                        "op_seconds_bucket{op=\"ping\",le=\"+Inf\"} 1\n"
                        "op_seconds_sum{op=\"ping\"} 2\n"
                        "op_seconds_count{op=\"ping\"} 1\n") != std::string::npos);
}

TEST_CASE("a family keeps at most series_max series; later label sets share one `_other` series") {
  registry r;
  auto& f = r.add_counter_family("t_total", "By tenant.", {"tenant"}, 3);
  f.with({"a"}).add();
  f.with({"b"}).add();
  f.with({"c"}).add();  // the third: the last slot is for _other
  f.with({"d"}).add(2);
  f.with({"a"}).add();  // known ones keep their series
  CHECK(r.expose() ==
        "# HELP t_total By tenant.\n"
        "# TYPE t_total counter\n"
        "t_total{tenant=\"_other\"} 3\n"
        "t_total{tenant=\"a\"} 2\n"
        "t_total{tenant=\"b\"} 1\n");
}

TEST_CASE("labelled values read at scrape time are cut at series_max") {
  registry r;
  r.add_counter_family_fn("rl_total", "Rejections.", {"tenant"}, 2, [] {
    return registry::labelled_values{{{"a"}, 1}, {{"b"}, 2}, {{"c"}, 3}};
  });
  CHECK(r.expose() ==
        "# HELP rl_total Rejections.\n"
        "# TYPE rl_total counter\n"
        "rl_total{tenant=\"a\"} 1\n"
        "rl_total{tenant=\"b\"} 2\n");
}

TEST_CASE("counters and histograms updated from several threads lose nothing") {
  registry r;
  auto& c = r.add_counter("c_total", "C.");
  auto& h = r.add_histogram("h", "H.", power_of_two_buckets(8));
  CHECK(power_of_two_buckets(8) == std::vector<double>{1, 2, 4, 8});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.add();
        h.observe(i % 10);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(c.value() == 40000);
  const auto s = h.read();
  CHECK(s.count == 40000);
  CHECK(s.cumulative.back() == 40000);
  CHECK(s.sum == 4 * 1000 * 45);
}
