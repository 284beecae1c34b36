// A rolling restart of a three-node cluster under a load of reserves, the
// way an operator upgrades one: each node in turn gets SIGTERM (with
// --shutdown-unready-ms, as behind a load balancer), is started again on its
// data dir once it has exited 0, and the cluster is left to converge before
// the next node goes. Clients keep writing through every node, and resend
// whatever comes back UNAVAILABLE, TIMEOUT or OVERLOADED with the same
// idempotency key through any node still serving. No request may go
// unanswered, nothing acknowledged may be lost or applied twice, and at the
// end the three copies of every partition must be identical.
//
// Each stopping node hands the partitions it leads to followers before it
// exits (docs/cluster.md, "Stopping a member"): the test checks that the
// other two name new leaders for them while its process still runs, and
// restarts first whichever node leads the most at the time, so that check
// has something to see. It prints, for each restart, how many answers were
// retried and the longest time a reserve took to settle: figures to read,
// not checks, as timing depends on the machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "tests/system/replication_checks.hpp"

using namespace stockgrid::node_test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

constexpr int skus = 40;
constexpr std::size_t window = 8;         // requests in flight per session
constexpr int sends_per_key_max = 1000;   // then the key counts as unsettled
constexpr auto retry_pause = 10ms;        // after a round that has keys to resend
constexpr auto warm_up = 1s;              // of load before the first SIGTERM
constexpr auto answer_limit = 15s;        // for each answer, and for the close
constexpr auto unready_limit = 15s;       // from SIGTERM to /readyz 503
constexpr auto exit_limit = 30s;          // from SIGTERM to the process's exit
constexpr auto converge_limit = 30s;      // from the restart to converged
constexpr auto finish_limit = 30s;        // for the last keys to settle
constexpr auto readyz_period = 50ms;      // the polls are spaced so that
constexpr auto status_period = 250ms;     // the load is not starved
constexpr auto settle_pause = 300ms;      // before a poll of converged()

std::int64_t ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

// True at most once per period.
class every {
 public:
  explicit every(std::chrono::milliseconds period) : period_(period) {}
  bool due() {
    const auto now = steady::now();
    if (now - last_ < period_) return false;
    last_ = now;
    return true;
  }

 private:
  std::chrono::milliseconds period_;
  steady::time_point last_{};
};

// A reserve of one unit of sku(n % skus) with the key "roll-n", and when it
// was first sent (for the time it took to settle).
struct reserve {
  int n = 0;
  steady::time_point first_sent;
  int sends = 0;
};
std::string key_of(const reserve& r) { return "roll-" + std::to_string(r.n); }

// What one restart saw, from its node's SIGTERM until the cluster converged
// again.
struct restart_figures {
  std::size_t acked = 0;
  std::map<std::string, std::size_t> retries;  // UNAVAILABLE, TIMEOUT and OVERLOADED answers, by code
  std::int64_t longest_settle_ms = 0;
  std::int64_t exited_after_ms = 0, converged_after_ms = 0;
  // The other two named new leaders for every partition it led while its
  // process still ran (true, trivially, when it led none).
  bool handed_off_before_exit = false;
  std::size_t led = 0;  // partitions it led at its SIGTERM
};

// The load, driven one round at a time from the test's thread (Catch2's
// checks are not thread-safe): a writer session at each node with up to
// `window` reserves in flight, and the keys waiting to be resent through
// whichever sessions still take requests.
class rolling_load {
 public:
  rolling_load(cluster3& c, const tenant_everywhere& t) : c_(c), t_(t) {
    for (std::size_t i = 0; i < 3; ++i) open_session(i);
    // A POS terminal: the C++ client given every node's URL, which resends
    // by itself (with the same keys) and goes on through the next node when
    // one closes its connection. Each of its reserves must end ok.
    stockgrid::client::client_options o;
    o.request_timeout = answer_limit;
    o.retries_max = 100;
    o.reconnect.initial = 20ms;
    o.reconnect.max = 200ms;
    pos_ = std::make_unique<stockgrid::client::client>(o);
    std::string urls;
    for (auto& n : c.nodes)
      urls += (urls.empty() ? "" : ",") + std::string("ws://127.0.0.1:") + std::to_string(n->port()) + "/v1/ws";
    const value answer = pos_->connect(urls, t.keys[0].writer).get();
    INFO(Catch::Detail::stringify(answer));
    REQUIRE(stockgrid::client::is_ok(answer));
  }

  session& writer(std::size_t i) { return *writers_[i]; }
  const load_result& result() const { return result_; }
  // Where the answers of a restart are counted (null: nowhere).
  void count_into(restart_figures* f) { counting_ = f; }

  // Sends on every session that takes requests, until its window is full
  // (keys to resend first), then reads every answer.
  void round() {
    for (std::size_t i = 0; i < 3; ++i) {
      if (!sending_[i]) continue;
      while (in_flight_[i].size() < window) {
        reserve r;
        if (!to_resend_.empty()) {
          r = to_resend_.front();
          to_resend_.pop_front();
        } else if (new_keys_) {
          r = {next_++, steady::now(), 0};
        } else {
          break;
        }
        ++r.sends;
        in_flight_[i].emplace(writers_[i]->send(reserve_request(r.n % skus, key_of(r))), r);
      }
    }
    while (new_keys_ && pos_in_flight_.size() < window) {
      const std::string key = "pos-" + std::to_string(pos_next_);
      pos_in_flight_.emplace_back(
          key, pos_->reserve("w", sku(pos_next_++ % skus), 1, {.ttl_ms = 600'000, .ref = {}, .idem = key}));
    }
    for (std::size_t i = 0; i < 3; ++i) collect(i);
    collect_pos(new_keys_ ? 0ms : 5ms);
    if (!to_resend_.empty()) std::this_thread::sleep_for(retry_pause);
  }

  std::size_t pos_acked() const { return pos_acked_; }
  stockgrid::client::client_stats pos_stats() const { return pos_->stats(); }

  // Whether no key waits to be resent (between rounds, none is in flight).
  bool all_settled() const { return to_resend_.empty(); }

  // Node i's session takes no more requests (its node is going away);
  // what was sent on it has been answered by the end of the last round.
  void stop_sending(std::size_t i) { sending_[i] = false; }
  void close_session(std::size_t i) {
    REQUIRE(in_flight_[i].empty());
    sending_[i] = false;
    writers_[i].reset();  // leaves its node, whose stop() then waits for no session
  }
  void open_session(std::size_t i) {
    writers_[i] = std::make_unique<session>(*c_.nodes[i], encoding::msgpack, t_.keys[i].writer);
    sending_[i] = true;
  }

  // Stops taking new keys and resends the unsettled ones until every key
  // has settled (or given up on: result().unsettled).
  void finish() {
    new_keys_ = false;
    const auto start = steady::now();
    while (!idle()) {
      INFO(to_resend_.size() << " keys still to resend");
      REQUIRE(steady::now() - start < finish_limit);
      round();
    }
  }

 private:
  bool idle() const {
    for (const auto& q : in_flight_)
      if (!q.empty()) return false;
    return all_settled() && pos_in_flight_.empty();
  }

  // The POS client's answers that have come (waiting up to `wait` for each).
  void collect_pos(std::chrono::milliseconds wait) {
    for (auto it = pos_in_flight_.begin(); it != pos_in_flight_.end();) {
      if (it->second.wait_for(wait) != std::future_status::ready) {
        ++it;
        continue;
      }
      const value answer = it->second.get();
      if (ok(answer)) {
        result_.acked[it->first] = text(answer, "hold");
        ++pos_acked_;
      } else if (code(answer) == "INSUFFICIENT_STOCK") {
        ++result_.refused;
      } else {
        FAIL("the POS client's reserve " << it->first << " ended " << Catch::Detail::stringify(answer));
      }
      it = pos_in_flight_.erase(it);
    }
  }

  // Reads until every request sent on node i's session is answered.
  void collect(std::size_t i) {
    auto& q = in_flight_[i];
    while (!q.empty()) {
      const gateway_test::read_result r = writers_[i]->read(answer_limit);
      if (!r.got_frame) {
        INFO("node " << i << " " << c_.nodes[i]->status() << "; its log:\n" << c_.nodes[i]->log());
        FAIL(q.size() << " requests sent on node " << i << "'s session dropped without an answer: the session "
                      << (r.timed_out ? "timed out" : "ended, close code " + std::to_string(r.close_code)) << " ("
                      << r.error << ")");
      }
      // Checked with an if, not a REQUIRE: this runs for every answer, and
      // a message for the failure would be built every time.
      value answer;
      std::string error;
      if (!protocol::parse(r.bytes, r.text ? encoding::json : encoding::msgpack, {}, &answer, &error))
        FAIL("an answer that does not parse (" << error << "): " << r.bytes);
      const auto id = gateway_test::id_of(answer);
      const auto it = id ? q.find(*id) : q.end();
      if (it == q.end())
        FAIL("an answer to no request in flight on node " << i << "'s session: " << Catch::Detail::stringify(answer));
      settle(it->second, answer);
      q.erase(it);
    }
  }

  void settle(const reserve& r, const value& answer) {
    if (ok(answer)) {
      result_.acked[key_of(r)] = text(answer, "hold");
      if (counting_ != nullptr) ++counting_->acked;
    } else if (code(answer) == "INSUFFICIENT_STOCK") {
      ++result_.refused;
    } else if (settled(answer)) {
      FAIL("unexpected answer to " << key_of(r) << ": " << Catch::Detail::stringify(answer));
    } else {
      if (counting_ != nullptr) ++counting_->retries[code(answer)];
      if (r.sends < sends_per_key_max)
        to_resend_.push_back(r);
      else
        result_.unsettled.insert(key_of(r));
      return;
    }
    if (counting_ != nullptr)
      counting_->longest_settle_ms = std::max(counting_->longest_settle_ms, ms_since(r.first_sent));
  }

  cluster3& c_;
  const tenant_everywhere& t_;
  std::unique_ptr<session> writers_[3];
  std::map<std::int64_t, reserve> in_flight_[3];  // by request id
  bool sending_[3] = {false, false, false};
  std::deque<reserve> to_resend_;
  bool new_keys_ = true;
  int next_ = 0;
  restart_figures* counting_ = nullptr;
  load_result result_;
  std::unique_ptr<stockgrid::client::client> pos_;
  std::vector<std::pair<std::string, std::future<value>>> pos_in_flight_;  // (key, answer)
  int pos_next_ = 0;
  std::size_t pos_acked_ = 0;
};

// Whether both nodes other than k name a leader other than k for every
// partition in `led`.
bool others_lead(cluster3& c, std::size_t k, const std::set<std::int64_t>& led) {
  for (std::size_t j = 0; j < 3; ++j) {
    if (j == k) continue;
    const auto seen = leaders_seen_by(*c.nodes[j]);
    for (const auto p : led)
      if (auto it = seen.find(p); it == seen.end() || it->second == c.id(k)) return false;
  }
  return true;
}

// One step of the rolling restart: node k gets SIGTERM, exits 0, starts
// again on its data dir, and the cluster converges, with the load going on
// all along through every node that takes requests.
restart_figures restart_under_load(cluster3& c, rolling_load& load, std::size_t k) {
  INFO("restart of node " << k);
  test_node& node = *c.nodes[k];
  restart_figures f;
  std::set<std::int64_t> led;
  for (const auto& [p, leader] : leaders_agreed(c))
    if (leader == c.id(k)) led.insert(p);
  f.led = led.size();
  load.count_into(&f);
  every readyz(readyz_period), status(status_period);
  // Whether the other nodes took over node k's partitions while its process
  // still ran: the leaders are read first, the process checked after.
  auto note_hand_off = [&] {
    if (!f.handed_off_before_exit && status.due() && others_lead(c, k, led) && node.status() == "running")
      f.handed_off_before_exit = true;
  };

  const auto sigterm = steady::now();
  node.terminate();
  // The node still serves its open connections while /readyz says 503 (or
  // it is already gone); from then on, its session takes no new requests.
  for (bool unready = false; !unready;) {
    load.round();
    note_hand_off();
    if (readyz.due()) {
      const unsigned answer = gateway_test::http_get(node.port(), "/readyz").status;
      unready = answer == 503 || answer == 0;
    }
    if (!unready && steady::now() - sigterm > unready_limit)
      FAIL("/readyz not 503 " << ms_since(sigterm) << " ms after SIGTERM; the node's log:\n" << node.log());
  }
  load.stop_sending(k);

  // Every request sent on it is answered (round() read them all). After its
  // unready time the node closes the session with 1001 and waits for the
  // client's side of the close handshake (up to 5 s) before it exits, so the
  // session must be read meanwhile: a helper thread does that one blocking
  // read, without any check in it (Catch2's are for the test's thread only),
  // while the load goes on through the other two nodes.
  auto close_code = std::async(std::launch::async, [&s = load.writer(k)] { return s.wait_close(answer_limit); });
  while (node.status() == "running") {
    if (steady::now() - sigterm > exit_limit)
      FAIL("node " << k << " still running " << ms_since(sigterm) << " ms after SIGTERM; its log:\n" << node.log());
    load.round();
    note_hand_off();
  }
  f.exited_after_ms = ms_since(sigterm);
  {
    INFO("node " << k << "'s session ends with 1001 after SIGTERM");
    REQUIRE(close_code.wait_for(answer_limit) == std::future_status::ready);
    CHECK(close_code.get() == 1001);
  }
  load.close_session(k);
  node.stop();  // the process has exited: checks its exit code 0
  node.restart();
  load.open_session(k);

  // A node's cluster.status is a board it republishes every heartbeat
  // (100 ms here), so the three nodes' boards are from different moments:
  // under load, copies that keep up still look apart. Nothing of the load is
  // in flight between rounds, so each poll of converged() pauses it for a
  // few heartbeats first, and the boards then show where replication got.
  const auto restarted = steady::now();
  std::string why;
  auto quiet_and_converged = [&] {
    std::this_thread::sleep_for(settle_pause);
    return converged(c, &why);
  };
  // The restart is over once no key it made unsettled waits to be resent
  // (else those keys' settle times would count in the next restart's).
  while (!(status.due() && load.all_settled() && quiet_and_converged())) {
    INFO("not converged: " << why << (load.all_settled() ? "" : "; keys wait to be resent"));
    REQUIRE(steady::now() - restarted < converge_limit);
    load.round();
  }
  f.converged_after_ms = ms_since(sigterm);
  load.count_into(nullptr);
  std::string retries;
  for (const auto& [name, count] : f.retries)
    retries += (retries.empty() ? "" : ", ") + name + " " + std::to_string(count);
  std::printf("rolling restart of node %zu (leading %zu partitions): %zu acknowledged, retries: %s, longest settle "
              "%lld ms, exited %lld ms and converged %lld ms after SIGTERM, handed_off_before_exit=%s\n",
              k, led.size(), f.acked, retries.empty() ? "none" : retries.c_str(),
              static_cast<long long>(f.longest_settle_ms), static_cast<long long>(f.exited_after_ms),
              static_cast<long long>(f.converged_after_ms), f.handed_off_before_exit ? "true" : "false");
  std::fflush(stdout);
  return f;
}

}  // namespace

TEST_CASE("cluster: a rolling restart of the three nodes under load loses no acknowledged change and leaves no "
          "request without an answer",
          "[node][cluster][rolling]") {
  // Each node serves its open connections for 1 s after SIGTERM, with
  // /readyz 503, as a node behind a load balancer would.
  cluster3 c(3, 1000, {}, [](std::size_t) { return std::vector<std::string>{"--shutdown-unready-ms", "1000"}; });
  const auto replicas = cluster_ready(c);
  tenant_everywhere t(c, "acme");
  rolling_load load(c, t);
  stock(load.writer(0), skus, 1000);

  const auto start = steady::now();
  while (steady::now() - start < warm_up) load.round();
  std::set<std::size_t> to_restart{0, 1, 2};
  std::size_t handed_off = 0;  // restarts of a node that led something
  while (!to_restart.empty()) {
    // The node that leads the most of those not restarted yet.
    std::map<std::string, std::size_t> leads;
    for (const auto& [p, leader] : leaders_agreed(c)) ++leads[leader];
    const std::size_t k = *std::max_element(to_restart.begin(), to_restart.end(), [&](std::size_t a, std::size_t b) {
      return leads[c.id(a)] < leads[c.id(b)];
    });
    to_restart.erase(k);
    const restart_figures f = restart_under_load(c, load, k);
    INFO("node " << k << ": the load went on while it restarted");
    CHECK(f.acked > 0);
    INFO("node " << k << " led " << f.led << " partitions: the others named new leaders for them before it exited");
    CHECK(f.handed_off_before_exit);
    if (f.led > 0) ++handed_off;
  }
  CHECK(handed_off > 0);
  load.finish();
  {
    INFO("the POS client, given every node's URL, went on through the restarts");
    CHECK(load.pos_acked() > 0);
    const auto stats = load.pos_stats();
    std::printf("rolling restart: the POS client (every node's URL) had %zu reserves acknowledged, connected %llu "
                "times, resent %llu requests\n",
                load.pos_acked(), static_cast<unsigned long long>(stats.connects),
                static_cast<unsigned long long>(stats.resends));
    // Its node stopped at least once (every node does): it went on elsewhere.
    CHECK(stats.connects >= 2);
  }
  std::printf("rolling restart: %zu reserves acknowledged, %zu refused (INSUFFICIENT_STOCK), %lld ms in all\n",
              load.result().acked.size(), load.result().refused, static_cast<long long>(ms_since(start)));

  // With every node back, every key settles.
  {
    INFO(load.result().unsettled.size() << " keys unsettled, e.g. "
                                        << (load.result().unsettled.empty() ? "" : *load.result().unsettled.begin()));
    REQUIRE(load.result().unsettled.empty());
  }
  check_records(load.writer(0), skus, load.result());
  for (auto& n : c.nodes) n->stop();
  check_journals(c, replicas, load.result(), {0, 1, 2}, {0, 1, 2});
}
