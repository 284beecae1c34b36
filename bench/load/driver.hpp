// The load generator's engine: `connections` WebSocket connections on one or
// two io threads, each keeping `pipeline` requests in flight (or paced to a
// share of `rate`), every answer read, matched by id and judged
// (response_check.hpp). Raw Boost.Beast, one reused frame buffer per request
// slot: no allocation per request on the msgpack path.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/load/histogram.hpp"
#include "bench/load/response_check.hpp"

namespace stockgrid::bench {

enum class workload {
  reserve,  // reserve 1 unit of a random record (--hot: reserve, then release that hold)
  get,      // read a random record
  mix,      // reserve; commit or release the hold (alternately); get the record
  order,    // order.reserve of order_lines random records (all_or_nothing), then order.release of it
};

// Lines of each order of workload::order, on distinct records (so the server
// merges none and every granted order holds exactly this many units).
inline constexpr int order_lines = 5;

struct driver_options {
  std::string host = "127.0.0.1";
  std::string port = "7400";
  std::string target = "/v1/ws";
  std::string token;
  bool json = false;
  int connections = 64;
  int pipeline = 1;  // requests in flight per connection
  int threads = 1;
  workload work = workload::reserve;
  bool hot = false;                 // every request on the first record
  // workload::reserve over many records: release each granted hold next, as
  // --hot does (stock changes twice per cycle, holds do not pile up).
  bool release_holds = false;
  double seconds = 10;              // run time, unless requests_max is set
  std::uint64_t requests_max = 0;   // stop after this many requests (0 = use seconds)
  double rate = 0;                  // offered requests/s in total; 0 = as fast as answered
  double drain_seconds = 10;        // after the run, wait this long for answers in flight
  double connect_seconds = 10;
  std::string warehouse;
  std::vector<std::string> skus;    // the records, by index
  std::int64_t ttl_ms = 0;          // reserves' TTL (0 = the server's default)
  bool idem = false;                // send an idempotency key with each mutation
  // Negotiate batch frames (subprotocol stockgrid.batch): requests waiting
  // for the socket go out as one array frame, answers may come back as one.
  bool batch = false;
  validation level = validation::full;
};

struct run_result {
  bool connected = false;          // every connection was made and upgraded
  std::string connect_error;
  double seconds = 0;              // from the first request to the last answer
  std::uint64_t requests = 0;      // sent
  std::uint64_t answered_ok = 0;
  std::uint64_t answered_error = 0;
  std::uint64_t wrong = 0;         // answers no correct server gives
  std::uint64_t missing = 0;       // requests never answered (connection lost, drain timeout)
  // Ok answers per op, and mutations whose outcome is unknown (TIMEOUT):
  // the totals check allows for those.
  std::uint64_t reserves_ok = 0, commits_ok = 0, releases_ok = 0, gets_ok = 0;
  std::uint64_t reserves_unknown = 0, commits_unknown = 0, releases_unknown = 0;
  // workload::order: orders granted and released, and those whose outcome is
  // unknown (each order holds order_lines units).
  std::uint64_t orders_ok = 0, order_releases_ok = 0;
  std::uint64_t orders_unknown = 0, order_releases_unknown = 0;
  std::map<std::string, std::uint64_t> errors;  // by code
  std::vector<std::string> wrong_examples;      // the first few, for the report
  histogram latency;                            // ns, from the intended send time
  std::array<histogram, bench_op_count> latency_by_op;  // the same, by bench_op
};

// Connects, runs the workload, drains and closes. Blocks until done.
run_result run_load(const driver_options& options);

}  // namespace stockgrid::bench
