// Folding journal entries into a record's state, with the checks that make a
// damaged or inconsistent journal fail loudly instead of being replayed. One
// piece of logic for recovery, snapshots, loads (both stores) and `check`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "domain/stock_record.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

// A record being folded and the seq of the last entry that changed it.
struct folded_record {
  stock_record rec;
  std::uint64_t last_seq = 0;
};

// Checks that `e` continues the record's chain and applies it:
//  - a refusal must carry the record's current version and changes nothing;
//  - any other entry must have version == current + 1, before-values equal to
//    the current ones, name an active hold (or, for a reserve, a new hold with
//    hold_seq == seq), and leave the record in its after-values. Whether the
//    after-values agree with the holds is checked once a whole tail is
//    folded (check_folded: reserved == sum of holds).
// On failure returns corruption "<file>: journal row seq=N: ..."; the record
// may then be half-changed and must be discarded.
status fold_entry(const journal_entry& e, const std::string& file, folded_record* r);

// The invariants (stock_record::check_invariants) of every record in a map
// of folded records; corruption "<file>: record t/w/s after the journal: ...".
template <typename Map>
status check_folded(const Map& records, const std::string& file) {
  for (const auto& [key, r] : records)
    if (std::string bad = r.rec.check_invariants(); !bad.empty())
      return status::corruption(file + ": record " + key.tenant + "/" + key.warehouse + "/" +
                                key.sku + " after the journal: " + bad);
  return status::ok();
}

// Checks a batch about to be appended after `last_seq` with lease
// `seq_lease`: seqs increasing, above last_seq and below the lease, each
// reserve naming itself as its hold. A failure is the journal writer's bug,
// returned as `invalid` naming `file`.
status check_append_batch(const std::vector<journal_entry>& entries, std::uint64_t last_seq,
                          std::uint64_t seq_lease, const std::string& file);
// `fenced` if the epoch of the writer appending `entries` is below the
// journal's `epoch` (partition_store::append).
status check_fencing(const std::vector<journal_entry>& entries, std::uint64_t writer_epoch, std::uint64_t epoch,
                     const std::string& file);

// Conversions between the stored image and the live state.
record_image make_image(const record_key& key, const folded_record& r);
folded_record restore_image(const record_image& image);

}  // namespace stockgrid::persistence
