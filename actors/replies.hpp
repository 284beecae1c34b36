// Building replies from journal entries. The live path and idempotent replays
// both use reply_from_entry, so a replay returns exactly the original answer.
#pragma once

#include <cstdint>

#include "domain/request.hpp"
#include "domain/stock_record.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::actors {

// The reply to the request that produced `e` (a change or a remembered
// refusal) in partition `partition`.
reply reply_from_entry(const persistence::journal_entry& e, std::uint32_t partition);

// The current state of a record as a reply (get, and non-journaled refusals
// that show the record).
record_view view_of(const record_key& key, const stock_record& rec);

// A refusal from a decision: the reply shape the protocol gives the outcome.
reply refusal_reply(const decision& d, const record_key& key, const stock_record& rec);

// UNAVAILABLE because the partition's journal cannot write now (its disk
// refused a write: it is degraded until a probe write succeeds), with when to
// retry: the journal's disk retry interval.
reply journal_unavailable(std::string message, std::int64_t retry_after_ms);

}  // namespace stockgrid::actors
