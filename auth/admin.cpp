#include "auth/admin.hpp"

#include <algorithm>
#include <set>

#include "auth/limits.hpp"

namespace stockgrid::auth {

namespace {

template <class T>
admin_result<T> refuse(outcome code, std::string message) {
  admin_result<T> r;
  r.code = code;
  r.message = std::move(message);
  return r;
}

// An operating error of the store: the client learns only that it happened.
template <class T>
admin_result<T> store_failure(const store_status& st) {
  admin_result<T> r = refuse<T>(outcome::internal, "key store error");
  r.log_detail = st.message();
  return r;
}

bool is_system(const gateway::principal& who) {
  return who.role == protocol::role::system && who.tenant.empty();
}

bool is_tenant_admin(const gateway::principal& who) {
  return who.role == protocol::role::admin && !who.tenant.empty();
}

const char* const not_system = "only the system key may manage tenants";
const char* const not_admin = "only an admin key of the tenant may manage its keys";

}  // namespace

std::string check_key_warehouses(const std::vector<std::string>& warehouses) {
  if (warehouses.size() > limits::key_warehouses_max)
    return "warehouses: at most " + std::to_string(limits::key_warehouses_max) + " entries";
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < warehouses.size(); ++i) {
    const std::string field = "warehouses[" + std::to_string(i) + "]";
    const std::string& w = warehouses[i];
    if (w.empty()) return field + ": must not be empty";
    if (w.size() > limits::warehouse_bytes_max)
      return field + ": longer than " + std::to_string(limits::warehouse_bytes_max) + " bytes";
    if (!seen.insert(w).second) return field + ": duplicate";
  }
  return {};
}

key_admin::key_admin(key_store& store, key_authenticator* cache, clock_fn clock, std::string origin)
    : store_(store),
      cache_(cache),
      clock_(clock ? std::move(clock) : clock_fn(wall_clock_ms)),
      origin_(std::move(origin)) {}

admin_result<created_tenant> key_admin::tenant_create(const gateway::principal& who,
                                                      std::string_view tenant) {
  using result = created_tenant;
  if (!is_system(who)) return refuse<result>(outcome::forbidden, not_system);
  if (std::string err = check_tenant_name(tenant); !err.empty())
    return refuse<result>(outcome::bad_request, std::move(err));
  const epoch_ms now = clock_();
  if (reuse_after_ms_ > 0) {
    std::vector<tenant_tombstone> tombs;
    if (store_status st = store_.list_tombstones(&tombs); !st) return store_failure<result>(st);
    for (const auto& t : tombs)
      if (t.name == tenant && now < t.deleted_ms + reuse_after_ms_)
        return refuse<result>(outcome::bad_request,
                              "tenant: " + t.name + " was deleted at " + std::to_string(t.deleted_ms) +
                                  " ms; in a cluster its name is free again from " +
                                  std::to_string(t.deleted_ms + reuse_after_ms_) + " ms (retention-ms after the delete)");
  }
  issued_key issued = create_tenant(store_, tenant, now);
  switch (issued.status.kind()) {
    case store_status::code::ok:
      break;
    case store_status::code::already_exists:
      return refuse<result>(outcome::bad_request, "tenant: already exists");
    case store_status::code::invalid:  // deleted later than this node's clock says it is now
      return refuse<result>(outcome::bad_request, "tenant: " + issued.status.message() + "; retry later");
    default:
      return store_failure<result>(issued.status);
  }
  admin_result<result> r;
  r.value = {std::string(tenant), std::move(issued.key_id), std::move(issued.token)};
  return r;
}

admin_result<std::vector<tenant_record>> key_admin::tenant_list(const gateway::principal& who) {
  using result = std::vector<tenant_record>;
  if (!is_system(who)) return refuse<result>(outcome::forbidden, not_system);
  admin_result<result> r;
  if (store_status st = store_.list_tenants(&r.value); !st) return store_failure<result>(st);
  return r;
}

admin_result<tenant_record> key_admin::tenant_get(const gateway::principal& who,
                                                  std::string_view tenant) {
  using result = tenant_record;
  if (!is_system(who)) return refuse<result>(outcome::forbidden, not_system);
  if (std::string err = check_tenant_name(tenant); !err.empty())
    return refuse<result>(outcome::bad_request, std::move(err));
  std::vector<tenant_record> all;
  if (store_status st = store_.list_tenants(&all); !st) return store_failure<result>(st);
  for (auto& t : all) {
    if (t.name != tenant) continue;
    admin_result<result> r;
    r.value = std::move(t);
    return r;
  }
  return refuse<result>(outcome::not_found, "tenant: no such tenant");
}

admin_result<std::monostate> key_admin::tenant_suspend(const gateway::principal& who,
                                                      std::string_view tenant) {
  return set_suspended(who, tenant, true);
}

admin_result<std::monostate> key_admin::tenant_resume(const gateway::principal& who,
                                                     std::string_view tenant) {
  return set_suspended(who, tenant, false);
}

admin_result<std::monostate> key_admin::set_suspended(const gateway::principal& who,
                                                      std::string_view tenant, bool suspend) {
  using result = std::monostate;
  if (!is_system(who)) return refuse<result>(outcome::forbidden, not_system);
  if (std::string err = check_tenant_name(tenant); !err.empty())
    return refuse<result>(outcome::bad_request, std::move(err));
  store_status st = store_.set_tenant_suspended(tenant, suspend, clock_(), origin_);
  if (st.kind() == store_status::code::not_found)
    return refuse<result>(outcome::not_found, "tenant: no such tenant");
  if (st.kind() == store_status::code::invalid)
    return refuse<result>(outcome::bad_request, "tenant: " + std::string(tenant) + " is being deleted");
  if (!st) return store_failure<result>(st);
  if (cache_) cache_->note_suspended(tenant, suspend);
  return {};
}

admin_result<std::monostate> key_admin::tenant_mark_deleting(const gateway::principal& who,
                                                            std::string_view tenant) {
  using result = std::monostate;
  if (!is_system(who)) return refuse<result>(outcome::forbidden, not_system);
  if (std::string err = check_tenant_name(tenant); !err.empty())
    return refuse<result>(outcome::bad_request, std::move(err));
  store_status st = store_.set_tenant_deleting(tenant, clock_());
  if (st.kind() == store_status::code::not_found) return refuse<result>(outcome::not_found, "tenant: no such tenant");
  if (st.kind() == store_status::code::invalid)
    return refuse<result>(outcome::bad_request,
                          "tenant: " + std::string(tenant) + " is not suspended (tenant.suspend it first)");
  if (!st) return store_failure<result>(st);
  return {};
}

admin_result<std::monostate> key_admin::tenant_remove(const gateway::principal& who, std::string_view tenant) {
  using result = std::monostate;
  if (!is_system(who)) return refuse<result>(outcome::forbidden, not_system);
  store_status st = store_.remove_tenant(tenant, clock_());
  if (st.kind() == store_status::code::not_found) return refuse<result>(outcome::not_found, "tenant: no such tenant");
  if (!st) return store_failure<result>(st);
  // Its keys are gone from the store; the cache must not keep them.
  if (cache_) (void)cache_->reload();
  return {};
}

admin_result<created_key> key_admin::key_create(const gateway::principal& who,
                                                const key_create_args& args) {
  using result = created_key;
  if (!is_tenant_admin(who)) return refuse<result>(outcome::forbidden, not_admin);
  if (!args.role) return refuse<result>(outcome::bad_request, "role: required");
  if (*args.role == protocol::role::system)
    return refuse<result>(outcome::bad_request, "role: must be admin, writer or reader");
  if (std::string err = check_key_warehouses(args.warehouses); !err.empty())
    return refuse<result>(outcome::bad_request, std::move(err));
  const epoch_ms now = clock_();
  if (args.expires_at_ms && *args.expires_at_ms <= now)
    return refuse<result>(outcome::bad_request, "expires_at_ms: must be in the future");
  // A key cannot grant more warehouses than the key that creates it.
  if (!who.warehouses.empty()) {
    const bool subset =
        !args.warehouses.empty() &&
        std::all_of(args.warehouses.begin(), args.warehouses.end(), [&](const std::string& w) {
          return std::find(who.warehouses.begin(), who.warehouses.end(), w) != who.warehouses.end();
        });
    if (!subset)
      return refuse<result>(outcome::forbidden,
                            "warehouses: must be some of the creating key's warehouses");
  }
  issued_key issued =
      create_key(store_, {who.tenant, *args.role, args.warehouses, args.expires_at_ms}, now);
  if (!issued.status) return store_failure<result>(issued.status);
  admin_result<result> r;
  r.value = {std::move(issued.key_id), std::move(issued.token)};
  return r;
}

admin_result<std::vector<key_info>> key_admin::key_list(const gateway::principal& who) {
  using result = std::vector<key_info>;
  if (!is_tenant_admin(who)) return refuse<result>(outcome::forbidden, not_admin);
  admin_result<result> r;
  if (store_status st = store_.list_keys(who.tenant, &r.value); !st)
    return store_failure<result>(st);
  return r;
}

admin_result<std::monostate> key_admin::key_revoke(const gateway::principal& who,
                                                   std::string_view key_id) {
  using result = std::monostate;
  if (!is_tenant_admin(who)) return refuse<result>(outcome::forbidden, not_admin);
  if (key_id.empty()) return refuse<result>(outcome::bad_request, "key_id: required");
  const epoch_ms now = clock_();
  store_status st = store_.revoke_key(who.tenant, key_id, now);
  if (st.kind() == store_status::code::not_found)
    return refuse<result>(outcome::not_found, "key_id: no such key");
  if (!st) return store_failure<result>(st);
  if (cache_) cache_->note_revoked(key_id, now);
  return {};
}

}  // namespace stockgrid::auth
