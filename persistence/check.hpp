// The offline checker behind `stockgrid check --data-dir D`: verifies one
// partition file without changing it. Run it on a stopped node (a live
// writer may leave a half-written WAL frame for a moment).
#pragma once

#include <cstdint>
#include <string>

#include "persistence/status.hpp"

namespace stockgrid::persistence {

struct check_report {
  std::uint64_t epoch = 0;
  std::uint64_t seq_lease = 0;
  std::uint64_t snapshot_seq = 0;
  std::uint64_t last_seq = 0;            // highest seq in the journal or snapshot range
  std::uint64_t snapshot_records = 0;    // snapshot rows
  std::uint64_t snapshot_holds = 0;      // holds in snapshot rows
  std::uint64_t journal_entries = 0;     // journal rows (retained after compaction)
  std::uint64_t tail_entries = 0;        // journal rows after snapshot_seq
  std::uint64_t journal_records = 0;     // distinct records in the journal
  std::uint64_t records_with_tail = 0;   // records whose state the tail changes
};

// Opens `path` read-only and checks: the file header and WAL (as opening a
// store does); the format version; every snapshot and journal row's CRC;
// journal seqs below the seq lease; each record's chain of retained entries
// (versions consecutive, each entry's before-values equal to the previous
// one's after-values, seqs increasing along the chain); that the snapshot row
// equals the state after the record's last retained entry in the snapshot
// range; that folding the entries after the snapshot onto the snapshot row
// replays (fold.hpp); and the record invariants (stock_record.hpp: reserved ==
// sum of holds, 0 <= backordered <= reserved, reserved - backordered <=
// on_hand, no backorders unless allowed, ...) on every snapshot row and every
// folded state;
// that record_index and idem_index hold exactly one row per journal row they
// cover. A tenant purged in the snapshot range (purge.hpp) is checked as
// folded away: its journal rows below the purge still chain, but have no
// snapshot row and no index rows.
// The first problem found is returned, naming the file and the row.
status check_partition(const std::string& path, check_report* out);

}  // namespace stockgrid::persistence
