// In-process benchmark of the grid: reserve throughput (uniform over many
// records, or one hot record) in sync and batched durability, resident bytes
// per active record, and the recovery replay rate. Prints one line per figure
// and a final JSON line. Not a test: it asserts only that requests succeed.
//
//   grid_bench [--seconds 5] [--records 100000] [--in-flight 4096] [--dir /tmp/x]
//              [--only throughput|memory|recovery]
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "actors/grid.hpp"

using namespace stockgrid;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  double seconds = 5;
  int records = 100'000;
  int in_flight = 4096;
  std::string dir = "/tmp/stockgrid-bench";
  std::string only;
  std::string run_case;  // throughput: only the runs whose name contains this
  std::uint32_t partitions = 64;
  std::uint32_t journal_threads = 2;
};

// CPU time of the whole process (every thread), in seconds. On a shared
// machine reserves/s move with the load; CPU per reserve moves much less.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

long rss_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

config::settings bench_settings(const options& o, config::durability_mode mode) {
  config::settings s;
  s.node.data_dir = o.dir;
  s.node.partitions = o.partitions;
  s.node.journal_threads = o.journal_threads;
  s.node.max_in_flight = static_cast<std::uint32_t>(o.in_flight * 2);
  s.journal.durability = mode;
  s.journal.snapshot_every_entries = 5'000'000;
  s.journal.snapshot_interval_ms = 3'600'000;
  s.node.passivate_idle_ms = 3'600'000;
  return s;
}

std::unique_ptr<grid> open_fresh(const config::settings& s) {
  std::filesystem::remove_all(s.node.data_dir);
  std::string error;
  auto g = grid::open(grid_options{s, {}}, &error);
  if (!g) {
    std::fprintf(stderr, "grid_bench: %s\n", error.c_str());
    std::exit(1);
  }
  return g;
}

request make(op kind, int record) {
  request r;
  r.kind = kind;
  r.key = {"bench", "wh", "sku" + std::to_string(record)};
  return r;
}

// Sends `total` requests built by `build(i)` keeping `window` in flight;
// returns when all are answered. Fails the run on any unexpected reply.
template <class Build, class Check>
void drive(grid& g, long total, int window, Build build, Check check) {
  std::atomic<long> next{0}, done{0};
  std::promise<void> finished;
  std::function<void()> issue = [&] {
    const long i = next.fetch_add(1);
    if (i >= total) return;
    g.submit(build(i), [&, i](reply&& r) {
      if (!check(i, r)) {
        std::fprintf(stderr, "grid_bench: request %ld: %s %s\n", i,
                     std::string(to_code(r.code)).c_str(), r.message.c_str());
        std::exit(1);
      }
      issue();  // first: once `finished` is set, drive() returns and `issue` is gone
      if (done.fetch_add(1) + 1 == total) finished.set_value();
    });
  };
  for (int k = 0; k < window && k < total; ++k) issue();
  finished.get_future().wait();
}

void stock(grid& g, int records, std::int64_t units, int window) {
  drive(g, records, window,
        [&](long i) {
          auto r = make(op::set, static_cast<int>(i));
          r.on_hand = units;
          return r;
        },
        [](long, const reply& r) { return r.code == outcome::ok; });
}

struct rate {
  double per_s = 0;
  double cpu_us_per_op = 0;  // process CPU time per counted reserve
};

// Reserves for `seconds`: uniform over `records`, or all on record 0 (hot,
// where every hold is released right away so holds do not pile up).
rate reserve_rate(const options& o, config::durability_mode mode, bool hot) {
  auto g = open_fresh(bench_settings(o, mode));
  const int records = hot ? 1 : o.records;
  stock(*g, records, 1'000'000'000, o.in_flight);
  std::atomic<long> reserves{0};
  std::atomic<bool> stop{false};
  std::atomic<long> outstanding{0};
  std::function<void(long)> issue = [&](long i) {
    if (stop.load(std::memory_order_relaxed)) return;
    outstanding.fetch_add(1);
    auto r = make(op::reserve, hot ? 0 : static_cast<int>((i * 2654435761u) % records));
    r.qty = 1;
    r.ttl_ms = 3'600'000;
    g->submit(std::move(r), [&, i](reply&& rep) {
      if (rep.code != outcome::ok) {
        std::fprintf(stderr, "grid_bench: reserve: %s %s\n", std::string(to_code(rep.code)).c_str(),
                     rep.message.c_str());
        std::exit(1);
      }
      reserves.fetch_add(1, std::memory_order_relaxed);
      if (hot) {
        request rel;
        rel.kind = op::release;
        rel.key.tenant = "bench";
        rel.hold = rep.hold;
        g->submit(std::move(rel), [&, i](reply&&) {
          issue(i + o.in_flight);  // before the decrement: main waits for zero
          outstanding.fetch_sub(1);
        });
      } else {
        issue(i + o.in_flight);
        outstanding.fetch_sub(1);
      }
    });
  };
  const auto start = clock_type::now();
  const auto cpu_start = cpu_seconds();
  for (long k = 0; k < o.in_flight; ++k) issue(k);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  const auto counted = reserves.load();
  const auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  const auto cpu = cpu_seconds() - cpu_start;
  while (outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  g->stop();
  return {counted / elapsed, counted ? cpu * 1e6 / counted : 0};
}

// RSS growth per record between all records passivated and all resident.
double bytes_per_resident_record(const options& o) {
  auto s = bench_settings(o, config::durability_mode::batched);
  s.node.passivate_idle_ms = 1000;
  auto g = open_fresh(s);
  stock(*g, o.records, 100, o.in_flight);
  // Wait for every record to be passivated.
  while (g->stats().resident_records > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  malloc_trim(0);
  const long low = rss_bytes();
  drive(*g, o.records, o.in_flight, [](long i) { return make(op::get, static_cast<int>(i)); },
        [](long, const reply& r) { return r.code == outcome::ok; });
  malloc_trim(0);
  const long high = rss_bytes();
  const auto resident = g->stats().resident_records;
  g->stop();
  return resident ? static_cast<double>(high - low) / resident : 0;
}

// Journal entries replayed per second at start-up.
std::pair<double, std::uint64_t> replay_rate(const options& o) {
  auto s = bench_settings(o, config::durability_mode::batched);
  const long entries = 1'000'000;
  {
    auto g = open_fresh(s);
    drive(*g, entries, o.in_flight,
          [&](long i) {
            auto r = make(op::adjust, static_cast<int>(i % o.records));
            r.delta = 1;
            return r;
          },
          [](long, const reply& r) { return r.code == outcome::ok; });
  }
  std::string error;
  auto g = grid::open(grid_options{s, {}}, &error);
  const auto& rec = g->recovery();
  return {rec.replayed_entries / rec.seconds, rec.replayed_entries};
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"stockgrid in-process grid benchmark"};
  app.add_option("--seconds", o.seconds, "duration of each throughput run");
  app.add_option("--records", o.records, "records for the uniform runs");
  app.add_option("--in-flight", o.in_flight, "requests kept in flight");
  app.add_option("--dir", o.dir, "scratch data dir (deleted)");
  app.add_option("--only", o.only, "throughput|memory|recovery");
  app.add_option("--case", o.run_case,
                 "throughput: only runs whose name contains this (uniform_batched, hot, sync...)");
  app.add_option("--partitions", o.partitions, "partitions of the grid");
  app.add_option("--journal-threads", o.journal_threads, "journal writer threads");
  CLI11_PARSE(app, argc, argv);

  std::string json = "{";
  auto figure = [&](const char* name, double value, const char* unit) {
    std::printf("%-40s %14.0f %s\n", name, value, unit);
    std::fflush(stdout);
    if (json.size() > 1) json += ",";
    json += "\"" + std::string(name) + "\":" + std::to_string(static_cast<long long>(value));
  };
  using mode = config::durability_mode;
  if (o.only.empty() || o.only == "throughput") {
    auto run = [&](const char* name, mode m, bool hot, const char* unit) {
      if (std::string(name).find(o.run_case) == std::string::npos) return;
      const auto r = reserve_rate(o, m, hot);
      figure((std::string("reserve_") + name + "_per_s").c_str(), r.per_s, unit);
      figure((std::string("reserve_") + name + "_cpu_ns").c_str(), r.cpu_us_per_op * 1000,
             "CPU ns per reserve");
    };
    run("uniform_batched", mode::batched, false, "reserves/s");
    run("uniform_sync", mode::sync, false, "reserves/s");
    run("hot_batched", mode::batched, true, "reserves/s (+ as many releases)");
    run("hot_sync", mode::sync, true, "reserves/s (+ as many releases)");
  }
  if (o.only.empty() || o.only == "memory")
    figure("bytes_per_resident_record", bytes_per_resident_record(o), "bytes");
  if (o.only.empty() || o.only == "recovery") {
    auto [rate, n] = replay_rate(o);
    figure("replay_entries_per_s", rate, "entries/s");
    figure("replayed_entries", static_cast<double>(n), "entries");
  }
  std::filesystem::remove_all(o.dir);
  std::printf("%s}\n", json.c_str());
  return 0;
}
