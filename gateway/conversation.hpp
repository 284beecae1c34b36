// What one WebSocket connection does with the frames it receives, without any
// I/O: authentication, the in-flight id set, the role check and filling the
// tenant from the token. The session (websocket_session.hpp) moves bytes and
// acts on the verdicts; keeping the rules here makes them readable in one
// place and testable without a socket.
//
// Not thread-safe: a session calls it only on its strand.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "gateway/dispatcher.hpp"
#include "gateway/settings.hpp"
#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

namespace stockgrid::gateway {

// The version reported in the auth response (the CMake project version).
std::string_view server_version();

// WebSocket close codes the gateway sends itself (RFC 6455 §7.4.1). Beast
// sends 1007 (text frame not UTF-8) and 1009 (message too big) on its own
// when it reads such a frame.
enum class close_code : std::uint16_t {
  going_away = 1001,        // graceful stop of the server
  invalid_payload = 1007,   // text frame that is not UTF-8
  policy_violation = 1008,  // auth failures/timeout, revoked key, limits, not reading
  too_big = 1009,           // frame over frame_bytes_max
  try_again_later = 1013,   // a subscription's fan-out is overloaded: resume later
};

struct close_request {
  close_code code = close_code::policy_violation;
  std::string reason;  // short, sent in the close frame (at most 123 bytes)
};

// The 1008 close reason of a suspended tenant's connections.
inline constexpr std::string_view tenant_suspended_reason = "tenant suspended";

class conversation {
 public:
  // What the session must do after a frame, in this order: write `reply`,
  // hand `dispatch` to the dispatcher (its id is now in flight until
  // finished()), then close.
  struct verdict {
    std::optional<protocol::value> reply;
    std::optional<protocol::op_request> dispatch;
    std::optional<close_request> close;
  };

  // `admit` is asked once, when the connection authenticates, whether the
  // principal's tenant may have one more connection: it counts it and
  // returns 0, or returns the tenant's connection limit (the refusal's
  // `limit`).
  using admit_fn = std::function<std::uint32_t(const principal&)>;
  conversation(const gateway_settings& settings, authenticator& auth, admit_fn admit);

  // The connection was authenticated by its upgrade request's
  // `Authorization: Bearer` header. Returns a close when admission refuses.
  std::optional<close_request> on_header_auth(principal who);

  // One complete frame in the given encoding (UTF-8 of text frames already
  // checked by the session).
  verdict on_frame(std::string_view bytes, protocol::encoding enc);

  // The same on a connection that negotiated batch frames (subprotocol
  // stockgrid.batch, docs/protocol.md): a frame may also be an array of
  // requests, each handled as if it came in a frame of its own, in order.
  // A request beyond the connection's in-flight limit is answered OVERLOADED.
  std::vector<verdict> on_batch_frame(std::string_view bytes, protocol::encoding enc);

  // The answer to the dispatched request `id` arrived: its slot is free.
  void finished(std::int64_t id);

  bool authenticated() const { return who_.has_value(); }
  // Only when authenticated().
  const principal& who() const { return *who_; }
  std::size_t in_flight() const { return in_flight_.size(); }

 private:
  verdict on_request(const protocol::value& frame);
  verdict on_auth(const protocol::op_request& req);
  // A refusal: the close, and the limit the tenant is at.
  struct refusal {
    close_request close;
    std::uint32_t limit = 0;
  };
  std::optional<refusal> admit(principal who);
  protocol::value auth_result(std::int64_t id) const;
  void fill_from_principal(protocol::op_request& req) const;

  const gateway_settings& settings_;
  authenticator& auth_;
  admit_fn admit_;
  std::optional<principal> who_;
  std::uint32_t auth_failures_ = 0;
  std::unordered_set<std::int64_t> in_flight_;
};

}  // namespace stockgrid::gateway
