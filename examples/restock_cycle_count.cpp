// Restock and cycle count: goods arrive (adjust), then a clerk counts the
// shelf and sets the counted value with `expected_version`, so a sale that
// happened while counting is not silently overwritten: the set is refused
// with VERSION_CONFLICT (with the record as it is now), the clerk reconciles
// and sets again.
//
//   build/examples/restock_cycle_count --url ws://127.0.0.1:7400/v1/ws --token <writer token>
#include <cstdio>

#include "examples/common.hpp"

using namespace examples;

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  checks checks;
  sg::client erp;   // the warehouse system: restocks and counts
  sg::client till;  // a till selling at the same time
  connect_or_exit(erp, args.url, args.token);
  connect_or_exit(till, args.url, args.token);
  const std::string warehouse = "paris";
  const std::string sku = "shelf-" + run_id();
  std::printf("restock and cycle count of %s in %s\n", sku.c_str(), warehouse.c_str());

  value r = erp.set(warehouse, sku, 40, std::nullopt, {.reason = "opening count"}).get();
  std::printf("\n1. opening stock: set 40 -> %s\n", record_line(r).c_str());
  checks.check(sg::is_ok(r), "40 on the shelf");

  // A delivery of 24 arrives: adjust adds to on_hand. The idempotency key
  // names the purchase order, so booking the delivery twice cannot happen.
  r = erp.adjust(warehouse, sku, 24, {.reason = "PO 5531", .idem = "po-5531-" + sku}).get();
  std::printf("\n2. restock: adjust +24 (PO 5531) -> %s\n", record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 64, "64 after the delivery");
  r = erp.adjust(warehouse, sku, 24, {.reason = "PO 5531", .idem = "po-5531-" + sku}).get();
  std::printf("   the same delivery booked again -> %s, replayed %s\n", record_line(r).c_str(),
              sg::is_replayed(r) ? "true" : "false");
  checks.check(sg::is_replayed(r) && sg::lookup_int(r, "record.on_hand") == 64,
               "booked once, not twice");

  // The clerk starts counting: reads the record and remembers its version.
  r = erp.get(warehouse, sku).get();
  const std::int64_t version_at_start = sg::lookup_int(r, "record.version").value_or(-1);
  const std::int64_t system_at_start = sg::lookup_int(r, "record.on_hand").value_or(-1);
  std::printf("\n3. the clerk starts counting at version %lld (system says %lld)\n",
              static_cast<long long>(version_at_start), static_cast<long long>(system_at_start));
  const std::int64_t counted = 63;  // one unit went missing
  std::printf("   the clerk counts %lld on the shelf\n", static_cast<long long>(counted));

  // Meanwhile the till sells two.
  r = till.sell(warehouse, sku, 2, {.reason = "till sale during the count"}).get();
  std::printf("   meanwhile the till sells 2 -> %s\n", record_line(r).c_str());

  // The clerk's set names the version the count started from: refused.
  r = erp.set(warehouse, sku, counted, version_at_start, {.reason = "cycle count"}).get();
  std::printf("\n4. set %lld with expected_version %lld -> %s\n", static_cast<long long>(counted),
              static_cast<long long>(version_at_start), sg::error_code(r).c_str());
  std::printf("   %s\n", show(r).c_str());
  checks.check(sg::error_code(r) == "VERSION_CONFLICT", "the stale count was refused");
  const std::int64_t version_now = sg::lookup_int(r, "error.record.version").value_or(-1);
  const std::int64_t system_now = sg::lookup_int(r, "error.record.on_hand").value_or(-1);
  checks.check(version_now == version_at_start + 1, "the conflict shows the current record");

  // Reconcile: what was sold after the count started was on the shelf when
  // counted, so the shelf now holds the count minus those sales.
  const std::int64_t reconciled = counted - (system_at_start - system_now);
  r = erp.set(warehouse, sku, reconciled, version_now, {.reason = "cycle count, reconciled"}).get();
  std::printf("\n5. retry: set %lld with expected_version %lld -> %s\n",
              static_cast<long long>(reconciled), static_cast<long long>(version_now),
              record_line(r).c_str());
  checks.check(sg::is_ok(r) && sg::lookup_int(r, "record.on_hand") == 61,
               "the count is booked: 61 on the shelf");

  r = erp.history(warehouse, sku, 5).get();
  std::printf("\n6. history, newest first:\n");
  if (const auto* events = sg::lookup(r, "events"); events && events->as_array()) {
    for (const auto& e : *events->as_array()) {
      std::printf("   v%-3lld %-7s qty %-4lld on_hand %lld -> %lld  %s\n",
                  static_cast<long long>(sg::lookup_int(e, "version").value_or(0)),
                  sg::lookup_string(e, "kind").value_or("?").c_str(),
                  static_cast<long long>(sg::lookup_int(e, "qty").value_or(0)),
                  static_cast<long long>(sg::lookup_int(e, "on_hand_before").value_or(0)),
                  static_cast<long long>(sg::lookup_int(e, "on_hand_after").value_or(0)),
                  sg::lookup_string(e, "reason").value_or("").c_str());
    }
  }
  std::printf("\n");
  return checks.exit_code("restock_cycle_count");
}
