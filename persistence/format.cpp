#include "persistence/format.hpp"

#include <algorithm>
#include <iterator>

#include "persistence/crc32c.hpp"
#include "persistence/row_encoding.hpp"

namespace stockgrid::persistence::format {

const char* const schema_sql = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE journal (
  seq INTEGER PRIMARY KEY,
  epoch INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  warehouse TEXT NOT NULL,
  sku TEXT NOT NULL,
  kind INTEGER NOT NULL,
  version INTEGER NOT NULL,
  on_hand_before INTEGER NOT NULL,
  on_hand_after INTEGER NOT NULL,
  reserved_before INTEGER NOT NULL,
  reserved_after INTEGER NOT NULL,
  qty INTEGER NOT NULL,
  hold_seq INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  ref TEXT NOT NULL,
  reason TEXT NOT NULL,
  idem TEXT,
  fingerprint INTEGER NOT NULL,
  result INTEGER NOT NULL,
  detail INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  crc INTEGER NOT NULL,
  backordered_before INTEGER NOT NULL DEFAULT 0,
  backordered_after INTEGER NOT NULL DEFAULT 0,
  incoming_before INTEGER NOT NULL DEFAULT 0,
  incoming_after INTEGER NOT NULL DEFAULT 0,
  safety_stock INTEGER NOT NULL DEFAULT 0,
  allow_backorder INTEGER NOT NULL DEFAULT 0,
  low_stock_threshold INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE record_index (
  record_hash INTEGER NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (record_hash, version, seq)
) WITHOUT ROWID;
CREATE TABLE idem_index (
  idem_hash INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (idem_hash, seq)
) WITHOUT ROWID;
CREATE TABLE snapshot (
  tenant TEXT NOT NULL,
  warehouse TEXT NOT NULL,
  sku TEXT NOT NULL,
  on_hand INTEGER NOT NULL,
  reserved INTEGER NOT NULL,
  version INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  holds BLOB NOT NULL,
  crc INTEGER NOT NULL,
  safety_stock INTEGER NOT NULL DEFAULT 0,
  allow_backorder INTEGER NOT NULL DEFAULT 0,
  low_stock_threshold INTEGER NOT NULL DEFAULT 0,
  backordered INTEGER NOT NULL DEFAULT 0,
  incoming INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, warehouse, sku)
) WITHOUT ROWID;
)sql";

// ADD COLUMN appends columns, so an upgraded file has the layout of a new one.
const char* const upgrade_v1_sql = R"sql(
ALTER TABLE journal ADD COLUMN backordered_before INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN backordered_after INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN incoming_before INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN incoming_after INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN safety_stock INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN allow_backorder INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN low_stock_threshold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshot ADD COLUMN safety_stock INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshot ADD COLUMN allow_backorder INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshot ADD COLUMN low_stock_threshold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshot ADD COLUMN backordered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshot ADD COLUMN incoming INTEGER NOT NULL DEFAULT 0;
UPDATE meta SET value = 2 WHERE key = 'format_version';
)sql";

namespace {
constexpr const char* journal_columns_v1 =
    "seq, epoch, at_ms, tenant, warehouse, sku, kind, version, on_hand_before, "
    "on_hand_after, reserved_before, reserved_after, qty, hold_seq, expires_at_ms, ref, "
    "reason, idem, fingerprint, result, detail, key_id, crc";
constexpr const char* journal_columns_added_v2 =
    "backordered_before, backordered_after, incoming_before, incoming_after, safety_stock, "
    "allow_backorder, low_stock_threshold";
constexpr int journal_columns_added_v2_count = journal_column_count - j_crc - 1;

constexpr const char* snapshot_columns_v1 =
    "tenant, warehouse, sku, on_hand, reserved, version, last_seq, holds, crc";
constexpr const char* snapshot_columns_added_v2 =
    "safety_stock, allow_backorder, low_stock_threshold, backordered, incoming";
constexpr int snapshot_columns_added_v2_count = snapshot_column_count - s_crc - 1;

std::string select_columns(std::int64_t version, const char* v1, const char* added_v2,
                           int added_count) {
  std::string out = std::string(v1) + ", ";
  if (version >= 2) return out + added_v2;
  for (int i = 0; i < added_count; ++i) out += i ? ", 0" : "0";
  return out;
}
}  // namespace

const char* const journal_columns =
    "seq, epoch, at_ms, tenant, warehouse, sku, kind, version, on_hand_before, "
    "on_hand_after, reserved_before, reserved_after, qty, hold_seq, expires_at_ms, ref, "
    "reason, idem, fingerprint, result, detail, key_id, crc, "
    "backordered_before, backordered_after, incoming_before, incoming_after, safety_stock, "
    "allow_backorder, low_stock_threshold";

const char* const snapshot_columns =
    "tenant, warehouse, sku, on_hand, reserved, version, last_seq, holds, crc, "
    "safety_stock, allow_backorder, low_stock_threshold, backordered, incoming";

std::string journal_select_columns(std::int64_t version) {
  return select_columns(version, journal_columns_v1, journal_columns_added_v2,
                        journal_columns_added_v2_count);
}

std::string snapshot_select_columns(std::int64_t version) {
  return select_columns(version, snapshot_columns_v1, snapshot_columns_added_v2,
                        snapshot_columns_added_v2_count);
}

namespace {

// Reads little-endian fields from a blob, failing once past its end.
struct reader {
  std::string_view rest;
  bool ok = true;

  std::uint64_t take(std::size_t n) {
    if (rest.size() < n) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(static_cast<unsigned char>(rest[i])) << (8 * i);
    rest.remove_prefix(n);
    return v;
  }
  std::string_view take_bytes(std::size_t n) {
    if (rest.size() < n) {
      ok = false;
      return {};
    }
    auto s = rest.substr(0, n);
    rest.remove_prefix(n);
    return s;
  }
};

// Scratch buffer for CRCs so that checking a row does not allocate.
std::string& scratch() {
  thread_local std::string buffer;
  buffer.clear();
  return buffer;
}

}  // namespace

void encode_journal_row(const journal_entry& e, std::string* out) {
  const change& c = e.c;
  put_u64(e.seq, out);
  put_u64(e.epoch, out);
  put_i64(e.at_ms, out);
  put_text(e.key.tenant, out);
  put_text(e.key.warehouse, out);
  put_text(e.key.sku, out);
  put_i64(static_cast<std::int64_t>(c.kind), out);
  put_i64(c.version, out);
  put_i64(c.on_hand_before, out);
  put_i64(c.on_hand_after, out);
  put_i64(c.reserved_before, out);
  put_i64(c.reserved_after, out);
  put_i64(c.qty, out);
  put_u64(c.hold_seq, out);
  put_i64(c.expires_at_ms, out);
  put_text(c.ref, out);
  put_text(c.reason, out);
  put_text(e.idem, out);
  put_u64(e.fingerprint, out);
  put_i64(static_cast<std::int64_t>(e.result), out);
  put_i64(e.detail, out);
  put_text(e.key_id, out);
  // Version 2 columns, only when one is not 0 (see the header).
  const std::int64_t added[] = {c.backordered_before, c.backordered_after, c.incoming_before,
                                c.incoming_after,     c.policy.safety_stock,
                                c.policy.allow_backorder ? 1 : 0,
                                c.policy.low_stock_threshold};
  static_assert(std::size(added) == journal_column_count - j_crc - 1);
  if (std::any_of(std::begin(added), std::end(added), [](std::int64_t v) { return v != 0; }))
    for (std::int64_t v : added) put_i64(v, out);
}

std::uint32_t journal_row_crc(const journal_entry& e) {
  std::string& b = scratch();
  encode_journal_row(e, &b);
  return crc32c(b.data(), b.size());
}

void encode_holds(const std::vector<hold>& holds, std::string* out) {
  if (holds.empty()) return;
  out->push_back(static_cast<char>(holds_encoding_version));
  put_u32(static_cast<std::uint32_t>(holds.size()), out);
  for (const hold& h : holds) {
    put_u64(h.seq, out);
    put_i64(h.qty, out);
    put_i64(h.expires_at_ms, out);
    put_text(h.ref, out);
  }
}

bool decode_holds(std::string_view blob, std::vector<hold>* out) {
  out->clear();
  if (blob.empty()) return true;
  reader r{blob};
  if (r.take(1) != holds_encoding_version) return false;
  const std::uint64_t count = r.take(4);
  // Each hold takes at least 28 bytes: reject absurd counts before reserving.
  // No holds is written as an empty BLOB, never as a count of 0.
  if (!r.ok || count == 0 || count > r.rest.size() / 28) return false;
  out->reserve(count);
  for (std::uint64_t i = 0; i < count && r.ok; ++i) {
    hold h;
    h.seq = r.take(8);
    h.qty = static_cast<std::int64_t>(r.take(8));
    h.expires_at_ms = static_cast<std::int64_t>(r.take(8));
    const auto ref_size = static_cast<std::size_t>(r.take(4));
    h.ref = std::string(r.take_bytes(ref_size));
    out->push_back(std::move(h));
  }
  return r.ok && r.rest.empty();
}

void encode_snapshot_row(const record_image& r, std::string_view holds_blob, std::string* out) {
  put_text(r.key.tenant, out);
  put_text(r.key.warehouse, out);
  put_text(r.key.sku, out);
  put_i64(r.on_hand, out);
  put_i64(r.reserved, out);
  put_i64(r.version, out);
  put_u64(r.last_seq, out);
  put_text(holds_blob, out);
  // Version 2 columns, only when one is not 0 (see the header).
  const std::int64_t added[] = {r.policy.safety_stock, r.policy.allow_backorder ? 1 : 0,
                                r.policy.low_stock_threshold, r.backordered, r.incoming};
  static_assert(std::size(added) == snapshot_column_count - s_crc - 1);
  if (std::any_of(std::begin(added), std::end(added), [](std::int64_t v) { return v != 0; }))
    for (std::int64_t v : added) put_i64(v, out);
}

std::uint32_t snapshot_row_crc(const record_image& r, std::string_view holds_blob) {
  std::string& b = scratch();
  encode_snapshot_row(r, holds_blob, &b);
  return crc32c(b.data(), b.size());
}

std::uint64_t idem_hash(std::string_view idem) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : idem) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool valid_change_kind(std::int64_t v) {
  return v >= static_cast<std::int64_t>(change_kind::adjust) &&
         v <= static_cast<std::int64_t>(change_kind::transfer_back);
}

bool valid_outcome(std::int64_t v) {
  return v >= static_cast<std::int64_t>(outcome::ok) &&
         v <= static_cast<std::int64_t>(outcome::internal);
}

}  // namespace stockgrid::persistence::format
