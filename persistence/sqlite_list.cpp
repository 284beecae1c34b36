// list_records() of the SQLite store: snapshot rows merged with the records
// the tail has touched, in (warehouse, sku) order.
#include <tuple>

#include "persistence/listing.hpp"
#include "persistence/sqlite_rows.hpp"
#include "persistence/sqlite_store_impl.hpp"

namespace stockgrid::persistence {

using sqlite::reset_on_exit;

namespace {

// Whether no later key (in listing order) of the same tenant can match: past
// the filter's warehouse, or past its SKU prefix within that warehouse.
bool past_listing(const list_filter& f, const record_key& key) {
  if (f.warehouse.empty()) return false;
  if (key.warehouse != f.warehouse) return key.warehouse > f.warehouse;
  return key.sku > f.sku_prefix && !std::string_view(key.sku).starts_with(f.sku_prefix);
}

}  // namespace

// The next snapshot row that matches the filter, or *found = false.
status sqlite_store::next_listed_snapshot_row(const list_filter& f, record_image* out, bool* found) {
  auto& s = q_.list_snapshot;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (status st = sqlite::read_snapshot_row(s.get(), name(), out); !st) return st;
    if (past_listing(f, out->key)) break;
    if (in_listing(f, out->key)) {
      *found = true;
      return status::ok();
    }
  }
  *found = false;
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? status::ok() : db_.error(rc, "listing the snapshot");
}

status sqlite_store::list_records(const list_filter& f, std::vector<record_image>* out) {
  out->clear();
  if (f.limit == 0) return status::ok();
  if (!tail_.tracks_keys()) {
    tail_.track_keys();
    tail_indexed_ = false;  // rebuilt below, with the keys
  }
  if (status st = ensure_tail_index(); !st) return st;
  // Start after the cursor, or just before the filter's warehouse.
  record_key start{f.tenant, f.after_warehouse, f.after_sku};
  if (!f.warehouse.empty() && start.warehouse < f.warehouse) {
    start.warehouse = f.warehouse;
    start.sku.clear();
  }
  auto& s = q_.list_snapshot;
  reset_on_exit guard(s);
  s.bind_text(1, start.tenant);
  s.bind_text(2, start.warehouse);
  s.bind_text(3, start.sku);
  record_image row;
  bool have_row = false;
  if (status st = next_listed_snapshot_row(f, &row, &have_row); !st) return st;
  const auto& keys = tail_.keys();
  auto tail_key = keys.upper_bound(start);
  const auto next_tail_key = [&] {
    while (tail_key != keys.end() && tail_key->tenant == f.tenant && !in_listing(f, *tail_key)) ++tail_key;
    if (tail_key != keys.end() && tail_key->tenant != f.tenant) tail_key = keys.end();
  };
  next_tail_key();
  while (out->size() < f.limit && (have_row || tail_key != keys.end())) {
    const bool from_tail = tail_key != keys.end() && (!have_row || !listing_less(row.key, *tail_key));
    if (!from_tail) {  // untouched since the snapshot: the row is current
      out->push_back(std::move(row));
      if (status st = next_listed_snapshot_row(f, &row, &have_row); !st) return st;
      continue;
    }
    record_image image;
    bool exists = false;
    if (status st = load_record(*tail_key, &image, &exists); !st) return st;
    if (exists) out->push_back(std::move(image));
    if (have_row && row.key == *tail_key)
      if (status st = next_listed_snapshot_row(f, &row, &have_row); !st) return st;
    ++tail_key;
    next_tail_key();
  }
  return status::ok();
}

}  // namespace stockgrid::persistence
