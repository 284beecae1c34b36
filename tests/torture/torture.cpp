// stockgrid-torture: crash torture of a real node (docs/testing.md, "Crash
// torture"). Runs the node (build/app/stockgrid, or the test-only
// stockgrid-faultnode for power cuts) under a mixed concurrent load of
// mutations, each with its own idempotency key, ends it at a random moment
// (SIGKILL, or SIGUSR1 to the faultnode: a power cut that drops every unsynced
// write), runs `stockgrid check` on the data dir, restarts the node on it and
// checks, every cycle:
//  - every record: reserved == the sum of its active holds, 0 <= available,
//    and its history (stock.history) continues the history checked before
//    without a gap and accounts for its on_hand and reserved, movement by
//    movement (on_hand == the sum of its journaled movements);
//  - every acknowledged change is in its record's history exactly once (no
//    idempotency key appears twice in the whole history), and resending it
//    with its key answers the original answer, replayed, not applied again;
//  - every request in flight at the end (no answer, or one that says nothing
//    was decided) was applied at most once: resent with its key it is
//    replayed exactly when its key is in the history, applied fresh otherwise.
// The state grows from cycle to cycle on the same data dir. The first
// violation ends the run (exit 1) with the seed and the cycle; the data dir
// is kept then.
//
//   stockgrid-torture --bin-dir build [--cycles 3] [--seconds 2] [--clients 4]
//                     [--records 8] [--mode kill|powercut|both] [--seed N]
//                     [--durability sync] [--data-dir D] [--keep]
//
// Exit codes: 0 every cycle sound, 1 a violation (or the node misbehaved),
// 2 bad usage.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/client.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace stockgrid;
using client::value;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* system_token = "torture-system-token-5b0d2e71c9a4f386";
constexpr const char* tenant_name = "torture";
constexpr int exit_power_cut = 86;  // tests/torture/faultnode.cpp
// Little stock, and sales of up to sale_max units, so that some requests
// are refused INSUFFICIENT_STOCK (a refusal is remembered under its key too).
constexpr std::int64_t initial_stock = 40;
constexpr std::int64_t sale_max = 10;
constexpr std::int64_t hold_ttl_ms = 3'600'000;  // no hold expires within a run's hour
constexpr auto node_start_timeout = std::chrono::seconds(30);
constexpr auto node_exit_timeout = std::chrono::seconds(15);
constexpr int history_page = 1'000;  // stock.history's limit

// A violation or a misbehaving node: ends the run.
struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(const char* format, Args... args) {
  char text[1024];
  std::snprintf(text, sizeof text, format, args...);
  throw failure(text);
}

// The node running now (0: none), for the watchdog.
std::atomic<pid_t> running_node{0};

struct options {
  std::string bin_dir = ".";
  int cycles = 3;
  double seconds = 2.0;
  int clients = 4;
  int records = 8;
  std::string mode = "both";
  std::uint64_t seed = 0;
  std::string durability = "sync";
  std::string data_dir;
  bool keep = false;
  int partitions = 4;
  int timeout_s = 0;  // 0: none
};

enum class ending { kill, power_cut };

const char* name_of(ending e) { return e == ending::kill ? "kill" : "powercut"; }

// ---------------------------------------------------------------------------
// The node process.

class node {
 public:
  node(const options& o, ending e, const std::string& log_path) : ending_(e) {
    const std::string program =
        o.bin_dir + (e == ending::kill ? "/app/stockgrid" : "/tests/torture/stockgrid-faultnode");
    process_ = std::make_unique<testing::child_process>(
        std::vector<std::string>{program, "--data-dir", o.data_dir, "--port", "0", "--partitions",
                                 std::to_string(o.partitions), "--durability", o.durability,
                                 "--log-level", "warn"},
        log_path);
    running_node = process_->pid();
    // The node prints "listening on 127.0.0.1:PORT" when it serves; a node
    // that does not within the deadline is killed, which ends the read.
    auto port = std::async(std::launch::async, [this]() -> std::string {
      while (auto line = process_->read_line())
        if (line->starts_with("listening on 127.0.0.1:")) return line->substr(23);
      return {};
    });
    if (port.wait_for(node_start_timeout) != std::future_status::ready) process_->kill(SIGKILL);
    port_ = port.get();
    if (port_.empty()) fail("the node did not start (see %s)", log_path.c_str());
  }

  ~node() {
    running_node = 0;
    process_.reset();
  }
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  std::string url() const { return "ws://127.0.0.1:" + port_ + "/v1/ws"; }

  // Ends the node as this cycle's ending says, and waits for it.
  void end() {
    process_->kill(ending_ == ending::kill ? SIGKILL : SIGUSR1);
    const auto code = process_->wait_exit(node_exit_timeout);
    if (!code) fail("the node did not exit after %s", name_of(ending_));
    const int expected = ending_ == ending::kill ? 128 + SIGKILL : exit_power_cut;
    if (*code != expected) fail("the node exited with %d after %s, not %d", *code, name_of(ending_), expected);
  }

 private:
  ending ending_;
  std::unique_ptr<testing::child_process> process_;  // its destructor kills and reaps
  std::string port_;
};

// ---------------------------------------------------------------------------
// What was sent and what came back.

struct record_id {
  std::string warehouse, sku;
  auto operator<=>(const record_id&) const = default;
};

struct hold_ref {
  std::string hold;
  record_id record;
};

enum class fate {
  applied,  // answered ok: acknowledged
  refused,  // an answer the server remembers under the key (INSUFFICIENT_STOCK, ...)
  unknown,  // no answer, or one that decides nothing (UNAVAILABLE, TIMEOUT, DISCONNECTED, ...)
};

struct sent {
  protocol::op_request request;
  record_id record;
  value answer;
  fate outcome = fate::unknown;
  std::int64_t at_ms = 0;  // since the cycle's load started
};

bool remembered_refusal(const std::string& code) {
  return code == "INSUFFICIENT_STOCK" || code == "VERSION_CONFLICT" || code == "LIMIT_EXCEEDED";
}

fate fate_of(const value& answer) {
  if (client::is_ok(answer)) return fate::applied;
  return remembered_refusal(client::error_code(answer)) ? fate::refused : fate::unknown;
}

protocol::op_request grid_request(op kind, std::string idem) {
  protocol::op_request r;
  r.op = std::string(protocol::op_name_of(kind));
  r.grid.kind = kind;
  r.grid.idem = std::move(idem);
  return r;
}

protocol::op_request record_request(op kind, const record_id& rec, std::string idem = {}) {
  auto r = grid_request(kind, std::move(idem));
  r.grid.key.warehouse = rec.warehouse;
  r.grid.key.sku = rec.sku;
  return r;
}

record_id nth_record(int i) { return {"wh-" + std::to_string(i % 2), "sku-" + std::to_string(i)}; }

value wait_answer(std::future<value>& f) {
  // The client ends every request within its request_timeout.
  return f.get();
}

// ---------------------------------------------------------------------------
// The load: one client per worker, one request at a time each.

class worker {
 public:
  worker(int index, std::uint64_t seed, int cycle, int records, std::vector<hold_ref> holds)
      : index_(index), cycle_(cycle), records_(records), random_(seed), holds_(std::move(holds)),
        client_(std::make_unique<client::client>(client_settings())) {}

  void run(const std::string& url, const std::string& token, const std::atomic<bool>& stop,
           clock_type::time_point start) {
    auto auth = client_->connect(url, token);
    if (!client::is_ok(wait_answer(auth))) return;
    std::uint64_t n = 0;
    while (!stop.load()) {
      sent s = next(n++);
      s.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count();
      auto f = client_->call(s.request);
      s.answer = wait_answer(f);
      s.outcome = fate_of(s.answer);
      if (s.outcome == fate::applied && s.request.grid.kind == op::reserve)
        if (auto h = client::lookup_string(s.answer, "hold")) holds_.push_back({*h, s.record});
      log_.push_back(std::move(s));
    }
  }

  // Fails every request still waiting (the node is gone) and stops the client.
  void close() { client_->close(); }

  std::vector<sent>& log() { return log_; }
  std::vector<hold_ref>& holds() { return holds_; }

 private:
  static client::client_options client_settings() {
    client::client_options co;
    co.request_timeout = std::chrono::seconds(10);
    co.reconnect.attempts_max = 3;
    return co;
  }

  // The next request: a reserve, commit, release, extend, sell or restock.
  sent next(std::uint64_t n) {
    const std::string idem = "c" + std::to_string(cycle_) + "-w" + std::to_string(index_) + "-" + std::to_string(n);
    const int dice = std::uniform_int_distribution<int>(0, 99)(random_);
    auto qty = [this](int lo, int hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(random_); };
    const record_id rec = nth_record(std::uniform_int_distribution<int>(0, records_ - 1)(random_));
    sent s;
    if (dice < 48 && !holds_.empty()) {
      // A hold op on one of this worker's holds (taken out of its pool; a
      // reserve puts a hold back in).
      const auto i = std::uniform_int_distribution<std::size_t>(0, holds_.size() - 1)(random_);
      hold_ref h = holds_[i];
      const op kind = dice < 20 ? op::commit : dice < 40 ? op::release : op::extend;
      s.request = grid_request(kind, idem);
      s.request.grid.hold = h.hold;
      if (kind == op::extend) {
        s.request.grid.ttl_ms = hold_ttl_ms;
      } else {
        holds_.erase(holds_.begin() + static_cast<std::ptrdiff_t>(i));
      }
      s.record = h.record;
      return s;
    }
    s.record = rec;
    if (dice < 70) {
      s.request = record_request(op::reserve, rec, idem);
      s.request.grid.qty = qty(1, 3);
      s.request.grid.ttl_ms = hold_ttl_ms;
    } else if (dice < 82) {
      s.request = record_request(op::sell, rec, idem);
      s.request.grid.qty = qty(1, sale_max);
    } else {
      s.request = record_request(op::adjust, rec, idem);
      s.request.grid.delta = qty(1, 8);
      s.request.grid.reason = "restock";
    }
    return s;
  }

  int index_, cycle_, records_;
  std::mt19937_64 random_;
  std::vector<hold_ref> holds_;
  std::unique_ptr<client::client> client_;  // made here: close() may come before run() starts
  std::vector<sent> log_;
};

// ---------------------------------------------------------------------------
// The audit: what the history says, checked against what was acknowledged.

// A record as far as its history was checked.
struct record_audit {
  std::int64_t version = 0;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
};

std::int64_t int_at(const value& v, const char* path) {
  auto i = client::lookup_int(v, path);
  if (!i) fail("no integer %s in %s", path, client::to_json(v).c_str());
  return *i;
}

value must(std::future<value> f, const char* what) {
  value v = f.get();
  if (!client::is_ok(v)) fail("%s: %s", what, client::to_json(v).c_str());
  return v;
}

class auditor {
 public:
  explicit auditor(int records) {
    for (int i = 0; i < records; ++i) records_[nth_record(i)] = {};
  }

  // Checks every record's invariants and the history since the last audit;
  // every idempotency key in the history is seen once at most.
  void audit(client::client& c) {
    for (auto& [rec, checked] : records_) audit_record(c, rec, checked);
  }

  bool in_history(const std::string& idem) const { return seen_.contains(idem); }

  // An acknowledged change must be in the history (once: audit() refuses a
  // key seen twice).
  void require_in_history(const sent& s) const {
    if (!in_history(s.request.grid.idem))
      fail("acknowledged %s (idem %s, answer %s) is not in the history of %s/%s", s.request.op.c_str(),
           s.request.grid.idem.c_str(), client::to_json(s.answer).c_str(), s.record.warehouse.c_str(),
           s.record.sku.c_str());
  }

  std::uint64_t events() const { return events_; }

 private:
  void audit_record(client::client& c, const record_id& rec, record_audit& checked) {
    // Reads are not atomic together; a hold expiring between them moves the
    // version, so the reads are taken again (the load is stopped).
    for (int attempt = 0; attempt < 5; ++attempt) {
      const value before = must(c.get(rec.warehouse, rec.sku), "stock.get");
      const value holds = must(c.holds(rec.warehouse, rec.sku), "stock.holds");
      auto events = history_since(c, rec, checked.version, int_at(before, "record.version"));
      const value after = must(c.get(rec.warehouse, rec.sku), "stock.get");
      if (int_at(before, "record.version") != int_at(after, "record.version")) continue;
      check_record(rec, before, holds);
      fold(rec, checked, events, before);
      return;
    }
    fail("%s/%s keeps changing with no load", rec.warehouse.c_str(), rec.sku.c_str());
  }

  // The events with a version in (from, to], oldest first.
  std::vector<value> history_since(client::client& c, const record_id& rec, std::int64_t from, std::int64_t to) {
    if (to < from) fail("%s/%s went back from version %lld to %lld", rec.warehouse.c_str(), rec.sku.c_str(),
                        static_cast<long long>(from), static_cast<long long>(to));
    std::vector<value> out;
    std::int64_t before = to + 1;
    while (before - 1 > from) {
      const value page = must(c.history(rec.warehouse, rec.sku, history_page, before), "stock.history");
      const auto* events = client::lookup(page, "events");
      if (events == nullptr || events->as_array() == nullptr || events->as_array()->empty())
        fail("%s/%s: history ends before version %lld", rec.warehouse.c_str(), rec.sku.c_str(),
             static_cast<long long>(from + 1));
      for (const auto& e : *events->as_array()) {
        const auto v = int_at(e, "version");
        if (v <= from) break;
        out.push_back(e);
        before = v;
      }
      if (int_at(events->as_array()->back(), "version") <= from) break;
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  static void check_record(const record_id& rec, const value& got, const value& holds) {
    const auto reserved = int_at(got, "record.reserved");
    const auto available = int_at(got, "record.available");
    std::int64_t held = 0;
    const auto* list = client::lookup(holds, "holds");
    if (list == nullptr || list->as_array() == nullptr) fail("%s", "stock.holds without holds");
    for (const auto& h : *list->as_array()) held += int_at(h, "qty");
    if (reserved != held)
      fail("%s/%s: reserved %lld but its %zu active holds hold %lld", rec.warehouse.c_str(), rec.sku.c_str(),
           static_cast<long long>(reserved), list->as_array()->size(), static_cast<long long>(held));
    if (available < 0)
      fail("%s/%s: available %lld < 0 (backorders are off)", rec.warehouse.c_str(), rec.sku.c_str(),
           static_cast<long long>(available));
  }

  // Walks the new events: contiguous versions, each continuing the last,
  // each movement explaining its change of on_hand and reserved; ends at the
  // record as read.
  void fold(const record_id& rec, record_audit& checked, const std::vector<value>& events, const value& got) {
    const std::string name = rec.warehouse + "/" + rec.sku;
    record_audit at = checked;
    for (const auto& e : events) {
      const auto version = int_at(e, "version");
      const auto kind = client::lookup_string(e, "kind").value_or("?");
      const auto qty = int_at(e, "qty");
      const auto hand_before = int_at(e, "on_hand_before"), hand_after = int_at(e, "on_hand_after");
      const auto res_before = int_at(e, "reserved_before"), res_after = int_at(e, "reserved_after");
      if (version != at.version + 1)
        fail("%s: history jumps from version %lld to %lld", name.c_str(), static_cast<long long>(at.version),
             static_cast<long long>(version));
      if (hand_before != at.on_hand || res_before != at.reserved)
        fail("%s: version %lld starts from on_hand %lld reserved %lld, not %lld %lld", name.c_str(),
             static_cast<long long>(version), static_cast<long long>(hand_before),
             static_cast<long long>(res_before), static_cast<long long>(at.on_hand),
             static_cast<long long>(at.reserved));
      std::int64_t hand = at.on_hand, reserved = at.reserved;
      if (kind == "adjust") hand += qty;
      else if (kind == "set") hand = qty;
      else if (kind == "sell") hand -= qty;
      else if (kind == "reserve") reserved += qty;
      else if (kind == "commit") hand -= qty, reserved -= qty;
      else if (kind == "release" || kind == "expire") reserved -= qty;
      else if (kind != "extend") fail("%s: version %lld: unexpected kind %s", name.c_str(),
                                      static_cast<long long>(version), kind.c_str());
      if (hand != hand_after || reserved != res_after)
        fail("%s: version %lld (%s %lld) ends at on_hand %lld reserved %lld; its movement gives %lld %lld",
             name.c_str(), static_cast<long long>(version), kind.c_str(), static_cast<long long>(qty),
             static_cast<long long>(hand_after), static_cast<long long>(res_after), static_cast<long long>(hand),
             static_cast<long long>(reserved));
      if (auto idem = client::lookup_string(e, "idem")) {
        if (!seen_.insert(*idem).second)
          fail("%s: idem %s applied twice (again at version %lld)", name.c_str(), idem->c_str(),
               static_cast<long long>(version));
      }
      at = {version, hand, reserved};
      ++events_;
    }
    if (at.version != int_at(got, "record.version") || at.on_hand != int_at(got, "record.on_hand") ||
        at.reserved != int_at(got, "record.reserved"))
      fail("%s: its history sums to version %lld on_hand %lld reserved %lld; the record says %s", name.c_str(),
           static_cast<long long>(at.version), static_cast<long long>(at.on_hand),
           static_cast<long long>(at.reserved), client::to_json(got).c_str());
    checked = at;
  }

  std::map<record_id, record_audit> records_;
  std::set<std::string> seen_;  // every idempotency key in the histories
  std::uint64_t events_ = 0;
};

// Resends `batch`'s requests, a window at a time, and hands each answer to `judge`.
template <class Judge>
void resend_all(client::client& c, const std::vector<const sent*>& batch, Judge judge) {
  constexpr std::size_t window = 256;
  for (std::size_t i = 0; i < batch.size(); i += window) {
    std::vector<std::future<value>> answers;
    const auto end = std::min(batch.size(), i + window);
    for (auto k = i; k < end; ++k) answers.push_back(c.call(batch[k]->request));
    for (auto k = i; k < end; ++k) judge(*batch[k], answers[k - i].get());
  }
}

// An acknowledged answer resent: the same answer, replayed, nothing applied again.
void check_replay(const sent& s, const value& again) {
  const bool same_outcome = s.outcome == fate::applied
                                ? client::is_ok(again)
                                : client::error_code(again) == client::error_code(s.answer);
  const bool same_record = client::lookup_int(again, "record.version") == client::lookup_int(s.answer, "record.version");
  const bool same_hold = client::lookup_string(again, "hold") == client::lookup_string(s.answer, "hold");
  if (!same_outcome || !client::is_replayed(again) || !same_record || !same_hold)
    fail("acknowledged %s (idem %s) resent: %s; first answer %s", s.request.op.c_str(), s.request.grid.idem.c_str(),
         client::to_json(again).c_str(), client::to_json(s.answer).c_str());
}

// ---------------------------------------------------------------------------
// The run.

struct totals {
  std::uint64_t acked = 0, refused = 0, unknown = 0, unknown_applied = 0, replays = 0;
};

class torture {
 public:
  explicit torture(options o) : o_(std::move(o)), random_(o_.seed), audit_(o_.records) {}

  void run() {
    const auto began = clock_type::now();
    auto n = std::make_unique<node>(o_, ending_of(1), log_path(0));
    setup(*n);
    for (int cycle = 1; cycle <= o_.cycles; ++cycle) {
      cycle_ = cycle;
      n = run_cycle(cycle, std::move(n));
    }
    auto c = connect(*n);
    audit_.audit(*c);
    c.reset();
    n.reset();  // killed and reaped
    const double seconds = std::chrono::duration<double>(clock_type::now() - began).count();
    std::printf("PASS seed %llu: %d cycles, %llu acknowledged (%llu refusals), %llu in flight at the end "
                "(%llu of them applied before the end), %llu replays checked, %llu history events audited, %.1f s\n",
                static_cast<unsigned long long>(o_.seed), o_.cycles, static_cast<unsigned long long>(t_.acked),
                static_cast<unsigned long long>(t_.refused), static_cast<unsigned long long>(t_.unknown),
                static_cast<unsigned long long>(t_.unknown_applied), static_cast<unsigned long long>(t_.replays),
                static_cast<unsigned long long>(audit_.events()), seconds);
  }

  int cycle() const { return cycle_; }

 private:
  ending ending_of(int cycle) const {
    if (o_.mode == "kill") return ending::kill;
    if (o_.mode == "powercut") return ending::power_cut;
    return cycle % 2 == 1 ? ending::kill : ending::power_cut;
  }

  std::string log_path(int cycle) const {
    return (fs::path(o_.data_dir).parent_path() / ("node-" + std::to_string(cycle) + ".log")).string();
  }

  std::unique_ptr<client::client> connect(const node& n, const std::string& token = {}) {
    auto c = std::make_unique<client::client>();
    must(c->connect(n.url(), token.empty() ? admin_token_ : token), "auth");
    return c;
  }

  // The tenant, its admin token and the records' first stock.
  void setup(const node& n) {
    auto sys = connect(n, system_token);
    protocol::op_request create;
    create.op = "tenant.create";
    create.tenant = tenant_name;
    const value created = must(sys->call(create), "tenant.create");
    admin_token_ = client::lookup_string(created, "token").value_or("");
    auto c = connect(n);
    for (int i = 0; i < o_.records; ++i) {
      sent s;
      s.record = nth_record(i);
      s.request = record_request(op::adjust, s.record, "stock-" + std::to_string(i));
      s.request.grid.delta = initial_stock;
      s.answer = must(c->call(s.request), "first stock");
      s.outcome = fate::applied;
      acked_.push_back(std::move(s));
    }
  }

  std::unique_ptr<node> run_cycle(int cycle, std::unique_ptr<node> n) {
    const ending e = ending_of(cycle);
    std::vector<std::unique_ptr<worker>> workers;
    for (int w = 0; w < o_.clients; ++w) {
      std::vector<hold_ref> share;
      for (std::size_t i = static_cast<std::size_t>(w); i < holds_.size(); i += static_cast<std::size_t>(o_.clients))
        share.push_back(holds_[i]);
      workers.push_back(std::make_unique<worker>(w, random_(), cycle, o_.records, std::move(share)));
    }
    holds_.clear();
    std::atomic<bool> stop{false};
    const auto start = clock_type::now();
    std::vector<std::thread> threads;
    for (auto& w : workers)
      threads.emplace_back([&, w = w.get()] { w->run(n->url(), admin_token_, stop, start); });
    // The end comes at a random moment of the cycle's second half or later.
    const auto at = std::chrono::duration<double>(
        std::uniform_real_distribution<double>(o_.seconds / 2, o_.seconds)(random_));
    std::this_thread::sleep_for(at);
    const auto end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count();
    n->end();
    stop = true;
    for (auto& w : workers) w->close();
    for (auto& t : threads) t.join();
    n.reset();

    // What happened, by fate.
    std::vector<sent> cycle_acked, unknown;
    for (auto& w : workers) {
      for (auto& s : w->log()) (s.outcome == fate::unknown ? unknown : cycle_acked).push_back(std::move(s));
      for (auto& h : w->holds()) holds_.push_back(h);
    }
    const auto acked_now = static_cast<std::size_t>(std::count_if(
        cycle_acked.begin(), cycle_acked.end(), [](const sent& s) { return s.outcome == fate::applied; }));

    const auto check_began = clock_type::now();
    const auto check = testing::run_command(o_.bin_dir + "/app/stockgrid check --data-dir " + o_.data_dir, 120);
    if (check.exit_code != 0) fail("stockgrid check failed (exit %d):\n%s", check.exit_code, check.output.c_str());
    const auto check_ms = ms_since(check_began);

    const auto restart_began = clock_type::now();
    auto next = std::make_unique<node>(o_, ending_of(cycle + 1), log_path(cycle));
    const auto restart_ms = ms_since(restart_began);
    auto c = connect(*next);

    // The state as the restarted node has it, before anything is resent.
    audit_.audit(*c);
    for (const auto& s : acked_)
      if (s.outcome == fate::applied) audit_.require_in_history(s);
    for (const auto& s : cycle_acked)
      if (s.outcome == fate::applied) audit_.require_in_history(s);
    // Every acknowledged answer of the cycle, resent: replayed.
    std::vector<const sent*> batch;
    for (const auto& s : cycle_acked) batch.push_back(&s);
    resend_all(*c, batch, [](const sent& s, const value& again) { check_replay(s, again); });
    t_.replays += batch.size();
    // Every request in flight at the end, resent: applied at most once.
    std::uint64_t applied_late = 0;
    batch.clear();
    for (const auto& s : unknown) batch.push_back(&s);
    std::vector<sent> late;
    resend_all(*c, batch, [&](const sent& s, const value& again) {
      const bool was_applied = audit_.in_history(s.request.grid.idem);
      if (was_applied && !(client::is_ok(again) && client::is_replayed(again)))
        fail("%s (idem %s) was applied before the %s but its resend answers %s", s.request.op.c_str(),
             s.request.grid.idem.c_str(), name_of(e), client::to_json(again).c_str());
      if (!was_applied && client::is_ok(again) && client::is_replayed(again))
        fail("%s (idem %s) is not in the history but its resend is a replay: %s", s.request.op.c_str(),
             s.request.grid.idem.c_str(), client::to_json(again).c_str());
      applied_late += was_applied;
      sent now = s;
      now.answer = again;
      now.outcome = fate_of(again);
      if (now.outcome == fate::unknown)
        fail("%s (idem %s) resent to a sound node: %s", s.request.op.c_str(), s.request.grid.idem.c_str(),
             client::to_json(again).c_str());
      if (now.outcome == fate::applied && now.request.grid.kind == op::reserve)
        if (auto h = client::lookup_string(again, "hold")) holds_.push_back({*h, now.record});
      late.push_back(std::move(now));
    });
    // The resends changed only what they applied fresh, each once.
    audit_.audit(*c);
    for (const auto& s : late)
      if (s.outcome == fate::applied) audit_.require_in_history(s);
    c.reset();

    std::printf("cycle %3d %-8s: %6zu acknowledged, %5zu refused, %3zu in flight (%llu had been applied), "
                "%s at %5lld ms; check %4lld ms, restart %4lld ms\n",
                cycle, name_of(e), acked_now, cycle_acked.size() - acked_now, unknown.size(),
                static_cast<unsigned long long>(applied_late), name_of(e), static_cast<long long>(end_ms),
                static_cast<long long>(check_ms), static_cast<long long>(restart_ms));
    std::fflush(stdout);
    t_.acked += acked_now;
    t_.refused += cycle_acked.size() - acked_now;
    t_.unknown += unknown.size();
    t_.unknown_applied += applied_late;
    // Only applied changes need checking in later cycles (their keys stay in the history).
    for (auto& s : cycle_acked)
      if (s.outcome == fate::applied) acked_.push_back(std::move(s));
    for (auto& s : late)
      if (s.outcome == fate::applied) acked_.push_back(std::move(s));
    return next;
  }

  static long long ms_since(clock_type::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count();
  }

  options o_;
  std::mt19937_64 random_;
  auditor audit_;
  std::string admin_token_;
  std::vector<sent> acked_;  // every applied change so far
  std::vector<hold_ref> holds_;  // holds acknowledged and not yet committed or released by the load
  totals t_;
  int cycle_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"stockgrid-torture: SIGKILL and power cuts of a real node under load, invariants checked"};
  app.add_option("--bin-dir", o.bin_dir, "the build tree (app/stockgrid, tests/torture/stockgrid-faultnode)")
      ->required();
  app.add_option("--cycles", o.cycles, "crash cycles")->check(CLI::Range(1, 100'000))->capture_default_str();
  app.add_option("--seconds", o.seconds, "load per cycle; the crash comes at a random moment of its second half")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--clients", o.clients, "concurrent clients, one request in flight each")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--records", o.records, "records under load")->check(CLI::Range(1, 10'000))->capture_default_str();
  app.add_option("--mode", o.mode, "kill (SIGKILL), powercut (unsynced writes dropped) or both (alternating)")
      ->check(CLI::IsMember({"kill", "powercut", "both"}))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "random seed (0: a new one, printed); replays the same choices");
  app.add_option("--durability", o.durability, "the node's journal durability (only sync: nothing acknowledged may be lost)")
      ->check(CLI::IsMember({"sync"}))
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir, "an empty or new directory for the node's data (default: a temp dir)");
  app.add_flag("--keep", o.keep, "keep the data dir after a pass too");
  app.add_option("--timeout", o.timeout_s, "end the run as failed after this many seconds (0: never)")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (o.seed == 0) o.seed = std::random_device{}() | 1;
  std::string work;  // what is removed after a pass: the temp dir, or nothing
  if (o.data_dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "stockgrid-torture-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 2;
    }
    work = pattern;
    o.data_dir = (fs::path(work) / "data").string();
  } else if (fs::exists(o.data_dir) && !fs::is_empty(o.data_dir)) {
    std::fprintf(stderr, "stockgrid-torture: --data-dir %s is not empty\n", o.data_dir.c_str());
    return 2;
  }
  fs::create_directories(o.data_dir);
  o.data_dir = fs::absolute(o.data_dir).string();
  ::setenv("STOCKGRID_ADMIN_TOKEN", system_token, 1);
  std::printf("stockgrid-torture: seed %llu, %d cycles of %.1f s, mode %s, %d clients, %d records, durability %s, "
              "data in %s\n",
              static_cast<unsigned long long>(o.seed), o.cycles, o.seconds, o.mode.c_str(), o.clients, o.records,
              o.durability.c_str(), o.data_dir.c_str());
  std::fflush(stdout);
  // SIGINT or SIGTERM ends the run as failed, and the node with it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread([stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (const pid_t pid = running_node.load(); pid > 0) ::kill(pid, SIGKILL);
    std::fprintf(stderr, "stockgrid-torture: signal %d: stopped\n", sig);
    std::_Exit(1);
  }).detach();
  if (o.timeout_s > 0) {
    // The run must end in time; the node it runs must not outlive it.
    std::thread([o] {
      std::this_thread::sleep_for(std::chrono::seconds(o.timeout_s));
      if (const pid_t pid = running_node.load(); pid > 0) ::kill(pid, SIGKILL);
      std::fprintf(stderr, "FAIL seed %llu: no end after --timeout %d s; data kept in %s\n",
                   static_cast<unsigned long long>(o.seed), o.timeout_s, o.data_dir.c_str());
      std::_Exit(1);
    }).detach();
  }
  torture t(o);
  try {
    t.run();
  } catch (const failure& f) {
    std::fprintf(stderr, "FAIL seed %llu cycle %d: %s\nreplay: --seed %llu --cycles %d --mode %s; data kept in %s\n",
                 static_cast<unsigned long long>(o.seed), t.cycle(), f.what(),
                 static_cast<unsigned long long>(o.seed), o.cycles, o.mode.c_str(), o.data_dir.c_str());
    return 1;
  }
  if (!o.keep && !work.empty()) fs::remove_all(work);
  return 0;
}
