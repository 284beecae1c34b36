// A flash sale: 1,000 buyers on 20 connections rush for 100 units at the same
// moment. Each reserves one unit and, if it got it, commits. Exactly 100
// succeed; the rest are told INSUFFICIENT_STOCK; nothing is oversold.
//
//   build/examples/flash_sale --url ws://127.0.0.1:7400/v1/ws --token <writer token>
//       [--buyers 1000] [--units 100] [--connections 20]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "examples/common.hpp"

using namespace examples;

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  checks checks;
  const std::string sku = "flash-" + run_id();
  const std::string warehouse = "berlin";

  std::vector<std::unique_ptr<sg::client>> connections;
  for (int i = 0; i < args.connections; ++i) {
    connections.push_back(std::make_unique<sg::client>());
    connect_or_exit(*connections.back(), args.url, args.token);
  }
  value r = connections[0]->set(warehouse, sku, args.units, std::nullopt, {.reason = "flash sale"}).get();
  std::printf("flash sale of %s in %s: %d units, %d buyers on %d connections\n", sku.c_str(),
              warehouse.c_str(), args.units, args.buyers, args.connections);
  if (!checks.check(sg::is_ok(r), "stocked " + std::to_string(args.units) + " units")) {
    return checks.exit_code("flash_sale");
  }

  // Every buyer: reserve 1, then commit the hold if there was one.
  struct tally {
    std::mutex mutex;
    std::map<std::string, int> reserves;  // "ok" or the error code
    std::map<std::string, int> commits;
    int left = 0;
    std::promise<void> done;
  };
  auto t = std::make_shared<tally>();
  t->left = args.buyers;
  auto finish = [t] {
    if (--t->left == 0) t->done.set_value();
  };
  const auto started = std::chrono::steady_clock::now();
  for (int buyer = 0; buyer < args.buyers; ++buyer) {
    sg::client& c = *connections[static_cast<std::size_t>(buyer % args.connections)];
    auto reserve = stockgrid::protocol::op_request{};
    reserve.op = "stock.reserve";
    reserve.grid.key.warehouse = warehouse;
    reserve.grid.key.sku = sku;
    reserve.grid.qty = 1;
    reserve.grid.ttl_ms = 60'000;
    reserve.grid.ref = "buyer-" + std::to_string(buyer);
    c.call(reserve, [t, &c, finish](value answer) {
      std::lock_guard lock(t->mutex);
      ++t->reserves[sg::is_ok(answer) ? "ok" : sg::error_code(answer)];
      if (!sg::is_ok(answer)) return finish();
      stockgrid::protocol::op_request commit;
      commit.op = "stock.commit";
      commit.grid.hold = sg::lookup_string(answer, "hold").value_or("");
      c.call(commit, [t, finish](value paid) {
        std::lock_guard lock(t->mutex);
        ++t->commits[sg::is_ok(paid) ? "ok" : sg::error_code(paid)];
        finish();
      });
    });
  }
  t->done.get_future().wait();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  auto print = [](const char* what, const std::map<std::string, int>& counts) {
    std::printf("%s:", what);
    for (const auto& [code, n] : counts) std::printf(" %s %d", code.c_str(), n);
    std::printf("\n");
  };
  std::printf("done in %.2f s\n", seconds);
  print("reserves", t->reserves);
  print("commits ", t->commits);
  const int sold = t->commits["ok"];
  const int refused = t->reserves["INSUFFICIENT_STOCK"];
  std::printf("sold %d, refused %d\n", sold, refused);

  r = connections[0]->get(warehouse, sku).get();
  std::printf("record after the sale: %s\n", record_line(r).c_str());
  const int expected_sold = std::min(args.units, args.buyers);
  checks.check(t->reserves["ok"] == expected_sold,
               "exactly " + std::to_string(expected_sold) + " reserves succeeded");
  checks.check(sold == expected_sold, "exactly " + std::to_string(expected_sold) + " buyers paid");
  checks.check(refused == args.buyers - expected_sold,
               "the other " + std::to_string(args.buyers - expected_sold) + " were told INSUFFICIENT_STOCK");
  checks.check(sg::lookup_int(r, "record.on_hand") == args.units - expected_sold &&
                   sg::lookup_int(r, "record.reserved") == 0,
               "nothing oversold, nothing left held");
  return checks.exit_code("flash_sale");
}
