// A point-of-sale terminal: a cart is reserved and paid (reserve → commit),
// the network drops while a reserve is in flight and the client's retry is
// safe (the same hold comes back, `replayed`), and a walk-in customer buys
// without a hold (sell).
//
//   build/examples/pos_terminal --url ws://127.0.0.1:7400/v1/ws --token <writer token>
#include <cstdio>

#include "examples/common.hpp"

using namespace examples;

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  checks checks;
  sg::client pos;
  connect_or_exit(pos, args.url, args.token);
  const std::string sku = "pos-" + run_id();
  const std::string store = "berlin";
  std::printf("POS terminal connected to %s; selling %s in %s\n", args.url.c_str(), sku.c_str(),
              store.c_str());

  // The back office put 20 on the shelf.
  value r = pos.set(store, sku, 20, std::nullopt, {.reason = "opening stock"}).get();
  std::printf("\n1. stock the shelf: set %s %s 20 -> %s\n", store.c_str(), sku.c_str(),
              record_line(r).c_str());
  checks.check(sg::is_ok(r), "the shelf holds 20");

  // A customer brings two to the till: reserve them while paying, then commit.
  std::printf("\n2. a customer pays for two: reserve, then commit\n");
  r = pos.reserve(store, sku, 2, {.ttl_ms = 120'000, .ref = "till-1/receipt-1"}).get();
  const std::string hold = sg::lookup_string(r, "hold").value_or("");
  std::printf("   reserve 2 -> hold %s, %s\n", hold.c_str(), record_line(r).c_str());
  checks.check(sg::is_ok(r) && !hold.empty(), "the reserve made a hold");
  r = pos.commit(hold).get();
  std::printf("   commit %s -> %s\n", hold.c_str(), record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 18, "two units left the shelf");

  // The network drops while the next reserve is in flight. The client
  // reconnects and resends it with the same idempotency key, so it is applied
  // at most once whatever the server had seen.
  std::printf("\n3. the network drops while a reserve is in flight\n");
  const std::string idem = sg::new_idempotency_key();
  auto in_flight = pos.reserve(store, sku, 1, {.ttl_ms = 120'000, .ref = "till-1/receipt-2", .idem = idem});
  pos.drop_connection();
  const value first = in_flight.get();
  const std::string retried_hold = sg::lookup_string(first, "hold").value_or("");
  const auto stats = pos.stats();
  std::printf("   reserve 1 (idem %s) -> hold %s%s, after %llu reconnect(s), %llu resend(s)\n",
              idem.c_str(), retried_hold.c_str(), sg::is_replayed(first) ? " (replayed)" : "",
              static_cast<unsigned long long>(stats.connects - 1),
              static_cast<unsigned long long>(stats.resends));
  checks.check(sg::is_ok(first), "the reserve succeeded across the dropped connection");

  // The till does not know whether its reserve went through, so it sends the
  // same request again, with the same key: the same hold comes back.
  const value again = pos.reserve(store, sku, 1, {.ttl_ms = 120'000, .ref = "till-1/receipt-2", .idem = idem}).get();
  std::printf("   the till retries with the same idem -> hold %s, replayed %s\n",
              sg::lookup_string(again, "hold").value_or("").c_str(),
              sg::is_replayed(again) ? "true" : "false");
  checks.check(sg::lookup_string(again, "hold") == retried_hold, "the same hold came back");
  checks.check(sg::is_replayed(again), "the answer says `replayed`");
  r = pos.get(store, sku).get();
  std::printf("   get -> %s\n", record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.reserved") == 1, "only one unit is held, not two");
  r = pos.commit(retried_hold).get();
  std::printf("   commit %s -> %s\n", retried_hold.c_str(), record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 17, "the unit is sold once");

  // A walk-in customer: sell directly, no hold.
  std::printf("\n4. a walk-in customer buys one: sell\n");
  r = pos.sell(store, sku, 1, {.reason = "walk-in"}).get();
  std::printf("   sell 1 -> %s\n", record_line(r).c_str());
  checks.check(sg::lookup_int(r, "record.on_hand") == 16, "16 left on the shelf");
  checks.check(sg::lookup_int(r, "record.reserved") == 0, "nothing held");

  std::printf("\n");
  return checks.exit_code("pos_terminal");
}
