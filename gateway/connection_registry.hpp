// Every open WebSocket connection of a server: the slots counted against
// connections_max and connections_per_tenant_max, and the handles the server
// uses to re-check keys and to stop. Thread-safe; knows no Asio.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/dispatcher.hpp"

namespace stockgrid::gateway {

// What the server asks of a connection. Both calls may come from any thread;
// the connection carries them out on its own strand.
class live_connection {
 public:
  virtual ~live_connection() = default;
  // Its key is no longer valid: close with 1008 and `reason` now, dropping
  // answers not yet written (requests on it fail from then on).
  virtual void revoke(std::string reason) = 0;
  // The server stops: close with 1001 once the in-flight answers are written.
  virtual void shut_down() = 0;
};

// Tenants' own connection limits as the node learns them (tenant.settings
// connections_max, at start and on each change), for
// server::tenant_connections_max. Thread-safe; one entry per tenant with a
// limit of its own.
class tenant_connection_limits {
 public:
  // 0 = back to the gateway's connections_per_tenant_max.
  void set(const std::string& tenant, std::uint32_t max);
  // The tenant's own limit, 0 = none.
  std::uint32_t of(const std::string& tenant) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint32_t> own_;
};

class connection_registry {
 public:
  // A tenant's own connection limit (tenant.settings connections_max), or 0
  // for per_tenant_max. Called outside the registry's lock; must be cheap.
  using tenant_max_fn = std::function<std::uint32_t(const std::string& tenant)>;

  connection_registry(std::uint32_t connections_max, std::uint32_t per_tenant_max,
                      tenant_max_fn tenant_max = {});

  // Takes a slot for an upgrade; false when connections_max are taken.
  bool reserve();
  // Registers the connection holding a reserved slot and returns its id. The
  // registry keeps it alive until leave(id).
  std::uint64_t join(std::shared_ptr<live_connection> connection);
  // Counts the authenticated connection under its tenant and returns 0; or,
  // when the tenant already holds its limit (its own, else per_tenant_max),
  // counts nothing and returns that limit. A lowered limit closes no
  // connection: it refuses new ones until the tenant is below it.
  std::uint32_t admit(std::uint64_t id, const principal& who);
  // Frees the slot and the tenant's count. Idempotent.
  void leave(std::uint64_t id);

  // Snapshots, for revalidation and stop.
  std::vector<std::pair<std::shared_ptr<live_connection>, principal>> authenticated() const;
  std::vector<std::shared_ptr<live_connection>> all() const;

  std::size_t size() const;
  // Waits until no connection is registered; false at the timeout.
  bool wait_empty(std::chrono::milliseconds timeout);
  // Forgets every connection (after the server's threads stopped).
  void clear();

 private:
  struct entry {
    std::shared_ptr<live_connection> connection;
    std::optional<principal> who;  // once admitted
  };

  const std::uint32_t connections_max_;
  const std::uint32_t per_tenant_max_;
  const tenant_max_fn tenant_max_;
  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::uint32_t slots_taken_ = 0;  // reserved or joined
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, entry> entries_;
  std::unordered_map<std::string, std::uint32_t> per_tenant_;
};

}  // namespace stockgrid::gateway
