// A new TCP connection: (TLS handshake, then) HTTP requests until one is a
// WebSocket upgrade on `/v1/ws`, which becomes a websocket_session.
#pragma once

#include "gateway/detail/context.hpp"
#include "gateway/detail/net.hpp"

namespace stockgrid::gateway::detail {

// Serves the connection; `tls` null = plain. Call on the socket's strand.
void start_connection(tcp::socket socket, const context& ctx, ssl::context* tls);

}  // namespace stockgrid::gateway::detail
