// A small blocking WebSocket and HTTP client for the gateway tests, built on
// Beast's synchronous API. Every blocking call has a deadline: a watchdog
// shuts the socket down when it passes, so a test fails instead of hanging.
// The header includes no Beast, so the tests compile quickly.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/value.hpp"

namespace stockgrid::gateway_test {

using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

struct tls_options {
  bool enabled = false;
  std::string ca_pem;  // the (self-signed) server certificate to trust
};

struct client_options {
  std::string target = "/v1/ws";
  headers upgrade_headers;  // e.g. {"Authorization", "Bearer writer-token"}
  tls_options tls;
  std::chrono::milliseconds timeout = 5s;  // connect and upgrade
  std::string host = "127.0.0.1";          // the address connected to (an IPv4 literal)
};

// What one read returned: a frame, or how the connection ended.
struct read_result {
  bool got_frame = false;
  bool text = false;
  std::string bytes;
  // The connection ended: the server's close code (0 when it ended without
  // a close frame) and reason; timed_out when the deadline passed first.
  bool closed = false;
  std::uint16_t close_code = 0;
  std::string close_reason;
  bool timed_out = false;
  std::string error;
};

class ws_client {
 public:
  // Connects and upgrades; null with `error` set when that fails.
  static std::unique_ptr<ws_client> connect(std::uint16_t port, const client_options& options = {},
                                            std::string* error = nullptr);
  virtual ~ws_client() = default;

  virtual void send_text(std::string_view bytes) = 0;
  virtual void send_binary(std::string_view bytes) = 0;
  virtual read_result read(std::chrono::milliseconds timeout = 5s) = 0;
  // Sends a close frame (1000) and waits for the server's.
  virtual void close() = 0;

  // Sends `frame` as a text (json) or binary (msgpack) frame.
  void send(const protocol::value& frame, protocol::encoding enc);
  // Reads one frame and parses it in the encoding its frame type says;
  // nullopt when the connection ended, timed out or the frame did not parse.
  std::optional<protocol::value> read_value(std::chrono::milliseconds timeout = 5s,
                                            bool* was_text = nullptr);
  // Reads (and drops frames) until the connection ends; the close code, 0 for
  // an end without a close frame, or -1 at the timeout.
  int wait_close(std::chrono::milliseconds timeout = 5s);
  // How the last read ended (for test diagnostics).
  std::string last_error;
  // The Sec-WebSocket-Protocol the server accepted at the upgrade ("" = none).
  std::string subprotocol;
};

struct http_result {
  unsigned status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
};

// One keep-alive HTTP/1.1 connection.
class http_client {
 public:
  static std::unique_ptr<http_client> connect(std::uint16_t port, const tls_options& tls = {});
  virtual ~http_client() = default;
  virtual http_result request(std::string_view method, std::string_view target,
                              const headers& extra = {}) = 0;
  http_result get(std::string_view target) { return request("GET", target); }
};

// GET on a fresh connection.
http_result http_get(std::uint16_t port, std::string_view target, const tls_options& tls = {});

// The HTTP status the server answers a WebSocket upgrade request with (101
// when it accepts), sent on a fresh connection; 0 when there is no answer.
unsigned upgrade_status(std::uint16_t port, const client_options& options = {});

// Parsing helpers for the tests.
protocol::value json(std::string_view text);
std::string to_json(const protocol::value& v);
// The error code of a response, "" when it is ok.
std::string error_code(const protocol::value& response);
// The response's id; nullopt when it is null or missing.
std::optional<std::int64_t> id_of(const protocol::value& response);
bool is_ok(const protocol::value& response);
std::string string_field(const protocol::value& v, std::string_view name);

}  // namespace stockgrid::gateway_test
