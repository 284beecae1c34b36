#include "config/settings.hpp"

#include <algorithm>
#include <sstream>
#include <thread>
#include <type_traits>

#include "cluster/endpoints.hpp"
#include "config/keys.hpp"

namespace stockgrid::config {

std::string to_string(durability_mode mode) {
  switch (mode) {
    case durability_mode::sync:
      return "sync";
    case durability_mode::batched:
      return "batched";
  }
  return "unknown";  // only reachable through a cast from a bad integer
}

std::optional<durability_mode> parse_durability_mode(std::string_view text) {
  if (text == "sync") return durability_mode::sync;
  if (text == "batched") return durability_mode::batched;
  return std::nullopt;
}

std::uint32_t node_settings::scheduler_threads_resolved() const {
  if (scheduler_threads != 0) return scheduler_threads;
  // hardware_concurrency() may return 0 when it cannot tell.
  return std::max(1u, std::thread::hardware_concurrency());
}

quota_settings::tenant_rate quota_settings::for_tenant(std::uint32_t own_rate_per_second,
                                                      std::uint32_t own_burst) const {
  tenant_rate r{own_rate_per_second != 0 ? own_rate_per_second : rate_per_second, own_burst};
  if (r.burst == 0) {
    const std::uint64_t scaled = std::uint64_t{rate_burst} * r.rate_per_second / rate_per_second;
    r.burst = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(scaled, 1, limits::tenant_rate_burst_max));
  }
  return r;
}

namespace {

// Appends one problem line per setting that breaks its own bounds.
struct bounds_checker {
  std::ostringstream& problems;

  template <class T>
  void operator()(const key_info& info, const T& value, const bounds<T>& range) const {
    if (value < range.min || value > range.max) {
      problems << info.key << " = " << +value << " is outside [" << +range.min << ", "
               << +range.max << "]\n";
    }
  }

  void operator()(const key_info&, const std::string&, may_be_empty) const {}
  void operator()(const key_info& info, const std::string& value, unbounded) const {
    if (value.empty()) problems << info.key << " must not be empty\n";
  }

  void operator()(const key_info& info, durability_mode value, unbounded) const {
    if (!parse_durability_mode(to_string(value))) {
      problems << info.key << " has no valid value (expected sync or batched)\n";
    }
  }
};

// Appends `key = value` lines, with a `# component` heading whenever the
// component changes, in a form the config-file loader reads back.
struct setting_printer {
  std::ostringstream& out;
  std::string_view component = {};

  void heading(const key_info& info) {
    if (info.component == component) return;
    if (!component.empty()) out << '\n';
    component = info.component;
    out << "# " << component << '\n';
  }

  template <class T>
  void operator()(const key_info& info, const T& value, const bounds<T>&) {
    heading(info);
    out << info.key << " = " << +value << '\n';
  }

  void operator()(const key_info& info, const std::string& value, unbounded) {
    heading(info);
    out << info.key << " = \"" << value << "\"\n";
  }

  void operator()(const key_info& info, durability_mode value, unbounded) {
    heading(info);
    out << info.key << " = \"" << to_string(value) << "\"\n";
  }
};

}  // namespace

std::string settings::validate() const {
  std::ostringstream problems;
  for_each_setting(*this, bounds_checker{problems});

  // Rules that tie two keys together.
  if (holds.default_ttl_ms > holds.max_ttl_ms) {
    problems << "hold-default-ttl-ms = " << holds.default_ttl_ms
             << " exceeds hold-max-ttl-ms = " << holds.max_ttl_ms << '\n';
  }

  std::vector<cluster::endpoint> peers;
  std::string why;
  if (!cluster::parse_endpoints(cluster.join, limits::cluster_members_max - 1, &peers, &why)) {
    problems << "join: " << why << '\n';
  } else if (!cluster.cluster_advertise.empty()) {
    cluster::endpoint self;
    if (!cluster::parse_endpoint(cluster.cluster_advertise, &self, &why))
      problems << "cluster-advertise: " << why << '\n';
  }
  for (const auto& peer : peers)
    if (peer.id() == cluster.member_id())
      problems << "join lists this node itself (" << peer.id() << "): list only the others\n";
  // TLS takes all three files (CAF's OpenSSL module would otherwise run
  // with a part of them, or fail at the first connection).
  const bool any_tls = !cluster.tls_certificate.empty() || !cluster.tls_key.empty() || !cluster.tls_ca.empty();
  for (const auto& [key, value] : {std::pair{"tls-certificate", &cluster.tls_certificate},
                                   std::pair{"tls-key", &cluster.tls_key}, std::pair{"tls-ca", &cluster.tls_ca}})
    if (any_tls && value->empty())
      problems << key << " is empty: TLS between nodes needs tls-certificate, tls-key and tls-ca\n";
  if (cluster.failure_timeout_ms < 4 * cluster.heartbeat_interval_ms) {
    problems << "failure-timeout-ms = " << cluster.failure_timeout_ms
             << " is less than 4 heartbeat-interval-ms (" << cluster.heartbeat_interval_ms << ")\n";
  }

  std::string text = problems.str();
  if (!text.empty()) text.pop_back();  // no trailing newline after the last line
  return text;
}

std::string cluster_settings::member_id() const {
  return cluster_advertise.empty() ? cluster_bind + ":" + std::to_string(cluster_port) : cluster_advertise;
}

std::string to_string(const settings& s) {
  std::ostringstream out;
  setting_printer printer{out};
  for_each_setting(s, printer);
  return out.str();
}

}  // namespace stockgrid::config
