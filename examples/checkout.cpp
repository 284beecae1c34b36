// A web checkout with a split shipment and a warehouse transfer. A basket of
// six lamps and two shades is more than one warehouse has, so the order is
// held across two (all lines or none), retried safely with its idempotency
// key, guarded (its holds can only be ended through the order) and committed
// as one. Then the emptied warehouse is refilled by a transfer: the units
// leave the other warehouse at once, show as incoming, and land on receipt.
//
//   build/examples/checkout --url ws://127.0.0.1:7400/v1/ws --token <writer token>
#include <cstdio>
#include <tuple>
#include <vector>

#include "examples/common.hpp"

using namespace examples;

namespace {
std::string lines_of(const value& order) {
  std::string out;
  if (const auto* lines = sg::lookup(order, "lines"); lines && lines->as_array())
    for (const auto& l : *lines->as_array())
      out += "\n     " + std::to_string(sg::lookup_int(l, "qty").value_or(0)) + " x " +
             sg::lookup_string(l, "sku").value_or("?") + " from " +
             sg::lookup_string(l, "warehouse").value_or("?") + " (hold " +
             sg::lookup_string(l, "hold").value_or("") + ")";
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  checks checks;
  sg::client shop;
  connect_or_exit(shop, args.url, args.token);
  const std::string id = run_id();
  const std::string lamp = "lamp-" + id, shade = "shade-" + id;
  std::printf("checkout of 6 x %s and 2 x %s\n", lamp.c_str(), shade.c_str());

  // 1. Stock: 5 lamps in paris, 3 in berlin; shades only in paris.
  const std::vector<std::tuple<std::string, std::string, int>> stock{
      {"paris", lamp, 5}, {"berlin", lamp, 3}, {"paris", shade, 4}};
  for (const auto& [wh, sku, qty] : stock) shop.adjust(wh, sku, qty, {.reason = "opening stock"}).get();
  value r = shop.stock_find(lamp).get();
  std::printf("\n1. %s across warehouses: %s available\n", lamp.c_str(),
              std::to_string(sg::lookup_int(r, "total_available").value_or(-1)).c_str());
  checks.check(sg::lookup_int(r, "total_available") == 8, "8 lamps in two warehouses");

  // 2. Where would the basket come from? A dry run holds nothing.
  const std::vector<sg::order_line> basket{{lamp, 6, ""}, {shade, 2, ""}};
  r = shop.order_reserve(basket, {.dry_run = true}).get();
  std::printf("\n2. dry run:\n");
  if (const auto* why = sg::lookup(r, "explanation"); why && why->as_array())
    for (const auto& sentence : *why->as_array())
      std::printf("   %s\n", sentence.as_string() ? sentence.as_string()->c_str() : "?");
  checks.check(sg::is_ok(r), "the plan is explained");

  // 3. The order: every line held, or none. The lamps split across paris
  //    and berlin; the idempotency key is the cart's.
  const std::string cart = "cart-" + id;
  r = shop.order_reserve(basket, {.ttl_ms = 900'000, .ref = cart, .idem = cart}).get();
  const std::string order = sg::lookup_string(r, "order").value_or("");
  std::printf("\n3. order.reserve -> %s %s%s\n", order.c_str(),
              sg::lookup_string(r, "status").value_or(sg::error_code(r)).c_str(), lines_of(r).c_str());
  checks.check(sg::lookup_string(r, "status") == "held", "the basket is held");
  const auto* lines = sg::lookup(r, "lines");
  checks.check(lines && lines->as_array() && lines->as_array()->size() == 3,
               "a split shipment: lamps from two warehouses, shades from one");
  std::string a_hold;  // one of the order's holds, for step 5
  if (lines && lines->as_array() && !lines->as_array()->empty())
    a_hold = sg::lookup_string(lines->as_array()->front(), "hold").value_or("");

  // 4. The browser retries the checkout (a timeout): same key, same order.
  r = shop.order_reserve(basket, {.ttl_ms = 900'000, .ref = cart, .idem = cart}).get();
  std::printf("\n4. the same checkout again -> %s, replayed %s\n",
              sg::lookup_string(r, "order").value_or("?").c_str(), sg::is_replayed(r) ? "true" : "false");
  checks.check(sg::lookup_string(r, "order") == order && sg::is_replayed(r), "one order, not two");

  // 5. A hold of the order cannot be sold on its own: the order is one unit.
  r = shop.commit(a_hold).get();
  std::printf("\n5. stock.commit of one of its holds -> %s\n", sg::error_code(r).c_str());
  checks.check(sg::error_code(r) == "FORBIDDEN", "only the order can commit its holds");

  // 6. Payment succeeded: commit the whole order.
  r = shop.order_commit(order, "pay-" + id).get();
  std::printf("\n6. order.commit -> %s\n", sg::lookup_string(r, "status").value_or(sg::error_code(r)).c_str());
  checks.check(sg::lookup_string(r, "status") == "committed", "sold as one");
  r = shop.get("paris", lamp).get();
  std::printf("   paris lamps: %s\n", record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 0, "paris sold its 5 lamps");

  // 7. Paris is empty; berlin has 2 left. Move 2 from berlin to paris.
  r = shop.transfer_create(lamp, "berlin", "paris", 2, "move-" + id).get();
  const std::string transfer = sg::lookup_string(r, "transfer").value_or("");
  std::printf("\n7. transfer.create berlin -> paris, 2 -> %s %s\n", transfer.c_str(),
              sg::lookup_string(r, "status").value_or(sg::error_code(r)).c_str());
  r = shop.get("berlin", lamp).get();
  std::printf("   berlin lamps: %s\n", record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 0, "the units left berlin at once");
  r = shop.get("paris", lamp).get();
  checks.check(sg::lookup_int(r, "record.incoming") == 2 && sg::lookup_int(r, "record.available") == 0,
               "paris shows them incoming, not yet sellable");

  // 8. The truck arrives; the receipt is booked (twice, by a nervous clerk).
  for (int attempt = 0; attempt < 2; ++attempt) r = shop.transfer_receive(transfer, 2, "truck-" + id).get();
  std::printf("\n8. transfer.receive 2 (booked twice) -> %s\n",
              sg::lookup_string(r, "status").value_or(sg::error_code(r)).c_str());
  r = shop.get("paris", lamp).get();
  std::printf("   paris lamps: %s\n", record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 2 && sg::lookup_int(r, "record.incoming") == 0,
               "2 landed in paris, counted once");
  std::printf("\n");
  return checks.exit_code("checkout");
}
