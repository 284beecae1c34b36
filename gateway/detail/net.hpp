// The Asio and Beast headers the gateway's sessions use, with short names.
// Internal to gateway/: server.hpp stays free of them.
#pragma once

// Boost 1.74's Asio needs <utility> before it under C++20 (std::exchange in
// boost/asio/awaitable.hpp); see /work/shared/NOTES.md.
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace stockgrid::gateway::detail {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

// The two transports. A connection's executor is its own strand (the socket
// is accepted onto net::make_strand), so every handler of one connection runs
// serialized.
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// Codes that end a connection in the ordinary way (peer closed, we closed,
// TLS peer skipped close_notify after a complete message); not worth a log.
inline bool benign(const beast::error_code& ec) {
  return ec == net::error::operation_aborted || ec == websocket::error::closed ||
         ec == net::error::eof || ec == http::error::end_of_stream ||
         ec == ssl::error::stream_truncated;
}

}  // namespace stockgrid::gateway::detail
