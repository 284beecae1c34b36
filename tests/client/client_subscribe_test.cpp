// The client library's subscriptions against a tiny scripted WebSocket server
// on 127.0.0.1 (the test plays the server: it reads each request the client
// sends and writes the answers and events of the wire contract itself): the
// events reach the callback decoded, a dropped connection or a close 1013 is
// followed by a resubscribe with `from` = the kept position, nothing is
// delivered twice, a stream cut off before its snapshot ended restarts with
// a reset, events inside batch arrays are routed, and unsubscribe.
// Boost 1.74's Asio needs <utility> first under C++20.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace std::chrono_literals;
using client::event_kind;
using client::subscription_event;
using client::value;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

constexpr auto wait_timeout = 5s;

// The scripted server: accepts connections one after another; each request
// frame it reads is queued for the test, which answers with send().
class fake_server {
 public:
  fake_server() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~fake_server() {
    net::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      if (conn_) beast::get_lowest_layer(conn_->ws).socket().close(ignored);
    });
    thread_.join();
  }

  std::string url() const {
    return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/v1/ws";
  }

  // The next request the client sent (on any connection), within the timeout.
  value next_request() {
    std::unique_lock lock(mutex_);
    const bool got = changed_.wait_for(lock, wait_timeout, [&] { return !requests_.empty(); });
    INFO("no request from the client within the timeout");
    REQUIRE(got);
    value v = std::move(requests_.front());
    requests_.pop_front();
    return v;
  }
  // Reads the next request, which must be this op, and answers it ok with
  // `members`; returns the request.
  value answer_next(const std::string& op, const std::string& members = "") {
    value request = next_request();
    INFO(protocol::serialize(request, protocol::encoding::json));
    REQUIRE(client::lookup_string(request, "op") == op);
    const auto id = client::lookup_int(request, "id");
    REQUIRE(id);
    send(R"({"id":)" + std::to_string(*id) + R"(,"ok":true)" + (members.empty() ? "" : "," + members) + "}");
    return request;
  }
  void accept_auth() { answer_next("auth", R"("tenant":"t","role":"reader","limits":{})"); }

  // A text frame to the current connection.
  void send(std::string frame) {
    net::post(io_, [this, frame = std::move(frame)]() mutable {
      if (!conn_) return;
      conn_->outbox.push_back(std::move(frame));
      if (conn_->outbox.size() == 1) write_next(conn_);
    });
  }
  // Ends the current connection without a close frame, or with a close code.
  void drop() {
    net::post(io_, [this] {
      beast::error_code ignored;
      if (conn_) beast::get_lowest_layer(conn_->ws).socket().close(ignored);
    });
  }
  void close_with(websocket::close_code code) {
    net::post(io_, [this, code] {
      if (conn_) conn_->ws.async_close(code, [c = conn_](beast::error_code) {});
    });
  }
  int connections() {
    std::lock_guard lock(mutex_);
    return connections_;
  }

 private:
  // One accepted connection and the frames waiting to be written to it.
  struct connection {
    explicit connection(tcp::socket socket) : ws(std::move(socket)) {}
    websocket::stream<beast::tcp_stream> ws;
    std::deque<std::string> outbox;
    beast::flat_buffer buffer;
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto c = std::make_shared<connection>(std::move(socket));
      conn_ = c;
      c->ws.async_accept([this, c](beast::error_code ec) {
        if (ec) return;
        {
          std::lock_guard lock(mutex_);
          ++connections_;
        }
        read(c);
      });
      accept();
    });
  }
  void read(std::shared_ptr<connection> c) {
    c->ws.async_read(c->buffer, [this, c](beast::error_code ec, std::size_t) {
      if (ec) return;
      value v;
      std::string error;
      const std::string bytes = beast::buffers_to_string(c->buffer.data());
      c->buffer.consume(c->buffer.size());
      if (protocol::parse(bytes, protocol::encoding::json, {}, &v, &error)) {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(v));
        changed_.notify_all();
      }
      read(c);
    });
  }
  void write_next(std::shared_ptr<connection> c) {
    c->ws.text(true);
    c->ws.async_write(net::buffer(c->outbox.front()), [this, c](beast::error_code ec, std::size_t) {
      if (ec) return;
      c->outbox.pop_front();
      if (!c->outbox.empty()) write_next(c);
    });
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::shared_ptr<connection> conn_;  // the newest
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<value> requests_;
  int connections_ = 0;
};

// What the callback saw, for the test thread.
class event_log {
 public:
  client::event_callback callback() {
    return [this](const subscription_event& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
      changed_.notify_all();
    };
  }
  // Waits until `n` events arrived; returns them all.
  std::vector<subscription_event> wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    const bool got = changed_.wait_for(lock, wait_timeout, [&] { return events_.size() >= n; });
    INFO("events: " << events_.size() << " of " << n);
    REQUIRE(got);
    return events_;
  }
  std::vector<subscription_event> all() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<subscription_event> events_;
};

std::string stock(int sub, int partition, int seq, int version) {
  return R"({"event":"stock","sub":)" + std::to_string(sub) + R"(,"partition":)" + std::to_string(partition) +
         R"(,"seq":)" + std::to_string(seq) + R"(,"at_ms":1764417600000,"record":{"warehouse":"w","sku":"s",)"
         R"("on_hand":100,"reserved":0,"available":)" + std::to_string(100 - version) + R"(,"version":)" +
         std::to_string(version) + R"(},"change":{"kind":"adjust","delta":-1,"qty":1,"reason":"","version":)" +
         std::to_string(version) + "}}";
}
std::string snapshot_end(int sub, const std::string& position) {
  return R"({"event":"snapshot_end","sub":)" + std::to_string(sub) + R"(,"position":)" + position + "}";
}

client::client_options fast_reconnect() {
  client::client_options o;
  o.encoding = protocol::encoding::json;
  o.reconnect.initial = 20ms;
  o.reconnect.max = 200ms;
  return o;
}

// A client connected to a fresh scripted server, and a log for its events.
// The log outlives the client: the client's last callback (an `ended`
// event) runs while it is destroyed.
struct session {
  fake_server server;
  event_log log;
  client::client c{fast_reconnect()};

  session() {
    auto connected = c.connect(server.url(), "token");
    server.accept_auth();
    REQUIRE(client::is_ok(connected.get()));
  }
};

// The versions of the stock events the callback saw, in order.
std::vector<std::int64_t> stock_versions(const std::vector<subscription_event>& events) {
  std::vector<std::int64_t> versions;
  for (const auto& e : events) {
    if (e.kind == event_kind::stock) versions.push_back(e.record.version);
  }
  return versions;
}

}  // namespace

TEST_CASE("a subscription resumes from its position after a drop and a 1013, exactly once") {
  session t;
  auto& [server, log, c] = t;
  auto sub = c.subscribe({.warehouse = "w", .sku = "", .sku_prefix = "", .alerts = false}, log.callback());
  const value first = server.answer_next("subscribe", R"("sub":7)");
  CHECK(client::lookup_string(first, "warehouse") == "w");
  CHECK(client::lookup(first, "from") == nullptr);
  CHECK(client::lookup_int(sub.answer.get(), "sub") == 7);

  server.send(R"({"event":"snapshot","sub":7,"records":[{"warehouse":"w","sku":"s","on_hand":100,"reserved":0,"available":100,"version":0}]})");
  server.send(snapshot_end(7, "[[0,10],[1,5]]"));
  server.send(stock(7, 0, 11, 1));
  server.send(stock(7, 1, 6, 2));
  auto seen = log.wait_for(4);
  CHECK(seen[0].kind == event_kind::snapshot);
  CHECK(seen[1].kind == event_kind::snapshot_end);
  CHECK(seen[2].seq == 11);

  // The connection dies; the client comes back and resumes where it was.
  server.drop();
  server.accept_auth();
  const value resumed = server.answer_next("subscribe", R"("sub":8)");
  CHECK(client::to_json(*client::lookup(resumed, "from")) == "[[0,11],[1,6]]");
  CHECK(client::lookup_string(resumed, "warehouse") == "w");
  // A server repeating the edge of the resume point is not believed.
  server.send(stock(8, 0, 11, 1));
  server.send(stock(8, 0, 12, 3));
  server.send(stock(8, 1, 7, 4));
  log.wait_for(6);

  // Overloaded: close 1013; the client waits its backoff and resumes again.
  server.close_with(websocket::close_code::try_again_later);
  server.accept_auth();
  const value again = server.answer_next("subscribe", R"("sub":9)");
  CHECK(client::to_json(*client::lookup(again, "from")) == "[[0,12],[1,7]]");
  server.send(stock(9, 0, 13, 5));
  seen = log.wait_for(7);
  CHECK(stock_versions(seen) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(server.connections() == 3);
  const auto stats = c.stats();
  CHECK(stats.subscribes == 1);
  CHECK(stats.resubscribes == 2);
  CHECK(stats.duplicate_events == 1);

  // Unsubscribe names the current connection's id; nothing arrives after it.
  auto unsubscribed = c.unsubscribe(sub.handle);
  const value request = server.answer_next("unsubscribe", R"("sub":9)");
  CHECK(client::lookup_int(request, "sub") == 9);
  CHECK(client::is_ok(unsubscribed.get()));
  server.send(stock(9, 0, 14, 6));
  // A ping answered after that event: once it is back, the event was read.
  auto pong = c.ping();
  server.answer_next("ping");
  CHECK(client::is_ok(pong.get()));
  CHECK(log.all().size() == 7);
  CHECK(client::error_code(c.unsubscribe(sub.handle).get()) == "NOT_FOUND");
}

TEST_CASE("a stream cut off during its snapshot restarts with a reset and a new snapshot") {
  session t;
  auto& [server, log, c] = t;
  auto sub = c.subscribe({}, log.callback());
  server.answer_next("subscribe", R"("sub":1)");
  server.send(R"({"event":"snapshot","sub":1,"records":[]})");
  log.wait_for(1);
  server.drop();
  server.accept_auth();
  const value again = server.answer_next("subscribe", R"("sub":2)");
  CHECK(client::lookup(again, "from") == nullptr);  // no position yet: a whole new snapshot
  server.send(snapshot_end(2, "[[0,4]]"));
  const auto seen = log.wait_for(3);
  CHECK(seen[1].kind == event_kind::reset);  // made by the client: drop the first pages
  CHECK(seen[2].kind == event_kind::snapshot_end);
  CHECK(seen[2].position == client::stream_position{{0, 4}});
}

TEST_CASE("a server reset clears the position; events come out of batch arrays") {
  session t;
  auto& [server, log, c] = t;
  auto sub = c.subscribe({.warehouse = "", .sku = "", .sku_prefix = "", .alerts = true}, log.callback());
  const value request = server.next_request();
  REQUIRE(client::lookup(request, "alerts") != nullptr);
  CHECK(*client::lookup(request, "alerts") == value(true));
  const auto id = *client::lookup_int(request, "id");
  // The answer and the first events in one array frame, as with stockgrid.batch.
  server.send(R"([{"id":)" + std::to_string(id) + R"(,"ok":true,"sub":3},)" + snapshot_end(3, "[[0,1]]") + "," +
              R"({"event":"alert","sub":3,"kind":"out_of_stock","partition":0,"seq":2,"at_ms":5,)"
              R"("record":{"warehouse":"w","sku":"s","on_hand":0,"reserved":0,"available":0,"version":9},"threshold":0}])");
  CHECK(client::is_ok(sub.answer.get()));
  auto seen = log.wait_for(2);
  CHECK(seen[1].kind == event_kind::alert);
  CHECK(seen[1].alert == "out_of_stock");

  // The server cannot resume from our position: it resets and snapshots.
  server.drop();
  server.accept_auth();
  const value resumed = server.answer_next("subscribe", R"("sub":4)");
  CHECK(client::to_json(*client::lookup(resumed, "from")) == "[[0,2]]");
  server.send(R"({"event":"reset","sub":4})");
  server.send(snapshot_end(4, "[[0,50]]"));
  seen = log.wait_for(4);
  CHECK(seen[2].kind == event_kind::reset);
  CHECK(seen[3].position == client::stream_position{{0, 50}});
  server.drop();
  server.accept_auth();
  const value after_reset = server.answer_next("subscribe", R"("sub":5)");
  CHECK(client::to_json(*client::lookup(after_reset, "from")) == "[[0,50]]");
}

TEST_CASE("a refused subscribe ends it: its answer is the error and no event follows") {
  session t;
  auto& [server, log, c] = t;
  auto sub = c.subscribe({.warehouse = "elsewhere", .sku = "", .sku_prefix = "", .alerts = false}, log.callback());
  const value request = server.next_request();
  server.send(R"({"id":)" + std::to_string(*client::lookup_int(request, "id")) +
              R"(,"ok":false,"error":{"code":"FORBIDDEN","message":"warehouse: not yours"}})");
  CHECK(client::error_code(sub.answer.get()) == "FORBIDDEN");
  CHECK(client::error_code(c.unsubscribe(sub.handle).get()) == "NOT_FOUND");

  // A subscription that was running ends with an `ended` event when the
  // client closes.
  auto running = c.subscribe({}, log.callback());
  server.answer_next("subscribe", R"("sub":2)");
  REQUIRE(client::is_ok(running.answer.get()));
  c.close();
  const auto seen = log.wait_for(1);
  CHECK(seen[0].kind == event_kind::ended);
  CHECK(client::error_code(seen[0].raw) == "DISCONNECTED");
}
