// The admin ops of protocol v1 over the key store, for the node's dispatcher:
//   system: tenant.create {tenant} -> {tenant, token}, tenant.list,
//           tenant.suspend {tenant}, tenant.resume {tenant}, and
//           tenant.delete's first and last steps (its data is the grid's)
//   admin:  key.create {role, warehouses?, expires_at_ms?} -> {key_id, token},
//           key.list, key.revoke {key_id}
// Results are plain structs; the dispatcher turns them into protocol values
// (role names via protocol::to_string). The gateway checks roles before it
// dispatches; these functions check again (FORBIDDEN), so a wiring mistake
// cannot hand out another tenant's keys. The tenant always comes from the
// principal, never from a request field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/authenticator.hpp"
#include "auth/key_store.hpp"
#include "domain/outcome.hpp"
#include "gateway/dispatcher.hpp"

namespace stockgrid::auth {

template <class T>
struct admin_result {
  outcome code = outcome::ok;  // ok, bad_request, forbidden, not_found or internal
  std::string message;         // for the client; names the field
  std::string log_detail;      // internal: the store's error (file, row), for the server log
  T value{};
  bool ok() const { return code == outcome::ok; }
};

struct created_tenant {
  std::string tenant;
  std::string key_id;  // of its first admin key
  std::string token;   // shown once
};

struct created_key {
  std::string key_id;
  std::string token;  // shown once
};

struct key_create_args {
  std::optional<protocol::role> role;   // required: admin, writer or reader
  std::vector<std::string> warehouses;  // empty = every warehouse of the tenant
  std::optional<epoch_ms> expires_at_ms;
};

class key_admin {
 public:
  // `cache`, if not null, learns of revocations at once. `clock` is the
  // wall clock when empty (creation times, "expires_at_ms in the future").
  // `origin` is this node's member id in a cluster ("" alone): it stamps
  // the tenant status changes made here (auth/replication.hpp).
  key_admin(key_store& store, key_authenticator* cache, clock_fn clock = {}, std::string origin = {});
  // tenant.create refuses (BAD_REQUEST) the name of a tenant deleted less
  // than `delay_ms` ago, as its tombstone says (0, the default: no delay).
  // A cluster sets its journal retention (docs/cluster.md, "Deleting a
  // tenant").
  void reuse_names_after(epoch_ms delay_ms) { reuse_after_ms_ = delay_ms; }

  // system. BAD_REQUEST for a bad name or an existing tenant.
  admin_result<created_tenant> tenant_create(const gateway::principal& who,
                                             std::string_view tenant);
  admin_result<std::vector<tenant_record>> tenant_list(const gateway::principal& who);
  // system. Durably suspends the tenant (its keys stop authenticating, its
  // open connections are closed, requests still arriving are FORBIDDEN) or
  // resumes it (its keys work again). Both idempotent; BAD_REQUEST for a bad
  // name, NOT_FOUND for an unknown tenant. The cache learns of it before
  // this returns, so no request checked afterwards gets through.
  // system. The tenant's row (tenant.export checks it exists); BAD_REQUEST
  // for a bad name, NOT_FOUND for an unknown tenant.
  admin_result<tenant_record> tenant_get(const gateway::principal& who, std::string_view tenant);
  admin_result<std::monostate> tenant_suspend(const gateway::principal& who, std::string_view tenant);
  admin_result<std::monostate> tenant_resume(const gateway::principal& who, std::string_view tenant);
  // system. tenant.delete's first and last steps: durably marks a suspended
  // tenant as being deleted (BAD_REQUEST for an active one, NOT_FOUND for
  // an unknown one; marking it again is ok), and, once its data is gone,
  // removes its row and keys (the cache forgets them before this returns).
  admin_result<std::monostate> tenant_mark_deleting(const gateway::principal& who, std::string_view tenant);
  admin_result<std::monostate> tenant_remove(const gateway::principal& who, std::string_view tenant);

  // admin, in its own tenant. BAD_REQUEST for role system or a missing role,
  // more than 100 warehouses, an empty, duplicate or over-128-byte warehouse,
  // or an expiry not in the future. A key limited to some warehouses may only
  // create keys limited to some of those (FORBIDDEN otherwise).
  admin_result<created_key> key_create(const gateway::principal& who, const key_create_args& args);
  // The tenant's keys, revoked and expired ones included, without secrets.
  admin_result<std::vector<key_info>> key_list(const gateway::principal& who);
  // NOT_FOUND for an unknown key and another tenant's key alike.
  admin_result<std::monostate> key_revoke(const gateway::principal& who, std::string_view key_id);

 private:
  admin_result<std::monostate> set_suspended(const gateway::principal& who, std::string_view tenant,
                                             bool suspend);

  key_store& store_;
  key_authenticator* cache_;
  clock_fn clock_;
  std::string origin_;
  epoch_ms reuse_after_ms_ = 0;
};

// Empty if `warehouses` is a valid key.create list, else the BAD_REQUEST
// message naming the entry ("warehouses[2]: must not be empty").
std::string check_key_warehouses(const std::vector<std::string>& warehouses);

}  // namespace stockgrid::auth
