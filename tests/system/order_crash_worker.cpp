// Runs the order crash workload (order_crash_ops.hpp) against a grid, several
// steps at a time, and prints one line per answered call, until it is killed:
//   ORDER <i> <code> <order id> <status>       the reserve's answer
//   FOLLOW <i> <code> <status>                 the commit's or release's
//   TRANSFER <i> <code> <transfer id> <status> the create's
//   RECEIVE <i> <code> <status>                the receipt's
// Usage: order_crash_worker DIR FIRST (stocks the records when FIRST is 0).
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <semaphore>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/grid.hpp"
#include "tests/system/order_crash_ops.hpp"

using namespace stockgrid;
using namespace stockgrid::testing;

namespace {
std::mutex out;
void print(const std::string& line) {
  std::lock_guard lk(out);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}
std::string code(outcome o) { return std::string(to_code(o)); }
}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("stockgrid"));
  if (argc != 3) {
    std::fprintf(stderr, "usage: order_crash_worker DIR FIRST\n");
    return 1;
  }
  config::settings s;
  s.node.data_dir = argv[1];
  s.node.partitions = 4;
  s.node.journal_threads = 1;
  const long first = std::atol(argv[2]);
  std::string error;
  auto g = grid::open(grid_options{s, {}}, &error);
  if (!g) {
    std::fprintf(stderr, "order_crash_worker: %s\n", error.c_str());
    return 3;
  }
  if (first == 0) {
    for (const auto& w : order_crash_warehouses)
      for (int k = 0; k < order_crash_skus; ++k) {
        request r;
        r.kind = op::adjust;
        r.key = {"crash", w, "sku" + std::to_string(k)};
        r.delta = order_crash_stock;
        std::promise<reply> p;
        g->submit(r, [&](reply&& rep) { p.set_value(std::move(rep)); });
        if (p.get_future().get().code != outcome::ok) return 4;
      }
    print("STOCKED");
  }
  std::counting_semaphore<16> window(16);  // steps in flight
  for (long i = first; i < first + 1'000'000; ++i) {
    window.acquire();
    if (is_transfer_step(i)) {
      g->transfer(order_crash_transfer(i), [&, i](orders::transfer_reply&& t) {
        print("TRANSFER " + std::to_string(i) + " " + code(t.code) + " " + (t.has_transfer ? t.doc.id : "-") +
              " " + std::string(orders::wire_status(t.doc.status)));
        if (t.code != outcome::ok) return window.release();
        g->transfer(order_crash_receive(i, t.doc.id), [&, i](orders::transfer_reply&& r) {
          print("RECEIVE " + std::to_string(i) + " " + code(r.code) + " " +
                std::string(orders::wire_status(r.doc.status)));
          window.release();
        });
      });
      continue;
    }
    g->order(order_crash_reserve(i), [&, i](orders::order_reply&& o) {
      print("ORDER " + std::to_string(i) + " " + code(o.code) + " " + (o.has_order ? o.doc.id : "-") + " " +
            std::string(orders::wire_status(o.doc.status)));
      auto next = o.code == outcome::ok ? order_crash_follow_up(i, o.doc.id) : std::nullopt;
      if (!next) return window.release();
      g->order(*next, [&, i](orders::order_reply&& f) {
        print("FOLLOW " + std::to_string(i) + " " + code(f.code) + " " +
              std::string(orders::wire_status(f.doc.status)));
        window.release();
      });
    });
  }
  g->stop();
  return 0;
}
