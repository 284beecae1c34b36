// Reading one page of a tenant's export (tenant.export) from one partition:
// its records in (warehouse, sku) order, each followed by its holds (by hold
// seq) and its journal history (newest first, refusals excluded, as far as
// the journal still keeps it). The reader hands items to a sink until the
// sink says the page is full, and returns where to go on.
//
// Consistency: the caller runs this on the partition's writer thread
// (journal_writer::run), the only code that changes the partition's store, so
// everything one call reads is one state of the partition: the state after
// every append queued before the job. A record, its holds and the history it
// starts on that page agree (its `reserved` is the sum of those holds, its
// `version` the newest event's). A record whose history continues on a later
// page gets the older events then; journal rows never change, so they are the
// same events (unless the retention window dropped them meanwhile).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "domain/request.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

// Where an export stands within one partition.
struct export_position {
  enum class stage : std::uint8_t {
    next_record = 0,  // the record after (warehouse, sku) comes next
    holds = 1,        // (warehouse, sku)'s holds with seq > after_hold_seq
    history = 2,      // (warehouse, sku)'s events with version < before_version
  };
  stage at = stage::next_record;
  std::string warehouse;  // both empty with next_record: from the first record
  std::string sku;
  std::uint64_t after_hold_seq = 0;
  std::int64_t before_version = 0;  // 0 = from the newest event
  friend bool operator==(const export_position&, const export_position&) = default;
};

// Takes the items of a page. Each call returns false when the page is full:
// the item is then not taken and will be the first of the next page. A sink
// must take the first item of a page, whatever its size, so every page moves
// the export on.
class export_sink {
 public:
  virtual ~export_sink() = default;
  // A record in its current state (its holds are in `r.holds`, and are also
  // offered one by one after it).
  virtual bool record(const record_image& r) = 0;
  virtual bool hold(const record_key& key, const hold& h) = 0;
  // A history event of `e.key`.
  virtual bool event(const journal_entry& e) = 0;
};

struct export_step {
  bool partition_done = false;  // every item of the tenant in this partition was offered
  export_position next;         // where the next page starts, when not done
};

// Offers `tenant`'s items of `store` from `from` on to `sink` until the sink
// is full or the partition has no more. Blocks on I/O: run it on the
// partition's writer thread. A record named by `from` that no longer exists
// is skipped. Errors are the store's (io_error, corruption).
status read_export_page(partition_store& store, std::string_view tenant, export_position from,
                        export_sink& sink, export_step* out);

// A journal entry of partition p as the history event stock.history and the
// export show (the hold id formatted).
history_event history_event_of(journal_entry&& e, std::uint32_t p);

}  // namespace stockgrid::persistence
