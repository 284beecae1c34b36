#include "cluster/placement.hpp"

#include <algorithm>
#include <numeric>

namespace stockgrid::cluster {

namespace {

// FNV-1a 64, fed bytes, strings (each ended by a zero byte) and 32-bit
// numbers (little endian); finished by splitmix64's finalizer: FNV alone
// leaves the high bits of ids that share a long prefix (node-1, node-2) too
// alike.
struct fnv64 {
  std::uint64_t h = 14695981039346656037ull;
  void byte(unsigned char b) {
    h ^= b;
    h *= 1099511628211ull;
  }
  void text(std::string_view s) {
    for (char c : s) byte(static_cast<unsigned char>(c));
    byte(0);
  }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(static_cast<unsigned char>(v >> (8 * i)));
  }
  std::uint64_t finish() const {
    std::uint64_t x = h;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
  }
};

}  // namespace

std::uint64_t score(std::string_view member_id, std::uint32_t partition) {
  fnv64 f;
  f.text(member_id);
  f.u32(partition);
  return f.finish();
}

std::uint64_t fingerprint(const placement& table) {
  fnv64 f;
  f.u32(static_cast<std::uint32_t>(table.members.size()));
  for (const auto& m : table.members) f.text(m);
  f.u32(static_cast<std::uint32_t>(table.replicas.size()));
  f.u32(table.replication_factor);
  return f.finish();
}

std::vector<std::uint32_t> replicas_of(std::uint32_t partition, const std::vector<std::string>& member_ids,
                                       std::uint32_t replication_factor) {
  std::vector<std::uint32_t> order(member_ids.size());
  std::iota(order.begin(), order.end(), 0u);
  std::vector<std::uint64_t> scores(member_ids.size());
  for (std::size_t i = 0; i < member_ids.size(); ++i) scores[i] = score(member_ids[i], partition);
  const auto n = std::min<std::size_t>(replication_factor, member_ids.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](std::uint32_t a, std::uint32_t b) {
                      if (scores[a] != scores[b]) return scores[a] > scores[b];
                      return member_ids[a] < member_ids[b];
                    });
  order.resize(n);
  return order;
}

bool placement::holds(std::uint32_t p, std::uint32_t member) const {
  if (p >= replicas.size()) return false;
  const auto& r = replicas[p];
  return std::find(r.begin(), r.end(), member) != r.end();
}

std::vector<std::uint32_t> placement::preferred_by(std::uint32_t member) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t p = 0; p < replicas.size(); ++p)
    if (!replicas[p].empty() && replicas[p].front() == member) out.push_back(p);
  return out;
}

std::uint32_t home_partition(std::string_view tenant, std::uint32_t partitions) {
  std::uint32_t h = 2166136261u;  // FNV-1a 32
  for (char c : tenant) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h % partitions;
}

bool valid_member_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

placement place(std::vector<std::string> member_ids, std::uint32_t partitions,
                std::uint32_t replication_factor, std::string* error) {
  placement out;
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return placement{};
  };
  if (member_ids.empty()) return fail("a cluster needs at least one member");
  if (partitions == 0) return fail("a cluster needs at least one partition");
  if (replication_factor == 0) return fail("the replication factor must be at least 1");
  for (const auto& id : member_ids)
    if (!valid_member_id(id)) return fail("bad member id '" + id + "': 1..64 bytes of [A-Za-z0-9._:-]");
  std::sort(member_ids.begin(), member_ids.end());
  if (auto dup = std::adjacent_find(member_ids.begin(), member_ids.end()); dup != member_ids.end())
    return fail("member id '" + *dup + "' appears twice");
  out.replication_factor = std::min<std::uint32_t>(replication_factor, static_cast<std::uint32_t>(member_ids.size()));
  out.replicas.reserve(partitions);
  for (std::uint32_t p = 0; p < partitions; ++p)
    out.replicas.push_back(replicas_of(p, member_ids, out.replication_factor));
  out.members = std::move(member_ids);
  return out;
}

}  // namespace stockgrid::cluster
