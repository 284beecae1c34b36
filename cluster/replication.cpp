#include "cluster/replication.hpp"

#include <algorithm>
#include <functional>

namespace stockgrid::cluster {

bool grants_vote(std::uint64_t my_epoch, log_position mine, std::uint64_t epoch, log_position candidate,
                 bool heard_leader_recently, bool blank) {
  return epoch > my_epoch && candidate >= mine && !heard_leader_recently && (!blank || candidate == log_position{});
}

std::uint32_t standing_turn(std::uint32_t rank, std::int64_t leader_rank) {
  return leader_rank >= 0 && static_cast<std::uint32_t>(leader_rank) < rank ? rank - 1 : rank;
}

std::uint64_t commit_point(std::vector<std::uint64_t> held, std::size_t replicas, std::uint64_t epoch_start) {
  const auto need = majority(replicas);
  if (held.size() < need) return 0;
  std::sort(held.begin(), held.end(), std::greater<>());
  const auto seq = held[need - 1];
  return seq >= epoch_start ? seq : 0;
}

std::int64_t lease_end(std::vector<std::int64_t> acked_sent_ms, std::int64_t now_ms, std::size_t replicas,
                       std::int64_t lease_ms) {
  const auto need = majority(replicas);
  acked_sent_ms.push_back(now_ms);
  if (acked_sent_ms.size() < need) return -1;
  std::sort(acked_sent_ms.begin(), acked_sent_ms.end(), std::greater<>());
  const auto sent = acked_sent_ms[need - 1];
  return sent < 0 ? -1 : sent + lease_ms;
}

agreement check_agreement(log_position theirs, log_position compacted) {
  if (theirs == compacted) return agreement::agrees;
  return theirs.seq <= compacted.seq ? agreement::unverifiable : agreement::check_entry;
}

std::uint64_t truncation_point(const std::vector<epoch_start>& history, log_position theirs) {
  std::uint64_t cut = theirs.seq == 0 ? 0 : theirs.seq - 1;
  for (const auto& h : history)
    if (h.epoch > theirs.epoch) {
      cut = std::min(cut, h.first_seq == 0 ? 0 : h.first_seq - 1);
      break;
    }
  return cut;
}

}  // namespace stockgrid::cluster
