// The one seam between the gateway and what serves requests. The gateway
// authenticates, decodes and checks roles; a dispatcher answers. The node's
// dispatcher (app/) talks to the grid and the key store; the stub dispatcher
// (gateway/stub_dispatcher.hpp) answers every op so the gateway can be tested
// and benchmarked alone. Includes no CAF.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/types.hpp"
#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

namespace stockgrid::gateway {

// Who sent a request: from the token, never from a frame.
struct principal {
  std::string tenant;  // empty for the system role
  std::string key_id;
  protocol::role role = protocol::role::reader;
  std::vector<std::string> warehouses;  // empty = all warehouses of the tenant
  std::optional<epoch_ms> expires_at_ms;
};

// The frames the server sends on its own for one subscription
// (docs/protocol.md "Subscriptions"): made by the dispatcher, drained by the
// connection when it has room to write (so a slow reader is the stream's
// problem, which it solves by coalescing and then failing, not the
// connection's memory).
class event_stream {
 public:
  virtual ~event_stream() = default;
  // The subscription id the client uses (unsubscribe {sub}).
  virtual std::uint64_t id() const = 0;
  // Moves up to `max` frames, encoded in `enc` (the subscribe's encoding),
  // into `out`; returns how many. Encoding here lets a stream share bytes
  // between the subscribers of one event.
  virtual std::size_t take(std::size_t max, protocol::encoding enc, std::vector<std::string>& out) = 0;
  // Set once the stream cannot go on: the connection is closed with this
  // WebSocket close code and reason (1008 too slow, 1013 try again later).
  struct end {
    std::uint16_t close_code = 1008;
    std::string reason;
  };
  virtual std::optional<end> failure() const = 0;
  // The connection wants no more frames (unsubscribe, closed).
  virtual void cancel() = 0;
};

class dispatcher {
 public:
  virtual ~dispatcher() = default;
  // Answers one decoded request whose op `who` may run (role checked by the
  // gateway; warehouse limits are the dispatcher's). `done` is called exactly
  // once, on any thread, with the full response (ok_response/error_response);
  // the gateway serializes it in the request's encoding.
  virtual void dispatch(const principal& who, protocol::op_request&& req,
                        std::function<void(protocol::value)> done) = 0;

  // `subscribe` (the gateway keeps `unsubscribe` itself: streams belong to
  // connections). `done` is called exactly once, on any thread, with the
  // response and, when it is ok, the stream; no frame of the stream may be
  // sent before the response. `wake` may be called on any thread, often,
  // while the stream lives: it has frames to take, or has failed. This
  // default answers UNKNOWN_OP (a dispatcher without subscriptions).
  using subscribed_fn = std::function<void(protocol::value, std::shared_ptr<event_stream>)>;
  virtual void subscribe(const principal& who, protocol::op_request&& req, std::function<void()> wake,
                         subscribed_fn done);

  // The gateway answered a request itself with the error response `answer`
  // (a frame that does not parse, an op the role may not use, a connection
  // over its limits), on its own thread, before writing it; `who` is null
  // before authentication. Wrappers that count, name and log requests see
  // these here and may add to the error (request_id). Default: nothing.
  virtual void refused(const principal* who, protocol::value& answer);
};

// Turns tokens into principals. Called on gateway threads: must not block for
// long (a hash and a map look-up).
class authenticator {
 public:
  virtual ~authenticator() = default;
  // The principal of a valid, unexpired, unrevoked token; nullopt otherwise.
  virtual std::optional<principal> authenticate(std::string_view token) = 0;
  // Whether the key behind an authenticated connection is still valid (not
  // revoked, not expired, its tenant not suspended). The gateway re-checks
  // its connections about every 500 ms and closes those whose key is no
  // longer valid (1008); it also asks before each request.
  virtual bool still_valid(const principal& who) = 0;

  // Why still_valid() answered false: asked only then, so it costs nothing
  // on the hot path. A suspended tenant's requests are answered FORBIDDEN
  // and its connections closed with a reason that says so; otherwise
  // UNAUTHENTICATED and "key revoked or expired".
  enum class invalid_reason { revoked_or_expired, tenant_suspended };
  virtual invalid_reason why_invalid(const principal&) { return invalid_reason::revoked_or_expired; }
};

}  // namespace stockgrid::gateway
