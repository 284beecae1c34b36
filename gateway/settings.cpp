#include "gateway/settings.hpp"

#include <algorithm>
#include <sstream>
#include <thread>

namespace stockgrid::gateway {

std::uint32_t gateway_settings::io_threads_resolved() const {
  if (io_threads != 0) return io_threads;
  // hardware_concurrency() may return 0 when it cannot tell.
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

template <class T>
void check(std::ostringstream& problems, const char* name, T value, bounds<T> range) {
  if (value < range.min || value > range.max) {
    problems << name << " = " << +value << " is outside [" << +range.min << ", " << +range.max
             << "]\n";
  }
}

}  // namespace

std::string gateway_settings::validate() const {
  std::ostringstream problems;
#define STOCKGRID_CHECK(field) check(problems, #field, field, field##_bounds)
  STOCKGRID_CHECK(io_threads);
  STOCKGRID_CHECK(frame_bytes_max);
  STOCKGRID_CHECK(in_flight_per_connection_max);
  STOCKGRID_CHECK(write_queue_max);
  STOCKGRID_CHECK(subscriptions_per_connection_max);
  STOCKGRID_CHECK(handshake_timeout_ms);
  STOCKGRID_CHECK(auth_timeout_ms);
  STOCKGRID_CHECK(auth_failures_max);
  STOCKGRID_CHECK(idle_timeout_ms);
  STOCKGRID_CHECK(close_timeout_ms);
  STOCKGRID_CHECK(connections_per_tenant_max);
  STOCKGRID_CHECK(connections_max);
  STOCKGRID_CHECK(revalidate_interval_ms);
#undef STOCKGRID_CHECK

  if (bind.empty()) problems << "bind must not be empty\n";
  // Every answer holds a slot until it is queued, so a queue that fits every
  // in-flight answer (and some immediate ones) only overflows when the client
  // stops reading.
  if (write_queue_max <= in_flight_per_connection_max) {
    problems << "write_queue_max = " << write_queue_max
             << " must exceed in_flight_per_connection_max = " << in_flight_per_connection_max
             << '\n';
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    problems << "tls_cert_file and tls_key_file must be set together\n";
  }

  std::string text = problems.str();
  if (!text.empty()) text.pop_back();  // no trailing newline after the last line
  return text;
}

}  // namespace stockgrid::gateway
