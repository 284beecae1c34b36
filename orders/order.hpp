// An order's state: the document its coordinator journals after each step,
// as plain data with no actors, no I/O and no clock (callers pass times in).
// An order holds stock on several records, one hold per allocated line, and
// then commits or releases them all; a restarted coordinator reads this
// document and resumes the phase it names.
//
// Body encoding (the document store's bytes): msgpack of one map, written by
// encode() and read by decode(), with these fields (all present):
//   v              int     document::format_version (1)
//   tenant         str
//   id             str     the order id
//   ref            str     the client's reference
//   idem           str     the idempotency key that created it ("" = none)
//   fingerprint    int     the creating request's fingerprint (uint64 stored
//                          as the int64 with the same bits)
//   key_id         str     the API key that created it
//   policy         int     order_policy
//   status         int     order_status
//   lines          array   of maps {sku str, warehouse str, qty int,
//                          hold str ("" = not held), done bool}, in hold
//                          order; at most limits::order_lines_max
//   unfilled       array   of maps {sku str, qty int}; same bound
//   shortages      array   of maps {sku str, warehouse str, requested int,
//                          available int}; same bound
//   ttl_ms, created_ms, expires_at_ms, updated_ms   int
//   attempt        int     uint32
//   failure_code   int     failed: the outcome the reserve was refused with
//                          (domain/outcome.hpp); ok otherwise
//   failure        str     failed: the refusal's message
// Unknown fields are ignored, so a later version may add fields; changing the
// meaning of one means a new `v`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/outcome.hpp"
#include "domain/types.hpp"
#include "orders/allocation.hpp"

namespace stockgrid::orders {

// Journaled: never renumber; 0 is reserved.
enum class order_status : std::uint8_t {
  reserving = 1,   // taking the holds
  held = 2,        // every line held (or unfilled, with partial)
  committing = 3,  // selling the held lines
  committed = 4,
  releasing = 5,   // giving the holds back (cancel, or a failed reserve)
  released = 6,
  expiring = 7,    // giving the holds back after the order's ttl
  expired = 8,
  failed = 9,      // refused before anything was held (see shortages)
};

// The status on the wire: reserving is "pending", the others their own name.
std::string_view wire_status(order_status s);
// committed, released, expired, failed: nothing further happens.
bool is_final(order_status s);

// Journaled: never renumber; 0 is reserved.
enum class order_policy : std::uint8_t {
  all_or_nothing = 1,  // a line that cannot be held fails the order
  partial = 2,         // what can be held is; the rest is listed as unfilled
};

struct order_line {
  std::string sku;
  std::string warehouse;
  std::int64_t qty = 0;
  std::string hold;   // the hold id once held; empty before or if not held
  bool done = false;  // the current phase's step (commit or release) is done for this line

  friend bool operator==(const order_line&, const order_line&) = default;
};

struct order {
  std::string tenant;
  std::string id;
  std::string ref;
  std::string idem;
  std::uint64_t fingerprint = 0;
  std::string key_id;
  order_policy policy = order_policy::all_or_nothing;
  order_status status = order_status::reserving;
  std::vector<order_line> lines;        // allocated, in hold order
  std::vector<unfilled_line> unfilled;  // partial: what could not be held
  std::vector<short_line> shortages;    // failed: why
  std::int64_t ttl_ms = 0;
  epoch_ms created_ms = 0;
  epoch_ms expires_at_ms = 0;
  epoch_ms updated_ms = 0;
  // Bumped each time a phase restarts (recovery). step_idem() leaves it out,
  // so a restarted step repeats its key and the record answers with the
  // first outcome instead of applying the step twice.
  std::uint32_t attempt = 0;
  outcome failure_code = outcome::ok;  // failed: why, as the client saw it
  std::string failure;

  friend bool operator==(const order&, const order&) = default;
};

std::string encode(const order& o);
// False (and *out unspecified) for anything that is not a body encode() could
// have written; never throws.
bool decode(std::string_view bytes, order* out);

// The idempotency key of one line's step: "sg:<order id>/<step><line index>",
// step 'r' reserve, 'p' partial's second reserve (of what was available),
// 'c' commit, 'x' release. Order ids are short, so the key
// stays within limits::id_bytes_max (asserted).
std::string step_idem(const order& o, char step, std::size_t line);

}  // namespace stockgrid::orders
