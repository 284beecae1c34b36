// A real gateway server on 127.0.0.1 with an ephemeral port, backed by the
// stub dispatcher (or one that holds answers back) and the stub
// authenticator.
#pragma once

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/server.hpp"
#include "gateway/stub_dispatcher.hpp"
#include "tests/gateway/test_client.hpp"

namespace stockgrid::gateway_test {

using gateway::gateway_settings;

inline gateway_settings test_settings() {
  gateway_settings s;
  s.port = 0;
  s.io_threads = 2;
  return s;
}

// Answers like the stub, but only when told to: answers wait until
// release_all(). For in-flight ids, back-pressure and graceful stop.
class held_dispatcher : public gateway::dispatcher {
 public:
  void dispatch(const gateway::principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override {
    protocol::value answer;
    stub_.dispatch(who, std::move(req), [&answer](protocol::value v) { answer = std::move(v); });
    std::lock_guard lock(mutex_);
    held_.push_back({std::move(answer), std::move(done)});
    ++received_;
    changed_.notify_all();
  }

  std::size_t received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

  // Waits until `n` requests have been received in all.
  bool wait_received(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return received_ >= n; });
  }

  // Answers everything held, from this thread.
  void release_all() {
    std::vector<held> out;
    {
      std::lock_guard lock(mutex_);
      out.swap(held_);
    }
    for (auto& h : out) h.done(std::move(h.answer));
  }

 private:
  struct held {
    protocol::value answer;
    std::function<void(protocol::value)> done;
  };
  gateway::stub_dispatcher stub_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<held> held_;
  std::size_t received_ = 0;
};

struct running_server {
  explicit running_server(gateway_settings settings = test_settings(),
                          gateway::dispatcher* custom = nullptr)
      : server(std::move(settings), custom != nullptr ? *custom : stub, auth,
               [this] { return ready.load(); }) {
    std::string error;
    const bool started = server.start(&error);
    INFO(error);
    REQUIRE(started);
  }

  std::unique_ptr<ws_client> connect(const client_options& options = {}) {
    std::string error;
    auto client = ws_client::connect(server.port(), options, &error);
    INFO(error);
    REQUIRE(client != nullptr);
    return client;
  }

  // A connection authenticated by an auth frame.
  std::unique_ptr<ws_client> connect_as(const std::string& token) {
    auto client = connect();
    client->send_text(R"({"op":"auth","id":1,"token":")" + token + R"("})");
    auto answer = client->read_value();
    REQUIRE(answer);
    REQUIRE(is_ok(*answer));
    return client;
  }

  // Waits until the server has `n` WebSocket connections open.
  bool wait_connections(std::size_t n, std::chrono::milliseconds timeout = 2s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (server.connections() != n) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  gateway::stub_dispatcher stub;
  gateway::stub_authenticator auth;
  std::atomic<bool> ready{true};
  gateway::server server;
};

}  // namespace stockgrid::gateway_test
