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
#include <fstream>
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
#include "persistence/testing/powercut_vfs.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace stockgrid;
using client::value;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* system_token = "torture-system-token-5b0d2e71c9a4f386";
constexpr const char* tenant_name = "torture";
// Little stock, and sales of up to sale_max units, so that some requests
// are refused INSUFFICIENT_STOCK (a refusal is remembered under its key too).
constexpr std::int64_t initial_stock = 40;
constexpr std::int64_t sale_max = 10;
constexpr std::int64_t hold_ttl_min_ms = 3'600'000;   // 1 h
constexpr std::int64_t hold_ttl_max_ms = 86'400'000;  // the node's limit (24 h)
constexpr int full_recheck_every = 10;  // cycles between re-reads of every history from version 0
constexpr auto load_wait_max = std::chrono::seconds(30);  // for the first ok answer of a cycle
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
  node(const options& o, ending e, std::string log_path) : ending_(e), log_path_(std::move(log_path)) {
    try {
      start(o);
    } catch (...) {
      process_.reset();  // killed and reaped
      running_node = 0;
      throw;
    }
  }

  ~node() {
    running_node = 0;
    process_.reset();
  }
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  std::string url() const { return "ws://127.0.0.1:" + port_ + "/v1/ws"; }

  // Ends the node as this cycle's ending says, and waits for it. A power cut
  // must have rolled back the files the VFS tracks: none tracked means the
  // VFS is not in the node's path and the cut was a mere kill.
  void end() {
    process_->kill(ending_ == ending::kill ? SIGKILL : SIGUSR1);
    const auto code = process_->wait_exit(node_exit_timeout);
    if (!code) fail("the node did not exit after %s", name_of(ending_));
    running_node = 0;
    if (ending_ == ending::power_cut && *code == persistence::powercut::exit_nothing_tracked)
      fail("the power cut found no file tracked by the VFS (see %s)", log_path_.c_str());
    const int expected = ending_ == ending::kill ? 128 + SIGKILL : persistence::powercut::exit_power_cut;
    if (*code != expected) fail("the node exited with %d after %s, not %d", *code, name_of(ending_), expected);
    if (ending_ == ending::power_cut) {
      const auto files = files_rolled_back();
      if (!files) fail("no \"power cut: N files\" line in %s", log_path_.c_str());
      if (*files == 0) fail("the power cut rolled back no file (see %s)", log_path_.c_str());
    }
  }

 private:
  void start(const options& o) {
    const std::string program =
        o.bin_dir + (ending_ == ending::kill ? "/app/stockgrid" : "/tests/torture/stockgrid-faultnode");
    process_ = std::make_unique<testing::child_process>(
        std::vector<std::string>{program, "--data-dir", o.data_dir, "--port", "0", "--partitions",
                                 std::to_string(o.partitions), "--durability", o.durability,
                                 "--log-level", "warn"},
        log_path_);
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
    if (port_.empty()) fail("the node did not start (see %s)", log_path_.c_str());
  }

  // N of the last "power cut: N files rolled back, ..." line of the log.
  std::optional<long> files_rolled_back() const {
    std::ifstream in(log_path_);
    std::optional<long> files;
    for (std::string line; std::getline(in, line);)
      if (const auto at = line.find("power cut: "); at != std::string::npos)
        files = std::strtol(line.c_str() + at + 11, nullptr, 10);
    return files;
  }

  ending ending_;
  std::string log_path_;
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
  worker(int index, std::uint64_t seed, int cycle, int records, std::int64_t ttl_ms, std::vector<hold_ref> holds)
      : index_(index), cycle_(cycle), records_(records), ttl_ms_(ttl_ms), random_(seed), holds_(std::move(holds)),
        client_(std::make_unique<client::client>(client_settings())) {}

  // Before the load starts (and the moment of the end is chosen): the node
  // is up and sound, so a refused or lost auth is a failure, not a quiet cycle.
  void connect(const std::string& url, const std::string& token) {
    auto auth = client_->connect(url, token);
    const value answer = wait_answer(auth);
    if (!client::is_ok(answer)) fail("worker %d: auth answered %s", index_, client::to_json(answer).c_str());
  }

  // The thread's body: a failure is kept for rethrow() after the join.
  void run(const std::atomic<bool>& stop, clock_type::time_point start) {
    try {
      load(stop, start);
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  // Whether it has sent a request, and had one answered ok (read by the main
  // thread while it runs).
  bool sent_any() const { return sent_.load() > 0; }
  bool answered_ok() const { return ok_.load() > 0; }

 private:
  void load(const std::atomic<bool>& stop, clock_type::time_point start) {
    std::uint64_t n = 0;
    while (!stop.load()) {
      sent s = next(n++);
      s.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count();
      ++sent_;
      auto f = client_->call(s.request);
      s.answer = wait_answer(f);
      s.outcome = fate_of(s.answer);
      if (s.outcome == fate::applied) ++ok_;
      if (s.outcome == fate::applied && s.request.grid.kind == op::reserve)
        if (auto h = client::lookup_string(s.answer, "hold")) holds_.push_back({*h, s.record});
      log_.push_back(std::move(s));
    }
  }

 public:
  // What run() failed with, if anything; call after the thread is joined.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

  // Fails every request still waiting (the node is gone) and stops the client.
  void close() { client_->close(); }

  std::vector<sent>& log() { return log_; }
  std::vector<hold_ref>& holds() { return holds_; }
  int index() const { return index_; }

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
        s.request.grid.ttl_ms = ttl_ms_;
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
      s.request.grid.ttl_ms = ttl_ms_;
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
  std::int64_t ttl_ms_;
  std::mt19937_64 random_;
  std::vector<hold_ref> holds_;
  std::unique_ptr<client::client> client_;  // made here: close() may come before run() starts
  std::vector<sent> log_;
  std::atomic<std::uint64_t> sent_{0}, ok_{0};
  std::exception_ptr error_;
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
    for (auto& [rec, checked] : records_) events_ += audit_record(c, rec, checked, seen_, ended_);
  }

  // Reads every record's whole history again from version 0 and rebuilds its
  // keys from scratch (not from what earlier audits saw): the chain must
  // still hold, no key twice, every key seen before still there, and every
  // change in `acked` present.
  void recheck_all(client::client& c, const std::vector<sent>& acked) {
    std::set<std::string> keys;
    std::map<std::string, ending_event> ended;
    for (const auto& [rec, checked] : records_) {
      record_audit from_zero;
      audit_record(c, rec, from_zero, keys, ended);
    }
    for (const auto& k : seen_)
      if (!keys.contains(k)) fail("idem %s was in the history and is gone from it", k.c_str());
    for (const auto& s : acked)
      if (s.outcome == fate::applied && !keys.contains(s.request.grid.idem))
        fail("acknowledged %s (idem %s, answer %s) is no longer in the history of %s/%s", s.request.op.c_str(),
             s.request.grid.idem.c_str(), client::to_json(s.answer).c_str(), s.record.warehouse.c_str(),
             s.record.sku.c_str());
    ++rechecks_;
  }

  // How a hold ended, as far as the history says.
  struct ending_event {
    std::string kind;  // commit, release or expire
    std::string idem;  // of the request that ended it ("" for expire)
  };
  std::optional<ending_event> hold_ended(const std::string& hold) const {
    if (auto it = ended_.find(hold); it != ended_.end()) return it->second;
    return std::nullopt;
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
  std::uint64_t rechecks() const { return rechecks_; }

 private:
  // Audits `rec` from `checked` on; returns the number of new events.
  std::size_t audit_record(client::client& c, const record_id& rec, record_audit& checked,
                           std::set<std::string>& keys, std::map<std::string, ending_event>& ended) {
    // Reads are not atomic together; a hold expiring between them moves the
    // version, so the reads are taken again (the load is stopped).
    for (int attempt = 0; attempt < 5; ++attempt) {
      const value before = must(c.get(rec.warehouse, rec.sku), "stock.get");
      const value holds = must(c.holds(rec.warehouse, rec.sku), "stock.holds");
      auto events = history_since(c, rec, checked.version, int_at(before, "record.version"));
      const value after = must(c.get(rec.warehouse, rec.sku), "stock.get");
      if (int_at(before, "record.version") != int_at(after, "record.version")) continue;
      check_record(rec, before, holds);
      fold(rec, checked, events, before, keys, ended);
      return events.size();
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
        // Newest first, each page older than the last: no page read twice.
        if (v >= before)
          fail("%s/%s: stock.history before %lld answered version %lld", rec.warehouse.c_str(), rec.sku.c_str(),
               static_cast<long long>(before), static_cast<long long>(v));
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
  void fold(const record_id& rec, record_audit& checked, const std::vector<value>& events, const value& got,
            std::set<std::string>& keys, std::map<std::string, ending_event>& ended) {
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
      const auto idem = client::lookup_string(e, "idem");
      if (idem && !keys.insert(*idem).second)
        fail("%s: idem %s applied twice (again at version %lld)", name.c_str(), idem->c_str(),
             static_cast<long long>(version));
      if (kind == "commit" || kind == "release" || kind == "expire")
        if (auto hold = client::lookup_string(e, "hold")) ended[*hold] = {kind, idem.value_or("")};
      at = {version, hand, reserved};
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
  std::map<std::string, ending_event> ended_;  // holds the histories end (the load releases whole holds)
  std::uint64_t events_ = 0, rechecks_ = 0;
};

// Resends every worker's requests with their keys, each worker's in the
// order it sent them (a hold op after the op before it), the workers side by
// side: round k sends each worker's k-th request. `judge(worker, index,
// answer)` gets each answer.
template <class Judge>
void resend_in_order(client::client& c, const std::vector<std::vector<sent>>& logs, Judge judge) {
  std::size_t longest = 0;
  for (const auto& log : logs) longest = std::max(longest, log.size());
  for (std::size_t k = 0; k < longest; ++k) {
    std::vector<std::pair<std::size_t, std::future<value>>> answers;
    for (std::size_t w = 0; w < logs.size(); ++w)
      if (k < logs[w].size()) answers.emplace_back(w, c.call(logs[w][k].request));
    for (auto& [w, f] : answers) judge(w, k, f.get());
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

// Runs `f` when it goes out of scope, on every path.
template <class F>
class at_exit {
 public:
  explicit at_exit(F f) : f_(std::move(f)) {}
  ~at_exit() { f_(); }
  at_exit(const at_exit&) = delete;
  at_exit& operator=(const at_exit&) = delete;

 private:
  F f_;
};

bool is_hold_op(const sent& s) {
  const op k = s.request.grid.kind;
  return k == op::commit || k == op::release || k == op::extend;
}

class torture {
 public:
  explicit torture(options o)
      : o_(std::move(o)), random_(o_.seed), audit_(o_.records), hold_ttl_ms_(hold_ttl_for(o_)) {}

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
    audit_.recheck_all(*c, acked_);
    c.reset();
    n.reset();  // killed and reaped
    const double seconds = std::chrono::duration<double>(clock_type::now() - began).count();
    std::printf("PASS seed %llu: %d cycles, %llu acknowledged (%llu refusals), %llu in flight at the end "
                "(%llu of them applied before the end), %llu replays checked, %llu history events audited, "
                "%llu full re-reads of every history, %.1f s\n",
                static_cast<unsigned long long>(o_.seed), o_.cycles, static_cast<unsigned long long>(t_.acked),
                static_cast<unsigned long long>(t_.refused), static_cast<unsigned long long>(t_.unknown),
                static_cast<unsigned long long>(t_.unknown_applied), static_cast<unsigned long long>(t_.replays),
                static_cast<unsigned long long>(audit_.events()), static_cast<unsigned long long>(audit_.rechecks()),
                seconds);
  }

  int cycle() const { return cycle_; }

 private:
  // Holds outlive their cycle (the next cycle's load commits, releases and
  // extends them), so their TTL covers the whole run: twice a generous
  // estimate of it (the load plus 10 s of check, restart and resends per
  // cycle), at least 1 h, at most the node's 24 h.
  static std::int64_t hold_ttl_for(const options& o) {
    const double estimate_ms = 2.0 * o.cycles * (o.seconds + 10.0) * 1000.0;
    return static_cast<std::int64_t>(
        std::clamp(estimate_ms, static_cast<double>(hold_ttl_min_ms), static_cast<double>(hold_ttl_max_ms)));
  }

  ending ending_of(int cycle) const {
    if (o_.mode == "kill") return ending::kill;
    if (o_.mode == "powercut") return ending::power_cut;
    return cycle % 2 == 1 ? ending::kill : ending::power_cut;
  }

  // The node's stderr, in the data dir (the node ignores files it does not know).
  std::string log_path(int cycle) const {
    return (fs::path(o_.data_dir) / ("node-" + std::to_string(cycle) + ".log")).string();
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

  // The load until the node's end: each worker's requests in the order sent.
  std::vector<std::vector<sent>> load(int cycle, node& n, long long* end_ms) {
    std::vector<std::unique_ptr<worker>> workers;
    for (int w = 0; w < o_.clients; ++w) {
      std::vector<hold_ref> share;
      for (std::size_t i = static_cast<std::size_t>(w); i < holds_.size(); i += static_cast<std::size_t>(o_.clients))
        share.push_back(holds_[i]);
      workers.push_back(std::make_unique<worker>(w, random_(), cycle, o_.records, hold_ttl_ms_, std::move(share)));
    }
    holds_.clear();
    for (auto& w : workers) w->connect(n.url(), admin_token_);
    std::atomic<bool> stop{false};
    const auto start = clock_type::now();
    std::vector<std::thread> threads;
    {
      // Stopped, their clients closed and joined on every path, also when
      // end() fails (a joinable thread destroyed would abort the process).
      const at_exit joined([&] {
        stop = true;
        for (auto& w : workers) w->close();
        for (auto& t : threads)
          if (t.joinable()) t.join();
      });
      for (auto& w : workers) threads.emplace_back([&, w = w.get()] { w->run(stop, start); });
      // The end comes at a random moment of the cycle's second half or later.
      const auto at = std::chrono::duration<double>(
          std::uniform_real_distribution<double>(o_.seconds / 2, o_.seconds)(random_));
      std::this_thread::sleep_for(at);
      // On a loaded machine (fsyncs queued behind other work) the first
      // answers may take longer: the end waits, up to load_wait_max more,
      // until every worker has sent a request and some request was answered
      // ok, so a cycle that ends without load is the node's fault.
      const auto waited = clock_type::now();
      const auto loaded = [&] {
        bool all_sent = true, any_ok = false;
        for (const auto& w : workers) all_sent = all_sent && w->sent_any(), any_ok = any_ok || w->answered_ok();
        return all_sent && any_ok;
      };
      while (!loaded() && clock_type::now() - waited < load_wait_max)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      *end_ms = ms_since(start);
      n.end();
    }
    std::vector<std::vector<sent>> logs;
    for (auto& w : workers) {
      w->rethrow();
      if (w->log().empty()) fail("worker %d sent nothing before the %s", w->index(), name_of(ending_of(cycle)));
      for (auto& h : w->holds()) holds_.push_back(h);
      logs.push_back(std::move(w->log()));
    }
    return logs;
  }

  std::unique_ptr<node> run_cycle(int cycle, std::unique_ptr<node> n) {
    const ending e = ending_of(cycle);
    long long end_ms = 0;
    std::vector<std::vector<sent>> logs = load(cycle, *n, &end_ms);
    n.reset();

    // What happened, by fate.
    std::size_t acked_now = 0, refused_now = 0, unknown_now = 0;
    for (const auto& log : logs)
      for (const auto& s : log)
        ++(s.outcome == fate::applied ? acked_now : s.outcome == fate::refused ? refused_now : unknown_now);
    if (acked_now == 0) fail("no request was answered ok before the %s", name_of(e));

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
    for (const auto& log : logs)
      for (const auto& s : log)
        if (s.outcome == fate::applied) audit_.require_in_history(s);
    // Every request of the cycle resent with its key, each worker's in its
    // order: an acknowledged one is replayed; one in flight at the end is
    // applied at most once.
    std::uint64_t applied_late = 0;
    std::vector<sent> late;
    std::vector<std::pair<std::size_t, std::size_t>> hold_not_found;  // (worker, index)
    resend_in_order(*c, logs, [&](std::size_t w, std::size_t k, const value& again) {
      const sent& s = logs[w][k];
      if (s.outcome != fate::unknown) {
        check_replay(s, again);
        ++t_.replays;
        return;
      }
      const bool was_applied = audit_.in_history(s.request.grid.idem);
      if (was_applied && !(client::is_ok(again) && client::is_replayed(again)))
        fail("%s (idem %s) was applied before the %s but its resend answers %s", s.request.op.c_str(),
             s.request.grid.idem.c_str(), name_of(e), client::to_json(again).c_str());
      if (!was_applied && client::is_ok(again) && client::is_replayed(again))
        fail("%s (idem %s) is not in the history but its resend is a replay: %s", s.request.op.c_str(),
             s.request.grid.idem.c_str(), client::to_json(again).c_str());
      applied_late += was_applied;
      if (is_hold_op(s) && client::error_code(again) == "HOLD_NOT_FOUND") {
        hold_not_found.emplace_back(w, k);  // judged below, from the history
        return;
      }
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
    // A hold op that finds its hold gone: a later request of the same worker
    // ended it (committed or released; acknowledged, or applied by its own
    // resend just now), or it expired. Anything else lost a live hold.
    for (const auto& [w, k] : hold_not_found) {
      const sent& s = logs[w][k];
      const auto ended = audit_.hold_ended(s.request.grid.hold);
      bool explained = ended && ended->kind == "expire";
      for (auto j = k + 1; ended && !explained && j < logs[w].size(); ++j)
        explained = logs[w][j].request.grid.idem == ended->idem;
      if (!explained)
        fail("%s (idem %s) resent: HOLD_NOT_FOUND for hold %s, which %s", s.request.op.c_str(),
             s.request.grid.idem.c_str(), s.request.grid.hold.c_str(),
             ended ? ("ended by an earlier or unrelated request (" + ended->kind + ", idem " + ended->idem + ")").c_str()
                   : "the history never ended");
    }

    std::printf("cycle %3d %-8s: %6zu acknowledged, %5zu refused, %3zu in flight (%llu had been applied), "
                "%s at %5lld ms; check %4lld ms, restart %4lld ms\n",
                cycle, name_of(e), acked_now, refused_now, unknown_now, static_cast<unsigned long long>(applied_late),
                name_of(e), end_ms, static_cast<long long>(check_ms), static_cast<long long>(restart_ms));
    std::fflush(stdout);
    t_.acked += acked_now;
    t_.refused += refused_now;
    t_.unknown += unknown_now;
    t_.unknown_applied += applied_late;
    // Applied changes are checked again in later cycles (their keys stay in the history).
    for (auto& log : logs)
      for (auto& s : log)
        if (s.outcome == fate::applied) acked_.push_back(std::move(s));
    for (auto& s : late)
      if (s.outcome == fate::applied) acked_.push_back(std::move(s));
    if (cycle % full_recheck_every == 0) audit_.recheck_all(*c, acked_);
    c.reset();
    return next;
  }

  static long long ms_since(clock_type::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count();
  }

  options o_;
  std::mt19937_64 random_;
  auditor audit_;
  std::int64_t hold_ttl_ms_;
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
  // Every way out of the run prints one FAIL line; the node it ran is
  // killed and reaped by the unwinding (and killed here again, if a pid is
  // still registered).
  const auto failed = [&](const char* what) {
    if (const pid_t pid = running_node.exchange(0); pid > 0) ::kill(pid, SIGKILL);
    std::fprintf(stderr, "FAIL seed %llu cycle %d: %s\nreplay: --seed %llu --cycles %d --mode %s; data kept in %s\n",
                 static_cast<unsigned long long>(o.seed), t.cycle(), what, static_cast<unsigned long long>(o.seed),
                 o.cycles, o.mode.c_str(), o.data_dir.c_str());
    return 1;
  };
  try {
    t.run();
  } catch (const failure& f) {
    return failed(f.what());
  } catch (const std::exception& x) {
    return failed((std::string("unexpected error: ") + x.what()).c_str());
  } catch (...) {
    return failed("unexpected error of an unknown type");
  }
  if (!o.keep && !work.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
    if (ec) {
      std::fprintf(stderr, "stockgrid-torture: passed, but removing %s failed: %s\n", work.c_str(),
                   ec.message().c_str());
      return 1;
    }
  }
  return 0;
}
