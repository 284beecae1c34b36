#include "client/watch.hpp"

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <ostream>

#include "client/commands.hpp"

namespace stockgrid::stockctl {

using client::event_kind;
using client::subscription_event;

const char* const watch_usage =
    "usage: watch [--warehouse W] [--sku S] [--sku-prefix P] [--alerts] [--json] [--count N] "
    "[--seconds T]";

std::variant<watch_options, std::string> parse_watch(const std::vector<std::string>& words) {
  watch_options o;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string name = words[i], text;
    bool has_value = false;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
      text = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    auto value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= words.size()) return false;
      text = words[++i];
      return true;
    };
    const std::string missing = std::string(watch_usage) + "\n" + name + " needs a value";
    if (name == "--alerts") {
      o.filter.alerts = true;
    } else if (name == "--warehouse" || name == "--sku" || name == "--sku-prefix") {
      if (!value()) return missing;
      if (text.empty()) return name + ": must not be empty";
      (name == "--warehouse" ? o.filter.warehouse : name == "--sku" ? o.filter.sku : o.filter.sku_prefix) = text;
    } else if (name == "--count") {
      if (!value()) return missing;
      const auto n = parse_integer(text);
      if (!n || *n < 1) return "--count: not a positive integer: \"" + text + "\"";
      o.count = *n;
    } else if (name == "--seconds") {
      if (!value()) return missing;
      // Whole seconds, or a duration with its unit (500ms, 2m).
      const auto plain = parse_integer(text);
      const auto ms = plain ? std::optional<std::int64_t>(*plain * 1000) : parse_duration_ms(text);
      if (!ms || *ms <= 0 || (plain && *plain > 86'400 * 365)) return "--seconds: not a duration: \"" + text + "\"";
      o.seconds_ms = *ms;
    } else {
      return std::string(watch_usage) + "\nunknown argument \"" + words[i] + "\"";
    }
  }
  return o;
}

namespace {

// "12:00:00.123Z": the server's at_ms, UTC.
std::string clock_time(std::int64_t at_ms) {
  const std::time_t seconds = static_cast<std::time_t>(at_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03dZ", utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(at_ms % 1000));
  return text;
}

std::string key(const client::stock_record& r) { return r.warehouse + "/" + r.sku; }

std::string levels(const client::stock_record& r) {
  return "on_hand " + std::to_string(r.on_hand) + ", reserved " + std::to_string(r.reserved) + ", v" +
         std::to_string(r.version);
}

std::string human_line(const subscription_event& e) {
  switch (e.kind) {
    case event_kind::snapshot: {
      std::string lines;
      for (const auto& r : e.records) {
        lines += "snapshot      " + key(r) + "  available " + std::to_string(r.available) + "  (" + levels(r) + ")\n";
      }
      return lines;
    }
    case event_kind::snapshot_end:
      return "-- snapshot complete; live changes follow --\n";
    case event_kind::stock: {
      const auto& c = e.change;
      std::string line = clock_time(e.at_ms) + "  " + key(e.record) + "  " + c.kind + " " + std::to_string(c.qty) +
                         "  available " + std::to_string(e.record.available - c.delta) + " -> " +
                         std::to_string(e.record.available) + "  (" + levels(e.record) + ")";
      if (!c.reason.empty()) line += "  reason \"" + c.reason + "\"";
      if (e.coalesced) line += "  [coalesced: intermediate changes folded]";
      return line + "\n";
    }
    case event_kind::alert:
      return clock_time(e.at_ms) + "  " + key(e.record) + "  ALERT " + e.alert + "  available " +
             std::to_string(e.record.available) + ", threshold " + std::to_string(e.threshold) + "\n";
    case event_kind::reset:
      return "-- reset: the stream could not resume; a new snapshot follows --\n";
    case event_kind::ended:
      return "-- ended: " + client::error_code(e.raw) + " " + client::error_message(e.raw) + " --\n";
  }
  return "\n";
}

}  // namespace

std::string format_event(const subscription_event& e, bool json) {
  if (!json) return human_line(e);
  if (e.kind == event_kind::ended) {
    const protocol::value* error = client::lookup(e.raw, "error");
    return client::to_json(protocol::value(protocol::object{{"event", "ended"}, {"error", error ? *error : protocol::value()}})) + "\n";
  }
  if (e.raw.is_null()) {  // made by the client (a reset before a restarted snapshot)
    return client::to_json(protocol::value(protocol::object{{"event", std::string(to_string(e.kind))}, {"sub", e.sub}})) + "\n";
  }
  return client::to_json(e.raw) + "\n";
}

int run_watch(const runner_settings& settings, const watch_options& options, std::ostream& out,
              std::ostream& err, const std::atomic<bool>& stop) {
  // Shared with the callback on the client's io thread; declared before the
  // client so it outlives the client's last callback.
  struct progress {
    std::mutex mutex;
    std::condition_variable changed;
    std::int64_t changes = 0;
    bool done = false;
    bool ended = false;
  } state;
  client::client c(settings.client);
  if (!connect_or_explain(c, settings, err)) return exit_connection;
  auto subscription = c.subscribe(options.filter, [&](const subscription_event& e) {
    std::lock_guard lock(state.mutex);
    if (state.done) return;  // past --count: print nothing more
    out << format_event(e, options.json) << std::flush;
    state.changes += e.kind == event_kind::stock || e.kind == event_kind::alert;
    state.ended = e.kind == event_kind::ended;
    state.done = state.ended || (options.count > 0 && state.changes >= options.count);
    state.changed.notify_all();
  });
  const client::value answer = subscription.answer.get();  // bounded by the request timeout
  if (!client::is_ok(answer)) {
    err << "stockctl: watch: " << client::error_code(answer) << " " << client::error_message(answer) << "\n";
    return exit_failed;
  }

  // Waits for a bound in slices, so Ctrl-C (a flag set by the signal
  // handler) is seen within one slice.
  using clock = std::chrono::steady_clock;
  const auto deadline = options.seconds_ms > 0 ? clock::now() + std::chrono::milliseconds(options.seconds_ms)
                                               : clock::time_point::max();
  constexpr auto slice = std::chrono::milliseconds(100);
  bool ended = false;
  {
    std::unique_lock lock(state.mutex);
    while (!state.done && !stop.load() && clock::now() < deadline) {
      state.changed.wait_for(lock, std::min<clock::duration>(slice, deadline - clock::now()));
    }
    state.done = true;
    ended = state.ended;
  }
  if (!ended) c.unsubscribe(subscription.handle).wait_for(std::chrono::seconds(2));
  return ended ? exit_failed : exit_ok;
}

}  // namespace stockgrid::stockctl
