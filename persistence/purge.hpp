// A tenant's purge in a replicated partition journal: tenant.delete in a
// cluster (docs/cluster.md, "Deleting a tenant"). Each partition's leader
// journals one purge entry, replicated like any change, and every copy
// applies it when its snapshot folds past it (only committed entries fold):
// the tenant's snapshot rows and the index rows of its earlier journal rows
// go; its journal rows stay until compaction takes them with the rest
// (retention-ms). Removing rows outside the journal would make a follower's
// copy differ from its leader's, and holes in the journal would break the
// comparison of journals after a failover.
//
// Written like an epoch marker: a refusal of a key no request can name (the
// tenant with an empty warehouse and SKU), so every reader that does not know
// purges (replay of a record, the wire, the feed) passes it by:
//   kind refusal, result not_found, key (tenant, "", ""), version 0,
//   reason "tenant deleted".
// A single node deletes a tenant's rows at once instead
// (partition_store::delete_tenant), journal rows included.
#pragma once

#include <string>

#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

inline journal_entry purge_entry(std::string tenant, epoch_ms at_ms) {
  journal_entry e;
  e.at_ms = at_ms;
  e.key.tenant = std::move(tenant);
  e.c.kind = change_kind::refusal;
  e.result = outcome::not_found;
  e.c.reason = "tenant deleted";
  return e;
}

// The tenant `e` purges, or null if it is not a purge entry.
inline const std::string* purged_tenant(const journal_entry& e) {
  if (e.c.kind != change_kind::refusal || e.key.tenant.empty() || !e.key.warehouse.empty() || !e.key.sku.empty())
    return nullptr;
  return &e.key.tenant;
}

}  // namespace stockgrid::persistence
