// Prometheus metrics: counters, gauges and histograms that any thread can
// update with a few relaxed atomic operations, and a registry that writes
// them in the text exposition format (version 0.0.4) for GET /metrics.
// Prometheus's C++ client is not packaged in Debian 12; this is the part of
// it stockgrid needs. No CAF, no Beast, no other stockgrid library.
//
// Label cardinality is bounded twice: a family holds at most `series_max`
// label sets (later ones are counted in one series whose labels are all
// "_other"), and callers never use unbounded values such as SKUs as labels.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace stockgrid::metrics {

class counter {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Counts observations into fixed buckets (upper bounds, increasing; +Inf is
// implicit) and keeps their sum.
class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds);
  void observe(double v);

  struct snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  // Not atomic as a whole: a scrape during updates may see a count one
  // behind a bucket, which Prometheus tolerates.
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds: 100 µs to 10 s.
std::vector<double> latency_buckets();
// Bounds 1, 2, 4, ... up to `max` (for sizes such as entries per batch).
std::vector<double> power_of_two_buckets(double max);

// One metric name with labelled series. `with` finds or makes the series of
// the given label values (one per label name, in order); the reference stays
// valid as long as the family. Thread-safe; a look-up takes a mutex, so hot
// paths should keep the reference when their labels do not change.
template <typename Metric>
class family {
 public:
  family(std::vector<std::string> label_names, std::size_t series_max,
         std::function<std::unique_ptr<Metric>()> make)
      : names_(std::move(label_names)), series_max_(series_max), make_(std::move(make)) {}

  Metric& with(const std::vector<std::string>& values) {
    std::lock_guard lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
    if (series_.size() + 1 >= series_max_) {
      std::vector<std::string> other(names_.size(), "_other");
      auto& slot = series_[other];
      if (!slot) slot = make_();
      return *slot;
    }
    return *(series_[values] = make_());
  }

  const std::vector<std::string>& label_names() const { return names_; }
  // Calls fn(label values, metric) for each series, in label order.
  template <typename Fn>
  void each(Fn&& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, m] : series_) fn(values, *m);
  }

 private:
  std::vector<std::string> names_;
  std::size_t series_max_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

// Writes the text exposition format. Each metric name gets its HELP and TYPE
// lines once, before its samples.
class writer {
 public:
  enum class type { counter, gauge, histogram };
  void header(std::string_view name, std::string_view help, type t);
  void sample(std::string_view name, const std::vector<std::string>& label_names,
              const std::vector<std::string>& label_values, double value);
  void sample(std::string_view name, double value) { sample(name, {}, {}, value); }
  void histogram_samples(std::string_view name, const std::vector<std::string>& label_names,
                         const std::vector<std::string>& label_values, const histogram::snapshot& h);
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Owns the metrics of one process and renders them. Register everything at
// start (registration is not meant for hot paths); update from any thread.
class registry {
 public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  counter& add_counter(std::string name, std::string help);
  gauge& add_gauge(std::string name, std::string help);
  histogram& add_histogram(std::string name, std::string help, std::vector<double> upper_bounds);
  family<counter>& add_counter_family(std::string name, std::string help,
                                      std::vector<std::string> label_names, std::size_t series_max);
  family<histogram>& add_histogram_family(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> upper_bounds, std::size_t series_max);
  // Values that live elsewhere (a component's stats()), read at each scrape.
  void add_gauge_fn(std::string name, std::string help, std::function<double()> read);
  void add_counter_fn(std::string name, std::string help, std::function<double()> read);
  // A labelled family read at each scrape: `read` returns (label values,
  // value) pairs; at most series_max of them are written.
  using labelled_values = std::vector<std::pair<std::vector<std::string>, double>>;
  void add_counter_family_fn(std::string name, std::string help, std::vector<std::string> label_names,
                             std::size_t series_max, std::function<labelled_values()> read);
  void add_gauge_family_fn(std::string name, std::string help, std::vector<std::string> label_names,
                           std::size_t series_max, std::function<labelled_values()> read);

  // The whole exposition, metrics in registration order.
  std::string expose() const;

 private:
  struct entry;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<entry>> entries_;
  entry& add(std::string name, std::string help);
  void add_family_fn(writer::type kind, std::string name, std::string help, std::vector<std::string> label_names,
                     std::size_t series_max, std::function<labelled_values()> read);
};

// The content type of expose()'s text.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace stockgrid::metrics
