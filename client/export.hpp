// `stockctl export TENANT`: every page of tenant.export (system token),
// written as JSON lines, one item per line:
//
//   {"record": {...}}   the record object
//   {"hold": {...}}     a hold: warehouse, sku, hold, qty, expires_at_ms, ref
//   {"event": {...}}    a history event with its warehouse and sku
//
// in the order the pages give them (docs/protocol.md, "tenant.export"; what
// the dump is consistent with: docs/operations.md, "Tenant lifecycle").
#pragma once

#include <iosfwd>
#include <string>

#include "client/script_runner.hpp"

namespace stockgrid::stockctl {

// Pages through the export to `out`. exit_ok; exit_failed when a page is
// refused (the message goes to `err`, the lines so far stay written);
// exit_connection when it cannot connect. At most `pages_max` pages, so a
// server that kept answering with a cursor cannot keep it running forever.
int run_export(const runner_settings& settings, const std::string& tenant, std::ostream& out,
               std::ostream& err, std::size_t pages_max = 10'000'000);

}  // namespace stockgrid::stockctl
