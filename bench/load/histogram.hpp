// A log-bucketed latency histogram for the load generator: fixed memory, no
// allocation when recording, mergeable across threads.
//
// Values are nanoseconds. Each power of two [2^k, 2^(k+1)) is split into
// `sub_buckets` equal buckets, so a percentile is reported with a relative
// error under 1/sub_buckets (~3 %): the shape HdrHistogram uses, with one
// significant digit fewer. Values at or above 2^max_exponent ns (~18 min)
// land in the last bucket; the true maximum is kept apart.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace stockgrid::bench {

class histogram {
 public:
  static constexpr int sub_bucket_bits = 5;
  static constexpr int sub_buckets = 1 << sub_bucket_bits;
  static constexpr int max_exponent = 40;
  static constexpr int bucket_count = (max_exponent + 1) * sub_buckets;

  void record(std::uint64_t ns) {
    ++counts_[index_of(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }

  void merge(const histogram& other) {
    for (int i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

  // The smallest recorded value v such that at least fraction q (0..1] of the
  // recorded values are <= v, reported as its bucket's upper bound (and never
  // above the true maximum); 0 when empty.
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.999999);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (int i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper_bound_of(i), max_);
    }
    return max_;
  }

  // Bucket arithmetic, public for the tests.
  static int index_of(std::uint64_t ns) {
    if (ns < sub_buckets) return static_cast<int>(ns);  // exact below 32 ns
    const int exponent = std::bit_width(ns) - 1;          // ns in [2^e, 2^(e+1))
    if (exponent > max_exponent) return bucket_count - 1;
    const int shift = exponent - sub_bucket_bits;
    const auto sub = static_cast<int>((ns >> shift) & (sub_buckets - 1));
    return (exponent - sub_bucket_bits + 1) * sub_buckets + sub;
  }
  static std::uint64_t upper_bound_of(int index) {
    if (index < sub_buckets) return static_cast<std::uint64_t>(index);
    const int exponent = index / sub_buckets + sub_bucket_bits - 1;
    const int sub = index % sub_buckets;
    const int shift = exponent - sub_bucket_bits;
    const std::uint64_t low = (std::uint64_t{1} << exponent) | (std::uint64_t(sub) << shift);
    return low + (std::uint64_t{1} << shift) - 1;
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace stockgrid::bench
