#include "auth/replication.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "auth/admin.hpp"
#include "auth/limits.hpp"
#include "config/limits.hpp"
#include "protocol/array_reader.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::auth {

namespace {

using protocol::array;
using protocol::value;

constexpr std::size_t tenant_fields_v1 = 4;
constexpr std::size_t tenant_fields = 6;
constexpr std::size_t key_fields = 10;
constexpr std::size_t tombstone_fields = 3;

// A table is nested four deep (table > keys > key > warehouses); no string
// in it is longer than a warehouse name or a member id. Items are bounded by
// the bytes.
protocol::parse_limits table_limits() {
  protocol::parse_limits l;
  l.depth_max = 4;
  l.string_bytes_max = std::max(limits::warehouse_bytes_max, limits::status_by_bytes_max);
  l.array_items_max = stockgrid::limits::auth_table_bytes_max;
  l.map_entries_max = 0;
  l.total_items_max = stockgrid::limits::auth_table_bytes_max;
  return l;
}

value opt(const std::optional<epoch_ms>& v) { return v ? value(*v) : value(nullptr); }

value encode_tenant(const tenant_record& t) {
  return array{t.name, t.created_ms, opt(t.suspended_ms), opt(t.deleting_ms), opt(t.status_ms), t.status_by};
}

value encode_tombstone(const tenant_tombstone& t) { return array{t.name, t.created_ms, t.deleted_ms}; }

value encode_key(const key_record& k) {
  array warehouses;
  for (const auto& w : k.warehouses) warehouses.emplace_back(w);
  return array{k.key_id,
               k.tenant,
               static_cast<std::int64_t>(k.role),
               std::move(warehouses),
               k.created_ms,
               opt(k.expires_at_ms),
               opt(k.revoked_ms),
               static_cast<std::int64_t>(k.scheme),
               to_hex(k.salt),
               to_hex(k.hash)};
}

// Lowercase hex of exactly `bytes` bytes, as to_hex writes it; nullopt else.
std::optional<std::string> from_hex(std::string_view hex, std::size_t bytes) {
  if (hex.size() != 2 * bytes) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

bool valid_key_id(std::string_view id) {
  if (id == system_key_id) return true;
  return id.size() == 2 * limits::key_id_random_bytes && from_hex(id, limits::key_id_random_bytes);
}

using protocol::array_reader;

// Fields of the table on top of array_reader's.
epoch_ms read_time(array_reader& in) {
  const auto i = in.integer();
  if (i < 0) in.fail_at("a time >= 0");
  return i;
}
std::optional<epoch_ms> read_optional_time(array_reader& in) {
  if (in.null()) return std::nullopt;
  return read_time(in);
}
std::string read_hex(array_reader& in, std::size_t bytes) {
  auto raw = from_hex(in.text(), bytes);
  if (raw) return std::move(*raw);
  in.fail_at(std::to_string(2 * bytes) + " lowercase hex digits");
  return {};
}
// A check of the field just read; `expected` is what it should have been.
void check(array_reader& in, bool good, const std::string& expected) {
  if (in.ok() && !good) in.fail_at(expected);
}

// A tenant of a table of format `version` (1 has no status stamp).
bool decode_tenant(const value& v, std::size_t i, std::int64_t version, tenant_record* t, std::string* error) {
  array_reader in(v, "tenant " + std::to_string(i), version == 1 ? tenant_fields_v1 : tenant_fields, error);
  t->name = in.text();
  check(in, check_tenant_name(t->name).empty(), "a valid tenant name");
  t->created_ms = read_time(in);
  t->suspended_ms = read_optional_time(in);
  t->deleting_ms = read_optional_time(in);
  check(in, !t->deleting_ms || t->suspended_ms, "a tenant being deleted to be suspended");
  if (version == 1) return in.ok();
  t->status_ms = read_optional_time(in);
  t->status_by = in.text();
  check(in, t->status_by.size() <= limits::status_by_bytes_max && (t->status_ms || t->status_by.empty()),
        "a member id of at most " + std::to_string(limits::status_by_bytes_max) +
            " bytes, and \"\" without a status time");
  return in.ok();
}

bool decode_key(const value& v, std::size_t i, key_record* k, std::string* error) {
  const std::string what = "key " + std::to_string(i);
  array_reader in(v, what, key_fields, error);
  k->key_id = in.text();
  check(in, valid_key_id(k->key_id), "16 lowercase hex digits or \"system\"");
  k->tenant = in.text();
  check(in, k->tenant.empty() || check_tenant_name(k->tenant).empty(), "a valid tenant name");
  const auto role = in.integer();
  check(in,
        role >= static_cast<std::int64_t>(protocol::role::reader) &&
            role <= static_cast<std::int64_t>(protocol::role::system),
        "a known role");
  k->role = static_cast<protocol::role>(role);
  k->warehouses.clear();
  if (const array* list = in.list()) {
    for (const auto& w : *list) {
      if (!w.as_string()) {
        in.fail_at("warehouse names");
        break;
      }
      k->warehouses.push_back(*w.as_string());
    }
    if (in.ok())
      if (std::string why = check_key_warehouses(k->warehouses); !why.empty()) in.fail_at(why);
  }
  k->created_ms = read_time(in);
  k->expires_at_ms = read_optional_time(in);
  k->revoked_ms = read_optional_time(in);
  const auto scheme = in.integer();
  check(in, scheme == static_cast<std::int64_t>(hash_scheme::hmac_sha256), "a known hash scheme");
  k->scheme = static_cast<hash_scheme>(scheme);
  k->salt = read_hex(in, limits::salt_bytes);
  k->hash = read_hex(in, limits::hash_bytes);
  if (!in.ok()) return false;
  if (store_status st = check_key_row(*k); !st) {
    *error = what + ": " + st.message();
    return false;
  }
  return true;
}

bool decode_tombstone(const value& v, std::size_t i, tenant_tombstone* t, std::string* error) {
  array_reader in(v, "tombstone " + std::to_string(i), tombstone_fields, error);
  t->name = in.text();
  check(in, check_tenant_name(t->name).empty(), "a valid tenant name");
  t->created_ms = read_time(in);
  t->deleted_ms = read_time(in);
  check(in, t->deleted_ms >= t->created_ms, "a delete time at or after the creation time");
  return in.ok();
}

template <class Row, class Name>
bool strictly_sorted(const std::vector<Row>& rows, Name name) {
  return std::adjacent_find(rows.begin(), rows.end(),
                            [&](const Row& a, const Row& b) { return !(name(a) < name(b)); }) == rows.end();
}

}  // namespace

store_status read_table(key_store& store, auth_table* out) {
  auth_table t;
  if (store_status st = store.list_tenants(&t.tenants); !st) return st;
  if (store_status st = store.load_keys(&t.keys); !st) return st;
  if (store_status st = store.list_tombstones(&t.tombstones); !st) return st;
  std::sort(t.tombstones.begin(), t.tombstones.end(),
            [](const tenant_tombstone& a, const tenant_tombstone& b) { return a.name < b.name; });
  std::erase_if(t.keys, [](const key_record& k) { return k.key_id == system_key_id; });
  std::sort(t.tenants.begin(), t.tenants.end(),
            [](const tenant_record& a, const tenant_record& b) { return a.name < b.name; });
  std::sort(t.keys.begin(), t.keys.end(),
            [](const key_record& a, const key_record& b) { return a.key_id < b.key_id; });
  *out = std::move(t);
  return store_status::ok();
}

std::string encode(const auth_table& table) {
  array tenants, keys, tombstones;
  tenants.reserve(table.tenants.size());
  keys.reserve(table.keys.size());
  tombstones.reserve(table.tombstones.size());
  for (const auto& t : table.tenants) tenants.push_back(encode_tenant(t));
  for (const auto& k : table.keys) keys.push_back(encode_key(k));
  for (const auto& t : table.tombstones) tombstones.push_back(encode_tombstone(t));
  // Without tombstones, format 2: nodes of the release before read it.
  if (tombstones.empty())
    return protocol::serialize(array{std::int64_t{2}, std::move(tenants), std::move(keys)},
                               protocol::encoding::msgpack);
  return protocol::serialize(
      array{auth_table_format_version, std::move(tenants), std::move(keys), std::move(tombstones)},
      protocol::encoding::msgpack);
}

bool decode(std::string_view bytes, auth_table* out, std::string* error) {
  if (bytes.size() > stockgrid::limits::auth_table_bytes_max) {
    *error = "table of " + std::to_string(bytes.size()) + " bytes, more than " +
             std::to_string(stockgrid::limits::auth_table_bytes_max);
    return false;
  }
  value v;
  if (!protocol::parse(bytes, protocol::encoding::msgpack, table_limits(), &v, error)) return false;
  const array* top = v.as_array();
  if (!top || top->empty() || !(*top)[0].as_int()) {
    *error = "table: not an array starting with a format version";
    return false;
  }
  const auto version = *(*top)[0].as_int();
  if (version < 1 || version > auth_table_format_version) {
    *error = "format version " + std::to_string(version) + ", this node reads 1 to " +
             std::to_string(auth_table_format_version);
    return false;
  }
  array_reader in(v, "table", version >= 3 ? 4 : 3, error);
  in.integer();
  const array* tenants = in.list();
  const array* keys = in.list();
  const array* tombstones = version >= 3 ? in.list() : nullptr;
  if (!in.ok()) return false;
  auth_table t;
  t.tenants.resize(tenants->size());
  for (std::size_t i = 0; i < tenants->size(); ++i)
    if (!decode_tenant((*tenants)[i], i, version, &t.tenants[i], error)) return false;
  t.keys.resize(keys->size());
  for (std::size_t i = 0; i < keys->size(); ++i)
    if (!decode_key((*keys)[i], i, &t.keys[i], error)) return false;
  if (tombstones) {
    t.tombstones.resize(tombstones->size());
    for (std::size_t i = 0; i < tombstones->size(); ++i)
      if (!decode_tombstone((*tombstones)[i], i, &t.tombstones[i], error)) return false;
  }
  if (!strictly_sorted(t.tombstones, [](const tenant_tombstone& r) -> const std::string& { return r.name; })) {
    *error = "tombstones: not sorted by name, or a name twice";
    return false;
  }
  if (!strictly_sorted(t.tenants, [](const tenant_record& r) -> const std::string& { return r.name; })) {
    *error = "tenants: not sorted by name, or a name twice";
    return false;
  }
  if (!strictly_sorted(t.keys, [](const key_record& r) -> const std::string& { return r.key_id; })) {
    *error = "keys: not sorted by key id, or a key id twice";
    return false;
  }
  *out = std::move(t);
  return true;
}

namespace {

bool earlier(const std::optional<epoch_ms>& peer, const std::optional<epoch_ms>& here) {
  return peer && here && *peer < *here;
}

// The order of status changes: a stamped one by its time, then its member;
// a suspension without a stamp at its suspended_ms, before a stamped change
// of the same millisecond; a tenant never suspended nor resumed first.
std::tuple<epoch_ms, int, std::string_view> status_order(const tenant_record& t) {
  if (t.status_ms) return {*t.status_ms, 1, t.status_by};
  if (t.suspended_ms) return {*t.suspended_ms, 0, {}};
  return {-1, 0, {}};
}

// Whether the peer's status of a tenant replaces this store's.
bool peer_status_wins(const tenant_record& peer, const tenant_record& mine) {
  // Neither stamped (tables and files from before stamps): the old rule,
  // suspension wins, at the earlier time.
  if (!peer.status_ms && !mine.status_ms)
    return peer.suspended_ms && (!mine.suspended_ms || earlier(peer.suspended_ms, mine.suspended_ms));
  return status_order(peer) > status_order(mine);
}

using tenant_map = std::map<std::string, tenant_record, std::less<>>;
using tombstone_map = std::map<std::string, epoch_ms, std::less<>>;  // name -> deleted_ms

// Applies the peer's tombstones: removes the tenants they name here (if
// created at or before the delete), and keeps them in the store and in
// `known` (this store's, read once per merge). One the store knows
// already, or would drop at once, is skipped: tables come every second.
store_status merge_tombstones(key_store& store, const auth_table& peer, tenant_map& here, tombstone_map& known,
                              merge_report& report) {
  if (peer.tombstones.empty()) return store_status::ok();
  const bool full = known.size() >= limits::tombstones_max;
  epoch_ms oldest = std::numeric_limits<epoch_ms>::max();
  if (full)
    for (const auto& [name, deleted_ms] : known) oldest = std::min(oldest, deleted_ms);
  for (const auto& t : peer.tombstones) {
    auto k = known.find(t.name);
    if (k != known.end() && k->second >= t.deleted_ms) continue;
    if (full && t.deleted_ms < oldest) continue;
    bool removed = false;
    if (store_status st = store.apply_tombstone(t, &removed); !st) return st;
    known.insert_or_assign(t.name, t.deleted_ms);
    if (!removed) continue;
    here.erase(t.name);
    ++report.tenants_removed;
    report.removed.push_back(t.name);
  }
  return store_status::ok();
}

// Marks `mine` deleting as the peer's `t` is, suspending it first if it is
// active here (a delete wins over any status change).
store_status mark_deleting(key_store& store, const tenant_record& t, tenant_record& mine, merge_report& report) {
  if (!mine.suspended_ms) {
    store_status st = store.set_tenant_status(mine, t);
    if (st.kind() == store_status::code::not_found || st.kind() == store_status::code::invalid)
      return store_status::ok();  // removed or changed here meanwhile: the next table
    if (!st) return st;
    mine.suspended_ms = t.suspended_ms;
    mine.status_ms = t.status_ms;
    mine.status_by = t.status_by;
    ++report.tenants_suspended;
  }
  store_status st = store.set_tenant_deleting(t.name, *t.deleting_ms);
  if (st.kind() == store_status::code::not_found || st.kind() == store_status::code::invalid)
    return store_status::ok();
  if (!st) return st;
  mine.deleting_ms = t.deleting_ms;
  ++report.tenants_deleting;
  report.marked.push_back(t.name);
  return store_status::ok();
}

// Adds the peer's tenants missing here and takes the peer's status where
// its last change is the later one, and its deleting mark.
store_status merge_tenants(key_store& store, const auth_table& peer, tenant_map& here,
                           const tombstone_map& tombstones, merge_report& report) {
  for (const auto& t : peer.tenants) {
    // A deleted tenant's row, its mark and its status (the peer has not
    // heard yet), whatever this store has under the name now.
    if (auto tomb = tombstones.find(t.name); tomb != tombstones.end() && tomb->second >= t.created_ms) continue;
    auto it = here.find(t.name);
    if (it == here.end()) {
      if (t.deleting_ms) continue;
      // Added active, then given its status: add_tenant keeps only name and
      // created_ms in the SQLite store. Keys come after, so a suspended
      // tenant's keys never work here meanwhile.
      const tenant_record row{t.name, t.created_ms, std::nullopt, std::nullopt, std::nullopt, {}};
      store_status st = store.add_tenant(row, nullptr);
      // Made or deleted here meanwhile: the next table.
      if (st.kind() == store_status::code::already_exists || st.kind() == store_status::code::invalid) continue;
      if (!st) return st;
      ++report.tenants_added;
      it = here.emplace(t.name, row).first;
    }
    tenant_record& mine = it->second;
    // The mark of this very tenant only (a tenant made at two nodes under
    // one name keeps two creation times; the tombstone still removes both).
    if (t.deleting_ms && !mine.deleting_ms && t.created_ms == mine.created_ms) {
      if (store_status st = mark_deleting(store, t, mine, report); !st) return st;
      continue;
    }
    if (!peer_status_wins(t, mine)) continue;
    store_status st = store.set_tenant_status(mine, t);
    // Removed here meanwhile, being deleted here (it stays suspended), or
    // changed here meanwhile (the next table compares again).
    if (st.kind() == store_status::code::not_found || st.kind() == store_status::code::invalid) continue;
    if (!st) return st;
    if (t.suspended_ms.has_value() != mine.suspended_ms.has_value())
      ++(t.suspended_ms ? report.tenants_suspended : report.tenants_resumed);
    else if (!t.status_ms && !mine.status_ms)
      ++report.times_earlier;
    else
      ++report.statuses_restamped;
    mine.suspended_ms = t.suspended_ms;
    mine.status_ms = t.status_ms;
    mine.status_by = t.status_by;
  }
  return store_status::ok();
}

// Adds the peer's keys missing here whose tenant is here, and revokes those
// revoked there.
store_status merge_keys(key_store& store, const auth_table& peer, const tenant_map& tenants,
                        const tombstone_map& tombstones, merge_report& report) {
  std::vector<key_record> loaded;
  if (store_status st = store.load_keys(&loaded); !st) return st;
  std::map<std::string, key_record, std::less<>> here;
  for (auto& k : loaded) here.emplace(k.key_id, std::move(k));
  for (const auto& k : peer.keys) {
    if (k.key_id == system_key_id || k.tenant.empty()) continue;  // each node keeps its own
    // A deleted tenant's key never comes back, not even to a later tenant
    // of the name.
    if (auto tomb = tombstones.find(k.tenant); tomb != tombstones.end() && tomb->second >= k.created_ms) continue;
    auto it = here.find(k.key_id);
    if (it == here.end()) {
      auto tenant = tenants.find(k.tenant);
      if (tenant == tenants.end() || tenant->second.deleting_ms) {
        ++report.keys_waiting;
        continue;
      }
      store_status st = store.add_key(k);
      if (st.kind() == store_status::code::already_exists) continue;
      if (st.kind() == store_status::code::not_found) {  // tenant removed meanwhile
        ++report.keys_waiting;
        continue;
      }
      if (!st) return st;
      ++report.keys_added;
      continue;
    }
    const key_record& mine = it->second;
    if (mine.tenant != k.tenant || !k.revoked_ms) continue;  // a key id drawn twice: keep ours
    if (mine.revoked_ms && !earlier(k.revoked_ms, mine.revoked_ms)) continue;
    store_status st = store.revoke_key(k.tenant, k.key_id, *k.revoked_ms);
    if (st.kind() == store_status::code::not_found) continue;  // removed here meanwhile
    if (!st) return st;
    ++(mine.revoked_ms ? report.times_earlier : report.keys_revoked);
  }
  return store_status::ok();
}

}  // namespace

store_status merge(key_store& store, const auth_table& peer, merge_report* report) {
  merge_report local;
  merge_report& r = report ? *report : local;
  r = {};
  std::vector<tenant_record> listed;
  if (store_status st = store.list_tenants(&listed); !st) return st;
  tenant_map tenants;
  for (auto& t : listed) tenants.emplace(t.name, std::move(t));
  std::vector<tenant_tombstone> kept;
  if (store_status st = store.list_tombstones(&kept); !st) return st;
  tombstone_map tombstones;
  for (const auto& t : kept) tombstones.emplace(t.name, t.deleted_ms);
  // Tombstones first, so a deleted tenant's row is not taken from the same
  // table; then tenants, so a key whose tenant arrives in it is added.
  if (store_status st = merge_tombstones(store, peer, tenants, tombstones, r); !st) return st;
  if (store_status st = merge_tenants(store, peer, tenants, tombstones, r); !st) return st;
  return merge_keys(store, peer, tenants, tombstones, r);
}

}  // namespace stockgrid::auth
