#include "gateway/detail/http_session.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <spdlog/spdlog.h>

#include "gateway/detail/http_checks.hpp"
#include "gateway/detail/websocket_session.hpp"
#include "metrics/metrics.hpp"

namespace stockgrid::gateway::detail {

namespace {

using response_type = http::response<http::string_body>;

response_type text_response(http::status status, unsigned version, std::string body) {
  response_type res{status, version};
  res.set(http::field::server, "stockgrid/" + std::string(server_version()));
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_request to_hook_request(const request_type& req) {
  http_request out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.path = std::string(path_of(to_view(req.target())));
  for (const auto& field : req) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = req.body();
  return out;
}

response_type from_hook_response(http_response&& hook, unsigned version) {
  response_type res{static_cast<http::status>(hook.status), version};
  res.set(http::field::server, "stockgrid/" + std::string(server_version()));
  res.set(http::field::content_type, hook.content_type);
  for (auto& [name, value] : hook.headers) res.set(name, value);
  res.body() = std::move(hook.body);
  res.prepare_payload();
  return res;
}

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
  static constexpr bool tls = std::is_same_v<Stream, tls_stream>;

 public:
  http_session(Stream&& stream, const context& ctx) : stream_(std::move(stream)), ctx_(ctx) {}

  void run() {
    if constexpr (tls) {
      beast::get_lowest_layer(stream_).expires_after(handshake_timeout());
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&http_session::on_handshake, this->shared_from_this()));
    } else {
      do_read();
    }
  }

 private:
  std::chrono::milliseconds handshake_timeout() const {
    return std::chrono::milliseconds(ctx_.settings.handshake_timeout_ms);
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail(ec, "tls handshake");
    do_read();
  }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(http_header_bytes_max);
    parser_->body_limit(http_body_bytes_max);
    beast::get_lowest_layer(stream_).expires_after(handshake_timeout());
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return do_eof();
    if (ec) return fail(ec, "read");
    const request_type& req = parser_->get();
    if (websocket::is_upgrade(req)) return upgrade();
    respond(answer(req), req.keep_alive());
  }

  // Refusals close the connection: a client that asked to upgrade has no use
  // for it as plain HTTP.
  void upgrade() {
    const request_type& req = parser_->get();
    const unsigned version = req.version();
    if (path_of(to_view(req.target())) != websocket_path || !ctx_.settings.websocket_enabled) {
      return respond(text_response(http::status::not_found, version, "not found"), false);
    }
    if (ctx_.draining) {
      return respond(text_response(http::status::service_unavailable, version, "draining"), false);
    }
    if (!origin_allowed(req, ctx_.settings)) {
      return respond(text_response(http::status::forbidden, version, "origin not allowed"), false);
    }
    std::optional<principal> who;
    if (auto header = req.find(http::field::authorization); header != req.end()) {
      if (auto token = bearer_token(to_view(header->value()))) who = ctx_.auth.authenticate(*token);
      if (!who) {
        auto res = text_response(http::status::unauthorized, version, "invalid token");
        res.set(http::field::www_authenticate, "Bearer");
        return respond(std::move(res), false);
      }
    }
    if (!ctx_.connections.reserve()) {
      return respond(
          text_response(http::status::service_unavailable, version, "too many connections"),
          false);
    }
    // The WebSocket stream keeps its own timeouts from here on.
    beast::get_lowest_layer(stream_).expires_never();
    std::make_shared<websocket_session<Stream>>(std::move(stream_), ctx_, std::move(who))
        ->run(parser_->release());
  }

  response_type answer(const request_type& req) {
    response_type res = route(req);
    if (req.method() == http::verb::head) {
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    return res;
  }

  response_type route(const request_type& req) {
    const unsigned version = req.version();
    const std::string_view path = path_of(to_view(req.target()));
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    if (path == "/healthz" || path == "/readyz") {
      if (!get) {
        auto res = text_response(http::status::method_not_allowed, version, "method not allowed");
        res.set(http::field::allow, "GET, HEAD");
        return res;
      }
      if (path == "/healthz") return text_response(http::status::ok, version, "ok");
      if (ctx_.draining) {
        return text_response(http::status::service_unavailable, version, "draining");
      }
      if (ctx_.ready && !ctx_.ready()) {
        return text_response(http::status::service_unavailable, version, "not ready");
      }
      return text_response(http::status::ok, version, "ready");
    }
    if (path == "/metrics" && ctx_.metrics) return metrics(req, get);
    if (path == websocket_path && ctx_.settings.websocket_enabled) {
      auto res =
          text_response(http::status::upgrade_required, version, "WebSocket upgrade required");
      res.set(http::field::upgrade, "websocket");
      return res;
    }
    if (ctx_.extra_http) {
      try {
        if (auto hooked = ctx_.extra_http(to_hook_request(req))) {
          return from_hook_response(std::move(*hooked), version);
        }
      } catch (const std::exception& e) {
        spdlog::warn("gateway: http handler for {} failed: {}", path, e.what());
        return text_response(http::status::internal_server_error, version, "internal error");
      }
    }
    return text_response(http::status::not_found, version, "not found");
  }

  response_type metrics(const request_type& req, bool get) {
    const unsigned version = req.version();
    if (!get) {
      auto res = text_response(http::status::method_not_allowed, version, "method not allowed");
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    if (ctx_.settings.metrics_token_required) {
      std::optional<principal> who;
      if (auto header = req.find(http::field::authorization); header != req.end())
        if (auto token = bearer_token(to_view(header->value()))) who = ctx_.auth.authenticate(*token);
      if (!who) {
        auto res = text_response(http::status::unauthorized, version, "a system-role bearer token is required");
        res.set(http::field::www_authenticate, "Bearer");
        return res;
      }
      if (who->role != protocol::role::system)
        return text_response(http::status::forbidden, version, "metrics need the system role");
    }
    auto res = text_response(http::status::ok, version, ctx_.metrics());
    res.set(http::field::content_type, std::string(metrics::content_type));
    return res;
  }

  void respond(response_type res, bool keep_alive) {
    res.keep_alive(keep_alive);
    response_ = std::move(res);
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&http_session::on_write, this->shared_from_this(), keep_alive));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    response_.reset();
    if (!keep_alive) return do_eof();
    do_read();
  }

  void do_eof() {
    if constexpr (tls) {
      beast::get_lowest_layer(stream_).expires_after(handshake_timeout());
      stream_.async_shutdown(
          beast::bind_front_handler(&http_session::on_shutdown, this->shared_from_this()));
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  void on_shutdown(beast::error_code ec) {
    if (ec) fail(ec, "tls shutdown");
  }

  void fail(beast::error_code ec, const char* what) {
    if (benign(ec)) return;
    spdlog::debug("gateway: http {}: {}", what, ec.message());
  }

  Stream stream_;
  const context& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<response_type> response_;  // being written
};

}  // namespace

void start_connection(tcp::socket socket, const context& ctx, ssl::context* tls) {
  if (tls != nullptr) {
    std::make_shared<http_session<tls_stream>>(tls_stream(std::move(socket), *tls), ctx)->run();
  } else {
    std::make_shared<http_session<plain_stream>>(plain_stream(std::move(socket)), ctx)->run();
  }
}

}  // namespace stockgrid::gateway::detail
