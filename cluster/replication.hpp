// The rules of a partition's replication, as plain functions the cluster
// actor (actors/cluster_actor.cpp) applies: who may vote for whom, when an
// entry counts as committed, how long a leader's lease lasts, and where a
// follower's journal stops agreeing with its leader's. docs/cluster.md tells
// the whole protocol; this header is its arithmetic.
//
// The protocol is Raft's with leader leases, per partition: epochs are
// Raft's terms, journal seqs its log indexes (with gaps: a seq is never
// reused, so a leader's seqs are not dense), the partition's replicas (from
// placement.hpp) its voters.
#pragma once

#include <compare>
#include <cstdint>
#include <vector>

namespace stockgrid::cluster {

// Where a journal ends: its last entry's epoch and seq. Journals compare by
// epoch first: an entry written by a later leader outranks any number of
// entries of an earlier one.
struct log_position {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  friend auto operator<=>(const log_position&, const log_position&) = default;
};

// The votes needed among `replicas`: a strict majority.
constexpr std::size_t majority(std::size_t replicas) { return replicas / 2 + 1; }

// Whether a replica grants its vote for `epoch` to a candidate whose journal
// ends at `candidate`. It must not have voted in that epoch or a later one
// (a vote durably raises its epoch, so `my_epoch` says it), the candidate's
// journal must hold at least what its own holds (so every committed entry
// survives the election), and it must not have heard a live leader within
// the failure timeout (a leader's lease counts on that promise). A `blank`
// replica (its copy started empty and has not caught up with a serving
// leader since: it may have lost entries it acknowledged) votes only for a
// candidate whose journal is empty too, so it never elects one that lacks
// a committed entry.
bool grants_vote(std::uint64_t my_epoch, log_position mine, std::uint64_t epoch, log_position candidate,
                 bool heard_leader_recently, bool blank = false);

// When a partition's replicas stand after losing its leader: they go one
// after another, `failure_timeout / 4` apart, in the order of their rank
// (0 = preferred) among the replicas other than the lost leader (whose rank
// is `leader_rank`, or negative when none was known), so the best survivor
// stands as soon as the leader is lost and one election usually settles
// it. Returns the standing turn: 0 first.
std::uint32_t standing_turn(std::uint32_t rank, std::int64_t leader_rank);

// The highest seq held by a majority of `replicas` (the leader's own last
// seq among `held`, one per replica that answered; missing ones count as 0).
// Only seqs at or above `epoch_start` (the leader's first entry in its own
// epoch) may commit: an older entry commits through a newer one after it
// (Raft's rule, so no entry a later leader might drop is counted as
// committed). Returns 0 when nothing new commits.
std::uint64_t commit_point(std::vector<std::uint64_t> held, std::size_t replicas, std::uint64_t epoch_start);

// Until when (monotonic ms) the leader may answer: from `acked_sent_ms`, the
// send times (its own clock) of the latest message each replica answered
// in this epoch, its own counted as `now_ms`, the majority-th latest plus
// `lease_ms`. A replica promises not to vote for anyone for the failure
// timeout after it heard the leader, which is after the send; lease_ms is
// shorter than that timeout, so the lease ends before any other leader can
// be elected, with margin for clock rate drift. -1 when no majority answered.
std::int64_t lease_end(std::vector<std::int64_t> acked_sent_ms, std::int64_t now_ms, std::size_t replicas,
                       std::int64_t lease_ms);

// The epochs a leader's journal went through: for each, its first seq, in
// increasing order of both. Where a follower whose journal ends at `theirs`
// must cut its journal so that what remains agrees with the leader's: the
// seq below theirs.seq after which every entry of the leader is of an epoch
// later than theirs.epoch. Entries up to that point of the follower's came
// from leaders of epochs up to theirs.epoch, each of which also wrote them in
// the leader's journal when they agree; when they do not, the follower
// reports its new end and the leader cuts again, lower (the cut strictly
// decreases, so it ends).
// What a leader can tell of a follower whose journal ends at `theirs`, when
// its own compaction deleted every entry up to `compacted` (the last entry
// it deleted; (0, 0) when none):
// - agrees: theirs ends at that very entry (one entry per epoch and seq, so
//   it is ours), or both journals are empty: ship what follows;
// - check_entry: theirs ends above it, where our journal still says whether
//   it holds that entry;
// - unverifiable: theirs ends at or below an entry we deleted and is not
//   it: we can neither compare nor ship what it lacks. That copy needs a
//   rebuild (docs/cluster.md); nothing may be shipped onto it.
enum class agreement { agrees, check_entry, unverifiable };
agreement check_agreement(log_position theirs, log_position compacted);

struct epoch_start {
  std::uint64_t epoch = 0;
  std::uint64_t first_seq = 0;
};
std::uint64_t truncation_point(const std::vector<epoch_start>& history, log_position theirs);

}  // namespace stockgrid::cluster
