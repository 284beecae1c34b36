#include "app/auth_sync.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "auth/replication.hpp"

namespace stockgrid::app {

bool auth_inbox::offer(const std::string& member, std::string bytes) {
  {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(member);
    if (it != waiting_.end()) {
      it->second = std::move(bytes);
    } else {
      if (waiting_.size() >= members_max_) return false;
      waiting_.emplace(member, std::move(bytes));
    }
  }
  wake_.notify_one();
  return true;
}

std::vector<std::pair<std::string, std::string>> auth_inbox::take(std::stop_token stop,
                                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, stop, timeout, [this] { return !waiting_.empty(); });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(waiting_.size());
  for (auto& [member, bytes] : waiting_) out.emplace_back(member, std::move(bytes));
  waiting_.clear();
  return out;
}

auth_sync::auth_sync(auth::key_store& store, auth_inbox& inbox, publish_fn publish, removed_fn removed,
                     auth_sync_settings settings)
    : store_(store), inbox_(inbox), publish_(std::move(publish)), removed_(std::move(removed)), settings_(settings) {
  thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

auth_sync::~auth_sync() {
  thread_.request_stop();
  thread_.join();
}

void auth_sync::run(std::stop_token stop) {
  using clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(settings_.interval_ms);
  publish_if_due();
  auto next = clock::now() + interval;
  while (!stop.stop_requested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - clock::now());
    auto tables = inbox_.take(stop, std::max(left, std::chrono::milliseconds(0)));
    if (stop.stop_requested()) break;
    for (const auto& [member, bytes] : tables) merge_from(member, bytes);
    // What a merge changed goes out with the next publish, so members that
    // do not hear each other directly still converge.
    if (clock::now() >= next) {
      publish_if_due();
      next = clock::now() + interval;
    }
  }
}

void auth_sync::publish_if_due() {
  auth::auth_table table;
  if (auth::store_status st = auth::read_table(store_, &table); !st) {
    spdlog::warn("auth sync: cannot read the tenants and keys: {}", st.message());
    return;
  }
  std::string bytes = auth::encode(table);
  if (bytes.size() > limits::auth_table_bytes_max) {
    spdlog::error("auth sync: the tenants and keys take {} bytes, more than {}: not sent", bytes.size(),
                  limits::auth_table_bytes_max);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool changed = !published_once_ || bytes != published_;
  if (!changed && now - published_at_ < std::chrono::milliseconds(settings_.republish_ms)) return;
  published_ = bytes;
  published_at_ = now;
  published_once_ = true;
  publish_(std::move(bytes));
}

void auth_sync::merge_from(const std::string& member, const std::string& bytes) {
  auth::auth_table table;
  std::string error;
  if (!auth::decode(bytes, &table, &error)) {
    spdlog::warn("auth sync: refused the tenants and keys of {} ({} bytes): {}", member, bytes.size(), error);
    return;
  }
  auth::merge_report r;
  const auth::store_status st = auth::merge(store_, table, &r);
  if (r.changed())
    spdlog::info(
        "auth sync: merged the table of {}: {} tenants added, {} removed (deleted there), {} marked deleting, "
        "{} suspended, {} resumed, {} restamped, {} keys added, {} revoked, {} earlier times, "
        "{} keys waiting for their tenant",
        member, r.tenants_added, r.tenants_removed, r.tenants_deleting, r.tenants_suspended, r.tenants_resumed, r.statuses_restamped, r.keys_added,
        r.keys_revoked, r.times_earlier, r.keys_waiting);
  if (!st) spdlog::warn("auth sync: merging the table of {} stopped: {}", member, st.message());
  for (const auto& tenant : r.marked)
    if (removed_) removed_(tenant, false);
  for (const auto& tenant : r.removed) {
    spdlog::info("auth sync: tenant {} was deleted at another member: forgotten here too", tenant);
    if (removed_) removed_(tenant, true);
  }
}

}  // namespace stockgrid::app
