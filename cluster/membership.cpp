#include "cluster/membership.hpp"

#include <algorithm>

namespace stockgrid::cluster {

membership::membership(std::string self, std::vector<std::string> members, std::uint32_t partitions,
                       std::uint32_t replication_factor, std::int64_t failure_timeout_ms, std::string* error)
    : self_(std::move(self)), failure_timeout_ms_(failure_timeout_ms) {
  if (std::find(members.begin(), members.end(), self_) == members.end()) {
    *error = "this node's id '" + self_ + "' is not among the members";
    return;
  }
  table_ = place(std::move(members), partitions, replication_factor, error);
  states_.resize(table_.members.size());
}

std::size_t membership::index_of(const std::string& id) const {
  const auto it = std::lower_bound(table_.members.begin(), table_.members.end(), id);
  return it != table_.members.end() && *it == id ? static_cast<std::size_t>(it - table_.members.begin())
                                                 : table_.members.size();
}

bool membership::is_member(const std::string& id) const { return index_of(id) < table_.members.size(); }

bool membership::heard(const std::string& id, std::int64_t now_ms) {
  const auto i = index_of(id);
  if (i == table_.members.size()) return false;
  states_[i].last_heard_ms = now_ms;
  return true;
}

void membership::connected(const std::string& id, bool open) {
  const auto i = index_of(id);
  if (i == table_.members.size()) return;
  states_[i].connected = open;
  if (!open) states_[i].last_heard_ms = -1;
}

bool membership::up(const std::string& id, std::int64_t now_ms) const {
  if (id == self_) return true;
  const auto i = index_of(id);
  if (i == table_.members.size()) return false;
  const auto& s = states_[i];
  return s.connected && s.last_heard_ms >= 0 && now_ms - s.last_heard_ms <= failure_timeout_ms_;
}

std::vector<member_view> membership::members(std::int64_t now_ms) const {
  std::vector<member_view> out;
  for (std::size_t i = 0; i < table_.members.size(); ++i) {
    const auto& id = table_.members[i];
    const bool me = id == self_;
    out.push_back({id, me, up(id, now_ms), me || states_[i].connected,
                   me ? 0 : (states_[i].last_heard_ms < 0 ? -1 : now_ms - states_[i].last_heard_ms)});
  }
  return out;
}

std::vector<partition_view> membership::partitions() const {
  std::vector<partition_view> out;
  out.reserve(table_.replicas.size());
  for (std::uint32_t p = 0; p < table_.replicas.size(); ++p) {
    partition_view v;
    v.partition = p;
    for (auto i : table_.replicas[p]) v.replicas.push_back(table_.members[i]);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace stockgrid::cluster
