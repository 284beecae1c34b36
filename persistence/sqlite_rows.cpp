#include "persistence/sqlite_rows.hpp"

#include "persistence/format.hpp"

namespace stockgrid::persistence::sqlite {

using namespace format;

std::string describe(const record_key& key) {
  return key.tenant + "/" + key.warehouse + "/" + key.sku;
}

// Parameters are numbered from 1, columns from 0.
void bind_journal_row(statement& s, const journal_entry& e) {
  const change& c = e.c;
  s.bind_u64(j_seq + 1, e.seq);
  s.bind_u64(j_epoch + 1, e.epoch);
  s.bind(j_at_ms + 1, e.at_ms);
  s.bind_text(j_tenant + 1, e.key.tenant);
  s.bind_text(j_warehouse + 1, e.key.warehouse);
  s.bind_text(j_sku + 1, e.key.sku);
  s.bind(j_kind + 1, static_cast<std::int64_t>(c.kind));
  s.bind(j_version + 1, c.version);
  s.bind(j_on_hand_before + 1, c.on_hand_before);
  s.bind(j_on_hand_after + 1, c.on_hand_after);
  s.bind(j_reserved_before + 1, c.reserved_before);
  s.bind(j_reserved_after + 1, c.reserved_after);
  s.bind(j_qty + 1, c.qty);
  s.bind_u64(j_hold_seq + 1, c.hold_seq);
  s.bind(j_expires_at_ms + 1, c.expires_at_ms);
  s.bind_text(j_ref + 1, c.ref);
  s.bind_text(j_reason + 1, c.reason);
  if (e.idem.empty())
    s.bind_null(j_idem + 1);
  else
    s.bind_text(j_idem + 1, e.idem);
  s.bind_u64(j_fingerprint + 1, e.fingerprint);
  s.bind(j_result + 1, static_cast<std::int64_t>(e.result));
  s.bind(j_detail + 1, e.detail);
  s.bind_text(j_key_id + 1, e.key_id);
  s.bind(j_crc + 1, journal_row_crc(e));
  s.bind(j_backordered_before + 1, c.backordered_before);
  s.bind(j_backordered_after + 1, c.backordered_after);
  s.bind(j_incoming_before + 1, c.incoming_before);
  s.bind(j_incoming_after + 1, c.incoming_after);
  s.bind(j_safety_stock + 1, c.policy.safety_stock);
  s.bind(j_allow_backorder + 1, std::int64_t{c.policy.allow_backorder ? 1 : 0});
  s.bind(j_low_stock_threshold + 1, c.policy.low_stock_threshold);
}

namespace {

void assign(std::string* to, std::string_view from) { to->assign(from.data(), from.size()); }

status journal_corruption(const std::string& file, std::uint64_t seq, std::string_view what) {
  return status::corruption(file + ": journal row seq=" + std::to_string(seq) + ": " +
                            std::string(what));
}

}  // namespace

status read_journal_row(sqlite3_stmt* s, const std::string& file, journal_entry* e) {
  change& c = e->c;
  e->seq = column_u64(s, j_seq);
  e->epoch = column_u64(s, j_epoch);
  e->at_ms = column_i64(s, j_at_ms);
  assign(&e->key.tenant, column_bytes(s, j_tenant));
  assign(&e->key.warehouse, column_bytes(s, j_warehouse));
  assign(&e->key.sku, column_bytes(s, j_sku));
  const std::int64_t kind = column_i64(s, j_kind);
  c.kind = static_cast<change_kind>(kind);
  c.version = column_i64(s, j_version);
  c.on_hand_before = column_i64(s, j_on_hand_before);
  c.on_hand_after = column_i64(s, j_on_hand_after);
  c.reserved_before = column_i64(s, j_reserved_before);
  c.reserved_after = column_i64(s, j_reserved_after);
  c.qty = column_i64(s, j_qty);
  c.hold_seq = column_u64(s, j_hold_seq);
  c.expires_at_ms = column_i64(s, j_expires_at_ms);
  assign(&c.ref, column_bytes(s, j_ref));
  assign(&c.reason, column_bytes(s, j_reason));
  assign(&e->idem, column_bytes(s, j_idem));
  e->fingerprint = column_u64(s, j_fingerprint);
  const std::int64_t result = column_i64(s, j_result);
  e->result = static_cast<outcome>(result);
  e->detail = column_i64(s, j_detail);
  assign(&e->key_id, column_bytes(s, j_key_id));
  c.backordered_before = column_i64(s, j_backordered_before);
  c.backordered_after = column_i64(s, j_backordered_after);
  c.incoming_before = column_i64(s, j_incoming_before);
  c.incoming_after = column_i64(s, j_incoming_after);
  c.policy.safety_stock = column_i64(s, j_safety_stock);
  const std::int64_t allow_backorder = column_i64(s, j_allow_backorder);
  c.policy.allow_backorder = allow_backorder != 0;
  c.policy.low_stock_threshold = column_i64(s, j_low_stock_threshold);
  if (static_cast<std::int64_t>(journal_row_crc(*e)) != column_i64(s, j_crc))
    return journal_corruption(file, e->seq, "CRC mismatch");
  if (!valid_change_kind(kind) || !valid_outcome(result))
    return journal_corruption(file, e->seq, "unknown kind or result");
  if (allow_backorder != 0 && allow_backorder != 1)
    return journal_corruption(file, e->seq, "allow_backorder is neither 0 nor 1");
  return status::ok();
}

void bind_snapshot_row(statement& s, const record_image& r, std::string* holds_scratch) {
  holds_scratch->clear();
  encode_holds(r.holds, holds_scratch);
  s.bind_text(s_tenant + 1, r.key.tenant);
  s.bind_text(s_warehouse + 1, r.key.warehouse);
  s.bind_text(s_sku + 1, r.key.sku);
  s.bind(s_on_hand + 1, r.on_hand);
  s.bind(s_reserved + 1, r.reserved);
  s.bind(s_version + 1, r.version);
  s.bind_u64(s_last_seq + 1, r.last_seq);
  s.bind_blob(s_holds + 1, *holds_scratch);
  s.bind(s_crc + 1, snapshot_row_crc(r, *holds_scratch));
  s.bind(s_safety_stock + 1, r.policy.safety_stock);
  s.bind(s_allow_backorder + 1, std::int64_t{r.policy.allow_backorder ? 1 : 0});
  s.bind(s_low_stock_threshold + 1, r.policy.low_stock_threshold);
  s.bind(s_backordered + 1, r.backordered);
  s.bind(s_incoming + 1, r.incoming);
}

status read_snapshot_row(sqlite3_stmt* s, const std::string& file, record_image* r) {
  assign(&r->key.tenant, column_bytes(s, s_tenant));
  assign(&r->key.warehouse, column_bytes(s, s_warehouse));
  assign(&r->key.sku, column_bytes(s, s_sku));
  r->on_hand = column_i64(s, s_on_hand);
  r->reserved = column_i64(s, s_reserved);
  r->version = column_i64(s, s_version);
  r->last_seq = column_u64(s, s_last_seq);
  r->policy.safety_stock = column_i64(s, s_safety_stock);
  const std::int64_t allow_backorder = column_i64(s, s_allow_backorder);
  r->policy.allow_backorder = allow_backorder != 0;
  r->policy.low_stock_threshold = column_i64(s, s_low_stock_threshold);
  r->backordered = column_i64(s, s_backordered);
  r->incoming = column_i64(s, s_incoming);
  const std::string_view holds = column_bytes(s, s_holds);
  const auto where = [&] { return file + ": snapshot row " + describe(r->key) + ": "; };
  if (static_cast<std::int64_t>(snapshot_row_crc(*r, holds)) != column_i64(s, s_crc))
    return status::corruption(where() + "CRC mismatch");
  if (allow_backorder != 0 && allow_backorder != 1)
    return status::corruption(where() + "allow_backorder is neither 0 nor 1");
  if (!decode_holds(holds, &r->holds)) return status::corruption(where() + "malformed holds");
  return status::ok();
}

}  // namespace stockgrid::persistence::sqlite
