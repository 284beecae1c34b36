// In-memory index of the journal tail: the entries after the snapshot, which
// have no index rows on disk yet (format.hpp says why). Keyed by hashes, so a
// list may hold another record's or key's seqs: callers read the row and
// compare. Internal to persistence/.
#pragma once

#include <cstdint>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/types.hpp"
#include "persistence/format.hpp"
#include "persistence/listing.hpp"

namespace stockgrid::persistence {

class tail_index {
 public:
  void add(std::uint64_t seq, const record_key& key, std::string_view idem) {
    by_record_[stable_hash(key)].push_back(seq);
    if (!idem.empty()) by_idem_[format::idem_hash(idem)].push_back(seq);
    if (track_keys_) keys_.insert(key);
  }
  void clear() {
    by_record_.clear();
    by_idem_.clear();
    keys_.clear();
  }
  // The sorted keys of tail records are kept only once list_records() asked
  // for them (the caller then rebuilds the index), so appends pay for them
  // only on nodes that list.
  bool tracks_keys() const { return track_keys_; }
  void track_keys() { track_keys_ = true; }
  const std::set<record_key, listing_order>& keys() const { return keys_; }
  // Increasing seqs of tail entries that may belong to `key` / carry `idem`.
  const std::vector<std::uint64_t>& record_seqs(const record_key& key) const {
    return find(by_record_, stable_hash(key));
  }
  const std::vector<std::uint64_t>& idem_seqs(std::string_view idem) const {
    return find(by_idem_, format::idem_hash(idem));
  }

 private:
  using seq_lists = std::unordered_map<std::uint64_t, std::vector<std::uint64_t>>;
  static const std::vector<std::uint64_t>& find(const seq_lists& lists, std::uint64_t hash) {
    static const std::vector<std::uint64_t> none;
    const auto it = lists.find(hash);
    return it == lists.end() ? none : it->second;
  }

  seq_lists by_record_;
  seq_lists by_idem_;
  bool track_keys_ = false;
  std::set<record_key, listing_order> keys_;
};

}  // namespace stockgrid::persistence
