#include "client/client.hpp"

// Boost 1.74's Asio needs <utility> before it under C++20 (std::exchange in
// boost/asio/awaitable.hpp); see /work/shared/NOTES.md.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "client/url.hpp"

namespace stockgrid::client {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;
using strand_type = net::strand<net::io_context::executor_type>;

std::chrono::milliseconds retry_delay(std::int64_t retry_after_ms, double jitter, double share) {
  const double base = static_cast<double>(std::max<std::int64_t>(1, retry_after_ms));
  const double extra = base * std::clamp(jitter, 0.0, 1.0) * std::clamp(share, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(base + extra)));
}

std::string new_idempotency_key() {
  // One generator per thread, seeded from the OS: keys must not repeat across
  // processes or restarts, and 128 random bits make a collision negligible.
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  static constexpr char digits[] = "0123456789abcdef";
  std::string key(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = generator();
    for (int i = 0; i < 16; ++i) {
      key[static_cast<std::size_t>(half * 16 + i)] = digits[bits & 0xf];
      bits >>= 4;
    }
  }
  return key;
}

namespace {

// Responses can be much bigger than requests (a page of 1,000 records, a
// history, a bulk's results); the client trusts its server more than the
// server trusts its clients, but still bounds what it parses.
protocol::parse_limits response_limits() {
  protocol::parse_limits l;
  l.depth_max = 16;
  l.string_bytes_max = 1 << 20;
  l.array_items_max = 100'000;
  l.map_entries_max = 4'096;
  l.total_items_max = 10'000'000;
  return l;
}
constexpr std::size_t response_bytes_max = 64u << 20;
// The connection sends pings when quiet for half this long and gives up on
// a server silent for all of it.
constexpr auto idle_timeout = std::chrono::seconds(30);
// How often request deadlines and delayed resends are checked.
constexpr auto tick_interval = std::chrono::milliseconds(20);
// Event frames kept while their subscribe answer has not arrived (a server
// that sends them first); more are dropped and counted.
constexpr std::size_t early_events_max = 4'096;
// A 1008 or 1013 close this soon after the connection opened keeps the
// reconnect backoff growing instead of starting it over.
constexpr auto pushed_back_window = std::chrono::seconds(30);

// ---------------------------------------------------------------------------
// Transport: one WebSocket connection, plain or TLS. It only moves bytes:
// connect, upgrade, read frames, write queued frames one at a time. It
// reports what happens through three callbacks, all run on the client's
// strand; `closed` comes exactly once and nothing comes after it.

struct transport_events {
  std::function<void()> opened;
  std::function<void(std::string bytes, bool text)> frame;
  // close_code: the server's WebSocket close code, 0 when it sent none.
  std::function<void(std::string why, int close_code)> closed;
};

class transport {
 public:
  virtual ~transport() = default;
  virtual void start() = 0;
  // Queues a frame; it is written once the connection is open.
  virtual void send(std::shared_ptr<const std::string> frame, bool text) = 0;
  // WebSocket close 1000 after the queued frames.
  virtual void close() = 0;
  // Drops the TCP connection at once, as a network failure would.
  virtual void abort() = 0;
};

template <bool Tls>
class ws_transport final : public transport,
                           public std::enable_shared_from_this<ws_transport<Tls>> {
  using next_layer = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  ws_transport(strand_type strand, std::shared_ptr<ssl::context> tls, ws_url url,
               std::chrono::milliseconds connect_timeout, transport_events events)
      : resolver_(strand),
        tls_(std::move(tls)),
        url_(std::move(url)),
        connect_timeout_(connect_timeout),
        events_(std::move(events)) {
    if constexpr (Tls) {
      ws_.emplace(strand, *tls_);
    } else {
      ws_.emplace(strand);
    }
  }

  void start() override {
    resolver_.async_resolve(url_.host, url_.port,
                            [self = this->shared_from_this()](beast::error_code ec,
                                                              tcp::resolver::results_type results) {
                              self->on_resolve(ec, results);
                            });
  }

  void send(std::shared_ptr<const std::string> frame, bool text) override {
    if (ended_) return;
    queue_.push_back({std::move(frame), text});
    if (open_ && !writing_) write_next();
  }

  void close() override {
    if (ended_ || closing_) return;
    closing_ = true;
    if (!open_) return abort();
    if (!writing_) do_close();  // else on_write closes once the write is done
  }

  void abort() override {
    beast::error_code ignored;
    resolver_.cancel();
    beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    end("connection dropped by the client");
  }

 private:
  struct outgoing {
    std::shared_ptr<const std::string> bytes;
    bool text;
  };

  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec) return end("cannot resolve " + url_.host + ": " + ec.message());
    beast::get_lowest_layer(*ws_).expires_after(connect_timeout_);
    beast::get_lowest_layer(*ws_).async_connect(
        results, [self = this->shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return end("TCP connect to " + url_.host + ":" + url_.port + ": " + ec.message());
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (Tls) {
      // SNI, so a server with several names picks the right certificate.
      if (!SSL_set_tlsext_host_name(ws_->next_layer().native_handle(), url_.host.c_str()))
        return end("TLS: cannot set the server name");
      ws_->next_layer().async_handshake(
          ssl::stream_base::client, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) return self->end("TLS handshake: " + ec.message());
            self->upgrade();
          });
    } else {
      upgrade();
    }
  }

  void upgrade() {
    // The WebSocket layer has its own timeouts from here on.
    beast::get_lowest_layer(*ws_).expires_never();
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = connect_timeout_;
    timeouts.idle_timeout = idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_->set_option(timeouts);
    ws_->set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(http::field::user_agent, "stockgrid-client/1");
    }));
    ws_->read_message_max(response_bytes_max);
    ws_->async_handshake(upgrade_response_, url_.host_header(), url_.target,
                         [self = this->shared_from_this()](beast::error_code ec) {
                           self->on_upgrade(ec);
                         });
  }

  void on_upgrade(beast::error_code ec) {
    if (ec) {
      if (ec == websocket::error::upgrade_declined) {
        return end("the server refused the WebSocket upgrade: HTTP " +
                   std::to_string(upgrade_response_.result_int()) + " " +
                   std::string(upgrade_response_.reason()));
      }
      return end("WebSocket handshake: " + ec.message());
    }
    if (ended_) return;
    open_ = true;
    events_.opened();
    read();
    if (!queue_.empty() && !writing_) write_next();
    if (closing_ && !writing_) do_close();
  }

  void read() {
    ws_->async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ended_) return;
    if (ec == websocket::error::closed) {
      const auto& reason = ws_->reason();
      return end("the server closed the connection (" + std::to_string(reason.code) +
                     (reason.reason.empty() ? std::string() : " " + std::string(reason.reason.data(), reason.reason.size())) + ")",
                 static_cast<int>(reason.code));
    }
    if (ec) return end("connection lost: " + ec.message());
    std::string bytes = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    events_.frame(std::move(bytes), ws_->got_text());
    if (!ended_) read();
  }

  void write_next() {
    writing_ = true;
    ws_->text(queue_.front().text);
    ws_->async_write(net::buffer(*queue_.front().bytes),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ended_) return;
    if (ec) return end("write failed: " + ec.message());
    queue_.pop_front();
    if (closing_) return do_close();
    if (!queue_.empty()) write_next();
  }

  void do_close() {
    ws_->async_close(websocket::close_code::normal,
                     [self = this->shared_from_this()](beast::error_code) {
                       self->end("closed by the client");
                     });
  }

  // The queue is kept: a write in progress may still read its frame.
  void end(std::string why, int close_code = 0) {
    if (ended_) return;
    ended_ = true;
    events_.closed(std::move(why), close_code);
  }

  tcp::resolver resolver_;
  std::shared_ptr<ssl::context> tls_;  // outlives the stream that uses it
  std::optional<websocket::stream<next_layer>> ws_;
  ws_url url_;
  std::chrono::milliseconds connect_timeout_;
  transport_events events_;
  websocket::response_type upgrade_response_;
  beast::flat_buffer buffer_;
  std::deque<outgoing> queue_;
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool ended_ = false;
};

// One request from call() to its answer.
struct pending {
  std::uint64_t seq = 0;  // call order: resends go out in this order
  protocol::op_request request;
  callback done;
  steady::time_point deadline;
  std::uint32_t sends = 0;    // times written to a connection
  std::uint32_t retries = 0;  // resends after a retryable answer
  // Belongs to one connection (subscribe, unsubscribe): when that connection
  // drops it fails with DISCONNECTED instead of being resent; the
  // subscription resubscribes with its position after the reconnect.
  bool once = false;
};

// subscribe and unsubscribe frames are written from their params as given:
// the subscription's filter and position are built here (subscription.hpp).
bool is_subscription_op(std::string_view op) { return op == "subscribe" || op == "unsubscribe"; }

value encode_for_wire(const protocol::op_request& r) {
  if (!is_subscription_op(r.op)) return protocol::encode_request(r);
  protocol::object o;
  o.emplace_back("op", r.op);
  if (r.id) o.emplace_back("id", *r.id);
  if (const protocol::object* params = r.params.as_object()) {
    for (const auto& member : *params) {
      if (member.first != "op" && member.first != "id") o.push_back(member);
    }
  }
  return value(std::move(o));
}

protocol::object idem_details(const protocol::op_request& r) {
  protocol::object details;
  if (const std::string idem = idem_of(r); !idem.empty()) details.emplace_back("idem", idem);
  return details;
}

}  // namespace

// ---------------------------------------------------------------------------
// The client's state. Everything below runs on `strand`; the public functions
// post to it.

struct client::impl : std::enable_shared_from_this<client::impl> {
  enum class state { idle, connecting, authenticating, open, reconnect_wait, failed, closed };

  impl(net::io_context& io, client_options o)
      : strand(net::make_strand(io)),
        options(std::move(o)),
        tick_timer(strand),
        reconnect_timer(strand),
        connect_timer(strand),
        rng(std::random_device{}()) {
    window = std::max<std::size_t>(1, options.in_flight_max);
  }

  template <class F>
  void post(F&& f) {
    net::post(strand, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(*self); });
  }

  // --- connecting -----------------------------------------------------------

  void do_connect(std::string url_text, std::string token_text, callback done) {
    if (current == state::closed) return done(local_error(disconnected_code, "the client is closed"));
    if (current != state::idle && current != state::failed) {
      return done(local_error("BAD_REQUEST", "connect: the client is already connected"));
    }
    std::string error;
    auto parsed = parse_ws_urls(url_text, &error);
    if (parsed.empty()) return done(local_error(disconnected_code, error));
    urls = std::move(parsed);
    url_index = 0;
    url = urls.front();
    first_attempts = 0;
    token = std::move(token_text);
    tls.reset();
    if (url.tls) {
      tls = std::make_shared<ssl::context>(ssl::context::tls_client);
      beast::error_code ec;
      if (options.tls_verify) {
        tls->set_verify_mode(ssl::verify_peer);
        if (options.tls_ca_file.empty()) {
          tls->set_default_verify_paths(ec);
        } else {
          tls->load_verify_file(options.tls_ca_file, ec);
        }
        if (ec) return done(local_error(disconnected_code, "TLS: cannot load CAs: " + ec.message()));
      } else {
        tls->set_verify_mode(ssl::verify_none);
      }
    }
    connect_done = std::move(done);
    failed_code.clear();
    reconnect_attempts = 0;
    start_attempt();
    ensure_ticking();
  }

  // The next node's URL, when connect() named several: each attempt after
  // a failed or dropped connection goes to the next one in turn.
  void next_url() {
    if (urls.size() < 2) return;
    url_index = (url_index + 1) % urls.size();
    url = urls[url_index];
  }

  void start_attempt() {
    current = state::connecting;
    // The certificate must name the host this attempt connects to.
    if (tls && options.tls_verify) tls->set_verify_callback(ssl::host_name_verification(url.host));
    const std::uint64_t generation = ++connection_generation;
    std::weak_ptr<impl> weak = shared_from_this();
    transport_events events{
        [weak, generation] {
          if (auto self = weak.lock()) self->on_open(generation);
        },
        [weak, generation](std::string bytes, bool text) {
          if (auto self = weak.lock()) self->on_frame(generation, std::move(bytes), text);
        },
        [weak, generation](std::string why, int close_code) {
          if (auto self = weak.lock()) self->on_closed(generation, std::move(why), close_code);
        }};
    if (url.tls) {
      conn = std::make_shared<ws_transport<true>>(strand, tls, url, options.connect_timeout,
                                                  std::move(events));
    } else {
      conn = std::make_shared<ws_transport<false>>(strand, nullptr, url, options.connect_timeout,
                                                   std::move(events));
    }
    connect_timer.expires_after(options.connect_timeout);
    connect_timer.async_wait([weak, generation](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || generation != self->connection_generation) return;
      if (self->current == state::connecting || self->current == state::authenticating) {
        self->abort_connection("no connection within " +
                               std::to_string(self->options.connect_timeout.count()) + " ms");
      }
    });
    conn->start();
  }

  void abort_connection(std::string why) {
    abort_reason = std::move(why);
    if (auto c = conn) c->abort();
  }

  void on_open(std::uint64_t generation) {
    if (generation != connection_generation) return;
    current = state::authenticating;
    protocol::op_request auth;
    auth.op = "auth";
    auth.id = auth_id = next_wire_id++;
    auth.token = token;
    write(protocol::encode_request(auth));
  }

  void on_auth(const value& answer) {
    connect_timer.cancel();
    if (is_ok(answer)) {
      current = state::open;
      opened_at = steady::now();
      // After the server pushed us away (1008 too slow, 1013 overloaded) the
      // backoff keeps growing across reconnects that it ends again at once.
      if (!pushed_back) reconnect_attempts = 0;
      {
        std::lock_guard lock(shared_mutex);
        session = answer;
        ++stats.connects;
      }
      // The server's limits bound what we send (docs/protocol.md, "Limits").
      if (auto limit = lookup_int(answer, "limits.in_flight_max"); limit && *limit > 0)
        window = std::min(std::max<std::size_t>(1, options.in_flight_max),
                          static_cast<std::size_t>(*limit));
      if (auto limit = lookup_int(answer, "limits.frame_bytes_max"); limit && *limit > 0)
        frame_bytes_max = static_cast<std::size_t>(*limit);
      if (connect_done) std::exchange(connect_done, nullptr)(answer);
      resubscribe_all();
      pump();
      return;
    }
    const std::string code = error_code(answer);
    const bool first = connect_done != nullptr;
    // A refused token stays refused; anything else (too many connections,
    // the node starting) may pass on the next attempt.
    if (first || code == "UNAUTHENTICATED" || code == "FORBIDDEN") {
      current = state::failed;
      failed_code = code;
      last_failure = "authentication failed: " + code + ": " + error_message(answer);
      if (auto c = conn) c->close();
      if (connect_done) std::exchange(connect_done, nullptr)(answer);
      fail_all(code.empty() ? std::string(disconnected_code) : code, last_failure);
      return;
    }
    abort_connection("authentication failed: " + code);
  }

  void on_closed(std::uint64_t generation, std::string why, int close_code) {
    if (generation != connection_generation) return;
    conn.reset();
    connect_timer.cancel();
    if (!abort_reason.empty()) why = std::exchange(abort_reason, {});
    if (current == state::closed || current == state::failed) return;
    const bool was_open = current == state::open;
    last_failure = why;
    pushed_back = was_open && (close_code == 1008 || close_code == 1013) &&
                  steady::now() - opened_at < pushed_back_window;
    // The server's subscription ids die with the connection.
    forget_connection_subscriptions();
    // What was in flight goes back to the queue in its original order; it is
    // resent, with the same idempotency keys, after the reconnect. Requests
    // of this connection alone (subscribe, unsubscribe) fail instead.
    std::vector<std::shared_ptr<pending>> of_this_connection;
    for (auto& [wire_id, p] : in_flight) {
      if (p->once) {
        of_this_connection.push_back(p);
      } else {
        waiting.emplace(p->seq, p);
      }
    }
    in_flight.clear();
    for (auto it = delayed.begin(); it != delayed.end();) {
      if (!it->second->once) {
        ++it;
        continue;
      }
      of_this_connection.push_back(std::move(it->second));
      it = delayed.erase(it);
    }
    if (connect_done && ++first_attempts < urls.size()) {
      // connect() named several nodes: try the next one.
      next_url();
      start_attempt();
    } else if (connect_done) {
      // The first connection of a connect() failed (at every node it
      // named): report it, no reconnect.
      current = state::failed;
      const std::string message = "cannot connect to " + url_for_messages() + ": " + why +
                                  (urls.size() > 1 ? " (nor to the other " + std::to_string(urls.size() - 1) +
                                                         " URLs)"
                                                   : "");
      std::exchange(connect_done, nullptr)(local_error(disconnected_code, message));
      fail_all(std::string(disconnected_code), message);
    } else {
      schedule_reconnect();
    }
    for (auto& p : of_this_connection) {
      complete(*p, local_error(disconnected_code, "the connection dropped: " + why));
    }
  }

  void schedule_reconnect() {
    ++reconnect_attempts;
    const auto& b = options.reconnect;
    if (b.attempts_max != 0 && reconnect_attempts > b.attempts_max) {
      current = state::failed;
      fail_all(std::string(disconnected_code),
               "gave up reconnecting to " + url_for_messages() + " after " +
                   std::to_string(b.attempts_max) + " attempts: " + last_failure);
      return;
    }
    current = state::reconnect_wait;
    next_url();
    const double growth = std::pow(b.multiplier, static_cast<double>(reconnect_attempts - 1));
    const double base = std::min(static_cast<double>(b.initial.count()) * growth,
                                 static_cast<double>(b.max.count()));
    std::uniform_real_distribution<double> share(0.0, std::clamp(b.jitter, 0.0, 1.0));
    const auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(base * (1.0 - share(rng))));
    reconnect_timer.expires_after(delay);
    reconnect_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->current == state::reconnect_wait) self->start_attempt();
    });
  }

  std::string url_for_messages() const {
    return (url.tls ? "wss://" : "ws://") + url.host_header() + url.target;
  }

  // --- requests ---------------------------------------------------------------

  std::size_t pending_count() const { return waiting.size() + in_flight.size() + delayed.size(); }

  void do_call(protocol::op_request request, callback done, bool once = false) {
    if (current == state::closed) return done(local_error(disconnected_code, "the client is closed"));
    if (current == state::idle) {
      return done(local_error(disconnected_code, "not connected: call connect() first"));
    }
    if (current == state::failed) {
      return done(local_error(failed_code.empty() ? disconnected_code : failed_code,
                              "not connected: " + last_failure));
    }
    if (pending_count() >= options.pending_max) {
      return done(local_error(queue_full_code,
                              "the client already has " + std::to_string(options.pending_max) +
                                  " requests waiting (client_options::pending_max)"));
    }
    if (auto kind = protocol::grid_op_of(request.op)) request.grid.kind = *kind;
    ensure_idem(request, &new_idempotency_key);
    auto p = std::make_shared<pending>();
    p->seq = next_seq++;
    p->request = std::move(request);
    p->done = std::move(done);
    p->deadline = steady::now() + options.request_timeout;
    p->once = once;
    waiting.emplace(p->seq, std::move(p));
    ensure_ticking();
    pump();
  }

  // Sends waiting requests while the window has room.
  void pump() {
    while (current == state::open && conn && !waiting.empty() && in_flight.size() < window) {
      auto p = std::move(waiting.begin()->second);
      waiting.erase(waiting.begin());
      send(std::move(p));
    }
  }

  void send(std::shared_ptr<pending> p) {
    const std::int64_t wire_id = next_wire_id++;
    p->request.id = wire_id;
    auto bytes = std::make_shared<const std::string>(
        protocol::serialize(encode_for_wire(p->request), options.encoding));
    if (bytes->size() > frame_bytes_max) {
      return complete(*p, local_error(frame_too_big_code,
                                      "the request is " + std::to_string(bytes->size()) +
                                          " bytes; the server reads at most " +
                                          std::to_string(frame_bytes_max)));
    }
    if (p->sends++ > 0) {
      std::lock_guard lock(shared_mutex);
      ++stats.resends;
    }
    in_flight.emplace(wire_id, std::move(p));
    conn->send(std::move(bytes), options.encoding == protocol::encoding::json);
  }

  void write(const value& frame) {
    if (!conn) return;
    conn->send(std::make_shared<const std::string>(protocol::serialize(frame, options.encoding)),
               options.encoding == protocol::encoding::json);
  }

  void on_frame(std::uint64_t generation, std::string bytes, bool text) {
    if (generation != connection_generation) return;
    value answer;
    std::string error;
    if (!protocol::parse(bytes, text ? protocol::encoding::json : protocol::encoding::msgpack,
                         response_limits(), &answer, &error)) {
      return;  // not a frame of this protocol: nothing to match it to
    }
    // A batch frame (stockgrid.batch) carries answers and events in order.
    if (const protocol::array* items = answer.as_array()) {
      for (const value& item : *items) {
        if (generation != connection_generation) return;  // a callback closed the client
        on_message(item);
      }
      return;
    }
    on_message(answer);
  }

  void on_message(const value& answer) {
    if (is_event_frame(answer)) return on_event(answer);
    const value* id_field = answer.find("id");
    const std::int64_t* id = id_field != nullptr ? id_field->as_int() : nullptr;
    // `id: null` answers a frame the server could not read; every frame this
    // client sends is well-formed, so there is no request to give it to.
    if (id == nullptr) return;
    if (current == state::authenticating && *id == auth_id) return on_auth(answer);
    auto it = in_flight.find(*id);
    if (it == in_flight.end()) return;  // its request already timed out
    auto p = std::move(it->second);
    in_flight.erase(it);
    on_answer(std::move(p), answer);
    pump();
  }

  // Resends what is safe to resend (docs/protocol.md, "Errors"): TIMEOUT
  // with the same idem; UNAVAILABLE, OVERLOADED and RATE_LIMITED applied
  // nothing and say when to come back.
  void on_answer(std::shared_ptr<pending> p, value answer) {
    const std::string code = error_code(answer);
    std::optional<std::chrono::milliseconds> delay;
    if (code == "TIMEOUT") {
      delay = std::chrono::milliseconds(20 * (p->retries + 1));
    } else if (code == "UNAVAILABLE" || code == "OVERLOADED" || code == "RATE_LIMITED") {
      std::uniform_real_distribution<double> share(0.0, 1.0);
      delay = retry_delay(lookup_int(answer, "error.retry_after_ms").value_or(50), options.retry_jitter, share(rng));
    }
    const auto now = steady::now();
    if (delay && p->retries < options.retries_max && now + *delay < p->deadline) {
      ++p->retries;
      delayed.emplace(now + *delay, std::move(p));
      return;
    }
    {
      std::lock_guard lock(shared_mutex);
      ++stats.answered;
    }
    complete(*p, std::move(answer));
  }

  static void complete(pending& p, value answer) {
    auto done = std::exchange(p.done, nullptr);
    if (!done) return;
    try {
      done(std::move(answer));
    } catch (...) {
      // A throwing callback must not take the client's io thread down.
    }
  }

  void fail_all(const std::string& code, const std::string& message) {
    std::vector<std::shared_ptr<pending>> all;
    for (auto& [seq, p] : waiting) all.push_back(p);
    for (auto& [id, p] : in_flight) all.push_back(p);
    for (auto& [when, p] : delayed) all.push_back(p);
    waiting.clear();
    in_flight.clear();
    delayed.clear();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->seq < b->seq; });
    for (auto& p : all) complete(*p, local_error(code, message, idem_details(p->request)));
    end_subscriptions(code, message);
  }

  // --- subscriptions ----------------------------------------------------------
  //
  // A subscription outlives connections: its handle is the caller's, the
  // server's `sub` id is only valid on the connection that answered it. After
  // a reconnect every subscription is sent again with `from` = its position
  // (position_keeper), so the caller's stream goes on without a gap or a
  // repeat; a subscription whose snapshot was not complete starts over, and
  // the caller gets a `reset` first.

  struct subscription_entry {
    std::uint64_t handle = 0;
    subscription_filter filter;
    event_callback on_event;
    callback first_answer;  // until the first server answer
    position_keeper keeper;
    std::optional<std::int64_t> server_sub;
    bool subscribing = false;  // a subscribe is queued or in flight
    bool removed = false;      // unsubscribed or ended
    bool delivered = false;    // the caller saw events since the last reset
  };

  void do_subscribe(std::uint64_t handle, subscription_filter filter, event_callback on_event,
                    callback done) {
    if (subscriptions.size() >= options.subscriptions_max) {
      return done(local_error(queue_full_code,
                              "the client already has " + std::to_string(options.subscriptions_max) +
                                  " subscriptions (client_options::subscriptions_max)"));
    }
    auto entry = std::make_shared<subscription_entry>();
    entry->handle = handle;
    entry->filter = std::move(filter);
    entry->on_event = std::move(on_event);
    entry->first_answer = std::move(done);
    subscriptions.emplace(handle, entry);
    send_subscribe(entry);
  }

  void send_subscribe(const std::shared_ptr<subscription_entry>& entry) {
    const auto from = entry->keeper.resume_from();
    if (!from && entry->delivered) {
      // The snapshot was cut off: the caller drops what it built from it.
      subscription_event reset;
      reset.kind = event_kind::reset;
      reset.sub = entry->server_sub.value_or(0);
      deliver(*entry, reset);
    }
    entry->keeper.resubscribing();
    entry->subscribing = true;
    protocol::op_request r;
    r.op = "subscribe";
    r.params = value(subscribe_params(entry->filter, from));
    std::weak_ptr<impl> weak = shared_from_this();
    do_call(std::move(r),
            [weak, entry](value answer) {
              if (auto self = weak.lock()) self->on_subscribed(entry, std::move(answer));
            },
            /*once=*/true);
  }

  void on_subscribed(const std::shared_ptr<subscription_entry>& entry, value answer) {
    entry->subscribing = false;
    const auto sub = lookup_int(answer, "sub");
    if (entry->removed) {
      // Unsubscribed while the subscribe was on its way: undo it.
      if (is_ok(answer) && sub && current == state::open) send_unsubscribe(*sub, nullptr);
      if (entry->first_answer) std::exchange(entry->first_answer, nullptr)(std::move(answer));
      return;
    }
    if (is_ok(answer) && sub) {
      entry->server_sub = *sub;
      by_sub[*sub] = entry;
      {
        std::lock_guard lock(shared_mutex);
        ++(entry->first_answer ? stats.subscribes : stats.resubscribes);
      }
      if (entry->first_answer) std::exchange(entry->first_answer, nullptr)(std::move(answer));
      replay_early_events(*sub);
      return;
    }
    const bool reconnecting = current == state::reconnect_wait || current == state::connecting ||
                              current == state::authenticating;
    if (reconnecting && error_code(answer) == disconnected_code) return;  // resubscribed on reconnect
    end_subscription(entry, answer);
  }

  void resubscribe_all() {
    for (auto& [handle, entry] : subscriptions) {
      if (!entry->subscribing && !entry->server_sub) send_subscribe(entry);
    }
  }

  void do_unsubscribe(std::uint64_t handle, callback done) {
    auto found = subscriptions.find(handle);
    if (found == subscriptions.end()) {
      return done(local_error("NOT_FOUND", "no subscription " + std::to_string(handle)));
    }
    auto entry = found->second;
    subscriptions.erase(found);
    entry->removed = true;
    if (entry->server_sub) {
      by_sub.erase(*entry->server_sub);
      if (current == state::open) return send_unsubscribe(*entry->server_sub, std::move(done));
    }
    // Not subscribed on this connection (yet): nothing to tell the server now;
    // on_subscribed undoes a subscribe still on its way.
    done(value(protocol::object{{"ok", true}}));
  }

  void send_unsubscribe(std::int64_t sub, callback done) {
    protocol::op_request r;
    r.op = "unsubscribe";
    r.params = value(protocol::object{{"sub", sub}});
    do_call(std::move(r), done ? std::move(done) : [](value) {}, /*once=*/true);
  }

  // An event frame: to its subscription, through its position keeper.
  void on_event(const value& frame) {
    const auto sub = event_sub(frame);
    if (!sub) return;
    auto found = by_sub.find(*sub);
    if (found == by_sub.end()) {
      // Events may overtake their subscribe answer only if the server sends
      // them first; keep a bounded number for a subscribe still on its way.
      if (subscribing_count() > 0 && early_events.size() < early_events_max) {
        early_events.push_back(frame);
      } else if (subscribing_count() > 0) {
        std::lock_guard lock(shared_mutex);
        ++stats.events_dropped;
      }
      return;
    }
    auto entry = found->second;  // a callback may unsubscribe it
    subscription_event e;
    std::string error;
    if (!decode_event(frame, &e, &error)) {
      std::lock_guard lock(shared_mutex);
      ++stats.bad_events;
      return;
    }
    if (!entry->keeper.apply(e)) {
      std::lock_guard lock(shared_mutex);
      ++stats.duplicate_events;
      return;
    }
    deliver(*entry, e);
  }

  void replay_early_events(std::int64_t sub) {
    std::vector<value> mine;
    for (auto it = early_events.begin(); it != early_events.end();) {
      if (event_sub(*it) == sub) {
        mine.push_back(std::move(*it));
        it = early_events.erase(it);
      } else {
        ++it;
      }
    }
    for (const value& frame : mine) on_event(frame);
  }

  std::size_t subscribing_count() const {
    std::size_t n = 0;
    for (const auto& [handle, entry] : subscriptions) n += entry->subscribing;
    return n;
  }

  void deliver(subscription_entry& entry, const subscription_event& e) {
    if (entry.removed && e.kind != event_kind::ended) return;
    entry.delivered = e.kind != event_kind::reset && e.kind != event_kind::ended;
    {
      std::lock_guard lock(shared_mutex);
      ++stats.events;
    }
    try {
      entry.on_event(e);
    } catch (...) {
      // A throwing callback must not take the client's io thread down.
    }
  }

  void forget_connection_subscriptions() {
    by_sub.clear();
    early_events.clear();
    for (auto& [handle, entry] : subscriptions) entry->server_sub.reset();
  }

  // The subscription is over: its first answer, or an `ended` event.
  void end_subscription(const std::shared_ptr<subscription_entry>& entry, value why) {
    subscriptions.erase(entry->handle);
    if (entry->server_sub) by_sub.erase(*entry->server_sub);
    if (entry->first_answer) {
      entry->removed = true;
      return std::exchange(entry->first_answer, nullptr)(std::move(why));
    }
    subscription_event ended;
    ended.kind = event_kind::ended;
    ended.sub = entry->server_sub.value_or(0);
    ended.raw = std::move(why);
    deliver(*entry, ended);
    entry->removed = true;
  }

  void end_subscriptions(const std::string& code, const std::string& message) {
    auto all = subscriptions;
    for (auto& [handle, entry] : all) end_subscription(entry, local_error(code, message));
  }

  // --- time -------------------------------------------------------------------

  void ensure_ticking() {
    if (ticking) return;
    ticking = true;
    tick_timer.expires_after(tick_interval);
    tick_timer.async_wait([self = shared_from_this()](beast::error_code ec) { self->on_tick(ec); });
  }

  void on_tick(beast::error_code ec) {
    ticking = false;
    if (ec) return;
    const auto now = steady::now();
    expire(waiting, now);
    expire(in_flight, now);
    expire(delayed, now);
    while (!delayed.empty() && delayed.begin()->first <= now) {
      auto p = std::move(delayed.begin()->second);
      delayed.erase(delayed.begin());
      waiting.emplace(p->seq, std::move(p));
    }
    pump();
    if (pending_count() > 0 || connect_done) ensure_ticking();
  }

  template <class Map>
  void expire(Map& requests, steady::time_point now) {
    for (auto it = requests.begin(); it != requests.end();) {
      if (it->second->deadline > now) {
        ++it;
        continue;
      }
      auto p = std::move(it->second);
      it = requests.erase(it);
      const bool sent = p->sends > 0;
      std::string message = "no answer within " + std::to_string(options.request_timeout.count()) +
                            " ms";
      if (sent && is_mutation_op(p->request.op)) {
        message += "; the outcome is unknown: retry with the same idem";
      } else if (!sent) {
        message += " (never sent: " + (last_failure.empty() ? "not connected" : last_failure) + ")";
      }
      complete(*p, local_error("TIMEOUT", message, idem_details(p->request)));
    }
  }

  // --- closing ----------------------------------------------------------------

  void do_close() {
    if (current == state::closed) return;
    current = state::closed;
    ++connection_generation;  // events of the old connection are ignored
    tick_timer.cancel();
    reconnect_timer.cancel();
    connect_timer.cancel();
    if (auto c = std::exchange(conn, nullptr)) c->close();
    if (connect_done) {
      std::exchange(connect_done, nullptr)(local_error(disconnected_code, "the client was closed"));
    }
    fail_all(std::string(disconnected_code), "the client was closed");
  }

  strand_type strand;
  client_options options;
  net::steady_timer tick_timer;
  net::steady_timer reconnect_timer;
  net::steady_timer connect_timer;
  std::mt19937_64 rng;

  state current = state::idle;
  std::vector<ws_url> urls;  // the nodes connect() named
  std::size_t url_index = 0;
  ws_url url;                // urls[url_index]: the one connected or being tried
  std::size_t first_attempts = 0;  // of connect(), before its first success
  std::string token;
  std::shared_ptr<ssl::context> tls;
  std::shared_ptr<transport> conn;
  std::uint64_t connection_generation = 0;
  std::string abort_reason;  // why we aborted the connection, for on_closed
  std::string last_failure;  // why the last connection ended
  std::string failed_code;   // the auth error that failed the client; "" = DISCONNECTED
  callback connect_done;     // set until the first auth answer of connect()
  std::uint32_t reconnect_attempts = 0;
  bool ticking = false;

  std::int64_t next_wire_id = 1;
  std::int64_t auth_id = -1;
  std::uint64_t next_seq = 0;
  std::size_t window = 1;
  std::size_t frame_bytes_max = 64 * 1024;
  std::map<std::uint64_t, std::shared_ptr<pending>> waiting;              // by seq
  std::unordered_map<std::int64_t, std::shared_ptr<pending>> in_flight;   // by wire id
  std::multimap<steady::time_point, std::shared_ptr<pending>> delayed;    // retry-after

  std::map<std::uint64_t, std::shared_ptr<subscription_entry>> subscriptions;  // by handle
  std::unordered_map<std::int64_t, std::shared_ptr<subscription_entry>> by_sub;  // this connection's ids
  std::vector<value> early_events;  // events ahead of their subscribe answer
  steady::time_point opened_at;
  bool pushed_back = false;  // the last connection ended with 1008/1013 soon after it opened

  // Read by session() and stats() from other threads.
  mutable std::mutex shared_mutex;
  value session;
  client_stats stats;
};

// ---------------------------------------------------------------------------
// The public side.

struct client::own_thread {
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::thread thread;
};

client::client(client_options options) : own_thread_(std::make_unique<own_thread>()) {
  impl_ = std::make_shared<impl>(own_thread_->io, std::move(options));
  own_thread_->thread = std::thread([io = &own_thread_->io] { io->run(); });
}

client::client(boost::asio::io_context& io, client_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}

client::~client() {
  close();
  if (own_thread_) {
    // The io thread ends once the close handshake (bounded by the connect
    // timeout) and every handler are done.
    own_thread_->work.reset();
    if (own_thread_->thread.joinable()) own_thread_->thread.join();
  }
}

namespace {

// A callback that fulfils a promise, and its future.
std::pair<callback, std::future<value>> promised() {
  auto promise = std::make_shared<std::promise<value>>();
  auto future = promise->get_future();
  return {[promise](value v) { promise->set_value(std::move(v)); }, std::move(future)};
}

protocol::op_request grid_request(op kind) {
  protocol::op_request r;
  r.op = std::string(protocol::op_name_of(kind));
  r.grid.kind = kind;
  return r;
}

protocol::op_request record_request(op kind, std::string warehouse, std::string sku) {
  auto r = grid_request(kind);
  r.grid.key.warehouse = std::move(warehouse);
  r.grid.key.sku = std::move(sku);
  return r;
}

protocol::op_request hold_request(op kind, std::string hold, std::string idem) {
  auto r = grid_request(kind);
  r.grid.hold = std::move(hold);
  r.grid.idem = std::move(idem);
  return r;
}

protocol::op_request named_request(std::string op) {
  protocol::op_request r;
  r.op = std::move(op);
  return r;
}

}  // namespace

std::future<value> client::connect(std::string url, std::string token) {
  auto [done, future] = promised();
  connect(std::move(url), std::move(token), std::move(done));
  return std::move(future);
}

void client::connect(std::string url, std::string token, callback done) {
  impl_->post([url = std::move(url), token = std::move(token), done = std::move(done)](impl& self) mutable {
    self.do_connect(std::move(url), std::move(token), std::move(done));
  });
}

std::future<value> client::call(protocol::op_request request) {
  auto [done, future] = promised();
  call(std::move(request), std::move(done));
  return std::move(future);
}

void client::call(protocol::op_request request, callback done) {
  impl_->post([request = std::move(request), done = std::move(done)](impl& self) mutable {
    self.do_call(std::move(request), std::move(done));
  });
}

std::future<value> client::ping() { return call(named_request("ping")); }

std::future<value> client::get(std::string warehouse, std::string sku) {
  return call(record_request(op::get, std::move(warehouse), std::move(sku)));
}

std::future<value> client::list(list_query query) {
  auto r = named_request("stock.list");
  r.warehouse = std::move(query.warehouse);
  r.sku_prefix = std::move(query.sku_prefix);
  r.cursor = std::move(query.cursor);
  r.limit = query.limit;
  return call(std::move(r));
}

std::future<value> client::holds(std::string warehouse, std::string sku) {
  return call(record_request(op::holds, std::move(warehouse), std::move(sku)));
}

std::future<value> client::history(std::string warehouse, std::string sku, int limit,
                                   std::int64_t before_version) {
  auto r = record_request(op::history, std::move(warehouse), std::move(sku));
  r.grid.limit = limit;
  r.grid.before_version = before_version;
  return call(std::move(r));
}

std::future<value> client::adjust(std::string warehouse, std::string sku, std::int64_t delta,
                                  mutation_options options) {
  auto r = record_request(op::adjust, std::move(warehouse), std::move(sku));
  r.grid.delta = delta;
  r.grid.reason = std::move(options.reason);
  r.grid.idem = std::move(options.idem);
  return call(std::move(r));
}

std::future<value> client::set(std::string warehouse, std::string sku, std::int64_t on_hand,
                               std::optional<std::int64_t> expected_version,
                               mutation_options options) {
  auto r = record_request(op::set, std::move(warehouse), std::move(sku));
  r.grid.on_hand = on_hand;
  r.grid.expected_version = expected_version;
  r.grid.reason = std::move(options.reason);
  r.grid.idem = std::move(options.idem);
  return call(std::move(r));
}

std::future<value> client::reserve(std::string warehouse, std::string sku, std::int64_t qty,
                                   reserve_options options) {
  auto r = record_request(op::reserve, std::move(warehouse), std::move(sku));
  r.grid.qty = qty;
  r.grid.ttl_ms = options.ttl_ms;
  r.grid.ref = std::move(options.ref);
  r.grid.idem = std::move(options.idem);
  return call(std::move(r));
}

std::future<value> client::commit(std::string hold, std::optional<std::int64_t> qty,
                                  std::string idem) {
  auto r = hold_request(op::commit, std::move(hold), std::move(idem));
  r.grid.qty = qty;
  return call(std::move(r));
}

std::future<value> client::release(std::string hold, std::optional<std::int64_t> qty,
                                   std::string idem) {
  auto r = hold_request(op::release, std::move(hold), std::move(idem));
  r.grid.qty = qty;
  return call(std::move(r));
}

std::future<value> client::extend(std::string hold, std::int64_t ttl_ms, std::string idem) {
  auto r = hold_request(op::extend, std::move(hold), std::move(idem));
  r.grid.ttl_ms = ttl_ms;
  return call(std::move(r));
}

std::future<value> client::sell(std::string warehouse, std::string sku, std::int64_t qty,
                                mutation_options options) {
  auto r = record_request(op::sell, std::move(warehouse), std::move(sku));
  r.grid.qty = qty;
  r.grid.reason = std::move(options.reason);
  r.grid.idem = std::move(options.idem);
  return call(std::move(r));
}

std::future<value> client::bulk(std::vector<request> items, std::string idem) {
  auto r = named_request("stock.bulk");
  r.items = std::move(items);
  r.idem = std::move(idem);
  return call(std::move(r));
}

std::future<value> client::key_create(protocol::role role, key_options options) {
  auto r = named_request("key.create");
  r.key_role = role;
  r.warehouses = std::move(options.warehouses);
  r.expires_at_ms = options.expires_at_ms;
  return call(std::move(r));
}

std::future<value> client::key_list() { return call(named_request("key.list")); }

std::future<value> client::key_revoke(std::string key_id) {
  auto r = named_request("key.revoke");
  r.key_id = std::move(key_id);
  return call(std::move(r));
}

std::future<value> client::tenant_create(std::string tenant) {
  auto r = named_request("tenant.create");
  r.tenant = std::move(tenant);
  return call(std::move(r));
}

std::future<value> client::tenant_list() { return call(named_request("tenant.list")); }

std::future<value> client::stock_policy(std::string warehouse, std::string sku,
                                        policy_options options) {
  return call(build_policy(std::move(warehouse), std::move(sku), options));
}

std::future<value> client::stock_find(std::string sku) { return call(build_find(std::move(sku))); }

std::future<value> client::order_reserve(std::vector<order_line> lines, order_options options) {
  return call(build_order_reserve(lines, options));
}

std::future<value> client::order_commit(std::string order, std::string idem) {
  return call(build_order_op("order.commit", std::move(order), std::move(idem)));
}

std::future<value> client::order_release(std::string order, std::string idem) {
  return call(build_order_op("order.release", std::move(order), std::move(idem)));
}

std::future<value> client::order_extend(std::string order, std::int64_t ttl_ms, std::string idem) {
  return call(build_order_extend(std::move(order), ttl_ms, std::move(idem)));
}

std::future<value> client::order_get(std::string order) {
  return call(build_order_op("order.get", std::move(order)));
}

std::future<value> client::transfer_create(std::string sku, std::string from, std::string to,
                                           std::int64_t qty, std::string idem) {
  return call(build_transfer_create(std::move(sku), std::move(from), std::move(to), qty,
                                    std::move(idem)));
}

std::future<value> client::transfer_receive(std::string transfer, std::optional<std::int64_t> qty,
                                            std::string idem) {
  return call(build_transfer_receive(std::move(transfer), qty, std::move(idem)));
}

std::future<value> client::transfer_cancel(std::string transfer, std::string idem) {
  return call(build_transfer_op("transfer.cancel", std::move(transfer), std::move(idem)));
}

std::future<value> client::transfer_get(std::string transfer) {
  return call(build_transfer_op("transfer.get", std::move(transfer)));
}

std::future<value> client::tenant_settings(settings_change change) {
  return call(build_settings(change));
}

client::subscription client::subscribe(subscription_filter filter, event_callback on_event) {
  auto [done, future] = promised();
  const subscription_handle handle = subscribe(std::move(filter), std::move(on_event), std::move(done));
  return {handle, std::move(future)};
}

subscription_handle client::subscribe(subscription_filter filter, event_callback on_event, callback done) {
  const subscription_handle handle = next_subscription_handle_.fetch_add(1) + 1;
  impl_->post([handle, filter = std::move(filter), on_event = std::move(on_event),
               done = std::move(done)](impl& self) mutable {
    self.do_subscribe(handle, std::move(filter), std::move(on_event), std::move(done));
  });
  return handle;
}

std::future<value> client::unsubscribe(subscription_handle handle) {
  auto [done, future] = promised();
  impl_->post([handle, done = std::move(done)](impl& self) mutable { self.do_unsubscribe(handle, std::move(done)); });
  return std::move(future);
}

void client::close() {
  impl_->post([](impl& self) { self.do_close(); });
}

void client::drop_connection() {
  impl_->post([](impl& self) {
    if (self.conn && self.current == impl::state::open) self.abort_connection("connection dropped on purpose (drop_connection)");
  });
}

value client::session() const {
  std::lock_guard lock(impl_->shared_mutex);
  return impl_->session;
}

client_stats client::stats() const {
  std::lock_guard lock(impl_->shared_mutex);
  return impl_->stats;
}

}  // namespace stockgrid::client
