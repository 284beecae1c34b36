// Applies the crash workload to a grid and prints one ACK line per answered
// request, until it is killed. Usage: crash_worker DIR sync|batched FIRST COUNT
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <semaphore>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/grid.hpp"
#include "tests/system/crash_ops.hpp"

using namespace stockgrid;

int main(int argc, char** argv) {
  // Logs go to stderr; stdout is for what the program is asked to print.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stockgrid"));
  if (argc != 5) {
    std::fprintf(stderr, "usage: crash_worker DIR sync|batched FIRST COUNT\n");
    return 1;
  }
  config::settings s;
  s.node.data_dir = argv[1];
  s.node.partitions = testing::crash_partitions;
  s.node.journal_threads = 1;
  s.journal.durability = std::string(argv[2]) == "batched" ? config::durability_mode::batched
                                                            : config::durability_mode::sync;
  const long first = std::atol(argv[3]);
  const long count = std::atol(argv[4]);
  std::string error;
  auto g = grid::open(grid_options{s, {}}, &error);
  if (!g) {
    std::fprintf(stderr, "crash_worker: %s\n", error.c_str());
    return 3;
  }
  std::mutex out;
  std::counting_semaphore<64> window(64);  // requests in flight
  for (long i = first; i < first + count; ++i) {
    window.acquire();
    g->submit(testing::crash_op(i), [&, i](reply&& r) {
      if (r.code != outcome::ok && r.code != outcome::insufficient_stock) {
        std::fprintf(stderr, "crash_worker: op %ld: %s %s\n", i, std::string(to_code(r.code)).c_str(),
                     r.message.c_str());
        std::_Exit(4);
      }
      {
        std::lock_guard lk(out);
        auto line = testing::ack_line(i, r) + "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
      }
      window.release();
    });
  }
  g->stop();
  std::puts("DONE");
  return 0;
}
