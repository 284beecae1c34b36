// Test helpers for the stock record: drive a record the way the record actor
// does (decide, give the change its journal sequence number, apply, journal
// it), and capture its whole visible state so that "nothing changed" and
// "replay rebuilds the same record" are one comparison each.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.hpp"
#include "domain/stock_record.hpp"

namespace stockgrid::test {

// Everything a client or the journal can observe of one record.
struct record_state {
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t version = 0;
  std::vector<hold> holds;
  std::int64_t backordered = 0;
  std::int64_t incoming = 0;
  record_policy policy;

  friend bool operator==(const record_state& a, const record_state& b) {
    if (a.on_hand != b.on_hand || a.reserved != b.reserved || a.version != b.version ||
        a.backordered != b.backordered || a.incoming != b.incoming || !(a.policy == b.policy) ||
        a.holds.size() != b.holds.size())
      return false;
    for (std::size_t i = 0; i < a.holds.size(); ++i) {
      const auto& x = a.holds[i];
      const auto& y = b.holds[i];
      if (x.seq != y.seq || x.qty != y.qty || x.expires_at_ms != y.expires_at_ms || x.ref != y.ref)
        return false;
    }
    return true;
  }
};

inline record_state state_of(const stock_record& r) {
  return {r.on_hand(), r.reserved(), r.version(), r.holds(), r.backordered(), r.incoming(),
          r.policy()};
}

// The record as the record actor drives it. Every applied change takes the
// next journal sequence number; a reserve's hold is named by its own number,
// as persistence does when it appends the reserve.
struct record_script {
  stock_record record;
  std::vector<change> journal;
  std::uint64_t next_seq = 1;
  epoch_ms now = 1'700'000'000'000;
  std::size_t holds_max = limits::holds_per_record_max;

  decision adjust(std::int64_t delta, std::string_view reason = "") {
    return run(record.decide_adjust(delta, reason));
  }
  decision set(std::int64_t on_hand, std::optional<std::int64_t> expected_version = {},
               std::string_view reason = "") {
    return run(record.decide_set(on_hand, expected_version, reason));
  }
  decision reserve(std::int64_t qty, std::int64_t ttl_ms = 60'000, std::string_view ref = "") {
    return run(record.decide_reserve(qty, now, ttl_ms, ref, holds_max));
  }
  decision commit(std::uint64_t hold_seq, std::optional<std::int64_t> qty = {}) {
    return run(record.decide_commit(hold_seq, qty, now));
  }
  decision release(std::uint64_t hold_seq, std::optional<std::int64_t> qty = {}) {
    return run(record.decide_release(hold_seq, qty, now));
  }
  decision extend(std::uint64_t hold_seq, std::int64_t ttl_ms) {
    return run(record.decide_extend(hold_seq, now, ttl_ms));
  }
  decision sell(std::int64_t qty, std::string_view reason = "") {
    return run(record.decide_sell(qty, reason));
  }
  decision policy(std::optional<std::int64_t> safety_stock, std::optional<bool> allow_backorder,
                  std::optional<std::int64_t> low_stock_threshold = {}) {
    return run(record.decide_policy(safety_stock, allow_backorder, low_stock_threshold));
  }
  decision transfer_out(std::int64_t qty) { return run(record.decide_transfer_out(qty, "")); }
  decision incoming(std::int64_t delta) { return run(record.decide_incoming(delta, "")); }
  decision receive(std::int64_t qty) { return run(record.decide_receive(qty, "")); }
  decision transfer_back(std::int64_t qty) { return run(record.decide_transfer_back(qty, "")); }
  // Expires every hold due at `now`, as the expiry timer does.
  std::vector<std::uint64_t> expire_due() {
    auto due = record.due_holds(now);
    for (auto seq : due) {
      decision d;
      d.c = record.decide_expire(seq);
      run(d);
    }
    return due;
  }

  // Holds a reserve that must succeed; returns the new hold's sequence number.
  std::uint64_t hold(std::int64_t qty, std::int64_t ttl_ms = 60'000, std::string_view ref = "") {
    auto d = reserve(qty, ttl_ms, ref);
    REQUIRE(d.code == outcome::ok);
    return d.c.hold_seq;
  }

  record_state state() const { return state_of(record); }

 private:
  decision run(decision d) {
    if (!d.ok()) return d;
    const auto seq = next_seq++;
    if (d.c.kind == change_kind::reserve) d.c.hold_seq = seq;
    record.apply(d.c);
    journal.push_back(d.c);
    return d;
  }
};

}  // namespace stockgrid::test

namespace Catch {
template <>
struct StringMaker<stockgrid::test::record_state> {
  static std::string convert(const stockgrid::test::record_state& s) {
    std::ostringstream out;
    out << "{on_hand " << s.on_hand << ", reserved " << s.reserved << ", version " << s.version
        << ", backordered " << s.backordered << ", incoming " << s.incoming << ", policy "
        << s.policy.safety_stock << "/" << s.policy.allow_backorder << "/"
        << s.policy.low_stock_threshold << ", holds [";
    for (const auto& h : s.holds)
      out << " #" << h.seq << ":" << h.qty << "@" << h.expires_at_ms << "'" << h.ref << "'";
    out << " ]}";
    return out.str();
  }
};
template <>
struct StringMaker<stockgrid::outcome> {
  static std::string convert(stockgrid::outcome o) { return std::string(stockgrid::to_code(o)); }
};
}  // namespace Catch
