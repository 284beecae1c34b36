// Where each partition lives in a cluster: rendezvous (highest-random-weight)
// hashing over the cluster's members.
//
// Every node computes the same table from the same member list, so placement
// needs no coordinator and no stored table: partition p's replicas are the
// `replication_factor` members with the highest score(member, p), best first.
// When a member joins or leaves, only the partitions whose top scores include
// it move (about rf/n of them), which is what makes rebalancing cheap. The
// first replica is the partition's preferred leader; who actually leads is
// decided by election (epochs), among these replicas only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stockgrid::cluster {

// A member's score for a partition: FNV-1a 64 of the member id, a zero byte
// and the partition number (little endian), then a 64-bit finalizer so that
// ids differing in one character spread well. Stable across versions: it
// decides where data lives.
std::uint64_t score(std::string_view member_id, std::uint32_t partition);

// Indices into `member_ids` of partition p's replicas, best first: the
// min(replication_factor, member_ids.size()) highest scores; equal scores
// are ordered by member id. `member_ids` must not hold duplicates.
std::vector<std::uint32_t> replicas_of(std::uint32_t partition, const std::vector<std::string>& member_ids,
                                       std::uint32_t replication_factor);

// The whole table: replicas_of() for partitions 0..partitions-1.
struct placement {
  std::vector<std::string> members;                 // sorted member ids
  std::uint32_t replication_factor = 0;             // replicas per partition (≤ members)
  std::vector<std::vector<std::uint32_t>> replicas;  // per partition, indices into members

  // Whether `member` holds a copy of partition p.
  bool holds(std::uint32_t p, std::uint32_t member) const;
  // Partitions for which `member` is the first (preferred-leader) replica.
  std::vector<std::uint32_t> preferred_by(std::uint32_t member) const;
};

// A fingerprint of what decides the table: the sorted member ids, the
// partition count and the replication factor (FNV-1a 64 and the same
// finalizer as score()). Members send theirs when they connect: two nodes
// whose fingerprints differ would place partitions differently, so neither
// counts the other as a member it can talk to (docs/cluster.md, "Placement:
// why rendezvous hashing").
std::uint64_t fingerprint(const placement& table);

// Sorts and checks the members (non-empty, unique, each a valid id) and
// computes the table. replication_factor is capped at the member count.
// Returns an empty `members` and sets `error` on bad input.
placement place(std::vector<std::string> member_ids, std::uint32_t partitions,
                std::uint32_t replication_factor, std::string* error);

// The partition whose leader coordinates a tenant's orders and transfers and
// whose journal carries their documents (docs/cluster.md, "Orders and
// transfers"): the tenant name's FNV-1a 32 hash modulo the partition count,
// so every node names the same one. `partitions` must not be 0.
std::uint32_t home_partition(std::string_view tenant, std::uint32_t partitions);

// A member id: 1..64 bytes of [A-Za-z0-9._:-].
bool valid_member_id(std::string_view id);

}  // namespace stockgrid::cluster
