#include "metrics/metrics.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <variant>

namespace stockgrid::metrics {

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) {
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.upper_bounds = bounds_;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

std::vector<double> power_of_two_buckets(double max) {
  std::vector<double> b;
  for (double v = 1; v <= max; v *= 2) b.push_back(v);
  return b;
}

namespace {

// Label values escape backslash, double quote and newline; HELP text escapes
// backslash and newline (the format's rules).
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    out += std::to_string(static_cast<long long>(v));
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out += buf;
  }
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

}  // namespace

void writer::header(std::string_view name, std::string_view help, type t) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += t == type::counter ? " counter\n" : t == type::gauge ? " gauge\n" : " histogram\n";
}

void writer::sample(std::string_view name, const std::vector<std::string>& label_names,
                    const std::vector<std::string>& label_values, double value) {
  out_ += name;
  append_labels(out_, label_names, label_values);
  out_ += ' ';
  append_number(out_, value);
  out_ += '\n';
}

void writer::histogram_samples(std::string_view name, const std::vector<std::string>& label_names,
                               const std::vector<std::string>& label_values, const histogram::snapshot& h) {
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
    std::string le;
    if (i < h.upper_bounds.size()) {
      append_number(le, h.upper_bounds[i]);
    } else {
      le = "+Inf";
    }
    out_ += bucket;
    append_labels(out_, label_names, label_values, le);
    out_ += ' ';
    append_number(out_, static_cast<double>(h.cumulative[i]));
    out_ += '\n';
  }
  sample(std::string(name) + "_sum", label_names, label_values, h.sum);
  sample(std::string(name) + "_count", label_names, label_values, static_cast<double>(h.count));
}

// One registered metric name and where its values come from.
struct registry::entry {
  std::string name;
  std::string help;
  writer::type kind = writer::type::gauge;
  std::vector<std::string> label_names;
  std::size_t series_max = 0;
  std::variant<std::monostate, std::unique_ptr<counter>, std::unique_ptr<gauge>, std::unique_ptr<histogram>,
               std::unique_ptr<family<counter>>, std::unique_ptr<family<histogram>>,
               std::function<double()>, std::function<labelled_values()>>
      source;
};

registry::registry() = default;
registry::~registry() = default;

registry::entry& registry::add(std::string name, std::string help) {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) assert(e->name != name);
  entries_.push_back(std::make_unique<entry>());
  entries_.back()->name = std::move(name);
  entries_.back()->help = std::move(help);
  return *entries_.back();
}

counter& registry::add_counter(std::string name, std::string help) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::counter;
  return *e.source.emplace<std::unique_ptr<counter>>(std::make_unique<counter>());
}

gauge& registry::add_gauge(std::string name, std::string help) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::gauge;
  return *e.source.emplace<std::unique_ptr<gauge>>(std::make_unique<gauge>());
}

histogram& registry::add_histogram(std::string name, std::string help, std::vector<double> upper_bounds) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::histogram;
  return *e.source.emplace<std::unique_ptr<histogram>>(std::make_unique<histogram>(std::move(upper_bounds)));
}

family<counter>& registry::add_counter_family(std::string name, std::string help,
                                              std::vector<std::string> label_names, std::size_t series_max) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::counter;
  return *e.source.emplace<std::unique_ptr<family<counter>>>(std::make_unique<family<counter>>(
      std::move(label_names), series_max, [] { return std::make_unique<counter>(); }));
}

family<histogram>& registry::add_histogram_family(std::string name, std::string help,
                                                  std::vector<std::string> label_names,
                                                  std::vector<double> upper_bounds, std::size_t series_max) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::histogram;
  return *e.source.emplace<std::unique_ptr<family<histogram>>>(std::make_unique<family<histogram>>(
      std::move(label_names), series_max,
      [bounds = std::move(upper_bounds)] { return std::make_unique<histogram>(bounds); }));
}

void registry::add_gauge_fn(std::string name, std::string help, std::function<double()> read) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::gauge;
  e.source = std::move(read);
}

void registry::add_counter_fn(std::string name, std::string help, std::function<double()> read) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = writer::type::counter;
  e.source = std::move(read);
}

void registry::add_counter_family_fn(std::string name, std::string help, std::vector<std::string> label_names,
                                     std::size_t series_max, std::function<labelled_values()> read) {
  add_family_fn(writer::type::counter, std::move(name), std::move(help), std::move(label_names), series_max,
                std::move(read));
}

void registry::add_gauge_family_fn(std::string name, std::string help, std::vector<std::string> label_names,
                                   std::size_t series_max, std::function<labelled_values()> read) {
  add_family_fn(writer::type::gauge, std::move(name), std::move(help), std::move(label_names), series_max,
                std::move(read));
}

void registry::add_family_fn(writer::type kind, std::string name, std::string help,
                             std::vector<std::string> label_names, std::size_t series_max,
                             std::function<labelled_values()> read) {
  auto& e = add(std::move(name), std::move(help));
  e.kind = kind;
  e.label_names = std::move(label_names);
  e.series_max = series_max;
  e.source = std::move(read);
}

std::string registry::expose() const {
  writer w;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    w.header(e->name, e->help, e->kind);
    std::visit(
        [&](const auto& src) {
          using T = std::decay_t<decltype(src)>;
          if constexpr (std::is_same_v<T, std::unique_ptr<counter>>) {
            w.sample(e->name, static_cast<double>(src->value()));
          } else if constexpr (std::is_same_v<T, std::unique_ptr<gauge>>) {
            w.sample(e->name, src->value());
          } else if constexpr (std::is_same_v<T, std::unique_ptr<histogram>>) {
            w.histogram_samples(e->name, {}, {}, src->read());
          } else if constexpr (std::is_same_v<T, std::unique_ptr<family<counter>>>) {
            src->each([&](const std::vector<std::string>& values, const counter& c) {
              w.sample(e->name, src->label_names(), values, static_cast<double>(c.value()));
            });
          } else if constexpr (std::is_same_v<T, std::unique_ptr<family<histogram>>>) {
            src->each([&](const std::vector<std::string>& values, const histogram& h) {
              w.histogram_samples(e->name, src->label_names(), values, h.read());
            });
          } else if constexpr (std::is_same_v<T, std::function<double()>>) {
            w.sample(e->name, src());
          } else if constexpr (std::is_same_v<T, std::function<labelled_values()>>) {
            auto values = src();
            if (values.size() > e->series_max) values.resize(e->series_max);
            for (const auto& [labels, v] : values) w.sample(e->name, e->label_names, labels, v);
          }
        },
        e->source);
  }
  return w.take();
}

}  // namespace stockgrid::metrics
