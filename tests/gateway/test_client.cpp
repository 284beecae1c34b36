#include "tests/gateway/test_client.hpp"

// Boost 1.74's Asio needs <utility> first under C++20.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <type_traits>

#include "protocol/codec.hpp"

namespace stockgrid::gateway_test {

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

// Shuts a socket down when an armed deadline passes, which makes the blocked
// synchronous call on it return with an error. ::shutdown on the descriptor
// is safe from another thread; the Asio object is not touched.
class watchdog {
 public:
  watchdog() : thread_([this] { loop(); }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  // Guards one blocking call: arm before it, disarm after.
  void arm(int fd, std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    fd_ = fd;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    fired_ = false;
    wake_.notify_all();
  }
  // Whether the deadline passed before disarm.
  bool disarm() {
    std::lock_guard lock(mutex_);
    deadline_.reset();
    return fired_;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!quit_) {
      if (!deadline_) {
        wake_.wait(lock);
      } else if (wake_.wait_until(lock, *deadline_) == std::cv_status::timeout && deadline_ &&
                 std::chrono::steady_clock::now() >= *deadline_) {
        ::shutdown(fd_, SHUT_RDWR);
        fired_ = true;
        deadline_.reset();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  int fd_ = -1;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool fired_ = false;
  bool quit_ = false;
  std::thread thread_;
};

// Owns the io_context, TLS context and watchdog of one client connection.
struct connection_base {
  net::io_context ioc;
  ssl::context tls_ctx{ssl::context::tls_client};
  watchdog dog;

  void setup_tls(const tls_options& tls) {
    tls_ctx.add_certificate_authority(net::buffer(tls.ca_pem));
    tls_ctx.set_verify_mode(ssl::verify_peer);
  }
};

using plain_ws = websocket::stream<tcp::socket>;
using tls_ws = websocket::stream<beast::ssl_stream<tcp::socket>>;

template <class Ws>
class ws_client_impl final : public ws_client, private connection_base {
  static constexpr bool tls = std::is_same_v<Ws, tls_ws>;

 public:
  explicit ws_client_impl(const client_options& options)
      : ws_(make_stream(options)), options_(options) {}

  bool connect(std::uint16_t port, std::string* error) {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(ws_);
    socket.connect(tcp::endpoint(net::ip::make_address(options_.host), port), ec);
    if (ec) return failed(error, "connect: " + ec.message());
    dog.arm(socket.native_handle(), options_.timeout);
    if constexpr (tls) {
      SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), "localhost");
      ws_.next_layer().set_verify_callback(ssl::host_name_verification("localhost"));
      ws_.next_layer().handshake(ssl::stream_base::client, ec);
      if (ec) {
        dog.disarm();
        return failed(error, "tls handshake: " + ec.message());
      }
    }
    websocket::response_type res;
    const headers extra = options_.upgrade_headers;
    ws_.set_option(websocket::stream_base::decorator([extra](websocket::request_type& req) {
      for (const auto& [name, value] : extra) req.set(name, value);
    }));
    ws_.handshake(res, "localhost", options_.target, ec);
    dog.disarm();
    if (ec) return failed(error, "upgrade: " + ec.message());
    const auto accepted = res[beast::http::field::sec_websocket_protocol];
    subprotocol = std::string(accepted.data(), accepted.size());
    return true;
  }

  void send_text(std::string_view bytes) override { write(bytes, true); }
  void send_binary(std::string_view bytes) override { write(bytes, false); }

  read_result read(std::chrono::milliseconds timeout) override {
    read_result out;
    beast::flat_buffer buffer;
    beast::error_code ec;
    dog.arm(beast::get_lowest_layer(ws_).native_handle(), timeout);
    ws_.read(buffer, ec);
    out.timed_out = dog.disarm();
    if (!ec) {
      out.got_frame = true;
      out.text = ws_.got_text();
      out.bytes = beast::buffers_to_string(buffer.data());
      return out;
    }
    out.closed = true;
    out.error = ec.message();
    last_error = out.error;
    // The server's close frame counts even when answering it failed (the
    // server may drop the socket right after its close frame).
    out.close_code = static_cast<std::uint16_t>(ws_.reason().code);
    out.close_reason.assign(ws_.reason().reason.data(), ws_.reason().reason.size());
    return out;
  }

  void close() override {
    beast::error_code ec;
    dog.arm(beast::get_lowest_layer(ws_).native_handle(), 5s);
    ws_.close(websocket::close_code::normal, ec);
    dog.disarm();
  }

 private:
  Ws make_stream(const client_options& options) {
    if constexpr (tls) {
      setup_tls(options.tls);
      return Ws(ioc, tls_ctx);
    } else {
      return Ws(ioc);
    }
  }

  void write(std::string_view bytes, bool text) {
    beast::error_code ec;
    dog.arm(beast::get_lowest_layer(ws_).native_handle(), 5s);
    ws_.text(text);
    ws_.write(net::buffer(bytes.data(), bytes.size()), ec);
    dog.disarm();
    // A failed write shows up in the next read; tests that expect the server
    // to close a connection may write after it did.
  }

  static bool failed(std::string* error, std::string what) {
    if (error != nullptr) *error = std::move(what);
    return false;
  }

  Ws ws_;
  client_options options_;
};

template <class Stream>
class http_client_impl final : public http_client, private connection_base {
  static constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;

 public:
  explicit http_client_impl(const tls_options& options) : stream_(make_stream(options)) {}

  bool connect(std::uint16_t port) {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream_);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return false;
    if constexpr (tls) {
      dog.arm(socket.native_handle(), 5s);
      SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
      stream_.set_verify_callback(ssl::host_name_verification("localhost"));
      stream_.handshake(ssl::stream_base::client, ec);
      dog.disarm();
      if (ec) return false;
    }
    return true;
  }

  http_result request(std::string_view method, std::string_view target,
                      const headers& extra) override {
    http::request<http::string_body> req{http::string_to_verb({method.data(), method.size()}),
                                         {target.data(), target.size()}, 11};
    req.set(http::field::host, "localhost");
    for (const auto& [name, value] : extra) req.set(name, value);
    beast::error_code ec;
    dog.arm(beast::get_lowest_layer(stream_).native_handle(), 5s);
    http::write(stream_, req, ec);
    http::response<http::string_body> res;
    if (!ec) {
      http::response_parser<http::string_body> parser;
      if (req.method() == http::verb::head) parser.skip(true);
      http::read(stream_, buffer_, parser, ec);
      res = parser.release();
    }
    dog.disarm();
    if (ec) return {};
    return {res.result_int(), res.body()};
  }

 private:
  Stream make_stream(const tls_options& options) {
    if constexpr (tls) {
      setup_tls(options);
      return Stream(ioc, tls_ctx);
    } else {
      return Stream(ioc);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::unique_ptr<ws_client> ws_client::connect(std::uint16_t port, const client_options& options,
                                              std::string* error) {
  if (options.tls.enabled) {
    auto client = std::make_unique<ws_client_impl<tls_ws>>(options);
    if (!client->connect(port, error)) return nullptr;
    return client;
  }
  auto client = std::make_unique<ws_client_impl<plain_ws>>(options);
  if (!client->connect(port, error)) return nullptr;
  return client;
}

void ws_client::send(const protocol::value& frame, protocol::encoding enc) {
  const std::string bytes = protocol::serialize(frame, enc);
  if (enc == protocol::encoding::json) {
    send_text(bytes);
  } else {
    send_binary(bytes);
  }
}

std::optional<protocol::value> ws_client::read_value(std::chrono::milliseconds timeout,
                                                     bool* was_text) {
  read_result r = read(timeout);
  if (!r.got_frame) return std::nullopt;
  if (was_text != nullptr) *was_text = r.text;
  protocol::value v;
  std::string error;
  const auto enc = r.text ? protocol::encoding::json : protocol::encoding::msgpack;
  if (!protocol::parse(r.bytes, enc, protocol::parse_limits{}, &v, &error)) return std::nullopt;
  return v;
}

int ws_client::wait_close(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return -1;
    read_result r = read(left);
    if (r.timed_out) return -1;
    if (r.closed) return r.close_code;
  }
}

std::unique_ptr<http_client> http_client::connect(std::uint16_t port, const tls_options& tls) {
  if (tls.enabled) {
    auto client = std::make_unique<http_client_impl<beast::ssl_stream<tcp::socket>>>(tls);
    if (!client->connect(port)) return nullptr;
    return client;
  }
  auto client = std::make_unique<http_client_impl<tcp::socket>>(tls);
  if (!client->connect(port)) return nullptr;
  return client;
}

http_result http_get(std::uint16_t port, std::string_view target, const tls_options& tls) {
  auto client = http_client::connect(port, tls);
  if (!client) return {};
  return client->get(target);
}

unsigned upgrade_status(std::uint16_t port, const client_options& options) {
  auto client = http_client::connect(port, options.tls);
  if (!client) return 0;
  headers upgrade{{"Connection", "Upgrade"},
                  {"Upgrade", "websocket"},
                  {"Sec-WebSocket-Version", "13"},
                  {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  for (const auto& header : options.upgrade_headers) upgrade.push_back(header);
  return client->request("GET", options.target, upgrade).status;
}

protocol::value json(std::string_view text) {
  protocol::value v;
  std::string error;
  if (!protocol::parse(text, protocol::encoding::json, protocol::parse_limits{}, &v, &error)) {
    throw std::invalid_argument("bad JSON in test: " + error);
  }
  return v;
}

std::string to_json(const protocol::value& v) {
  return protocol::serialize(v, protocol::encoding::json);
}

std::string error_code(const protocol::value& response) {
  const protocol::value* error = response.find("error");
  if (error == nullptr) return "";
  return string_field(*error, "code");
}

std::optional<std::int64_t> id_of(const protocol::value& response) {
  const protocol::value* id = response.find("id");
  if (id == nullptr || id->as_int() == nullptr) return std::nullopt;
  return *id->as_int();
}

bool is_ok(const protocol::value& response) {
  const protocol::value* ok = response.find("ok");
  return ok != nullptr && ok->as_bool() != nullptr && *ok->as_bool();
}

std::string string_field(const protocol::value& v, std::string_view name) {
  const protocol::value* field = v.find(name);
  if (field == nullptr || field->as_string() == nullptr) return "";
  return *field->as_string();
}

}  // namespace stockgrid::gateway_test
