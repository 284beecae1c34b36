// An order or transfer document in a replicated partition journal: in a
// cluster, each tenant's documents are journaled in its home partition
// (cluster::home_partition), replicated like any change, so the member that
// leads that partition next finds every document its predecessor had
// acknowledged (docs/cluster.md, "Orders and transfers").
//
// Written like a purge (purge.hpp): a refusal of a key no request can name,
// so every reader that does not know documents (record replay, the feed)
// passes it by:
//   kind refusal, result not_found, key (tenant, "", "doc/" + id), version 0,
//   reason "document", ref = the lowercase hex of the document's bytes
//   (strings between nodes are UTF-8, cluster/wire.cpp; twice the bytes):
//     u8  document_entry_version (1)
//     u8  kind, u8 open, i64 updated_ms, u64 fingerprint   (little-endian)
//     u32 length + bytes, three times: id, idem, body
// nothing after the body. The journal's own columns (idem, fingerprint) stay
// empty: a document's idempotency key is not a record's.
//
// A copy applies the entry to its documents file when it commits it, and a
// new home reads every document entry of its journal again before it resumes
// the open ones (document_replay below). A purge entry of the tenant later in
// the journal ends its earlier documents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "persistence/document_store.hpp"
#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

inline constexpr std::uint8_t document_entry_version = 1;
// The most bytes a document entry's ref may hold, so that a journal entry
// stays a bounded string between nodes (cluster/wire.cpp): the hex of any
// document the store takes (document_body_bytes_max and its keys), so a
// document is refused in a cluster exactly where it is on one node.
inline constexpr std::size_t document_entry_bytes_max =
    2 * (document_body_bytes_max + 3 * document_key_bytes_max + 32);

// The journal entry of `d` (updated_ms as in d), or `invalid` naming the
// limit it breaks (document_store's, or document_entry_bytes_max).
status document_entry(const document& d, journal_entry* out);

// Whether `e` is a document entry (it may still not decode).
bool is_document_entry(const journal_entry& e);
// The document `e` carries; false when it is not a well-formed document entry.
bool decode_document_entry(const journal_entry& e, document* out);

// The latest document per (kind, tenant, id) of a journal read in seq order.
// A purge of a tenant forgets the tenant's earlier documents and is listed in
// purged() (so the caller deletes them from its documents file too).
class document_replay {
 public:
  // Feeds one entry; entries that are neither documents nor purges are
  // passed by. False for a document entry that does not decode (it is
  // skipped; the caller logs it).
  bool add(const journal_entry& e);
  // The documents, in (kind, tenant, id) order.
  std::vector<document> documents() const;
  // The tenants with a purge entry: the caller deletes their documents
  // from its file first, then puts documents() (only those journaled after
  // the tenant's last purge are left there).
  const std::set<std::string>& purged() const { return purged_; }
  std::size_t size() const { return docs_.size(); }

 private:
  std::map<std::tuple<document_kind, std::string, std::string>, document> docs_;
  std::set<std::string> purged_;
};

}  // namespace stockgrid::persistence
