// Replication across three real nodes on loopback: requests forwarded to
// their partition's leader, journals shipped to followers, quorum
// acknowledgements, failover after a SIGKILL and after a SIGSTOP past the
// lease. Every test reads the nodes' SQLite journals after stopping them.
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "domain/types.hpp"
#include "tests/system/cluster_fixture.hpp"
#include "tests/system/tmpfs_namespace.hpp"

using namespace stockgrid::node_test;
using stockgrid::hold_ref;
using stockgrid::parse_hold_id;
using namespace std::chrono_literals;

namespace {

// One journal row, as read back from a stopped node's file.
struct row {
  std::uint64_t seq = 0, epoch = 0;
  std::string tenant, sku, idem;
  int kind = 0;
  std::int64_t qty = 0;
  bool operator==(const row&) const = default;
};

std::string partition_file(const std::string& dir, std::int64_t p) {
  char name[32];
  std::snprintf(name, sizeof name, "/p-%04lld.db", static_cast<long long>(p));
  return dir + name;
}

// The journal rows of `tenant` in one partition file, by seq.
std::map<std::uint64_t, row> journal_of(const std::string& file, const std::string& tenant) {
  std::map<std::uint64_t, row> out;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT seq, epoch, tenant, sku, idem, kind, qty FROM journal WHERE tenant = ?1",
                             -1, &q, nullptr) == SQLITE_OK);
  sqlite3_bind_text(q, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(q) == SQLITE_ROW) {
    row r;
    r.seq = static_cast<std::uint64_t>(sqlite3_column_int64(q, 0));
    r.epoch = static_cast<std::uint64_t>(sqlite3_column_int64(q, 1));
    r.tenant = reinterpret_cast<const char*>(sqlite3_column_text(q, 2));
    r.sku = reinterpret_cast<const char*>(sqlite3_column_text(q, 3));
    if (auto* t = sqlite3_column_text(q, 4)) r.idem = reinterpret_cast<const char*>(t);
    r.kind = sqlite3_column_int(q, 5);
    r.qty = sqlite3_column_int64(q, 6);
    out.emplace(r.seq, std::move(r));
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return out;
}

// Where two journals differ, for the failure message.
std::string difference(const std::map<std::uint64_t, row>& a, const std::map<std::uint64_t, row>& b) {
  std::ostringstream out;
  out << a.size() << " entries against " << b.size() << "; ";
  int shown = 0;
  for (const auto& [seq, r] : a)
    if (auto it = b.find(seq); (it == b.end() || !(it->second == r)) && shown++ < 5)
      out << "seq " << seq << " (epoch " << r.epoch << ") " << (it == b.end() ? "only in the first; " : "differs; ");
  for (const auto& [seq, r] : b)
    if (!a.count(seq) && shown++ < 10) out << "seq " << seq << " (epoch " << r.epoch << ") only in the second; ";
  return out.str();
}

// Partition -> its replicas' ids, as `node` sees them.
std::map<std::int64_t, std::set<std::string>> replicas_seen_by(test_node& node) {
  std::map<std::int64_t, std::set<std::string>> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions"))
    for (const value& r : items(p, "replicas")) out[integer(p, "partition")].insert(*r.as_string());
  return out;
}

}  // namespace

TEST_CASE("cluster: a write through one node is read through another; each entry is only on its replicas",
          "[node][cluster][replication]") {
  cluster3 c(2);  // two copies of each partition among three nodes
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  const auto replicas = replicas_seen_by(*c.nodes[0]);
  for (const auto& [p, set] : replicas) CHECK(set.size() == 2);
  tenant_everywhere t(c, "acme");
  {
    session a(*c.nodes[0], encoding::json, t.keys[0].writer);
    for (int i = 0; i < 24; ++i) {
      const value r = call_settled(a, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)},
                                       {"delta", 10 + i}, {"idem", "adj-" + std::to_string(i)}});
      INFO(Catch::Detail::stringify(r));
      REQUIRE(ok(r));
    }
  }
  {
    session cs(*c.nodes[2], encoding::json, t.keys[2].reader);
    for (int i = 0; i < 24; ++i) {
      const value r = call_settled(cs, {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}});
      INFO(Catch::Detail::stringify(r));
      REQUIRE(ok(r));
      CHECK(integer(r, "record.on_hand") == 10 + i);
    }
    // consistency "follower": every node answers, from its own copy where it
    // holds one (the value arrives there within the replication lag), by
    // the leader elsewhere. Anything else is BAD_REQUEST naming the field.
    for (std::size_t n = 0; n < 3; ++n) {
      session s(*c.nodes[n], encoding::json, t.keys[n].reader);
      for (int i = 0; i < 24; ++i)
        CHECK(eventually([&] {
          const value r = s.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}, {"consistency", "follower"}});
          return ok(r) && integer(r, "record.on_hand") == 10 + i;
        }, 5s));
    }
    const value bad = cs.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(0)}, {"consistency", "any"}});
    CHECK(code(bad) == "BAD_REQUEST");
    CHECK(message(bad).find("consistency") != std::string::npos);
  }
  for (auto& n : c.nodes) n->stop();

  // Every partition's entries are in the journals of its two replicas,
  // identical, and in no other node's.
  int partitions_written = 0;
  std::size_t entries = 0;
  for (std::int64_t p = 0; p < 4; ++p) {
    std::map<std::uint64_t, row> reference;
    bool first = true;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto rows = journal_of(partition_file(c.data_dir(i), p), "acme");
      INFO("partition " << p << " node " << c.id(i));
      if (!replicas.at(p).count(c.id(i))) {
        CHECK(rows.empty());
        continue;
      }
      if (first) {
        reference = rows;
        first = false;
      } else {
        CHECK(rows == reference);
      }
    }
    if (!reference.empty()) ++partitions_written;
    entries += reference.size();
  }
  CHECK(entries == 24);
  CHECK(partitions_written >= 2);
}

namespace {

// What a load of reserves saw: each acknowledged hold, and the idempotency
// keys still unsettled at the end (may or may not have been applied).
struct load_result {
  std::map<std::string, std::string> acked;  // idem -> hold id
  std::set<std::string> unsettled;
  std::size_t refused = 0;                   // INSUFFICIENT_STOCK
  std::int64_t first_ok_after_ms = -1;       // since `mark`, for a partition of `watched`
};

// Reserves of 1 unit of sku(i % skus) through `sessions`, `window`
// requests in flight per session, until `stop_at`; each with its own
// idempotency key, resent with the same key while unsettled. `during`
// runs once, at `trigger_at`.
template <class Fn>
load_result reserve_load(std::vector<session*> sessions, int skus, std::chrono::steady_clock::time_point trigger_at,
                         std::chrono::steady_clock::time_point stop_at, Fn during, const std::set<std::int64_t>& watched,
                         const std::string& tag) {
  load_result out;
  bool triggered = false;
  std::chrono::steady_clock::time_point mark{};
  int next = 0;
  struct inflight {
    std::int64_t id;
    object req;
    std::string idem;
    int tries = 0;
  };
  std::vector<std::vector<inflight>> queues(sessions.size());
  auto make = [&](int n) {
    const std::string idem = tag + "-" + std::to_string(n);
    return object{{"op", "stock.reserve"}, {"warehouse", "w"}, {"sku", sku(n % skus)},
                  {"qty", 1},           {"ttl_ms", 600000},   {"idem", idem}};
  };
  constexpr int window = 8;
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (!triggered && now >= trigger_at) {
      during();
      triggered = true;
      mark = std::chrono::steady_clock::now();
    }
    const bool stopping = now >= stop_at;
    bool any = false;
    for (std::size_t s = 0; s < sessions.size(); ++s) {
      auto& q = queues[s];
      while (!stopping && q.size() < window) {
        auto req = make(next);
        const std::string idem = tag + "-" + std::to_string(next++);
        const auto id = sessions[s]->send(req);
        q.push_back({id, std::move(req), idem, 1});
      }
      std::vector<inflight> again;
      for (auto& f : q) {
        const value r = sessions[s]->answer(f.id);
        if (ok(r)) {
          out.acked[f.idem] = text(r, "hold");
          hold_ref h;
          if (triggered && out.first_ok_after_ms < 0 && parse_hold_id(text(r, "hold"), &h) &&
              watched.count(h.partition))
            out.first_ok_after_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - mark).count();
        } else if (code(r) == "INSUFFICIENT_STOCK") {
          ++out.refused;
        } else if (settled(r)) {
          FAIL("unexpected answer " << Catch::Detail::stringify(r));
        } else if (f.tries < 400) {
          again.push_back({sessions[s]->send(f.req), f.req, f.idem, f.tries + 1});
          continue;
        } else {
          out.unsettled.insert(f.idem);
        }
      }
      q = std::move(again);
      any = any || !q.empty();
      if (!q.empty()) std::this_thread::sleep_for(5ms);
    }
    if (stopping && !any) break;
  }
  return out;
}

// Checks, on the stopped nodes' journals, that every replica of every
// partition agrees on the entries they share, that no idempotency key was
// applied twice in the `live` nodes' copies (a killed leader's file may keep
// a tail that no one else took, which it would cut on rejoining), and that
// every acknowledged hold is an entry there with its key.
void check_journals(cluster3& c, const std::map<std::int64_t, std::set<std::string>>& replicas,
                    const load_result& load, const std::vector<std::size_t>& live,
                    const std::vector<std::size_t>& must_match) {
  std::map<std::string, std::pair<std::int64_t, std::uint64_t>> applied;  // idem -> (partition, seq)
  for (std::int64_t p = 0; p < 4; ++p) {
    std::vector<std::map<std::uint64_t, row>> copies, live_copies;
    for (std::size_t i = 0; i < 3; ++i) {
      if (!replicas.at(p).count(c.id(i))) continue;
      copies.push_back(journal_of(partition_file(c.data_dir(i), p), "acme"));
      if (std::find(live.begin(), live.end(), i) != live.end()) live_copies.push_back(copies.back());
    }
    // Replicas agree on every seq they both hold (one leader per epoch).
    for (std::size_t x = 0; x < copies.size(); ++x)
      for (std::size_t y = x + 1; y < copies.size(); ++y)
        for (const auto& [seq, r] : copies[x])
          if (auto it = copies[y].find(seq); it != copies[y].end()) {
            INFO("partition " << p << " seq " << seq);
            CHECK(it->second == r);
          }
    // The nodes named in must_match hold identical journals (converged).
    for (std::size_t m = 1; m < must_match.size(); ++m) {
      const auto mine = journal_of(partition_file(c.data_dir(must_match[m]), p), "acme");
      const auto theirs = journal_of(partition_file(c.data_dir(must_match[0]), p), "acme");
      INFO("partition " << p << ": node " << must_match[m] << " against node " << must_match[0] << ": "
                        << difference(mine, theirs));
      CHECK(mine == theirs);
    }
    // The union of the live copies: what the partition holds.
    std::map<std::uint64_t, row> all;
    for (const auto& copy : live_copies) all.insert(copy.begin(), copy.end());
    for (const auto& [seq, r] : all) {
      if (r.idem.empty() || r.kind != 3) continue;  // reserves
      INFO("idem " << r.idem);
      CHECK(applied.emplace(r.idem, std::make_pair(p, seq)).second);  // applied once
    }
  }
  for (const auto& [idem, hold] : load.acked) {
    hold_ref h;
    REQUIRE(parse_hold_id(hold, &h));
    INFO("acknowledged " << idem << " as " << hold);
    auto it = applied.find(idem);
    REQUIRE(it != applied.end());
    CHECK(it->second.first == static_cast<std::int64_t>(h.partition));
    CHECK(it->second.second == h.seq);
  }
}

// The records after a load: every acknowledged reserve holds a unit, no
// record sold more than it had.
void check_records(session& s, int skus, const load_result& load) {
  std::int64_t reserved = 0;
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}});
    INFO(Catch::Detail::stringify(r));
    REQUIRE(ok(r));
    CHECK(integer(r, "record.reserved") <= integer(r, "record.on_hand"));
    reserved += integer(r, "record.reserved");
  }
  CHECK(reserved >= static_cast<std::int64_t>(load.acked.size()));
  CHECK(reserved <= static_cast<std::int64_t>(load.acked.size() + load.unsettled.size()));
}

// Stocks `skus` records through `s`.
void stock(session& s, int skus, int each) {
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", each},
                                     {"idem", "stock-" + std::to_string(i)}});
    INFO(Catch::Detail::stringify(r));
    REQUIRE(ok(r));
  }
}

}  // namespace

TEST_CASE("cluster: SIGKILL of a busy leader under load loses no acknowledged change and applies no retry twice",
          "[node][cluster][replication]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  const auto replicas = replicas_seen_by(*c.nodes[0]);
  tenant_everywhere t(c, "acme");
  const auto [victim, led] = busiest_leader(c);
  std::vector<std::size_t> survivors;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != victim) survivors.push_back(i);
  constexpr int skus = 16;
  session s0(*c.nodes[survivors[0]], encoding::json, t.keys[survivors[0]].writer);
  session s1(*c.nodes[survivors[1]], encoding::json, t.keys[survivors[1]].writer);
  stock(s0, skus, 1000);

  const auto start = std::chrono::steady_clock::now();
  const auto load = reserve_load(
      {&s0, &s1}, skus, start + 1500ms, start + 6500ms, [&] { ::kill(c.nodes[victim]->pid(), SIGKILL); }, led,
      "k");
  std::printf("cluster SIGKILL of the leader of %zu partitions: %zu acknowledged, %zu unsettled; first "
              "acknowledgement from a partition it led %lld ms after the kill\n",
              led.size(), load.acked.size(), load.unsettled.size(),
              static_cast<long long>(load.first_ok_after_ms));
  CHECK(load.first_ok_after_ms >= 0);  // the partitions serve again
  CHECK(load.unsettled.empty());
  check_records(s0, skus, load);
  // Let the followers confirm the last entries, then stop them.
  std::this_thread::sleep_for(1s);
  for (auto i : survivors) c.nodes[i]->stop();
  check_journals(c, replicas, load, survivors, survivors);
}

TEST_CASE("cluster: a leader frozen past its lease acknowledges nothing after the new leader took over, then follows",
          "[node][cluster][replication]") {
  cluster3 c;
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  const auto replicas = replicas_seen_by(*c.nodes[0]);
  tenant_everywhere t(c, "acme");
  const auto [frozen, led] = busiest_leader(c);
  std::vector<std::size_t> others;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != frozen) others.push_back(i);
  constexpr int skus = 16;
  session s0(*c.nodes[others[0]], encoding::json, t.keys[others[0]].writer);
  session s1(*c.nodes[others[1]], encoding::json, t.keys[others[1]].writer);
  stock(s0, skus, 1000);

  // The frozen leader's own client: requests it took before the freeze.
  session sf(*c.nodes[frozen], encoding::json, t.keys[frozen].writer);
  std::vector<std::pair<std::int64_t, std::string>> before_freeze;  // request id, idem
  const auto start = std::chrono::steady_clock::now();
  const auto load = reserve_load(
      {&s0, &s1}, skus, start + 1000ms, start + 5000ms,
      [&] {
        for (int i = 0; i < 8; ++i) {
          const std::string idem = "frozen-" + std::to_string(i);
          before_freeze.emplace_back(sf.send({{"op", "stock.reserve"}, {"warehouse", "w"}, {"sku", sku(i)},
                                              {"qty", 1}, {"ttl_ms", 600000}, {"idem", idem}}),
                                     idem);
        }
        ::kill(c.nodes[frozen]->pid(), SIGSTOP);
      },
      led, "s");
  std::printf("cluster SIGSTOP of the leader of %zu partitions: %zu acknowledged meanwhile, first "
              "acknowledgement from a partition it led %lld ms after the freeze\n",
              led.size(), load.acked.size(), static_cast<long long>(load.first_ok_after_ms));
  CHECK(load.first_ok_after_ms >= 0);
  CHECK(load.unsettled.empty());
  ::kill(c.nodes[frozen]->pid(), SIGCONT);
  // It wakes up as a follower of the new leaders and catches up.
  const std::string frozen_id = c.id(frozen);
  CHECK(eventually([&] {
    auto seen = leaders_seen_by(*c.nodes[frozen]);
    auto agreed = leaders_agreed(c);
    if (agreed.size() != 4) return false;
    for (auto p : led)
      if (agreed[p] == frozen_id) return false;
    return seen == agreed;
  }));
  // Its client's requests from before the freeze: each answered; an
  // acknowledged one is in the journals like any other, an unknown outcome
  // may or may not be.
  load_result all = load;
  for (const auto& [id, idem] : before_freeze) {
    const value r = sf.answer(id);
    INFO(Catch::Detail::stringify(r));
    if (ok(r))
      all.acked[idem] = text(r, "hold");
    else if (!settled(r))
      all.unsettled.insert(idem);
    else
      CHECK(code(r) == "INSUFFICIENT_STOCK");
  }
  check_records(s0, skus, all);
  // Let the followers confirm the last entries, then stop everyone.
  std::this_thread::sleep_for(1s);
  for (auto& n : c.nodes) n->stop();
  check_journals(c, replicas, all, {0, 1, 2}, {0, 1, 2});
}

namespace {

// Partition -> (role, last seq) of `node`'s own copies, as it reports them.
std::map<std::int64_t, std::pair<std::string, std::int64_t>> copies_of(test_node& node) {
  std::map<std::int64_t, std::pair<std::string, std::int64_t>> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions"))
    if (auto role = text(p, "role"); !role.empty()) out[integer(p, "partition")] = {role, integer(p, "last_seq")};
  return out;
}

}  // namespace

TEST_CASE("cluster: a leader whose disk fills up steps down and stands for nothing; once space returns it "
          "follows and catches up",
          "[node][cluster][replication][disk]") {
  std::vector<std::unique_ptr<tmpfs_namespace>> disks;  // outlive the nodes
  cluster3 c(3, 1000, [&](const std::string& data_dir) {
    disks.push_back(std::make_unique<tmpfs_namespace>(data_dir));
    INFO("cannot mount a tmpfs in a mount namespace: this test needs root (unshare -m, mount)");
    REQUIRE(disks.back()->mounted());
    return disks.back()->launcher();
  });
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ports); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  tenant_everywhere t(c, "acme");
  const auto [full, led] = busiest_leader(c);
  const std::string full_id = c.id(full);
  const auto other = (full + 1) % 3;
  constexpr int skus = 24;
  std::set<std::uint32_t> written;  // every partition the full node leads gets a write
  for (int i = 0; i < skus; ++i) written.insert(stockgrid::partition_of({"acme", "w", sku(i)}, 4));
  REQUIRE(written.size() == 4);
  session s(*c.nodes[other], encoding::json, t.keys[other].writer);
  stock(s, skus, 10);

  // Its disk fills up: the partitions it leads degrade at their next write.
  // They must get another leader, which takes writes with the third node.
  const auto filler = disks[full]->outside(c.data_dir(full) + "/filler");
  REQUIRE(fill(filler) > 0);
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 1},
                                     {"idem", "full-" + std::to_string(i)}});
    INFO(sku(i) << ": " << Catch::Detail::stringify(r));
    REQUIRE(ok(r));
  }
  // While its disk is full it leads nothing, nor tries to.
  auto led_by_full = [&] {
    for (auto& n : c.nodes)
      for (const auto& [p, leader] : leaders_seen_by(*n))
        if (leader == full_id) return true;
    return false;
  };
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4 && !led_by_full(); }));
  for (int i = 0; i < 10; ++i) {
    CHECK_FALSE(led_by_full());
    for (const auto& [p, copy] : copies_of(*c.nodes[full])) CHECK(copy.first == "follower");
    std::this_thread::sleep_for(200ms);
  }

  // Space returns: it follows the new leaders and its copies catch up.
  REQUIRE(::unlink(filler.c_str()) == 0);
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", 1},
                                     {"idem", "after-" + std::to_string(i)}});
    REQUIRE(ok(r));
  }
  CHECK(eventually([&] {
    const auto mine = copies_of(*c.nodes[full]);
    const auto theirs = copies_of(*c.nodes[other]);
    for (const auto& [p, copy] : mine)
      if (copy.first != "follower" || !theirs.count(p) || theirs.at(p).second != copy.second) return false;
    return mine.size() == 4;
  }));
  session r(*c.nodes[full], encoding::json, t.keys[full].reader);
  for (int i = 0; i < skus; ++i) {
    const value got = r.call({{"op", "stock.get"}, {"warehouse", "w"}, {"sku", sku(i)}, {"consistency", "follower"}});
    INFO(sku(i) << ": " << Catch::Detail::stringify(got));
    CHECK(integer(got, "record.on_hand") == 12);
  }
  for (auto& n : c.nodes) n->stop();
}
