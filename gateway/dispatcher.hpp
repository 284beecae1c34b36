// The one seam between the gateway and what serves requests. The gateway
// authenticates, decodes and checks roles; a dispatcher answers. The node's
// dispatcher (app/) talks to the grid and the key store; the stub dispatcher
// (gateway/stub_dispatcher.hpp) answers every op so the gateway can be tested
// and benchmarked alone. Includes no CAF.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/types.hpp"
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

class dispatcher {
 public:
  virtual ~dispatcher() = default;
  // Answers one decoded request whose op `who` may run (role checked by the
  // gateway; warehouse limits are the dispatcher's). `done` is called exactly
  // once, on any thread, with the full response (ok_response/error_response);
  // the gateway serializes it in the request's encoding.
  virtual void dispatch(const principal& who, protocol::op_request&& req,
                        std::function<void(protocol::value)> done) = 0;
};

// Turns tokens into principals. Called on gateway threads: must not block for
// long (a hash and a map look-up).
class authenticator {
 public:
  virtual ~authenticator() = default;
  // The principal of a valid, unexpired, unrevoked token; nullopt otherwise.
  virtual std::optional<principal> authenticate(std::string_view token) = 0;
  // Whether the key behind an authenticated connection is still valid (not
  // revoked, not expired). The gateway re-checks its connections about every
  // 500 ms and closes those whose key is no longer valid (1008).
  virtual bool still_valid(const principal& who) = 0;
};

}  // namespace stockgrid::gateway
