// layers_bench: the CPU cost per request of the node's per-request layers in
// front of the grid, in process, without the network: metered_dispatcher
// (count by tenant/op/code, latency histogram, in-flight gauge, request id)
// and rate_limited_dispatcher (a token bucket per tenant, set too high to
// refuse), in the node's order, around the stub dispatcher, against the stub
// alone.
//
//   layers_bench [--requests 2000000] [--threads 1] [--tenants 100]
//
// Each thread dispatches --requests stock.reserve requests, spread over
// --tenants tenants, each answered at once by the stub. Prints ns/request for
// the stub alone and with the layers, and the difference; a final JSON line.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "gateway/metered_dispatcher.hpp"
#include "gateway/rate_limited_dispatcher.hpp"
#include "gateway/stub_dispatcher.hpp"
#include "metrics/metrics.hpp"

namespace {

using namespace stockgrid;

// Wall nanoseconds per request of one thread, with `threads` threads each
// sending `requests` at once (on an idle machine with a core per thread,
// the CPU per request).
double ns_per_request(gateway::dispatcher& d, std::uint64_t requests, unsigned threads, unsigned tenants) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&d, requests, tenants, t] {
      std::vector<gateway::principal> who(tenants);
      for (unsigned i = 0; i < tenants; ++i)
        who[i] = {"tenant-" + std::to_string(i), "key-" + std::to_string(i), protocol::role::writer, {}, {}};
      protocol::op_request model;
      model.op = "stock.reserve";
      model.grid.key.warehouse = "berlin";
      model.grid.key.sku = "mug";
      std::uint64_t answered = 0;
      for (std::uint64_t n = 0; n < requests; ++n) {
        protocol::op_request req = model;
        req.id = static_cast<std::int64_t>(n);
        d.dispatch(who[(n + t) % tenants], std::move(req), [&answered](protocol::value) { ++answered; });
      }
      if (answered != requests) std::fprintf(stderr, "layers_bench: %llu answers for %llu requests\n",
                                             static_cast<unsigned long long>(answered),
                                             static_cast<unsigned long long>(requests));
    });
  }
  for (auto& w : workers) w.join();
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  return ns / static_cast<double>(requests);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t requests = 2'000'000;
  unsigned threads = 1, tenants = 100;
  CLI::App app{"layers_bench: the per-request cost of metering and rate limiting"};
  app.add_option("--requests", requests, "requests per thread")->capture_default_str()->check(CLI::Range(1ULL, 1'000'000'000ULL));
  app.add_option("--threads", threads, "dispatching threads")->capture_default_str()->check(CLI::Range(1U, 64U));
  app.add_option("--tenants", tenants, "tenants the requests are spread over")->capture_default_str()->check(CLI::Range(1U, 10'000U));
  CLI11_PARSE(app, argc, argv);

  gateway::stub_dispatcher stub;
  gateway::rate_limiter limiter({1'000'000'000, 1'000'000'000});
  gateway::rate_limited_dispatcher limited(stub, limiter);
  metrics::registry registry;
  gateway::metered_dispatcher metered(limited, registry, 10'000);

  ns_per_request(metered, requests / 10 + 1, threads, tenants);  // warm-up: series and buckets exist
  const double bare = ns_per_request(stub, requests, threads, tenants);
  const double layered = ns_per_request(metered, requests, threads, tenants);
  std::printf("stub alone          %8.0f ns/request\n", bare);
  std::printf("metered + limited   %8.0f ns/request\n", layered);
  std::printf("layers' cost        %8.0f ns/request (%u threads, %u tenants)\n", layered - bare, threads, tenants);
  std::printf("{\"bench\":\"layers\",\"threads\":%u,\"tenants\":%u,\"requests\":%llu,\"stub_ns\":%.0f,\"layered_ns\":%.0f,"
              "\"cost_ns\":%.0f}\n",
              threads, tenants, static_cast<unsigned long long>(requests), bare, layered, layered - bare);
  return 0;
}
