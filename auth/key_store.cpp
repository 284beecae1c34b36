#include "auth/key_store.hpp"

#include <openssl/crypto.h>

#include <chrono>

#include "auth/limits.hpp"

namespace stockgrid::auth {

epoch_ms wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string check_tenant_name(std::string_view name) {
  if (name.empty() || name.size() > limits::tenant_bytes_max)
    return "tenant: must be 1 to " + std::to_string(limits::tenant_bytes_max) + " bytes";
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return "tenant: only a-z, 0-9, '-', '_' and '.' are allowed";
  }
  return {};
}

store_status make_key_record(key_info info, std::string_view secret, key_record* out) {
  auto salt = random_bytes(limits::salt_bytes);
  if (!salt) return store_status::io_error("random generator failed (salt)");
  std::string hash = hash_secret(*salt, secret);
  if (hash.size() != limits::hash_bytes) return store_status::io_error("HMAC-SHA256 failed");
  key_record r;
  static_cast<key_info&>(r) = std::move(info);
  r.scheme = hash_scheme::hmac_sha256;
  r.salt = std::move(*salt);
  r.hash = std::move(hash);
  *out = std::move(r);
  return store_status::ok();
}

store_status check_key_row(const key_record& key) {
  const auto r = static_cast<unsigned>(key.role);
  if (r < static_cast<unsigned>(protocol::role::reader) ||
      r > static_cast<unsigned>(protocol::role::system))
    return store_status::invalid("key " + key.key_id + ": unknown role");
  const bool system_role = key.role == protocol::role::system;
  const bool system_id = key.key_id == system_key_id;
  if (system_role != system_id || system_role != key.tenant.empty())
    return store_status::invalid("key " + key.key_id +
                                 ": only the key \"system\" has role system and no tenant");
  if (key.scheme != hash_scheme::hmac_sha256 || key.salt.size() != limits::salt_bytes ||
      key.hash.size() != limits::hash_bytes)
    return store_status::invalid("key " + key.key_id + ": bad hash scheme, salt or hash size");
  return store_status::ok();
}

namespace {

// Draws a key id and a secret and builds the row; the token goes to `issued`.
store_status draw_key(key_info info, issued_key* issued, key_record* row) {
  auto key_id = generate_key_id();
  auto secret = generate_secret();
  if (!key_id || !secret) return store_status::io_error("random generator failed (token)");
  info.key_id = *key_id;
  store_status st = make_key_record(std::move(info), *secret, row);
  if (st) {
    issued->key_id = *key_id;
    issued->token = format_token(*key_id, *secret);
  }
  OPENSSL_cleanse(secret->data(), secret->size());
  return st;
}

}  // namespace

issued_key create_key(key_store& store, const new_key& key, epoch_ms now) {
  key_info info;
  info.tenant = key.tenant;
  info.role = key.role;
  info.warehouses = key.warehouses;
  info.created_ms = now;
  info.expires_at_ms = key.expires_at_ms;
  issued_key issued;
  // A drawn key id is taken with probability 2^-64 per existing key; retry
  // rather than fail on that.
  for (int attempt = 0; attempt < limits::key_id_attempts_max; ++attempt) {
    key_record row;
    issued = {};
    issued.status = draw_key(info, &issued, &row);
    if (issued.status) issued.status = store.add_key(row);
    if (issued.status.kind() != store_status::code::already_exists) break;
  }
  if (!issued.status) issued = {issued.status, {}, {}};
  return issued;
}

issued_key create_tenant(key_store& store, std::string_view name, epoch_ms now) {
  issued_key issued;
  if (std::string err = check_tenant_name(name); !err.empty()) {
    issued.status = store_status::invalid(err);
    return issued;
  }
  key_info info;
  info.tenant = std::string(name);
  info.role = protocol::role::admin;
  info.created_ms = now;
  key_record row;
  issued.status = draw_key(info, &issued, &row);
  tenant_record tenant;
  tenant.name = std::string(name);
  tenant.created_ms = now;
  if (issued.status) issued.status = store.add_tenant(tenant, &row);
  if (!issued.status) issued = {issued.status, {}, {}};
  return issued;
}

}  // namespace stockgrid::auth
