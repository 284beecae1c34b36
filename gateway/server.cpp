#include "gateway/server.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <spdlog/spdlog.h>
#include <thread>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

#include "gateway/connection_registry.hpp"
#include "gateway/conversation.hpp"
#include "gateway/detail/context.hpp"
#include "gateway/detail/http_session.hpp"
#include "gateway/detail/net.hpp"

namespace stockgrid::gateway {

using namespace detail;

namespace {

// Accepts connections until closed (begin_drain); each socket gets its own
// strand, which every handler of that connection then runs on.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, const context& ctx, ssl::context* tls)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_timer_(acceptor_.get_executor()),
        ctx_(ctx),
        tls_(tls) {}

  bool open(const tcp::endpoint& endpoint, std::string* error) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "cannot listen on " + endpoint.address().to_string() + ":" +
               std::to_string(endpoint.port()) + ": " + ec.message();
      return false;
    }
    return true;
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void run() { do_accept(); }

  // Stops accepting; open connections are not touched.
  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: retry a little later rather
      // than spin (and log) in a tight loop.
      spdlog::warn("gateway: accept: {}", ec.message());
      retry_timer_.expires_after(accept_retry_delay);
      retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
      });
      return;
    }
    // Answers are small frames written back to back; with Nagle's algorithm
    // one waits for the client to acknowledge the previous one (a delayed
    // ACK, ~40 ms), which stalls pipelined answers.
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    net::dispatch(socket.get_executor(),
                  [socket = std::move(socket), this, self = shared_from_this()]() mutable {
                    start_connection(std::move(socket), ctx_, tls_);
                  });
    do_accept();
  }

  static constexpr std::chrono::milliseconds accept_retry_delay{100};

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  const context& ctx_;
  ssl::context* tls_;
};

bool load_tls(const gateway_settings& settings, ssl::context& tls, std::string* error) {
  beast::error_code ec;
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::single_dh_use,
                  ec);
  if (!ec && SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION) != 1) {
    *error = "cannot require TLS 1.2";
    return false;
  }
  if (!ec) tls.use_certificate_chain_file(settings.tls_cert_file, ec);
  if (ec) {
    *error = "tls_cert_file " + settings.tls_cert_file + ": " + ec.message();
    return false;
  }
  tls.use_private_key_file(settings.tls_key_file, ssl::context::pem, ec);
  if (ec) {
    *error = "tls_key_file " + settings.tls_key_file + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

// Member order is teardown order in reverse: the io_context (and with it
// every session still referenced by a handler) goes first, then what the
// sessions referred to.
struct server::impl {
  impl(const gateway_settings& settings, dispatcher& dispatch, authenticator& auth,
       const std::function<bool()>& ready,
       const std::function<std::optional<http_response>(const http_request&)>& extra_http,
       const std::function<std::string()>& metrics,
       const std::function<std::uint32_t(const std::string&)>& tenant_connections_max)
      : connections(settings.connections_max, settings.connections_per_tenant_max, tenant_connections_max),
        gate(std::make_shared<answer_gate>()),
        ctx{settings, dispatch, auth, ready, extra_http, metrics, draining, connections, gate},
        ioc(static_cast<int>(settings.io_threads_resolved())),
        work(net::make_work_guard(ioc)),
        revalidate_timer(net::make_strand(ioc)) {}

  void schedule_revalidation();
  void revalidate();

  std::atomic<bool> draining{false};
  connection_registry connections;
  std::shared_ptr<answer_gate> gate;
  context ctx;
  std::optional<ssl::context> tls;
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work;
  net::steady_timer revalidate_timer;
  std::shared_ptr<listener> accept;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool stopped = false;
};

void server::impl::schedule_revalidation() {
  revalidate_timer.expires_after(
      std::chrono::milliseconds(ctx.settings.revalidate_interval_ms));
  revalidate_timer.async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled by stop()
    revalidate();
    schedule_revalidation();
  });
}

// Re-checks each authenticated connection's key; one authenticator call per
// key per round, however many connections share it. The close reason says
// why: the key, or its tenant's suspension.
void server::impl::revalidate() {
  std::unordered_map<std::string, std::optional<std::string>> closing_by_key;
  for (auto& [connection, who] : connections.authenticated()) {
    auto [known, inserted] = closing_by_key.try_emplace(who.key_id);
    if (inserted && !ctx.auth.still_valid(who))
      known->second = ctx.auth.why_invalid(who) == authenticator::invalid_reason::tenant_suspended
                          ? std::string(tenant_suspended_reason)
                          : std::string("key revoked or expired");
    if (known->second) connection->revoke(*known->second);
  }
}

server::server(gateway_settings settings, dispatcher& dispatch, authenticator& auth,
               std::function<bool()> ready)
    : settings_(std::move(settings)), dispatch_(dispatch), auth_(auth), ready_(std::move(ready)) {}

server::~server() { stop(); }

bool server::start(std::string* error) {
  std::string ignored;
  if (error == nullptr) error = &ignored;
  if (impl_) {
    *error = "already started";
    return false;
  }
  if (std::string problems = settings_.validate(); !problems.empty()) {
    *error = problems;
    return false;
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(settings_.bind, ec);
  if (ec) {
    *error = "bind " + settings_.bind + ": " + ec.message();
    return false;
  }

  auto state = std::make_unique<impl>(settings_, dispatch_, auth_, ready_, extra_http, metrics,
                                      tenant_connections_max);
  if (!settings_.tls_cert_file.empty()) {
    state->tls.emplace(ssl::context::tls_server);
    if (!load_tls(settings_, *state->tls, error)) return false;
  }
  state->accept = std::make_shared<listener>(state->ioc, state->ctx,
                                             state->tls ? &*state->tls : nullptr);
  if (!state->accept->open(tcp::endpoint(address, settings_.port), error)) return false;
  state->port = state->accept->port();
  state->accept->run();
  state->schedule_revalidation();

  const std::uint32_t threads = settings_.io_threads_resolved();
  for (std::uint32_t i = 0; i < threads; ++i) {
    state->threads.emplace_back([&ioc = state->ioc] { ioc.run(); });
  }
  spdlog::info("gateway: listening on {}:{} ({}, {} threads)", settings_.bind, state->port,
               state->tls ? "https/wss" : "http/ws", threads);
  impl_ = std::move(state);
  return true;
}

std::uint16_t server::port() const { return impl_ ? impl_->port : 0; }

std::size_t server::connections() const { return impl_ ? impl_->connections.size() : 0; }

void server::begin_drain() {
  if (!impl_ || impl_->draining.exchange(true)) return;
  spdlog::info("gateway: draining: /readyz 503, refusing WebSocket upgrades");
}

void server::stop() {
  if (!impl_ || impl_->stopped) return;
  begin_drain();
  impl_->accept->close();
  for (auto& connection : impl_->connections.all()) connection->shut_down();
  // Each connection bounds its own close by close_timeout_ms; the margin
  // covers scheduling. Whatever is still open then is dropped below.
  const auto wait = std::chrono::milliseconds(settings_.close_timeout_ms + 1'000);
  if (!impl_->connections.wait_empty(wait)) {
    spdlog::warn("gateway: {} connections did not close in time; dropping them",
                 impl_->connections.size());
  }
  {
    std::unique_lock lock(impl_->gate->mutex);
    impl_->gate->open = false;  // late dispatcher answers are dropped from now on
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  impl_->connections.clear();
  impl_->stopped = true;
  spdlog::info("gateway: stopped");
}

}  // namespace stockgrid::gateway
