// Tenants and keys across a cluster: the node's side of auth/replication.hpp.
// One thread per node publishes the local table to the other members
// (through grid::publish_auth) and merges theirs into the local key store;
// the authenticator's reload (auth/authenticator.hpp, every second) then
// picks the merged keys, revocations and suspensions up. A key created
// through one node thus works at every node, and a revocation reaches every
// node, within a few seconds.
//
// Two pieces, because the grid must know where peer tables go before it
// opens, while the key store is opened after the grid:
//  - auth_inbox: the tables received and not yet merged, the latest one per
//    member (a newer table replaces an older one: each is the member's whole
//    table). Made before the grid; its offer() is what on_peer_auth calls,
//    on the cluster actor's thread, so it only stores the bytes and wakes
//    the thread.
//  - auth_sync: the thread. Every `interval_ms` it reads the local table and
//    publishes it if its bytes changed since the last publish (or every
//    `republish_ms` anyway, for a member that missed one); whenever the
//    inbox has tables it decodes and merges them. Bytes that do not decode
//    are refused and logged; merges that changed something are logged.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/key_store.hpp"
#include "config/limits.hpp"

namespace stockgrid::app {

class auth_inbox {
 public:
  // At most `members_max` members' tables wait at once.
  explicit auth_inbox(std::size_t members_max = limits::cluster_members_max) : members_max_(members_max) {}

  // Keeps `bytes` as `member`'s latest table, replacing one not merged yet,
  // and wakes the merging thread. Refused (false) when `members_max` other
  // members' tables are waiting: a member beyond the cluster's size is a
  // bug elsewhere, and that member sends its table again later. Any thread;
  // never blocks on I/O.
  bool offer(const std::string& member, std::string bytes);

  // Waits until a table waits, `timeout` passes or `stop` is requested, and
  // takes every waiting table (member, bytes).
  std::vector<std::pair<std::string, std::string>> take(std::stop_token stop, std::chrono::milliseconds timeout);

 private:
  const std::size_t members_max_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::map<std::string, std::string> waiting_;
};

struct auth_sync_settings {
  // How often the local table is read and, if changed, published.
  std::int64_t interval_ms = 1000;
  // A table unchanged for this long is published again anyway.
  std::int64_t republish_ms = 10'000;
};

class auth_sync {
 public:
  using publish_fn = std::function<void(std::string bytes)>;
  // A tenant a member's table marked deleting here (`removed` false), or
  // whose tombstone removed it from the store (true: deleted there): the
  // node refuses it, and forgets what else it keeps of it once removed.
  // Called on the sync thread; may block.
  using removed_fn = std::function<void(const std::string& tenant, bool removed)>;

  // Starts the thread: it publishes the local table at once. `store`,
  // `inbox` and whatever `publish` and `removed` call must outlive this
  // object.
  auth_sync(auth::key_store& store, auth_inbox& inbox, publish_fn publish, removed_fn removed = {},
            auth_sync_settings settings = {});
  // Stops and joins the thread (a merge in progress finishes first).
  ~auth_sync();
  auth_sync(const auth_sync&) = delete;
  auth_sync& operator=(const auth_sync&) = delete;

  // The inbox's offer(): a member's table, to be merged by the thread.
  bool offer(const std::string& member, std::string bytes) { return inbox_.offer(member, std::move(bytes)); }

 private:
  void run(std::stop_token stop);
  void publish_if_due();
  void merge_from(const std::string& member, const std::string& bytes);

  auth::key_store& store_;
  auth_inbox& inbox_;
  publish_fn publish_;
  removed_fn removed_;
  auth_sync_settings settings_;
  // Used by the thread only.
  std::string published_;
  std::chrono::steady_clock::time_point published_at_{};
  bool published_once_ = false;
  std::jthread thread_;  // last: stopped and joined before the rest goes
};

}  // namespace stockgrid::app
