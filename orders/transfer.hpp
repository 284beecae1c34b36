// A transfer's state: stock moving from one warehouse to another, as the
// document its coordinator journals after each step. Plain data with no
// actors, no I/O and no clock (callers pass times in).
//
// Creating a transfer takes the stock out of `from` (out_done) and records it
// as incoming at `to` (in_done). Receipts then land it at `to`, possibly in
// parts. Cancelling undoes what is still in transit: the incoming at `to`
// (cancel_in_done), then the stock back into `from` (cancel_out_done).
//
// Body encoding (the document store's bytes): msgpack of one map, written by
// encode() and read by decode(), with these fields (all present):
//   v                  int     document::format_version (1)
//   tenant, id, sku, from, to, idem, key_id   str
//   fingerprint        int     uint64 stored as the int64 with the same bits
//   qty                int
//   status             int     transfer_status
//   out_done, in_done  bool
//   receipts           array   of maps {idem str, qty int, applied bool,
//                              at_ms int}, in order; at most
//                              limits::transfer_receipts_max
//   cancel_in_done, cancel_out_done   bool
//   failure            str     "" unless failed
//   failure_available  int
//   created_ms, updated_ms   int
// Unknown fields are ignored, so a later version may add fields; changing the
// meaning of one means a new `v`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/types.hpp"

namespace stockgrid::orders {

// Journaled: never renumber; 0 is reserved.
enum class transfer_status : std::uint8_t {
  creating = 1,    // taking the stock out of `from`, marking it incoming at `to`
  in_transit = 2,  // created; receipts land it at `to`
  received = 3,    // everything received
  cancelling = 4,  // undoing what is in transit
  cancelled = 5,
  failed = 6,      // refused at creation (see failure)
};

// The status on the wire: its own name ("in_transit", ...).
std::string_view wire_status(transfer_status s);
// received, cancelled, failed: nothing further happens.
bool is_final(transfer_status s);

// One partial receipt at `to`. A caller refuses a receipt beyond
// limits::transfer_receipts_max.
struct receipt {
  std::string idem;      // the receipt's idempotency key
  std::int64_t qty = 0;
  bool applied = false;  // the stock has landed at `to`
  epoch_ms at_ms = 0;

  friend bool operator==(const receipt&, const receipt&) = default;
};

struct transfer {
  std::string tenant;
  std::string id;
  std::string sku;
  std::string from;
  std::string to;
  std::string idem;
  std::string key_id;
  std::uint64_t fingerprint = 0;
  std::int64_t qty = 0;
  transfer_status status = transfer_status::creating;
  bool out_done = false;  // the stock is out of `from`
  bool in_done = false;   // it is incoming at `to`
  std::vector<receipt> receipts;  // in order
  bool cancel_in_done = false;    // the incoming at `to` is undone
  bool cancel_out_done = false;   // the stock is back in `from`
  std::string failure;            // failed: why (the refusal message)
  std::int64_t failure_available = 0;
  epoch_ms created_ms = 0;
  epoch_ms updated_ms = 0;

  // The sum of the applied receipts.
  std::int64_t received() const;
  // What is still in transit: qty - received().
  std::int64_t remaining() const { return qty - received(); }

  friend bool operator==(const transfer&, const transfer&) = default;
};

std::string encode(const transfer& t);
// False (and *out unspecified) for anything that is not a body encode() could
// have written; never throws.
bool decode(std::string_view bytes, transfer* out);

}  // namespace stockgrid::orders
