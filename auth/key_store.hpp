// The tenant and key store: one small seam, with a durable SQLite
// implementation (sqlite_key_store.hpp, the node's DATA_DIR/system.db) and an
// in-memory twin for tests (memory_key_store.hpp). The store keeps rows; the
// free functions at the end draw tokens and keep only their salted hashes, so
// no implementation ever sees a secret it could store.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/tokens.hpp"
#include "domain/types.hpp"
#include "protocol/messages.hpp"

namespace stockgrid::auth {

// The store's answer. `already_exists` and `not_found` are outcomes the caller
// maps (to BAD_REQUEST, NOT_FOUND); `io_error` and `corruption` are operating
// errors; `invalid` is a row the store refuses (e.g. a system key with a
// tenant). Messages name the file or the row, never a secret.
class store_status {
 public:
  enum class code : unsigned char {
    ok = 0,
    already_exists,
    not_found,
    invalid,
    io_error,
    corruption
  };

  store_status() = default;
  static store_status ok() { return {}; }
  static store_status already_exists(std::string m) { return {code::already_exists, std::move(m)}; }
  static store_status not_found(std::string m) { return {code::not_found, std::move(m)}; }
  static store_status invalid(std::string m) { return {code::invalid, std::move(m)}; }
  static store_status io_error(std::string m) { return {code::io_error, std::move(m)}; }
  static store_status corruption(std::string m) { return {code::corruption, std::move(m)}; }

  bool is_ok() const { return code_ == code::ok; }
  explicit operator bool() const { return is_ok(); }
  code kind() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  store_status(code c, std::string m) : code_(c), message_(std::move(m)) {}
  code code_ = code::ok;
  std::string message_;
};

struct tenant_record {
  std::string name;
  epoch_ms created_ms = 0;
  // Since when the tenant is suspended (tenant.suspend); none = active.
  std::optional<epoch_ms> suspended_ms;
  // Since when the tenant is being deleted (tenant.delete): its data is
  // being removed; the row goes last. A node that stopped meanwhile
  // finishes the delete at its next start.
  std::optional<epoch_ms> deleting_ms;
  // The stamp of the last status change (tenant.suspend or tenant.resume),
  // by which a cluster orders them (auth/replication.hpp): when (wall
  // clock, ms) and the member where it was made ("" on a single node).
  // None = no change stamped: the tenant was never suspended or resumed, or
  // only before stamps existed (system.db version 3, a table of format 1).
  std::optional<epoch_ms> status_ms;
  std::string status_by;
  friend bool operator==(const tenant_record&, const tenant_record&) = default;
};

// What is left of a deleted tenant (tenant.delete's last step): its name,
// when the deleted incarnation was created, and when it was removed. A
// cluster's members exchange them (auth/replication.hpp), so a member that
// still has the tenant removes it, and none gives it back. A later tenant of
// the same name (created after deleted_ms) is another tenant; the tombstone
// stays beside it.
struct tenant_tombstone {
  std::string name;
  epoch_ms created_ms = 0;
  epoch_ms deleted_ms = 0;
  friend bool operator==(const tenant_tombstone&, const tenant_tombstone&) = default;
};

// The time a new local status change of `t` is stamped with: `now`, or just
// after the tenant's last change if that is later (a clock that went back,
// or a peer's clock ahead), so a change made here always orders after the
// state it changed.
inline epoch_ms next_status_ms(const tenant_record& t, epoch_ms now) {
  const epoch_ms last = t.status_ms ? *t.status_ms : t.suspended_ms ? *t.suspended_ms : -1;
  return now > last ? now : last + 1;
}

// What may be shown about a key (key.list): everything but salt and hash.
struct key_info {
  std::string key_id;
  std::string tenant;  // empty for the system key
  protocol::role role = protocol::role::reader;
  std::vector<std::string> warehouses;  // empty = every warehouse of the tenant
  epoch_ms created_ms = 0;
  std::optional<epoch_ms> expires_at_ms;  // none = never expires
  std::optional<epoch_ms> revoked_ms;     // none = not revoked
  friend bool operator==(const key_info&, const key_info&) = default;
};

// A stored key: its info and the salted hash of its secret.
struct key_record : key_info {
  hash_scheme scheme = hash_scheme::hmac_sha256;
  std::string salt;  // raw bytes
  std::string hash;  // raw bytes
  friend bool operator==(const key_record&, const key_record&) = default;
};

// Every method is thread-safe. A mutating method's change is durable when it
// returns ok (the SQLite store commits with synchronous=FULL); when it returns
// anything else, nothing was changed.
class key_store {
 public:
  virtual ~key_store() = default;

  // Adds a tenant and, if given, `first_key` (its first admin key) in one
  // transaction. already_exists if the name is taken; invalid if a
  // tombstone of the name was removed at or after `tenant.created_ms` (that
  // incarnation is deleted). The tombstone stays: it tells the deleted
  // tenant's rows and keys, still in a member's older table, from the new
  // tenant's.
  virtual store_status add_tenant(const tenant_record& tenant, const key_record* first_key) = 0;
  // Every tenant, sorted by name.
  virtual store_status list_tenants(std::vector<tenant_record>* out) = 0;
  // Suspends the tenant since `now` (`suspend`), or resumes it: a status
  // change made at member `by` ("" on a single node), stamped
  // next_status_ms(now) and `by`, even when the status stays (a suspended
  // tenant suspended again, an active one resumed: the operator's latest
  // word). A suspended tenant suspended again keeps the earlier
  // suspended_ms. not_found for an unknown tenant; resuming a tenant being
  // deleted is invalid.
  virtual store_status set_tenant_suspended(std::string_view tenant, bool suspend, epoch_ms now,
                                            std::string_view by) = 0;
  // Sets the tenant's status as a peer has it (auth/replication.hpp's
  // merge): suspended_ms, status_ms and status_by of `peer`, as they are,
  // if the tenant's are still those of `seen` (what the merge compared;
  // a local change meanwhile is kept). not_found for an unknown tenant;
  // invalid when it changed meanwhile, and for resuming a tenant being
  // deleted.
  virtual store_status set_tenant_status(const tenant_record& seen, const tenant_record& peer) = 0;
  // Marks a suspended tenant as being deleted since `now` (kept if marked
  // already). not_found for an unknown tenant, invalid for an active one.
  virtual store_status set_tenant_deleting(std::string_view tenant, epoch_ms now) = 0;
  // Removes the tenant's row, its keys and their warehouses, and leaves its
  // tombstone (deleted at `now`, or just after its creation if the clock
  // says otherwise), in one transaction: the last step of a delete.
  // not_found for an unknown tenant.
  virtual store_status remove_tenant(std::string_view tenant, epoch_ms now) = 0;
  // A peer's tombstone (auth/replication.hpp's merge), in one transaction:
  // a row of the name created at or before `t.deleted_ms` goes with its
  // keys (`*removed` says whether one did), and the tombstone is kept, the
  // later of two of one name. A row of the name created after
  // `t.deleted_ms` (a new tenant of that name) stays.
  virtual store_status apply_tombstone(const tenant_tombstone& t, bool* removed) = 0;
  // Every tombstone, sorted by name; at most limits::tombstones_max, the
  // most recent deletes (an older one is dropped when a newer is added).
  virtual store_status list_tombstones(std::vector<tenant_tombstone>* out) = 0;

  // Adds a key. A tenant key needs its tenant (not_found otherwise); the
  // system key has tenant "" and role system, and no other key may
  // (invalid). already_exists if the key id is taken.
  virtual store_status add_key(const key_record& key) = 0;
  // The keys of `tenant` (revoked and expired ones too), oldest first.
  virtual store_status list_keys(std::string_view tenant, std::vector<key_info>* out) = 0;
  // Marks the key revoked at `now`. not_found for an unknown key and for a
  // key of another tenant alike. Revoking a revoked key is ok and keeps the
  // earlier time (the first, locally; a peer's table may bring an earlier
  // one, auth/replication.hpp). Revocation is final.
  virtual store_status revoke_key(std::string_view tenant, std::string_view key_id,
                                  epoch_ms now) = 0;
  // The key `key_id` with salt and hash; not_found if none.
  virtual store_status find_key(std::string_view key_id, key_record* out) = 0;
  // Every key with salt and hash (the authenticator's cache reload).
  virtual store_status load_keys(std::vector<key_record>* out) = 0;
};

// The rules every store applies to a key row before adding it: role system
// if and only if key id "system" and no tenant; a known role; salt and hash of
// the scheme's sizes. invalid otherwise.
store_status check_key_row(const key_record& key);

using clock_fn = std::function<epoch_ms()>;
// Milliseconds since the Unix epoch from the system clock.
epoch_ms wall_clock_ms();

// Empty if `name` is a valid tenant name (1..64 bytes of [a-z0-9._-]),
// otherwise the BAD_REQUEST message ("tenant: ...").
std::string check_tenant_name(std::string_view name);

// A key row for `info` whose secret is `secret`: a fresh salt and the hash.
// Fails only if OpenSSL's random generator does.
store_status make_key_record(key_info info, std::string_view secret, key_record* out);

// The token of a newly created key. Shown once: only its hash is stored.
struct issued_key {
  store_status status;
  std::string key_id;
  std::string token;
};

struct new_key {
  std::string tenant;
  protocol::role role = protocol::role::reader;
  std::vector<std::string> warehouses;
  std::optional<epoch_ms> expires_at_ms;
};

// Creates a key of an existing tenant and returns its token. Inputs are
// assumed checked (admin.hpp checks them for the protocol); the store still
// refuses a missing tenant (not_found) and a tenant key with role system.
issued_key create_key(key_store& store, const new_key& key, epoch_ms now);

// Creates a tenant with its first admin key (one transaction) and returns
// that key's token. already_exists if the tenant exists; invalid for a bad
// name.
issued_key create_tenant(key_store& store, std::string_view name, epoch_ms now);

}  // namespace stockgrid::auth
