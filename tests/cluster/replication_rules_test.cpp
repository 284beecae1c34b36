// The arithmetic of a partition's replication (cluster/replication.hpp):
// votes, commit points, leases and where a diverged journal is cut.
#include <catch2/catch.hpp>

#include <set>

#include "cluster/replication.hpp"

using namespace stockgrid::cluster;

TEST_CASE("a replica votes once per epoch, for a journal at least as long, with no live leader",
          "[cluster][replication]") {
  const log_position mine{3, 100};
  CHECK(grants_vote(3, mine, 4, {3, 100}, false));
  CHECK(grants_vote(3, mine, 4, {4, 1}, false));  // a later epoch outranks more entries
  CHECK_FALSE(grants_vote(3, mine, 4, {3, 99}, false));   // shorter: might lack a committed entry
  CHECK_FALSE(grants_vote(3, mine, 4, {2, 500}, false));  // an older epoch's longer journal
  CHECK_FALSE(grants_vote(4, mine, 4, {3, 100}, false));  // already voted in epoch 4
  CHECK_FALSE(grants_vote(5, mine, 4, {3, 100}, false));
  CHECK_FALSE(grants_vote(3, mine, 4, {3, 100}, true));  // its leader is alive: the lease holds
}

TEST_CASE("a copy that started empty votes only for empty copies until it has caught up", "[cluster][replication]") {
  // A fresh cluster elects its first leaders: every copy is empty.
  CHECK(grants_vote(1, {}, 2, {}, false, true));
  // A replaced disk may have acknowledged entries it no longer holds: it
  // must not elect a survivor that might lack them.
  CHECK_FALSE(grants_vote(1, {}, 4, {3, 100}, false, true));
  CHECK(grants_vote(1, {}, 4, {3, 100}, false, false));  // once caught up, as any copy
  // Restarted halfway through its catch-up (the marker file says blank):
  // still none.
  CHECK_FALSE(grants_vote(3, {3, 40}, 4, {3, 100}, false, true));
  CHECK_FALSE(grants_vote(1, {}, 2, {}, true, true));  // and the other rules still hold
}

TEST_CASE("after a leader is lost, the best surviving replica stands first", "[cluster][replication]") {
  // Ranks 0, 1, 2. The preferred leader (0) lost: 1 goes first, then 2.
  CHECK(standing_turn(1, 0) == 0);
  CHECK(standing_turn(2, 0) == 1);
  // Rank 1 led (after an earlier failover) and is lost: 0 first, then 2.
  CHECK(standing_turn(0, 1) == 0);
  CHECK(standing_turn(2, 1) == 1);
  // Rank 2 lost: 0 then 1.
  CHECK(standing_turn(0, 2) == 0);
  CHECK(standing_turn(1, 2) == 1);
  // No leader known: by rank.
  CHECK(standing_turn(0, -1) == 0);
  CHECK(standing_turn(2, -1) == 2);
  // Never two survivors on one turn.
  for (std::int64_t lost = 0; lost < 5; ++lost) {
    std::set<std::uint32_t> turns;
    for (std::uint32_t rank = 0; rank < 5; ++rank)
      if (rank != lost) turns.insert(standing_turn(rank, lost));
    CHECK(turns == std::set<std::uint32_t>{0, 1, 2, 3});
  }
}

TEST_CASE("an entry commits when a majority holds it, in the leader's own epoch", "[cluster][replication]") {
  CHECK(majority(1) == 1);
  CHECK(majority(2) == 2);
  CHECK(majority(3) == 2);
  CHECK(majority(5) == 3);
  // Leader at 50, followers at 40 and 10: 40 is on two of three.
  CHECK(commit_point({50, 40, 10}, 3, 5) == 40);
  CHECK(commit_point({50, 10, 40}, 3, 5) == 40);
  // One follower silent (0): the other's 45 with the leader's 50.
  CHECK(commit_point({50, 0, 45}, 3, 5) == 45);
  // Nothing of the leader's epoch (it began at 41) is on a majority yet:
  // 40 is an older epoch's entry and commits only through a newer one.
  CHECK(commit_point({50, 40, 0}, 3, 41) == 0);
  CHECK(commit_point({50, 41, 0}, 3, 41) == 41);
  // Five replicas need three.
  CHECK(commit_point({90, 80, 70, 60, 50}, 5, 1) == 70);
  // A single replica commits alone.
  CHECK(commit_point({12}, 1, 1) == 12);
  // Too few answers to know.
  CHECK(commit_point({50}, 3, 1) == 0);
}

TEST_CASE("a leader's lease runs from the majority-th latest acknowledged send", "[cluster][replication]") {
  // Three replicas: the leader itself (now = 1000) and the latest of the two
  // followers' acknowledged sends.
  CHECK(lease_end({900, 700}, 1000, 3, 500) == 1400);
  CHECK(lease_end({700, 900}, 1000, 3, 500) == 1400);
  CHECK(lease_end({-1, 600}, 1000, 3, 500) == 1100);
  CHECK(lease_end({-1, -1}, 1000, 3, 500) == -1);  // nobody answered: no lease
  // Five replicas: itself and two more.
  CHECK(lease_end({900, 800, 700, -1}, 1000, 5, 500) == 1300);
  CHECK(lease_end({900, -1, -1, -1}, 1000, 5, 500) == -1);
  CHECK(lease_end({}, 1000, 1, 500) == 1500);
}

TEST_CASE("a diverged journal is cut before the first later epoch and below its end", "[cluster][replication]") {
  const std::vector<epoch_start> history{{1, 1}, {3, 50}, {4, 90}};
  // A follower whose last entry is an epoch-2 entry (a leader that lost
  // them) keeps at most what precedes epoch 3.
  CHECK(truncation_point(history, {2, 60}) == 49);
  CHECK(truncation_point(history, {2, 40}) == 39);  // and always cuts below its own end
  CHECK(truncation_point(history, {3, 70}) == 69);
  CHECK(truncation_point(history, {1, 0}) == 0);
  CHECK(truncation_point(history, {5, 95}) == 94);  // (cannot happen: no later epoch than the leader's)
  CHECK(truncation_point({}, {2, 7}) == 6);
}

TEST_CASE("a leader claims no agreement below its compaction point that it cannot check", "[cluster][replication]") {
  // Nothing compacted: empty journals agree; any other end is checked
  // against the leader's journal.
  CHECK(check_agreement({0, 0}, {0, 0}) == agreement::agrees);
  CHECK(check_agreement({2, 7}, {0, 0}) == agreement::check_entry);
  // The leader compacted up to (3, 10): a follower ending there agrees,
  // one ending above is checked entry by entry.
  CHECK(check_agreement({3, 10}, {3, 10}) == agreement::agrees);
  CHECK(check_agreement({3, 11}, {3, 10}) == agreement::check_entry);
  CHECK(check_agreement({5, 40}, {3, 10}) == agreement::check_entry);
  // At or below it and not that entry: nothing to compare with, and the
  // entries it lacks are gone.
  CHECK(check_agreement({2, 10}, {3, 10}) == agreement::unverifiable);
  CHECK(check_agreement({2, 5}, {3, 10}) == agreement::unverifiable);
  CHECK(check_agreement({3, 9}, {3, 10}) == agreement::unverifiable);
  CHECK(check_agreement({0, 0}, {3, 10}) == agreement::unverifiable);  // an empty copy cannot catch up
}
