// The WebSocket gateway: one port serving HTTP (`/healthz`, `/readyz`,
// `/metrics`, hooks for more) and the protocol's WebSocket endpoint `/v1/ws`, plain or TLS.
// It authenticates, decodes and checks roles, then hands each request to a
// dispatcher (gateway/dispatcher.hpp). Includes no Beast, Asio or CAF header,
// so the program's main can hold a server cheaply.
//
// Close codes it sends: 1001 graceful stop; 1007 text frame not UTF-8; 1008
// authentication failed 3 times or timed out, key revoked or expired, too
// many connections for the tenant, or write queue full (a client that does
// not read what the server sends on its own; answers are held back by
// back-pressure instead); 1009 frame over frame_bytes_max.
// HTTP answers to an upgrade: 401 invalid Authorization header token, 403
// Origin not allowed, 404 other path or WebSocket off, 503 draining or
// connections_max reached.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/dispatcher.hpp"
#include "gateway/settings.hpp"

namespace stockgrid::gateway {

// An HTTP request that is not a WebSocket upgrade, for extra_http.
struct http_request {
  std::string method;  // "GET"
  std::string target;  // "/metrics?x=1"
  std::string path;    // "/metrics"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class server {
 public:
  // `ready` says whether the node accepts requests (recovery finished);
  // /readyz is 200 only when it returns true and the server is not draining.
  // It is called on gateway threads and must be cheap. The dispatcher and
  // authenticator must outlive the server.
  server(gateway_settings settings, dispatcher& dispatch, authenticator& auth,
         std::function<bool()> ready);
  // Calls stop().
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Answers HTTP requests other than /healthz, /readyz and /v1/ws (metrics,
  // dashboard) before the 404; nullopt = not mine. Runs on gateway threads,
  // must not block. Set before start().
  std::function<std::optional<http_response>(const http_request&)> extra_http;

  // GET /metrics answers what this returns (Prometheus text format); unset =
  // 404. With settings.metrics_token_required only for an
  // `Authorization: Bearer` token of the system role (401 without a valid
  // token, 403 for another role). Runs on gateway threads. Set before start().
  std::function<std::string()> metrics;

  // A tenant's own limit on its authenticated connections (tenant.settings
  // connections_max), 0 = settings.connections_per_tenant_max; unset = that
  // for every tenant. Asked on gateway threads as a connection
  // authenticates; must be cheap and not block. Set before start().
  std::function<std::uint32_t(const std::string& tenant)> tenant_connections_max;

  // start(), begin_drain() and stop() are meant for one controlling thread
  // (main, or its signal handling); port() and connections() for any.

  // Validates the settings, loads the TLS files, binds and starts the
  // threads. False with `error` set when any of that fails.
  bool start(std::string* error);

  // The bound port (the OS's choice when settings.port was 0); 0 before start.
  std::uint16_t port() const;

  // /readyz turns 503 and WebSocket upgrades are refused (503); open
  // connections keep being served and plain HTTP (health checks, metrics)
  // is still answered, so a load balancer sees the node leave.
  void begin_drain();

  // Drains, stops accepting connections, then closes every connection with
  // 1001 once its in-flight answers are written (each bounded by
  // close_timeout_ms), and joins the threads. Idempotent.
  void stop();

  // WebSocket connections open now (authenticated or not).
  std::size_t connections() const;

 private:
  struct impl;
  gateway_settings settings_;
  dispatcher& dispatch_;
  authenticator& auth_;
  std::function<bool()> ready_;
  std::unique_ptr<impl> impl_;
};

}  // namespace stockgrid::gateway
