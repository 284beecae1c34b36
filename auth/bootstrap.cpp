#include "auth/bootstrap.hpp"

#include <openssl/crypto.h>

#include <cstring>

#include "auth/limits.hpp"

namespace stockgrid::auth {

namespace {

// Printable ASCII without space: what an HTTP bearer token can carry.
bool usable_system_token(std::string_view t) {
  if (t.size() < limits::system_token_bytes_min || t.size() > limits::token_bytes_max) return false;
  for (unsigned char c : t)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

bootstrap_result bootstrap_system_key(key_store& store, const char* env_token, epoch_ms now) {
  bootstrap_result result;
  key_record existing;
  store_status found = store.find_key(system_key_id, &existing);
  if (found) {
    result.env_token_ignored =
        env_token && !verify_secret(existing.scheme, existing.salt, env_token, existing.hash);
    return result;
  }
  if (found.kind() != store_status::code::not_found) {
    result.status = found;
    return result;
  }

  std::string token;
  if (env_token) {
    if (!usable_system_token(env_token)) {
      result.status = store_status::invalid("STOCKGRID_ADMIN_TOKEN: must be " +
                                            std::to_string(limits::system_token_bytes_min) +
                                            " to " + std::to_string(limits::token_bytes_max) +
                                            " printable ASCII characters without spaces");
      return result;
    }
    token = env_token;
  } else {
    auto generated = generate_system_token();
    if (!generated) {
      result.status = store_status::io_error("random generator failed (system token)");
      return result;
    }
    token = std::move(*generated);
  }

  key_info info;
  info.key_id = std::string(system_key_id);
  info.role = protocol::role::system;
  info.created_ms = now;
  key_record row;
  result.status = make_key_record(std::move(info), token, &row);
  if (result.status) result.status = store.add_key(row);
  if (result.status.kind() == store_status::code::already_exists) {
    // Another process bootstrapped the same file first: its key stands.
    result.status = store_status::ok();
    OPENSSL_cleanse(token.data(), token.size());
    return result;
  }
  if (result.status && !env_token) result.generated_token = token;
  OPENSSL_cleanse(token.data(), token.size());
  return result;
}

}  // namespace stockgrid::auth
