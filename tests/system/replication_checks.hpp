// What the replication tests share (node_replication_test.cpp,
// node_partition_test.cpp): a tenant everywhere, stock, a load of reserves
// retried with their idempotency keys, and the checks on the records and on
// the stopped nodes' SQLite journals afterwards.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "domain/types.hpp"
#include "tests/system/cluster_fixture.hpp"

namespace stockgrid::node_test {

// One journal row, as read back from a stopped node's file.
struct row {
  std::uint64_t seq = 0, epoch = 0;
  std::string tenant, sku, idem;
  int kind = 0;
  std::int64_t qty = 0;
  bool operator==(const row&) const = default;
};

inline std::string partition_file(const std::string& dir, std::int64_t p) {
  char name[32];
  std::snprintf(name, sizeof name, "/p-%04lld.db", static_cast<long long>(p));
  return dir + name;
}

// The journal rows of `tenant` in one partition file, by seq.
inline std::map<std::uint64_t, row> journal_of(const std::string& file, const std::string& tenant) {
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
inline std::string difference(const std::map<std::uint64_t, row>& a, const std::map<std::uint64_t, row>& b) {
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
inline std::map<std::int64_t, std::set<std::string>> replicas_seen_by(test_node& node) {
  std::map<std::int64_t, std::set<std::string>> out;
  const value status = status_of(node);
  for (const value& p : items(status, "partitions"))
    for (const value& r : items(p, "replicas")) out[integer(p, "partition")].insert(*r.as_string());
  return out;
}

// settled, call_settled, tenant_everywhere, sku, busiest_leader: cluster_fixture.hpp.

// A reserve of one unit of sku(i) with its own idempotency key.
inline object reserve_request(int i, const std::string& idem) {
  return {{"op", "stock.reserve"}, {"warehouse", "w"}, {"sku", sku(i)}, {"qty", 1}, {"ttl_ms", 600000}, {"idem", idem}};
}

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
  auto make = [&](int n) { return reserve_request(n % skus, tag + "-" + std::to_string(n)); };
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
inline void check_journals(cluster3& c, const std::map<std::int64_t, std::set<std::string>>& replicas,
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
inline void check_records(session& s, int skus, const load_result& load) {
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
inline void stock(session& s, int skus, int each) {
  for (int i = 0; i < skus; ++i) {
    const value r = call_settled(s, {{"op", "stock.adjust"}, {"warehouse", "w"}, {"sku", sku(i)}, {"delta", each},
                                     {"idem", "stock-" + std::to_string(i)}});
    INFO(Catch::Detail::stringify(r));
    REQUIRE(ok(r));
  }
}

// Waits until every node sees every member up and the nodes agree on a
// leader for each of the 4 partitions; returns the replicas as node 0 sees
// them (for check_journals).
inline std::map<std::int64_t, std::set<std::string>> cluster_ready(cluster3& c) {
  for (auto& n : c.nodes) REQUIRE(eventually([&] { return all_up(*n, c.ids()); }));
  REQUIRE(eventually([&] { return leaders_agreed(c).size() == 4; }));
  return replicas_seen_by(*c.nodes[0]);
}

// The start of a failover test on `c`: every member up and every partition
// led, the tenant `acme` everywhere, the leader of the most partitions (the
// one the test takes away), a writer session at each of the other two
// nodes, and `skus` records stocked with 1000 each through the first.
struct failover_setup {
  std::map<std::int64_t, std::set<std::string>> replicas;  // as node 0 sees them
  tenant_everywhere t;
  std::pair<std::size_t, std::set<std::int64_t>> busiest;  // the leader and the partitions it leads
  std::vector<std::size_t> others;                         // the other two nodes
  session s0, s1;                                          // writers at others[0] and others[1]

  failover_setup(cluster3& c, int skus)
      : replicas(cluster_ready(c)),
        t(c, "acme"),
        busiest(busiest_leader(c)),
        others(all_but(busiest.first)),
        s0(*c.nodes[others[0]], encoding::json, t.keys[others[0]].writer),
        s1(*c.nodes[others[1]], encoding::json, t.keys[others[1]].writer) {
    stock(s0, skus, 1000);
  }

 private:
  static std::vector<std::size_t> all_but(std::size_t node) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < 3; ++i)
      if (i != node) out.push_back(i);
    return out;
  }
};

}  // namespace stockgrid::node_test
