#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cassert>

namespace stockgrid::gateway {

namespace {

using clock = std::chrono::steady_clock;

// Tokens are counted in billionths (a bucket of 10^9 tokens is 10^18 of
// them, within int64), so refills and waits are exact integers: a nanosecond
// at `rate` tokens/s refills `rate` billionths.
constexpr std::int64_t billion = 1'000'000'000;

// The bucket's tokens at `now`: refilled at its rate since it was last
// refilled, up to its burst. A clock that went back refills nothing.
std::int64_t tokens_at(std::int64_t tokens, clock::time_point refilled, const rate_limit& limit,
                       clock::time_point now) {
  const std::int64_t full = std::int64_t{limit.burst} * billion;
  if (tokens >= full) return full;
  const std::int64_t rate = limit.rate_per_second;
  const std::int64_t elapsed_ns =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(now - refilled).count());
  const std::int64_t to_full_ns = (full - tokens + rate - 1) / rate;
  return elapsed_ns >= to_full_ns ? full : tokens + elapsed_ns * rate;
}

}  // namespace

rate_limiter::rate_limiter(rate_limit defaults, clock_fn clock, std::size_t tenants_max)
    : defaults_(defaults),
      clock_(std::move(clock)),
      per_shard_max_(std::max<std::size_t>(1, (tenants_max + shard_count - 1) / shard_count)) {
  assert(defaults.rate_per_second >= 1 && defaults.burst >= 1);
}

rate_limiter::shard& rate_limiter::shard_of(const std::string& tenant) {
  return shards_[std::hash<std::string>{}(tenant) % shard_count];
}

const rate_limiter::shard& rate_limiter::shard_of(const std::string& tenant) const {
  return shards_[std::hash<std::string>{}(tenant) % shard_count];
}

rate_limiter::decision rate_limiter::try_acquire(const std::string& tenant, std::uint32_t cost) {
  const auto now = clock_();
  shard& s = shard_of(tenant);
  std::lock_guard lock(s.mu);
  bucket& b = bucket_of(s, tenant, now);
  b.tokens = tokens_at(b.tokens, b.refilled, b.limit, now);
  b.refilled = now;
  const std::int64_t wanted = std::int64_t{std::clamp<std::uint32_t>(cost, 1, b.limit.burst)} * billion;
  if (b.tokens >= wanted) {
    b.tokens -= wanted;
    return {true, 0, b.limit};
  }
  ++s.rejected_total;
  if (auto it = s.rejected.find(tenant); it != s.rejected.end()) {
    ++it->second;
  } else if (s.rejected.size() < per_shard_max_) {
    s.rejected.emplace(tenant, 1);
  }
  const std::int64_t rate = b.limit.rate_per_second;
  const std::int64_t wait_ns = (wanted - b.tokens + rate - 1) / rate;
  const std::int64_t wait_ms = (wait_ns + 999'999) / 1'000'000;
  return {false, std::max<std::int64_t>(1, wait_ms), b.limit};
}

rate_limiter::bucket& rate_limiter::bucket_of(shard& s, const std::string& tenant, clock::time_point now) {
  if (auto it = s.buckets.find(tenant); it != s.buckets.end()) return it->second;
  if (s.buckets.size() >= per_shard_max_) make_room(s, now);
  const auto own = s.own_limits.find(tenant);
  const rate_limit limit = own != s.own_limits.end() ? own->second : defaults_;
  return s.buckets.emplace(tenant, bucket{limit, std::int64_t{limit.burst} * billion, now}).first->second;
}

// A full bucket behaves exactly like a new one, so dropping the full ones
// changes nothing; if none is full, the longest unused goes (its tenant
// gets a full bucket when it comes back: at most one extra burst).
void rate_limiter::make_room(shard& s, clock::time_point now) {
  const auto before = s.buckets.size();
  std::erase_if(s.buckets, [&](const auto& entry) {
    const bucket& b = entry.second;
    return tokens_at(b.tokens, b.refilled, b.limit, now) >= std::int64_t{b.limit.burst} * billion;
  });
  if (s.buckets.size() < before) return;
  auto oldest = std::min_element(s.buckets.begin(), s.buckets.end(), [](const auto& a, const auto& b) {
    return a.second.refilled < b.second.refilled;
  });
  if (oldest != s.buckets.end()) s.buckets.erase(oldest);
}

bool rate_limiter::set_tenant_limit(const std::string& tenant, std::optional<rate_limit> limit) {
  assert(!limit || (limit->rate_per_second >= 1 && limit->burst >= 1));
  shard& s = shard_of(tenant);
  std::lock_guard lock(s.mu);
  if (limit) {
    auto own = s.own_limits.find(tenant);
    if (own == s.own_limits.end() && s.own_limits.size() >= per_shard_max_) return false;
    s.own_limits.insert_or_assign(tenant, *limit);
  } else {
    s.own_limits.erase(tenant);
  }
  if (auto it = s.buckets.find(tenant); it != s.buckets.end()) {
    bucket& b = it->second;
    const auto now = clock_();
    b.tokens = tokens_at(b.tokens, b.refilled, b.limit, now);
    b.refilled = now;
    b.limit = limit.value_or(defaults_);
    b.tokens = std::min(b.tokens, std::int64_t{b.limit.burst} * billion);
  }
  return true;
}

rate_limit rate_limiter::limit_of(const std::string& tenant) const {
  const shard& s = shard_of(tenant);
  std::lock_guard lock(s.mu);
  auto own = s.own_limits.find(tenant);
  return own != s.own_limits.end() ? own->second : defaults_;
}

rate_limiter::rejections rate_limiter::stats() const {
  rejections out;
  for (const shard& s : shards_) {
    std::lock_guard lock(s.mu);
    out.total += s.rejected_total;
    out.by_tenant.insert(out.by_tenant.end(), s.rejected.begin(), s.rejected.end());
  }
  std::sort(out.by_tenant.begin(), out.by_tenant.end());
  return out;
}

}  // namespace stockgrid::gateway
