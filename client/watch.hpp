// `stockctl watch`: a subscription's live stream, one line per event, until
// Ctrl-C, N changes or T seconds (client/README.md):
//
//   stockctl watch [--warehouse W] [--sku S] [--sku-prefix P] [--alerts]
//                  [--json] [--count N] [--seconds T]
//
// The client library keeps the stream's position and resumes it after a
// reconnect, so the lines go on without a gap or a repeat.
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <variant>
#include <vector>

#include "client/script_runner.hpp"
#include "client/subscription.hpp"

namespace stockgrid::stockctl {

struct watch_options {
  client::subscription_filter filter;
  bool json = false;          // each event as its JSON frame, one per line
  std::int64_t count = 0;     // stop after this many stock/alert events; 0 = no limit
  std::int64_t seconds_ms = 0;  // stop after this long; 0 = no limit
};

// The usage line of the command.
extern const char* const watch_usage;

// The words after `watch` (stockctl's global --json is not among them: the
// caller sets `json`). Options, or a message saying what is wrong.
std::variant<watch_options, std::string> parse_watch(const std::vector<std::string>& words);

// The lines an event prints, each ending in '\n': human-readable (a snapshot
// page prints one line per record), or the event's frame as compact JSON.
std::string format_event(const client::subscription_event& e, bool json);

// Connects, subscribes and prints events to `out` until a bound is reached
// or `stop` is set (Ctrl-C). exit_ok; exit_failed when the subscribe was
// refused or the subscription ended; exit_connection when it cannot connect.
int run_watch(const runner_settings& settings, const watch_options& options, std::ostream& out,
              std::ostream& err, const std::atomic<bool>& stop);

}  // namespace stockgrid::stockctl
