// Operator settings of the WebSocket gateway: one struct, each field typed,
// defaulted, bounded and named with its unit last, like config/settings.hpp
// (which will carry this struct into the command line and config file).
//
// The bounds live next to the fields (as `<field>_bounds`); validate() reads
// them from here, so a bound is written once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/codec.hpp"

namespace stockgrid::gateway {

// An inclusive range [min, max] a numeric setting must lie in.
template <class T>
struct bounds {
  T min;
  T max;
};

inline constexpr std::uint64_t gateway_one_hour_ms = 3'600'000;

struct gateway_settings {
  // Address to listen on. Default "127.0.0.1" (local only); "0.0.0.0" or "::"
  // for every interface. Must not be empty.
  std::string bind = "127.0.0.1";

  // TCP port for HTTP and WebSocket (`/v1/ws`). 0 asks the OS for a free port
  // (tests); server::port() tells which. Default 7400.
  std::uint16_t port = 7400;

  // Threads running the gateway's io_context; 0 means one per core
  // (see io_threads_resolved()). Default 0, bounds 0..256.
  std::uint32_t io_threads = 0;
  static constexpr bounds<std::uint32_t> io_threads_bounds{0, 256};

  // Largest WebSocket message accepted; a bigger one closes the connection
  // with 1009 (message too big). Default 65,536 (64 KiB), bounds
  // 1,024..16,777,216 (16 MiB).
  std::uint32_t frame_bytes_max = 65'536;
  static constexpr bounds<std::uint32_t> frame_bytes_max_bounds{1'024, 16'777'216};

  // Requests one connection may have in flight (sent, not yet answered),
  // together with answers waiting to be written to it. At this many the
  // gateway stops reading that socket until an answer is written:
  // back-pressure on that client only, also on one that does not read its
  // answers. Default 4,096, bounds 1..65,536.
  std::uint32_t in_flight_per_connection_max = 4'096;
  static constexpr bounds<std::uint32_t> in_flight_per_connection_max_bounds{1, 65'536};

  // Frames waiting to be written to one connection. Back-pressure keeps
  // answers under in_flight_per_connection_max, so only frames the server
  // sends on its own (events) can fill the queue past that: a client that
  // does not read them is closed with 1008 instead of buffered without bound.
  // Must exceed in_flight_per_connection_max. Default 8,192, bounds
  // 2..1,048,576.
  std::uint32_t write_queue_max = 8'192;
  static constexpr bounds<std::uint32_t> write_queue_max_bounds{2, 1'048'576};

  // Live subscriptions (subscribe) one connection may hold; one more is
  // answered LIMIT_EXCEEDED. Default 16, bounds 1..1,024.
  std::uint32_t subscriptions_per_connection_max = 16;
  static constexpr bounds<std::uint32_t> subscriptions_per_connection_max_bounds{1, 1'024};

  // Time allowed for a new connection's TLS handshake, its HTTP request (each
  // request of a keep-alive HTTP connection) and the WebSocket upgrade.
  // Default 5,000, bounds 100..600,000.
  std::uint64_t handshake_timeout_ms = 5'000;
  static constexpr bounds<std::uint64_t> handshake_timeout_ms_bounds{100, 600'000};

  // A WebSocket that has not authenticated this long after the upgrade is
  // closed with 1008. Default 10,000, bounds 100..600,000.
  std::uint64_t auth_timeout_ms = 10'000;
  static constexpr bounds<std::uint64_t> auth_timeout_ms_bounds{100, 600'000};

  // Failed `auth` frames allowed on one connection; the last one closes it
  // with 1008. Default 3, bounds 1..100.
  std::uint32_t auth_failures_max = 3;
  static constexpr bounds<std::uint32_t> auth_failures_max_bounds{1, 100};

  // A WebSocket from which nothing arrives for half this long is sent a ping;
  // if still nothing (not even the pong) arrives by the full time, it is
  // dropped. Default 60,000 (1 min), bounds 1,000..1 h.
  std::uint64_t idle_timeout_ms = 60'000;
  static constexpr bounds<std::uint64_t> idle_timeout_ms_bounds{1'000, gateway_one_hour_ms};

  // Longest a closing connection may take to write its last answers and
  // finish the close handshake (a graceful stop also waits this long for
  // in-flight answers); then its socket is dropped. Default 5,000, bounds
  // 0..300,000.
  std::uint64_t close_timeout_ms = 5'000;
  static constexpr bounds<std::uint64_t> close_timeout_ms_bounds{0, 300'000};

  // Values of the upgrade request's `Origin` header that are allowed, exactly
  // as browsers send them (e.g. "https://shop.example.com"); others get 403.
  // Empty = any origin, and requests without an Origin (non-browser clients)
  // are always allowed. Default empty.
  std::vector<std::string> origin_allow;

  // Authenticated WebSocket connections of one tenant (the system role counts
  // as a tenant of its own); the one over is closed with 1008 right after it
  // authenticates. Default 1,000, bounds 1..1,000,000.
  std::uint32_t connections_per_tenant_max = 1'000;
  static constexpr bounds<std::uint32_t> connections_per_tenant_max_bounds{1, 1'000'000};

  // WebSocket connections in all; an upgrade over this gets HTTP 503. Plain
  // HTTP connections are not counted (they are bounded by
  // handshake_timeout_ms). Default 10,000, bounds 1..1,000,000.
  std::uint32_t connections_max = 10'000;
  static constexpr bounds<std::uint32_t> connections_max_bounds{1, 1'000'000};

  // PEM files of the server's certificate chain and private key. Both set:
  // the port speaks only TLS (https and wss); both empty: plain HTTP and ws.
  // Setting one without the other is an error. Default empty.
  std::string tls_cert_file;
  std::string tls_key_file;

  // How often every authenticated connection's key is re-checked
  // (authenticator::still_valid); a revoked or expired key's connections are
  // closed with 1008 within about this long. Default 500, bounds 50..60,000.
  std::uint64_t revalidate_interval_ms = 500;
  static constexpr bounds<std::uint64_t> revalidate_interval_ms_bounds{50, 60'000};

  // Whether the port serves the WebSocket endpoint /v1/ws (else an upgrade
  // gets 404): off for an admin port that only serves /metrics and health.
  // Default on.
  bool websocket_enabled = true;

  // Whether GET /metrics needs a system-role bearer token. Off only for a
  // port bound to loopback (the admin port). Default on.
  bool metrics_token_required = true;

  // Limits on what one frame may contain (nesting, strings, containers).
  protocol::parse_limits parse;

  // Hold TTLs, enforced by the grid and only announced by the gateway in the
  // auth response's `limits` (ttl_ms_max, ttl_ms_default); the program's main
  // copies them from the hold settings. Defaults match those.
  std::int64_t announced_ttl_ms_max = 86'400'000;
  std::int64_t announced_ttl_ms_default = 600'000;

  // io_threads with 0 replaced by the number of cores (at least 1).
  std::uint32_t io_threads_resolved() const;

  // Empty when every setting is within its bounds and the settings agree with
  // each other; otherwise one line per problem naming the field.
  std::string validate() const;
};

}  // namespace stockgrid::gateway
