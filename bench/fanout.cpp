// stockgrid-fanout: the cost of live subscriptions. Against a running node
// (like stockgrid-bench), in four phases on one tenant:
//
//   A  fixed-rate reserves and releases, no subscribers
//   B  the same load while `--subscribers` WebSocket connections each
//      subscribe to the whole tenant and read every event
//   C  reserves and releases as fast as answered, with the subscribers
//   D  the same max-rate load after the subscribers closed
//
// It prints, for B and C, the events delivered per second (over all
// subscribers), the delay from each event's `at_ms` (the node's clock) to its
// receipt (same machine, same clock; at_ms has millisecond resolution), the
// events lost (a version gap not marked coalesced), coalesced events and the
// versions they folded, disconnects; and the load's throughput in each
// phase, so the throughput lost to fan-out is C against D (and B against A).
//
//   stockgrid-fanout --url ws://127.0.0.1:7400/v1/ws --token WRITER
//                    [--subscribers 1000] [--threads 2] [--rate 200]
//                    [--duration-s 10] [--records 100] [--batch]
//
// The subscribers are raw Boost.Beast connections on `--threads` io threads
// (one io_context each, connections spread over them), msgpack frames. The
// node must allow that many connections per tenant
// (--connections-per-tenant-max). Exit status: 0 ran, 1 a phase failed (a
// wrong answer, a subscriber that could not subscribe), 2 usage or
// connection error.
#include <utility>  // Boost 1.74's Asio needs it first under C++20

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/load/driver.hpp"
#include "bench/load/histogram.hpp"
#include "bench/setup.hpp"
#include "client/client.hpp"
#include "client/url.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::bench;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

constexpr auto subscribe_timeout = std::chrono::seconds(60);  // all subscribers ready
constexpr auto drain_quiet = std::chrono::milliseconds(500);  // no event for this long: drained
constexpr auto drain_max = std::chrono::seconds(15);
constexpr auto collect_timeout = std::chrono::seconds(10);

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What the subscribers of one io thread counted; touched only on that thread.
struct fanout_counts {
  histogram delay;              // ns, at_ms to receipt
  std::uint64_t stock = 0;      // stock events
  std::uint64_t alerts = 0;
  std::uint64_t coalesced = 0;  // stock events marked coalesced
  std::uint64_t folded = 0;     // versions a coalesced event skipped
  std::uint64_t lost = 0;       // versions skipped without coalesced
  std::uint64_t resets = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t bad = 0;        // frames that did not parse or did not fit the contract

  void merge(const fanout_counts& o) {
    delay.merge(o.delay);
    stock += o.stock;
    alerts += o.alerts;
    coalesced += o.coalesced;
    folded += o.folded;
    lost += o.lost;
    resets += o.resets;
    disconnects += o.disconnects;
    bad += o.bad;
  }
};

struct io_thread {
  net::io_context io{1};
  fanout_counts counts;
};

// What every subscriber shares.
struct shared_state {
  tcp::endpoint endpoint;
  std::string host_header, target, token;
  bool batch = false;
  std::atomic<int> ready{0};    // subscribed and snapshot complete
  std::atomic<int> failed{0};   // could not connect or subscribe
  std::atomic<std::uint64_t> frames{0};  // every event frame, for the drain
  std::atomic<bool> closing{false};
};

// One subscriber: a WebSocket connection with one subscription to the whole
// tenant; reads every frame and checks each record's versions follow on.
class subscriber : public std::enable_shared_from_this<subscriber> {
 public:
  subscriber(io_thread& t, shared_state& s) : t_(t), s_(s), ws_(t.io) {}

  void start() {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(s_.endpoint, [self = shared_from_this()](beast::error_code ec) {
      self->on_connect(ec);
    });
  }

  void close() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (!self->open_) return;
      self->ws_.async_close(websocket::close_code::normal, [self](beast::error_code) {});
    });
  }

 private:
  void on_connect(beast::error_code ec) {
    if (ec) return fail_setup();
    beast::get_lowest_layer(ws_).expires_never();
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& r) {
      r.set(http::field::authorization, "Bearer " + s_.token);
      if (s_.batch) r.set(http::field::sec_websocket_protocol, "stockgrid.batch");
    }));
    ws_.read_message_max(64u << 20);
    ws_.async_handshake(s_.host_header, s_.target, [self = shared_from_this()](beast::error_code ec) {
      self->on_upgrade(ec);
    });
  }

  void on_upgrade(beast::error_code ec) {
    if (ec) return fail_setup();
    open_ = true;
    ws_.binary(true);
    request_ = protocol::serialize(protocol::value(protocol::object{{"op", "subscribe"}, {"id", 1}}),
                                   protocol::encoding::msgpack);
    ws_.async_write(net::buffer(request_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) self->fail_setup();
    });
    read();
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      open_ = false;
      if (!ready_) return fail_setup();
      if (!s_.closing.load()) ++t_.counts.disconnects;
      return;
    }
    const std::int64_t received_us = now_us();
    protocol::value frame;
    std::string error;
    const auto bytes = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    protocol::parse_limits limits;
    limits.array_items_max = 100'000;
    limits.depth_max = 16;
    if (!protocol::parse(bytes, ws_.got_text() ? protocol::encoding::json : protocol::encoding::msgpack, limits,
                         &frame, &error)) {
      ++t_.counts.bad;
    } else if (const protocol::array* items = frame.as_array()) {
      for (const auto& item : *items) on_message(item, received_us);
    } else {
      on_message(frame, received_us);
    }
    read();
  }

  void on_message(const protocol::value& m, std::int64_t received_us) {
    if (!client::is_event_frame(m)) {
      // The subscribe answer.
      if (!client::is_ok(m)) {
        std::fprintf(stderr, "stockgrid-fanout: subscribe: %s\n", client::to_json(m).c_str());
        fail_setup();
      }
      return;
    }
    ++s_.frames;
    client::subscription_event e;
    std::string error;
    if (!client::decode_event(m, &e, &error)) {
      ++t_.counts.bad;
      return;
    }
    switch (e.kind) {
      case client::event_kind::snapshot:
        for (const auto& r : e.records) versions_[r.warehouse + '/' + r.sku] = r.version;
        return;
      case client::event_kind::snapshot_end:
        if (!ready_) ++s_.ready;
        ready_ = true;
        return;
      case client::event_kind::reset:
        ++t_.counts.resets;
        versions_.clear();
        return;
      case client::event_kind::alert:
        ++t_.counts.alerts;
        record_delay(e.at_ms, received_us);
        return;
      case client::event_kind::stock:
        break;
      case client::event_kind::ended:
        return;
    }
    ++t_.counts.stock;
    record_delay(e.at_ms, received_us);
    auto [it, fresh] = versions_.try_emplace(e.record.warehouse + '/' + e.record.sku, e.record.version);
    if (fresh) return;  // a record the snapshot did not have
    const std::int64_t skipped = e.record.version - it->second - 1;
    if (skipped > 0) (e.coalesced ? t_.counts.folded : t_.counts.lost) += static_cast<std::uint64_t>(skipped);
    t_.counts.coalesced += e.coalesced;
    it->second = std::max(it->second, e.record.version);
  }

  void record_delay(std::int64_t at_ms, std::int64_t received_us) {
    const std::int64_t us = received_us - at_ms * 1000;
    t_.counts.delay.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, us)) * 1000);
  }

  void fail_setup() {
    if (failed_ || ready_) return;
    failed_ = true;
    ++s_.failed;
  }

  io_thread& t_;
  shared_state& s_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::string request_;
  std::unordered_map<std::string, std::int64_t> versions_;  // by "warehouse/sku"
  bool open_ = false;
  bool ready_ = false;
  bool failed_ = false;
};

// The counts of every io thread since the last call, read on each thread.
fanout_counts collect(std::vector<std::unique_ptr<io_thread>>& threads) {
  fanout_counts total;
  for (auto& t : threads) {
    std::promise<fanout_counts> taken;
    auto future = taken.get_future();
    net::post(t->io, [&t, &taken] { taken.set_value(std::exchange(t->counts, fanout_counts{})); });
    if (future.wait_for(collect_timeout) == std::future_status::ready) total.merge(future.get());
  }
  return total;
}

// Waits until no event frame arrived for drain_quiet (at most drain_max).
void drain(shared_state& s) {
  const auto deadline = std::chrono::steady_clock::now() + drain_max;
  std::uint64_t seen = s.frames.load();
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(drain_quiet);
    const std::uint64_t now = s.frames.load();
    if (now == seen) return;
    seen = now;
  }
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

struct phase_result {
  std::string name;
  run_result load;
  bool with_subscribers = false;
  fanout_counts counts;
  double changes_per_s() const {
    return load.seconds > 0 ? static_cast<double>(load.reserves_ok + load.releases_ok) / load.seconds : 0;
  }
};

void print_phase(const phase_result& p, int subscribers) {
  const double s = p.load.seconds > 0 ? p.load.seconds : 1e-9;
  std::printf("%s: %" PRIu64 " requests ok (%" PRIu64 " reserves, %" PRIu64 " releases), %" PRIu64
              " errors, %" PRIu64 " wrong in %.2f s: %.0f ok/s, latency p50 %.3f p99 %.3f ms\n",
              p.name.c_str(), p.load.answered_ok, p.load.reserves_ok, p.load.releases_ok, p.load.answered_error,
              p.load.wrong, p.load.seconds, static_cast<double>(p.load.answered_ok) / s,
              ms(p.load.latency.percentile(0.5)), ms(p.load.latency.percentile(0.99)));
  if (!p.with_subscribers) return;
  const auto& c = p.counts;
  const std::uint64_t expected = (p.load.reserves_ok + p.load.releases_ok) * static_cast<std::uint64_t>(subscribers);
  std::printf("  events: %" PRIu64 " stock + %" PRIu64 " alerts delivered (%.0f/s over the load's %.2f s; %" PRIu64
              " expected without coalescing), delay p50 %.1f p99 %.1f max %.1f ms\n",
              c.stock, c.alerts, static_cast<double>(c.stock + c.alerts) / s, p.load.seconds, expected,
              ms(c.delay.percentile(0.5)), ms(c.delay.percentile(0.99)), ms(c.delay.max()));
  std::printf("  lost %" PRIu64 ", coalesced events %" PRIu64 " (folding %" PRIu64 " versions), resets %" PRIu64
              ", disconnects %" PRIu64 ", bad frames %" PRIu64 "\n",
              c.lost, c.coalesced, c.folded, c.resets, c.disconnects, c.bad);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stockgrid-fanout: subscription fan-out benchmark (docs/benchmarks.md)"};
  std::string url = "ws://127.0.0.1:7400/v1/ws";
  int subscribers = 1000;
  int threads = 2;
  int records = 100;
  bool batch = false;
  driver_options o;
  o.warehouse = "fanout";
  o.connections = 16;
  o.rate = 200;
  o.seconds = 10;
  o.work = workload::reserve;
  o.release_holds = true;
  app.add_option("--url", url, "ws:// URL of the node")->capture_default_str();
  app.add_option("--token", o.token, "writer token (or set STOCKGRID_TOKEN)")->envname("STOCKGRID_TOKEN");
  app.add_option("--subscribers", subscribers, "subscriber connections")->capture_default_str()->check(CLI::Range(1, 10'000));
  app.add_option("--threads", threads, "io threads of the subscribers")->capture_default_str()->check(CLI::Range(1, 8));
  app.add_option("--rate", o.rate, "fixed-rate phases: requests/s (reserves + releases)")->capture_default_str()->check(CLI::Range(1.0, 1e6));
  app.add_option("--duration-s", o.seconds, "length of each phase")->capture_default_str()->check(CLI::Range(1.0, 3600.0));
  app.add_option("-c,--connections", o.connections, "load connections")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--records", records, "records the load spreads over")->capture_default_str()->check(CLI::Range(1, 100'000));
  app.add_option("--warehouse", o.warehouse, "warehouse of the records")->capture_default_str();
  app.add_flag("--batch", batch, "subscribers negotiate stockgrid.batch (events may come in arrays)");
  CLI11_PARSE(app, argc, argv);

  std::string error;
  auto parsed = client::parse_ws_url(url, &error);
  if (!parsed || parsed->tls) {
    std::fprintf(stderr, "stockgrid-fanout: %s\n", parsed ? "wss:// is not supported" : error.c_str());
    return 2;
  }
  if (o.token.empty()) {
    std::fprintf(stderr, "stockgrid-fanout: --token (or STOCKGRID_TOKEN) is required\n");
    return 2;
  }
  o.host = parsed->host;
  o.port = parsed->port;
  o.target = parsed->target;
  o.drain_seconds = 10;
  for (int i = 0; i < records; ++i) o.skus.push_back(sku_name(static_cast<std::size_t>(i)));

  {
    client::client admin;
    const client::value auth = admin.connect(url, o.token).get();
    if (!client::is_ok(auth)) {
      std::fprintf(stderr, "stockgrid-fanout: cannot connect: %s\n", client::to_json(auth).c_str());
      return 2;
    }
    o.ttl_ms = std::min<std::int64_t>(client::lookup_int(auth, "limits.ttl_ms_max").value_or(86'400'000), 3'600'000);
    if (!stock_records(admin, o, &error)) {
      std::fprintf(stderr, "stockgrid-fanout: stocking the records failed: %s\n", error.c_str());
      return 2;
    }
  }
  std::printf("stockgrid-fanout: %d subscribers on %d threads%s, %zu records, load %d connections, phases of %.0f s,"
              " fixed rate %.0f requests/s\n",
              subscribers, threads, batch ? " (batch frames)" : "", o.skus.size(), o.connections, o.seconds, o.rate);
  std::fflush(stdout);

  std::vector<phase_result> phases;
  bool passed = true;
  auto run_phase = [&](std::string name, double rate, bool with_subscribers) {
    driver_options run = o;
    run.rate = rate;
    phase_result p;
    p.name = std::move(name);
    p.with_subscribers = with_subscribers;
    p.load = run_load(run);
    passed = passed && p.load.connected && p.load.wrong == 0 && p.load.missing == 0;
    phases.push_back(std::move(p));
  };

  run_phase("A fixed rate, no subscribers", o.rate, false);

  // The subscribers.
  shared_state shared;
  {
    net::io_context resolve_io;
    tcp::resolver resolver(resolve_io);
    beast::error_code ec;
    auto endpoints = resolver.resolve(o.host, o.port, ec);
    if (ec || endpoints.empty()) {
      std::fprintf(stderr, "stockgrid-fanout: cannot resolve %s\n", o.host.c_str());
      return 2;
    }
    shared.endpoint = *endpoints.begin();
  }
  shared.host_header = o.host + ":" + o.port;
  shared.target = o.target;
  shared.token = o.token;
  shared.batch = batch;
  std::vector<std::unique_ptr<io_thread>> io_threads;
  for (int i = 0; i < threads; ++i) io_threads.push_back(std::make_unique<io_thread>());
  std::vector<std::shared_ptr<subscriber>> subs;
  for (int i = 0; i < subscribers; ++i) {
    subs.push_back(std::make_shared<subscriber>(*io_threads[static_cast<std::size_t>(i % threads)], shared));
    subs.back()->start();
  }
  std::vector<std::thread> workers;
  for (auto& t : io_threads) workers.emplace_back([&t] { t->io.run(); });
  const auto subscribe_deadline = std::chrono::steady_clock::now() + subscribe_timeout;
  const auto subscribe_started = std::chrono::steady_clock::now();
  while (shared.ready.load() + shared.failed.load() < subscribers &&
         std::chrono::steady_clock::now() < subscribe_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double subscribe_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - subscribe_started).count();
  std::printf("subscribers: %d ready, %d failed in %.2f s\n", shared.ready.load(), shared.failed.load(), subscribe_s);
  std::fflush(stdout);
  passed = passed && shared.ready.load() == subscribers;

  if (shared.ready.load() > 0) {
    collect(io_threads);  // the snapshot's counts are not the phases'
    run_phase("B fixed rate, with subscribers", o.rate, true);
    drain(shared);
    phases.back().counts = collect(io_threads);
    run_phase("C max rate, with subscribers", 0, true);
    drain(shared);
    phases.back().counts = collect(io_threads);
  }
  shared.closing = true;
  for (auto& s : subs) s->close();
  // The io threads end when every connection is closed (bounded: a close
  // handshake times out); then the counts are final.
  for (auto& t : io_threads) {
    net::post(t->io, [] {});
  }
  const auto close_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& t : io_threads) {
    while (!t->io.stopped() && std::chrono::steady_clock::now() < close_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    t->io.stop();
  }
  for (auto& w : workers) w.join();
  subs.clear();

  run_phase("D max rate, no subscribers", 0, false);

  for (const auto& p : phases) print_phase(p, shared.ready.load());
  auto rate_of = [&](char phase) {
    for (const auto& p : phases) {
      if (p.name[0] == phase) return static_cast<double>(p.load.answered_ok) / std::max(p.load.seconds, 1e-9);
    }
    return 0.0;
  };
  if (rate_of('C') > 0 && rate_of('D') > 0) {
    std::printf("max-rate throughput with %d subscribers: %.0f ok/s vs %.0f without: %.1f%% lost to fan-out\n",
                shared.ready.load(), rate_of('C'), rate_of('D'), 100.0 * (1.0 - rate_of('C') / rate_of('D')));
  }
  std::printf("result: %s\n", passed ? "passed" : "FAILED");
  return passed ? 0 : 1;
}
