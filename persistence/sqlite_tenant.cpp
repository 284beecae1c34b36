// A tenant's rows as a whole in the SQLite store: counting its records (the
// records quota at start) and removing them (tenant.delete).
#include <map>

#include "persistence/sqlite_store_impl.hpp"

namespace stockgrid::persistence {

namespace {

// Records in the snapshot, and records the tail created (an applied change,
// result ok, of a key the snapshot lacks), per tenant.
constexpr const char* count_snapshot_sql = "SELECT tenant, count(*) FROM snapshot GROUP BY tenant";
constexpr const char* count_tail_sql =
    "SELECT tenant, count(*) FROM (SELECT DISTINCT tenant, warehouse, sku FROM journal j"
    " WHERE seq > ?1 AND result = 1 AND NOT EXISTS (SELECT 1 FROM snapshot s WHERE s.tenant = j.tenant"
    " AND s.warehouse = j.warehouse AND s.sku = j.sku)) GROUP BY tenant";

// Index rows first: they are found through the tenant's journal rows.
constexpr const char* delete_tenant_sql[] = {
    "DELETE FROM record_index WHERE seq IN (SELECT seq FROM journal WHERE tenant = ?1)",
    "DELETE FROM idem_index WHERE seq IN (SELECT seq FROM journal WHERE tenant = ?1)",
    "DELETE FROM journal WHERE tenant = ?1",
    "DELETE FROM snapshot WHERE tenant = ?1",
};

}  // namespace

status sqlite_store::count_records(std::vector<std::pair<std::string, std::uint64_t>>* out) {
  std::map<std::string, std::uint64_t> counts;
  for (const char* sql : {count_snapshot_sql, count_tail_sql}) {
    sqlite::statement s;
    if (status st = db_.prepare(sql, &s); !st) return st;
    if (sql == count_tail_sql) s.bind_u64(1, snapshot_seq_);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const auto* tenant = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
      counts[tenant ? tenant : ""] += sqlite::column_u64(s.get(), 1);
    }
    if (rc != SQLITE_DONE) return db_.error(rc, "counting records per tenant");
  }
  out->assign(counts.begin(), counts.end());
  return status::ok();
}

status sqlite_store::delete_tenant(std::string_view tenant, std::uint64_t* records) {
  // Fold the tail first: its entries are indexed in memory (tail_index), and
  // removing some of them under it would leave the index pointing at gone
  // rows. Retaining since 0 compacts nothing.
  snapshot_report folded;
  if (status st = snapshot(0, &folded); !st) return st;
  if (status st = set_synchronous(true); !st) return st;
  if (status st = begin(); !st) return st;
  std::uint64_t removed = 0;
  status st;
  for (const char* sql : delete_tenant_sql) {
    sqlite::statement s;
    st = db_.prepare(sql, &s);
    if (!st) break;
    s.bind_text(1, tenant);
    st = db_.run(s, "deleting a tenant's rows");
    if (!st) break;
    if (sql == delete_tenant_sql[3]) removed = static_cast<std::uint64_t>(sqlite3_changes(db_.get()));
  }
  if (st) st = commit();
  if (!st) {
    rollback();
    return st;
  }
  unsynced_ = false;  // the FULL commit fsynced the whole WAL
  if (records != nullptr) *records = removed;
  return status::ok();
}

}  // namespace stockgrid::persistence
