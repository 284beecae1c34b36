// Per-tenant request rates (docs/protocol.md "Errors", RATE_LIMITED;
// docs/operations.md "Quotas"): one token bucket per tenant, refilled at the
// tenant's rate up to its burst. A request takes a token; without one it is
// refused with the time until a token is there, so one noisy tenant runs out
// of its own tokens and never of the others'.
//
// Plain C++ (no Beast, no CAF), called on the gateway's I/O threads: the
// buckets are spread over shards, each behind its own mutex, so a request
// costs one hash, one short lock and a little arithmetic, and tenants on
// different shards never contend. Bounded: at most tenants_max buckets,
// tenants_max tenants' own limits and tenants_max tenants' rejection counts
// are kept (see the members). The clock is injected, so tests need no sleep.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace stockgrid::gateway {

// A tenant's request rate: `rate_per_second` tokens a second, at most
// `burst` saved up. Both at least 1.
struct rate_limit {
  std::uint32_t rate_per_second = 10'000;
  std::uint32_t burst = 20'000;
  friend bool operator==(const rate_limit&, const rate_limit&) = default;
};

class rate_limiter {
 public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  // Buckets, own limits and rejection counts kept, each; the node's tenants
  // are far fewer in practice (see try_acquire and set_tenant_limit for what
  // happens beyond).
  static constexpr std::size_t default_tenants_max = 100'000;

  // `defaults` applies to every tenant without a limit of its own. `clock`
  // must be monotonic and thread-safe.
  explicit rate_limiter(rate_limit defaults, clock_fn clock = std::chrono::steady_clock::now,
                        std::size_t tenants_max = default_tenants_max);

  struct decision {
    bool allowed = true;
    // Refused: milliseconds until the bucket holds the tokens asked for
    // (at least 1). 0 when allowed.
    std::int64_t retry_after_ms = 0;
    rate_limit limit;  // the tenant's, for the refusal's message
  };

  // Takes `cost` tokens (a request is 1; a cost above the tenant's burst
  // counts as the burst, so any request can pass once the bucket is full;
  // 0 counts as 1) from the tenant's bucket, or refuses and counts a
  // rejection. Thread-safe. A tenant seen for the first time starts with a
  // full bucket; when tenants_max buckets are kept, the full ones (which
  // a new bucket would equal) are dropped first, else the longest unused.
  decision try_acquire(const std::string& tenant, std::uint32_t cost = 1);

  // The tenant's own limit (tenant.settings), or back to the defaults with
  // nullopt. Its bucket keeps its tokens, capped at the new burst. False
  // (and the tenant keeps the defaults) when tenants_max tenants already
  // have limits of their own. Thread-safe.
  bool set_tenant_limit(const std::string& tenant, std::optional<rate_limit> limit);
  // The limit that applies to the tenant.
  rate_limit limit_of(const std::string& tenant) const;
  const rate_limit& defaults() const { return defaults_; }

  // Refusals since start, for metrics: monotonic counters.
  struct rejections {
    std::uint64_t total = 0;
    // Per tenant, sorted by tenant; at most tenants_max tenants (the
    // refusals of any further tenant count in `total` only).
    std::vector<std::pair<std::string, std::uint64_t>> by_tenant;
  };
  rejections stats() const;

 private:
  static constexpr std::size_t shard_count = 16;
  struct bucket {
    rate_limit limit;
    std::int64_t tokens = 0;  // in billionths of a token
    std::chrono::steady_clock::time_point refilled;
  };
  struct shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, bucket> buckets;
    std::unordered_map<std::string, rate_limit> own_limits;
    std::unordered_map<std::string, std::uint64_t> rejected;
    std::uint64_t rejected_total = 0;
  };

  shard& shard_of(const std::string& tenant);
  const shard& shard_of(const std::string& tenant) const;
  // A bucket for the tenant, making room when the shard is full. Holds s.mu.
  bucket& bucket_of(shard& s, const std::string& tenant, std::chrono::steady_clock::time_point now);
  void make_room(shard& s, std::chrono::steady_clock::time_point now);

  const rate_limit defaults_;
  const clock_fn clock_;
  const std::size_t per_shard_max_;  // of each of a shard's three maps
  std::array<shard, shard_count> shards_;
};

}  // namespace stockgrid::gateway
