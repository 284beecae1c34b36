// Helpers shared by the persistence tests: a temporary directory, raw SQL on
// a partition file (to damage it behind the store's back), and a small
// journal writer that decides operations with stock_record and produces the
// entries a real writer would append.
#pragma once

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/stock_record.hpp"
#include "persistence/partition_store.hpp"
#include "persistence/purge.hpp"
#include "tests/support/temp_dir.hpp"

namespace stockgrid::persistence::testing {

using ::stockgrid::testing::temp_dir;

// Runs SQL on a database file with a plain connection; throws on error.
inline void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error(sql + ": " + message);
}

// The first column of the first row of a query, as an integer.
inline std::int64_t raw_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  std::int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

inline record_key key_of(const std::string& sku) { return {"acme", "berlin", sku}; }

// Decides operations like the record actors do and collects the entries in
// `batch`, with seqs from `next_seq`; flush() appends them.
class journal_sim {
 public:
  std::uint64_t epoch = 1;
  epoch_ms now = 1'000'000;
  std::uint64_t next_seq = 1;
  std::unordered_map<record_key, stock_record, record_key_hash> records;
  std::vector<journal_entry> batch;
  std::vector<journal_entry> all;  // every entry ever produced

  bool adjust(const record_key& k, std::int64_t delta, const std::string& idem = "") {
    return push(k, records[k].decide_adjust(delta, "count"), idem);
  }
  bool set(const record_key& k, std::int64_t on_hand, const std::string& idem = "",
           std::optional<std::int64_t> expected_version = std::nullopt) {
    return push(k, records[k].decide_set(on_hand, expected_version, "cycle count"), idem);
  }
  // The new hold's seq, or 0 if refused.
  std::uint64_t reserve(const record_key& k, std::int64_t qty, std::int64_t ttl_ms = 60'000,
                        const std::string& idem = "") {
    const std::uint64_t seq = next_seq;
    decision d = records[k].decide_reserve(qty, now, ttl_ms, "cart-" + std::to_string(seq), 1000);
    d.c.hold_seq = seq;
    return push(k, d, idem) && d.ok() ? seq : 0;
  }
  bool commit(const record_key& k, std::uint64_t hold, std::optional<std::int64_t> qty = {},
              const std::string& idem = "") {
    return push(k, records[k].decide_commit(hold, qty, now), idem);
  }
  bool release(const record_key& k, std::uint64_t hold, std::optional<std::int64_t> qty = {},
               const std::string& idem = "") {
    return push(k, records[k].decide_release(hold, qty, now), idem);
  }
  bool extend(const record_key& k, std::uint64_t hold, std::int64_t ttl_ms, const std::string& idem = "") {
    return push(k, records[k].decide_extend(hold, now, ttl_ms), idem);
  }
  bool sell(const record_key& k, std::int64_t qty, const std::string& idem = "") {
    return push(k, records[k].decide_sell(qty, "walk-in"), idem);
  }
  bool policy(const record_key& k, std::optional<std::int64_t> safety_stock,
              std::optional<bool> allow_backorder,
              std::optional<std::int64_t> low_stock_threshold = {}, const std::string& idem = "") {
    return push(k, records[k].decide_policy(safety_stock, allow_backorder, low_stock_threshold), idem);
  }
  void expire(const record_key& k, std::uint64_t hold) {
    decision d;
    d.c = records[k].decide_expire(hold);
    push(k, d, "");
  }

  // A tenant's purge entry (purge.hpp): its records start anew after it.
  void purge(const std::string& tenant) {
    journal_entry e = purge_entry(tenant, now);
    e.seq = next_seq++;
    e.epoch = epoch;
    std::erase_if(records, [&](const auto& r) { return r.first.tenant == tenant; });
    batch.push_back(e);
    all.push_back(e);
  }

  // Journals an entry made elsewhere (a document entry) at the next seq.
  void raw(journal_entry e) {
    e.seq = next_seq++;
    e.epoch = epoch;
    batch.push_back(e);
    all.push_back(e);
  }

  // Appends the batch (extending the lease first if needed) and clears it.
  status flush(partition_store& store, bool sync = true) {
    if (!batch.empty() && batch.back().seq >= store.seq_lease())
      if (status st = store.extend_seq_lease(batch.back().seq + 1000); !st) return st;
    status st = store.append(batch, sync);
    batch.clear();
    return st;
  }

 private:
  // Journals an ok decision (applied to the record) or a remembered refusal
  // with an idempotency key; a refusal without a key is not journaled.
  bool push(const record_key& k, const decision& d, const std::string& idem) {
    stock_record& rec = records[k];
    journal_entry e;
    e.seq = next_seq;
    e.epoch = epoch;
    e.at_ms = now;
    e.key = k;
    e.idem = idem;
    e.fingerprint = idem.empty() ? 0 : std::hash<std::string>{}(idem) ^ 0x5eed;
    e.key_id = "key-1";
    e.result = d.code;
    if (d.ok()) {
      e.c = d.c;
      rec.apply(e.c);
    } else {
      if (idem.empty() || !remembered(d.code)) return false;
      e.c.kind = change_kind::refusal;
      e.c.version = rec.version();
      e.c.on_hand_before = e.c.on_hand_after = rec.on_hand();
      e.c.reserved_before = e.c.reserved_after = rec.reserved();
      e.c.backordered_before = e.c.backordered_after = rec.backordered();
      e.c.incoming_before = e.c.incoming_after = rec.incoming();
      e.c.policy = rec.policy();
      e.detail = d.code == outcome::insufficient_stock ? d.available : d.limit;
    }
    ++next_seq;
    batch.push_back(e);
    all.push_back(e);
    return d.ok();
  }
};

inline bool same_holds(const std::vector<hold>& a, const std::vector<hold>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].seq != b[i].seq || a[i].qty != b[i].qty || a[i].expires_at_ms != b[i].expires_at_ms ||
        a[i].ref != b[i].ref)
      return false;
  return true;
}

inline bool same_image(const record_image& a, const record_image& b) {
  return a.key == b.key && a.on_hand == b.on_hand && a.reserved == b.reserved &&
         a.version == b.version && a.last_seq == b.last_seq && same_holds(a.holds, b.holds) &&
         a.policy == b.policy && a.backordered == b.backordered && a.incoming == b.incoming;
}

inline bool same_state(const record_image& a, const stock_record& r) {
  return a.on_hand == r.on_hand() && a.reserved == r.reserved() && a.version == r.version() &&
         same_holds(a.holds, r.holds()) && a.policy == r.policy() &&
         a.backordered == r.backordered() && a.incoming == r.incoming();
}

inline bool same_entry(const journal_entry& a, const journal_entry& b) {
  const change& x = a.c;
  const change& y = b.c;
  return a.seq == b.seq && a.epoch == b.epoch && a.at_ms == b.at_ms && a.key == b.key &&
         a.idem == b.idem && a.fingerprint == b.fingerprint && a.result == b.result &&
         a.detail == b.detail && a.key_id == b.key_id && x.kind == y.kind && x.version == y.version &&
         x.on_hand_before == y.on_hand_before && x.on_hand_after == y.on_hand_after &&
         x.reserved_before == y.reserved_before && x.reserved_after == y.reserved_after &&
         x.qty == y.qty && x.hold_seq == y.hold_seq && x.expires_at_ms == y.expires_at_ms &&
         x.ref == y.ref && x.reason == y.reason && x.backordered_before == y.backordered_before &&
         x.backordered_after == y.backordered_after && x.incoming_before == y.incoming_before &&
         x.incoming_after == y.incoming_after && x.policy == y.policy;
}

}  // namespace stockgrid::persistence::testing
