// stub_node: the real WebSocket gateway in front of the stub dispatcher, so
// the network layer's cost (TCP, WebSocket framing, JSON/msgpack, auth, role
// checks, back-pressure) can be benchmarked without the grid behind it. Every
// request is answered at once with a canned ok (gateway/stub_dispatcher.hpp);
// tokens are the stub authenticator's built-in ones ("writer-token", ...).
//
//   stub_node [--bind 127.0.0.1] [--port 0] [--io-threads 1] [--metered]
//
// --metered puts the node's own per-request layers in front of the stub, in
// the node's order: metered_dispatcher (counted by tenant/op/code, timed,
// named) and rate_limited_dispatcher (a token bucket per tenant, set too
// high to refuse anything), so their cost is the difference between a run
// with and one without.
//
// Prints `listening on ADDR:PORT` (the real node's line) once it accepts
// connections, then runs until SIGINT or SIGTERM and stops like the node:
// drain, close every connection with 1001, join the threads.
//
// Exit codes: 0 clean stop, 2 cannot listen (as the node); bad usage exits
// with CLI11's code.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "gateway/metered_dispatcher.hpp"
#include "gateway/rate_limited_dispatcher.hpp"
#include "gateway/server.hpp"
#include "gateway/stub_dispatcher.hpp"
#include "metrics/metrics.hpp"

namespace {

using namespace stockgrid;

constexpr int exit_start = 2;

// Blocks SIGINT and SIGTERM in this thread and every thread started after it
// (the gateway's), so only wait_for_signal() sees them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries only the `listening on` line, which
  // scripts parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stub_node"));
  const sigset_t stop_signals = block_stop_signals();

  gateway::gateway_settings gs;
  // One I/O thread by default: on a small machine the load generator needs
  // the other cores, and one thread gives a per-core figure.
  gs.io_threads = 1;
  gs.port = 0;
  CLI::App app{"stub_node: the stockgrid gateway with a stub backend, for benchmarks"};
  app.add_option("--bind", gs.bind, "address the gateway listens on")->capture_default_str();
  app.add_option("--port", gs.port, "gateway port (0 = any free port)")->capture_default_str();
  app.add_option("--io-threads", gs.io_threads, "gateway I/O threads (0 = one per core)")
      ->capture_default_str();
  bool metered = false;
  app.add_flag("--metered", metered, "count, time and rate-limit every request as the node does");
  CLI11_PARSE(app, argc, argv);

  gateway::stub_dispatcher dispatcher;
  gateway::rate_limiter limiter({1'000'000'000, 1'000'000'000});
  gateway::rate_limited_dispatcher limited(dispatcher, limiter);
  metrics::registry registry;
  gateway::metered_dispatcher metered_dispatcher(limited, registry, 10'000);
  gateway::dispatcher& front = metered ? static_cast<gateway::dispatcher&>(metered_dispatcher) : dispatcher;
  gateway::stub_authenticator authn;
  std::atomic<bool> draining{false};
  gateway::server gateway(gs, front, authn, [&] { return !draining.load(); });
  std::string error;
  if (!gateway.start(&error)) {
    std::fprintf(stderr, "stub_node: cannot listen on %s:%u: %s\n", gs.bind.c_str(), gs.port,
                 error.c_str());
    return exit_start;
  }
  spdlog::info("stub_node ready on ws://{}:{}/v1/ws with {} I/O threads", gs.bind, gateway.port(),
               gs.io_threads_resolved());
  std::printf("listening on %s:%u\n", gs.bind.c_str(), gateway.port());
  std::fflush(stdout);

  const int sig = wait_for_signal(stop_signals);
  spdlog::info("signal {}: draining", sig);
  draining = true;
  gateway.begin_drain();
  gateway.stop();
  spdlog::info("stopped cleanly after {} requests", dispatcher.dispatched());
  return 0;
}
