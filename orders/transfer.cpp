#include "orders/transfer.hpp"

#include <utility>

#include "config/limits.hpp"
#include "orders/document.hpp"

namespace stockgrid::orders {

std::string_view wire_status(transfer_status s) {
  switch (s) {
    case transfer_status::creating: return "creating";
    case transfer_status::in_transit: return "in_transit";
    case transfer_status::received: return "received";
    case transfer_status::cancelling: return "cancelling";
    case transfer_status::cancelled: return "cancelled";
    case transfer_status::failed: return "failed";
  }
  return "unknown";
}

bool is_final(transfer_status s) {
  return s == transfer_status::received || s == transfer_status::cancelled ||
         s == transfer_status::failed;
}

std::int64_t transfer::received() const {
  std::int64_t sum = 0;
  for (const auto& r : receipts)
    if (r.applied) sum += r.qty;
  return sum;
}

namespace {

protocol::value receipt_value(const receipt& r) {
  return protocol::object{
      {"idem", r.idem}, {"qty", r.qty}, {"applied", r.applied}, {"at_ms", r.at_ms}};
}

bool read_receipt(const protocol::value& v, receipt* r) {
  return document::read(v, "idem", &r->idem) && document::read(v, "qty", &r->qty) &&
         document::read(v, "applied", &r->applied) && document::read(v, "at_ms", &r->at_ms);
}

}  // namespace

std::string encode(const transfer& t) {
  return document::serialize({
      {"v", document::format_version},
      {"tenant", t.tenant},
      {"id", t.id},
      {"sku", t.sku},
      {"from", t.from},
      {"to", t.to},
      {"idem", t.idem},
      {"key_id", t.key_id},
      {"fingerprint", t.fingerprint},
      {"qty", t.qty},
      {"status", static_cast<std::int64_t>(t.status)},
      {"out_done", t.out_done},
      {"in_done", t.in_done},
      {"receipts", document::write_items(t.receipts, receipt_value)},
      {"cancel_in_done", t.cancel_in_done},
      {"cancel_out_done", t.cancel_out_done},
      {"failure", t.failure},
      {"failure_available", t.failure_available},
      {"created_ms", t.created_ms},
      {"updated_ms", t.updated_ms},
  });
}

bool decode(std::string_view bytes, transfer* out) {
  protocol::value body;
  transfer t;
  const bool ok =
      document::parse(bytes, &body) && document::read(body, "tenant", &t.tenant) &&
      document::read(body, "id", &t.id) && document::read(body, "sku", &t.sku) &&
      document::read(body, "from", &t.from) && document::read(body, "to", &t.to) &&
      document::read(body, "idem", &t.idem) && document::read(body, "key_id", &t.key_id) &&
      document::read(body, "fingerprint", &t.fingerprint) &&
      document::read(body, "qty", &t.qty) &&
      document::read_enum(body, "status", transfer_status::creating, transfer_status::failed,
                          &t.status) &&
      document::read(body, "out_done", &t.out_done) &&
      document::read(body, "in_done", &t.in_done) &&
      document::read_items(body, "receipts", limits::transfer_receipts_max, &t.receipts,
                           read_receipt) &&
      document::read(body, "cancel_in_done", &t.cancel_in_done) &&
      document::read(body, "cancel_out_done", &t.cancel_out_done) &&
      document::read(body, "failure", &t.failure) &&
      document::read(body, "failure_available", &t.failure_available) &&
      document::read(body, "created_ms", &t.created_ms) &&
      document::read(body, "updated_ms", &t.updated_ms);
  if (ok) *out = std::move(t);
  return ok;
}

}  // namespace stockgrid::orders
