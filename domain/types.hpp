// Identifiers and small value types shared by every layer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace stockgrid {

// One stock record: one SKU in one warehouse of one tenant.
struct record_key {
  std::string tenant;
  std::string warehouse;
  std::string sku;

  friend bool operator==(const record_key&, const record_key&) = default;
};

// Stable 64-bit hash (FNV-1a over the three fields with separators). Used for
// partition placement, so it must never change for existing data.
std::uint64_t stable_hash(const record_key& key);

inline std::uint32_t partition_of(const record_key& key, std::uint32_t partitions) {
  return static_cast<std::uint32_t>(stable_hash(key) % partitions);
}

struct record_key_hash {
  std::size_t operator()(const record_key& k) const { return stable_hash(k); }
};

// What can still be reserved or sold: on_hand - reserved - safety_stock,
// never below 0 unless backorders are allowed (then it goes negative by the
// units promised beyond stock). The one formula for the record and its views.
constexpr std::int64_t available_of(std::int64_t on_hand, std::int64_t reserved,
                                    std::int64_t safety_stock, bool allow_backorder) {
  const std::int64_t a = on_hand - reserved - safety_stock;
  return allow_backorder || a > 0 ? a : 0;
}

// Milliseconds since the Unix epoch, server clock.
using epoch_ms = std::int64_t;

// A hold is named on the wire by an opaque id "H<partition>-<seq>" (hex), where
// seq is the journal sequence number of the reserve that created it. Journal
// sequence numbers are never reused in a partition (persistence/seq lease), so
// hold ids are unique across restarts.
struct hold_ref {
  std::uint32_t partition = 0;
  std::uint64_t seq = 0;
};
std::string format_hold_id(hold_ref h);
// False for anything that is not a well-formed hold id.
bool parse_hold_id(std::string_view text, hold_ref* out);

// Holds taken by an order carry the ref "order:<order id>". They never expire
// on their own (their deadline is the order's, kept by its coordinator), and
// only their order may commit, release or extend them; a client's own ref may
// not start with the prefix.
inline constexpr std::string_view order_ref_prefix = "order:";
inline bool is_order_ref(std::string_view ref) { return ref.starts_with(order_ref_prefix); }

// The idempotency keys of order and transfer steps start with "sg:" (their
// coordinators derive them from the order's or transfer's id); a client's
// key may not, so a client can never collide with a step.
inline constexpr std::string_view internal_idem_prefix = "sg:";

}  // namespace stockgrid
