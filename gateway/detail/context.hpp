// What every session of one server shares: settings, the seams, the registry.
// Owned by the server; it outlives every session.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>

#include "gateway/connection_registry.hpp"
#include "gateway/dispatcher.hpp"
#include "gateway/server.hpp"
#include "gateway/settings.hpp"

namespace stockgrid::gateway::detail {

// Dispatcher answers arrive on any thread, possibly after the server stopped.
// An answer reaches its session only while the gate is open (the io_context
// is alive); the server closes it before tearing the io_context down.
struct answer_gate {
  std::shared_mutex mutex;
  bool open = true;
};

struct context {
  const gateway_settings& settings;
  dispatcher& dispatch;
  authenticator& auth;
  const std::function<bool()>& ready;
  const std::function<std::optional<http_response>(const http_request&)>& extra_http;
  const std::function<std::string()>& metrics;
  const std::atomic<bool>& draining;
  connection_registry& connections;
  std::shared_ptr<answer_gate> gate;
};

}  // namespace stockgrid::gateway::detail
