#include "bench/load/driver.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange under C++20

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <queue>
#include <random>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "bench/load/request_writer.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::bench {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t wrong_examples_max = 5;
constexpr const char* batch_subprotocol = "stockgrid.batch";
constexpr std::size_t requests_per_frame_max = 256;
constexpr std::size_t frame_bytes_max = 64 * 1024;  // the protocol's frame limit

// What every thread shares: the options, the clock and the request budget.
struct shared_run {
  const driver_options& options;
  clock_type::time_point start;
  clock_type::time_point deadline;  // no request is sent after it
  std::atomic<std::uint64_t> issued{0};
  std::string idem_prefix;

  explicit shared_run(const driver_options& o) : options(o) {}

  // Claims one request of the budget; false once the run is over.
  bool claim(clock_type::time_point now) {
    if (now >= deadline) return false;
    if (options.requests_max == 0) return true;
    return issued.fetch_add(1, std::memory_order_relaxed) < options.requests_max;
  }
};

// A fast generator for record indexes; one per thread.
struct xorshift {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

class connection;
struct slot;

// A request slot waiting for its turn in a paced run (--rate).
struct due_slot {
  clock_type::time_point due;
  connection* conn;  // alive until run_load returns
  slot* s;
  bool operator>(const due_slot& other) const { return due > other.due; }
};

struct thread_state {
  net::io_context io{1};
  // Paced runs: one timer per thread releases every slot whose turn came,
  // rather than a timer per slot (tens of thousands of timer waits a second
  // would make the bench itself the bottleneck).
  std::priority_queue<due_slot, std::vector<due_slot>, std::greater<>> due;
  net::steady_timer pacer{io};
  bool pacer_armed = false;
  run_result result;
  msgpack_reader reader;
  xorshift rng{0x9e3779b97f4a7c15ULL};
  clock_type::time_point last_answer;
  std::size_t live_connections = 0;
};

// One request slot of a connection: at most one request in flight.
struct slot {
  int index = 0;
  std::int64_t id = -1;
  std::uint64_t round = 0;
  bool in_flight = false;
  bool stopped = false;
  bench_op op = bench_op::reserve;
  std::size_t record = 0;
  std::string hold;   // the hold a reserve granted, for the commit/release that follows
  std::array<std::size_t, order_lines> order_records{};  // order.reserve's lines
  std::string order;  // the order an order.reserve granted, for the order.release that follows
  std::string idem;   // reused buffer
  std::string frame;  // reused buffer
  int step = 0;       // position in the workload's cycle
  std::uint64_t cycles = 0;
  clock_type::time_point intended;  // latency is measured from here
  clock_type::time_point next_due;  // paced runs: when the next request is due
};

void pace(thread_state& t, connection* c, slot* s, clock_type::time_point due);

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(thread_state& t, shared_run& run, int index)
      : t_(t), run_(run), o_(run.options), index_(index), ws_(t.io), resolver_(t.io) {
    for (int i = 0; i < o_.pipeline; ++i) {
      slots_.emplace_back();
      slots_.back().index = i;
      slots_.back().frame.reserve(256);
      slots_.back().hold.reserve(64);
      slots_.back().order.reserve(64);
      slots_.back().idem.reserve(64);
    }
  }

  void connect(std::function<void(std::string error)> done) {
    connected_ = std::move(done);
    beast::get_lowest_layer(ws_).expires_after(
        std::chrono::milliseconds(static_cast<long>(o_.connect_seconds * 1000)));
    resolver_.async_resolve(o_.host, o_.port, [self = shared_from_this()](auto ec, auto results) {
      if (ec) return self->connected_("resolve: " + ec.message());
      beast::get_lowest_layer(self->ws_).async_connect(
          results, [self](beast::error_code ec, const tcp::endpoint&) { self->on_connect(ec); });
    });
  }

  // Starts sending: called on the connection's thread once every connection is up.
  void begin() {
    ++t_.live_connections;
    do_read();
    for (slot& s : slots_) schedule(s);
    maybe_finish();
  }

  // The drain time is over: whatever is still in flight is missing.
  void abandon(const char* why) { fail(why); }

 private:
  void on_connect(beast::error_code ec) {
    if (ec) return connected_("connect: " + ec.message());
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    ws_.set_option(websocket::stream_base::decorator(
        [token = o_.token, batch = o_.batch](websocket::request_type& req) {
          req.set(beast::http::field::authorization, "Bearer " + token);
          if (batch) req.set(beast::http::field::sec_websocket_protocol, batch_subprotocol);
        }));
    ws_.read_message_max(frame_bytes_max);
    if (o_.json) ws_.text(true);
    else ws_.binary(true);
    ws_.async_handshake(upgrade_answer_, o_.host + ":" + o_.port, o_.target,
                        [self = shared_from_this()](beast::error_code ec) {
                          if (ec) return self->connected_("upgrade: " + ec.message());
                          const auto accepted = self->upgrade_answer_[beast::http::field::sec_websocket_protocol];
                          if (self->o_.batch &&
                              std::string_view(accepted.data(), accepted.size()) != batch_subprotocol) {
                            return self->connected_("the server does not offer batch frames");
                          }
                          // From here the bench bounds every wait itself (drain time).
                          beast::get_lowest_layer(self->ws_).expires_never();
                          self->connected_({});
                        });
  }

  void schedule(slot& s) {
    const auto now = clock_type::now();
    if (!s.stopped && o_.rate > 0) {
      // Each slot carries an equal share of the offered rate. Latency counts
      // from when a request was due, so a slow answer delays no measurement
      // (no coordinated omission).
      const double per_slot = o_.rate / (o_.connections * o_.pipeline);
      const auto gap = std::chrono::duration_cast<clock_type::duration>(
          std::chrono::duration<double>(1.0 / per_slot));
      if (s.next_due == clock_type::time_point{}) {
        // Spread the slots' phases over the gap so requests do not leave in bursts.
        const auto slots = o_.connections * o_.pipeline;
        s.next_due = run_.start + gap * (index_ * o_.pipeline + s.index) / slots;
      }
      const auto due = s.next_due;
      s.next_due += gap;
      if (due > now) return pace(t_, this, &s, due);
      return send(s, due);
    }
    send(s, now);
  }

 public:
  // The slot's paced turn came.
  void send_due(slot& s, clock_type::time_point due) { send(s, due); }

 private:

  void next_request(slot& s) {
    const std::size_t records = o_.skus.size();
    auto random_record = [&] { return o_.hot ? 0 : static_cast<std::size_t>(t_.rng.next() % records); };
    switch (o_.work) {
      case workload::get:
        s.op = bench_op::get;
        s.record = random_record();
        return;
      case workload::reserve:
        // Uniform: reserves only. Hot: each granted hold is released next, so
        // one record's holds do not pile up to the per-record limit.
        if ((o_.hot || o_.release_holds) && s.step == 1) {
          s.op = bench_op::release;
          return;
        }
        s.op = bench_op::reserve;
        s.record = random_record();
        return;
      case workload::mix:
        if (s.step == 0) {
          s.op = bench_op::reserve;
          s.record = random_record();
        } else if (s.step == 1) {
          s.op = (s.cycles % 2 == 0) ? bench_op::commit : bench_op::release;
        } else {
          s.op = bench_op::get;
        }
        return;
      case workload::order:
        if (s.step == 1) {
          s.op = bench_op::order_release;
          return;
        }
        s.op = bench_op::order_reserve;
        pick_distinct_records(s.order_records);
        return;
    }
  }

  // Distinct random records for an order's lines (records >= order_lines:
  // checked by the program). Redrawing a repeat is rare over many records.
  void pick_distinct_records(std::array<std::size_t, order_lines>& picked) {
    const std::size_t records = o_.skus.size();
    for (std::size_t i = 0; i < picked.size(); ++i) {
      bool repeat = true;
      while (repeat) {
        picked[i] = static_cast<std::size_t>(t_.rng.next() % records);
        repeat = std::find(picked.begin(), picked.begin() + static_cast<std::ptrdiff_t>(i), picked[i]) !=
                 picked.begin() + static_cast<std::ptrdiff_t>(i);
      }
    }
  }

  void send(slot& s, clock_type::time_point intended) {
    if (closed_ || !run_.claim(clock_type::now())) {
      s.stopped = true;
      return maybe_finish();
    }
    next_request(s);
    s.id = s.index + static_cast<std::int64_t>(s.round++) * o_.pipeline;
    bench_request r;
    r.op = s.op;
    r.id = s.id;
    r.warehouse = o_.warehouse;
    r.sku = o_.skus[s.record];
    r.ttl_ms = o_.ttl_ms;
    r.hold = s.hold;
    std::array<std::string_view, order_lines> line_skus;
    if (s.op == bench_op::order_reserve) {
      for (std::size_t i = 0; i < line_skus.size(); ++i) line_skus[i] = o_.skus[s.order_records[i]];
      r.line_skus = line_skus;
    }
    r.order = s.order;
    if (o_.idem && s.op != bench_op::get) {
      s.idem = run_.idem_prefix;
      s.idem += '-';
      s.idem += std::to_string(index_);  // short strings: no allocation (SSO)
      s.idem += '-';
      s.idem += std::to_string(s.id);
      r.idem = s.idem;
    }
    if (o_.json) write_json(r, s.frame);
    else write_msgpack(r, s.frame);
    s.in_flight = true;
    s.intended = intended;
    ++t_.result.requests;
    queue_.push_back(&s);
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    writing_count_ = 1;
    net::const_buffer frame = net::buffer(queue_.front()->frame);
    if (o_.batch && queue_.size() > 1) {
      // Every request waiting for the socket in one array frame, within the
      // frame limit (an order.reserve is a few hundred bytes).
      writing_count_ = batch_count();
      merged_.clear();
      protocol::append_array_frame(merged_, o_.json ? protocol::encoding::json : protocol::encoding::msgpack,
                                   writing_count_,
                                   [&](std::size_t i) -> const std::string& { return queue_[i]->frame; });
      frame = net::buffer(merged_);
    }
    ws_.async_write(frame, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  // How many of the waiting requests fit one array frame: at most
  // requests_per_frame_max and frame_bytes_max (the array's header and
  // separators counted generously); at least one.
  std::size_t batch_count() const {
    constexpr std::size_t array_overhead = 8;
    std::size_t count = 0;
    std::size_t bytes = array_overhead;
    while (count < std::min(queue_.size(), requests_per_frame_max)) {
      bytes += queue_[count]->frame.size() + 1;
      if (bytes > frame_bytes_max && count > 0) break;
      ++count;
    }
    return count;
  }

  void on_write(beast::error_code ec) {
    if (ec) return fail("write failed");
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(writing_count_));
    if (!queue_.empty() && !closed_) return do_write();
    writing_ = false;
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail("connection lost");
    const auto data = buffer_.data();
    handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer_.consume(buffer_.size());
    if (!closed_) do_read();
  }

  void wrong(std::string why) {
    ++t_.result.wrong;
    if (t_.result.wrong_examples.size() < wrong_examples_max) {
      t_.result.wrong_examples.push_back(std::move(why));
    }
  }

  // One frame: an answer, or (batch frames) an array of answers.
  void handle(std::string_view frame) {
    bool readable = false;
    if (o_.json) {
      protocol::value tree;  // the views point into it
      std::string error;
      if (protocol::parse(frame, protocol::encoding::json, protocol::parse_limits{}, &tree, &error)) {
        auto one = [&](const protocol::value& answer) {
          response_view view;
          if (!read_value(answer, &view)) return false;
          handle_one(view, frame);
          return true;
        };
        const protocol::array* many = o_.batch ? tree.as_array() : nullptr;
        readable = many ? !many->empty() : one(tree);
        for (std::size_t i = 0; many && i < many->size(); ++i) readable = one((*many)[i]) && readable;
      }
    } else if (o_.batch) {
      readable = t_.reader.read_each(frame, [&](const response_view& view) { handle_one(view, frame); });
    } else {
      response_view view;
      readable = t_.reader.read(frame, &view);
      if (readable) handle_one(view, frame);
    }
    if (!readable) wrong("an unreadable answer: " + std::string(frame.substr(0, 200)));
  }

  void handle_one(const response_view& view, std::string_view frame) {
    if (!view.has_id || view.id < 0) {
      return wrong("an answer without a readable id: " + std::string(frame.substr(0, 200)));
    }
    slot& s = slots_[static_cast<std::size_t>(view.id % o_.pipeline)];
    if (!s.in_flight || s.id != view.id) return wrong("an answer to no request in flight");
    s.in_flight = false;
    const auto now = clock_type::now();
    t_.last_answer = now;
    const auto latency_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.intended).count());
    t_.result.latency.record(latency_ns);
    t_.result.latency_by_op[static_cast<std::size_t>(s.op)].record(latency_ns);

    expectation e{s.op, o_.warehouse, o_.skus[s.record], 1, order_lines, s.order};
    const verdict v = judge(view, e, o_.level);
    advance(s, view, v);
    schedule(s);
  }

  // Counts the answer and moves the slot along its workload's cycle.
  void advance(slot& s, const response_view& view, const verdict& v) {
    run_result& r = t_.result;
    if (v.kind == verdict_kind::wrong) {
      wrong(std::string(op_name(s.op)) + ": " + std::string(v.detail));
      s.step = 0;
      return;
    }
    if (v.kind == verdict_kind::error) {
      ++r.answered_error;
      ++r.errors[std::string(v.detail)];
      if (v.detail == "TIMEOUT") {
        r.reserves_unknown += s.op == bench_op::reserve;
        r.commits_unknown += s.op == bench_op::commit;
        r.releases_unknown += s.op == bench_op::release;
        r.orders_unknown += s.op == bench_op::order_reserve;
        r.order_releases_unknown += s.op == bench_op::order_release;
      }
      // A failed reserve holds nothing: the mix reads the record instead. A
      // failed commit or release leaves its hold to the TTL.
      if (o_.work == workload::mix && s.op == bench_op::reserve) {
        s.step = 2;
        return;
      }
      s.step = 0;
      ++s.cycles;
      return;
    }
    ++r.answered_ok;
    switch (s.op) {
      case bench_op::reserve:
        ++r.reserves_ok;
        s.hold.assign(view.hold);
        s.step = (o_.work == workload::mix || o_.hot || o_.release_holds) ? 1 : 0;
        return;
      case bench_op::commit:
      case bench_op::release:
        ++(s.op == bench_op::commit ? r.commits_ok : r.releases_ok);
        s.step = o_.work == workload::mix ? 2 : 0;
        if (s.step == 0) ++s.cycles;
        return;
      case bench_op::get:
        ++r.gets_ok;
        s.step = 0;
        ++s.cycles;
        return;
      case bench_op::order_reserve:
        ++r.orders_ok;
        s.order.assign(view.order);
        s.step = 1;
        return;
      case bench_op::order_release:
        ++r.order_releases_ok;
        s.step = 0;
        ++s.cycles;
        return;
    }
  }

  void fail(const char* why) {
    if (closed_) return;
    closed_ = true;
    for (slot& s : slots_) {
      if (s.in_flight) {
        s.in_flight = false;
        ++t_.result.missing;
      }
      s.stopped = true;
    }
    if (t_.result.wrong_examples.size() < wrong_examples_max && std::string_view(why) != "done") {
      t_.result.wrong_examples.push_back(std::string("connection ") + std::to_string(index_) + ": " + why);
    }
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    --t_.live_connections;
  }

  // Every slot stopped and answered: close the connection politely.
  void maybe_finish() {
    if (closed_) return;
    for (const slot& s : slots_) {
      if (!s.stopped || s.in_flight) return;
    }
    closed_ = true;
    --t_.live_connections;
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(2));
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
  }

  thread_state& t_;
  shared_run& run_;
  const driver_options& o_;
  int index_;
  websocket::stream<beast::tcp_stream> ws_;
  tcp::resolver resolver_;
  beast::flat_buffer buffer_;
  std::deque<slot> slots_;         // deque: slots hold timers and must not move
  std::deque<slot*> queue_;        // frames waiting for the socket (or being written), at most `pipeline`
  bool writing_ = false;
  std::size_t writing_count_ = 0;  // requests in the frame being written
  std::string merged_;             // batch frames: the array frame being written
  websocket::response_type upgrade_answer_;
  bool closed_ = false;
  std::function<void(std::string)> connected_;
};

void release_due(thread_state& t) {
  t.pacer_armed = false;
  // Slots due within the next 50 µs go now: waking up for each costs more
  // than the error it avoids.
  const auto horizon = clock_type::now() + std::chrono::microseconds(50);
  while (!t.due.empty() && t.due.top().due <= horizon) {
    const due_slot d = t.due.top();
    t.due.pop();
    d.conn->send_due(*d.s, d.due);
  }
  if (t.due.empty()) return;
  t.pacer_armed = true;
  t.pacer.expires_at(t.due.top().due);
  t.pacer.async_wait([&t](beast::error_code ec) {
    if (!ec) release_due(t);
  });
}

void pace(thread_state& t, connection* c, slot* s, clock_type::time_point due) {
  t.due.push({due, c, s});
  if (t.pacer_armed && t.pacer.expiry() <= due) return;
  t.pacer_armed = true;
  t.pacer.expires_at(due);  // cancels a later wait, whose handler then does nothing
  t.pacer.async_wait([&t](beast::error_code ec) {
    if (!ec) release_due(t);
  });
}

// Ends the run on one thread when the drain time is over: every connection
// still open loses what it has in flight.
void arm_drain_timer(net::steady_timer& timer, std::vector<std::shared_ptr<connection>>& connections,
                     clock_type::time_point at) {
  timer.expires_at(at);
  timer.async_wait([&connections](beast::error_code ec) {
    if (ec) return;
    for (auto& c : connections) c->abandon("no answer within the drain time");
  });
}

void merge_into(run_result& total, const run_result& r) {
  total.requests += r.requests;
  total.answered_ok += r.answered_ok;
  total.answered_error += r.answered_error;
  total.wrong += r.wrong;
  total.missing += r.missing;
  total.reserves_ok += r.reserves_ok;
  total.commits_ok += r.commits_ok;
  total.releases_ok += r.releases_ok;
  total.gets_ok += r.gets_ok;
  total.reserves_unknown += r.reserves_unknown;
  total.commits_unknown += r.commits_unknown;
  total.releases_unknown += r.releases_unknown;
  total.orders_ok += r.orders_ok;
  total.order_releases_ok += r.order_releases_ok;
  total.orders_unknown += r.orders_unknown;
  total.order_releases_unknown += r.order_releases_unknown;
  for (const auto& [code, n] : r.errors) total.errors[code] += n;
  for (const auto& w : r.wrong_examples) {
    if (total.wrong_examples.size() < wrong_examples_max) total.wrong_examples.push_back(w);
  }
  total.latency.merge(r.latency);
  for (std::size_t i = 0; i < bench_op_count; ++i) total.latency_by_op[i].merge(r.latency_by_op[i]);
}

}  // namespace

run_result run_load(const driver_options& o) {
  run_result total;
  shared_run run(o);
  std::random_device entropy;
  run.idem_prefix = "bench" + std::to_string(entropy() % 1'000'000'000);

  const int thread_count = std::max(1, std::min(o.threads, o.connections));
  std::vector<std::unique_ptr<thread_state>> threads;
  std::vector<std::vector<std::shared_ptr<connection>>> connections(thread_count);
  for (int i = 0; i < thread_count; ++i) {
    threads.push_back(std::make_unique<thread_state>());
    threads.back()->rng.s ^= static_cast<std::uint64_t>(entropy()) << 1 | 1;
  }

  // Connect everything first, one io thread per thread_state; the run starts
  // only when every connection is upgraded and authenticated.
  std::string first_error;
  for (int c = 0; c < o.connections; ++c) {
    thread_state& t = *threads[c % thread_count];
    auto conn = std::make_shared<connection>(t, run, c);
    connections[c % thread_count].push_back(conn);
    conn->connect([&first_error](std::string error) {
      if (!error.empty() && first_error.empty()) first_error = std::move(error);
    });
  }
  {
    std::vector<std::thread> workers;
    for (auto& t : threads) workers.emplace_back([&t] { t->io.run(); });
    for (auto& w : workers) w.join();
  }
  if (!first_error.empty()) {
    total.connect_error = first_error;
    return total;
  }
  total.connected = true;

  run.start = clock_type::now();
  const double limit_seconds = o.requests_max > 0 ? 3600.0 : o.seconds;
  run.deadline = run.start + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(limit_seconds));
  const auto drain_end = run.deadline + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(o.drain_seconds));
  std::vector<std::unique_ptr<net::steady_timer>> drain_timers;
  for (int i = 0; i < thread_count; ++i) {
    thread_state& t = *threads[i];
    t.io.restart();
    t.last_answer = run.start;
    for (auto& c : connections[i]) net::post(t.io, [c] { c->begin(); });
    drain_timers.push_back(std::make_unique<net::steady_timer>(t.io));
    arm_drain_timer(*drain_timers.back(), connections[i], drain_end);
  }
  {
    std::vector<std::thread> workers;
    for (int i = 0; i < thread_count; ++i) {
      workers.emplace_back([&, i] {
        thread_state& t = *threads[i];
        // Run until every connection of this thread is done, then let the
        // drain timer go: nothing else keeps the io_context busy.
        while (t.io.run_one()) {
          if (t.live_connections == 0) {
            drain_timers[i]->cancel();
            t.pacer.cancel();
          }
        }
      });
    }
    for (auto& w : workers) w.join();
  }

  clock_type::time_point last = run.start;
  for (auto& t : threads) {
    merge_into(total, t->result);
    last = std::max(last, t->last_answer);
  }
  total.seconds = std::chrono::duration<double>(last - run.start).count();
  return total;
}

}  // namespace stockgrid::bench
