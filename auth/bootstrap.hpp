// The system key on first start. The system token is the operator's: it
// creates tenants. It comes from STOCKGRID_ADMIN_TOKEN when that is set, and
// is generated otherwise; either way only its salted hash is stored, so a
// generated token is shown once, by main, and never again.
#pragma once

#include <optional>
#include <string>

#include "auth/key_store.hpp"

namespace stockgrid::auth {

struct bootstrap_result {
  // Not ok: the store failed, or the environment token is unusable (invalid,
  // with a message that names the variable but never shows its value).
  store_status status;
  // Set only on the start that generated the token: main prints it once.
  std::optional<std::string> generated_token;
  // A system key existed already and STOCKGRID_ADMIN_TOKEN (set) does not
  // match it: the stored key stays; main should warn.
  bool env_token_ignored = false;
};

// If the store has no system key, stores one: the hash of `env_token`
// verbatim if it is non-null (16..1024 printable ASCII characters, no
// spaces), else of a generated token, which is returned. With a system key
// present, nothing is written. Safe against a concurrent bootstrap of the
// same file (the first one wins).
bootstrap_result bootstrap_system_key(key_store& store, const char* env_token,
                                      epoch_ms now = wall_clock_ms());

}  // namespace stockgrid::auth
