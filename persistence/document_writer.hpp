// The document writer: one background thread that owns a document store
// (document_store.hpp) once a node runs. It group-commits queued puts (up to
// batch_max in one store transaction), answers each once it is durable as the
// mode promises, serves reads in queue order, fsyncs in batched mode and
// prunes final documents past the retention window.
//
// Order: everything queued is processed in the order it was queued; a read
// sees every put queued before it (the puts before a read are committed
// before the read runs, so reads interleaved with puts cut batches short).
// Callbacks run on the writer thread: keep them short (post a message).
//
// Failure: once a store write or fsync fails, memory may be ahead of disk,
// so every later put is answered with that error; reads are still served.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "persistence/document_store.hpp"

namespace stockgrid::persistence {

struct document_writer_options {
  bool sync = true;                        // durability `sync` (else `batched`)
  std::int64_t fsync_interval_ms = 1000;   // batched: a put is fsynced at most this long after it is written; >= 1
  std::size_t queue_max = 65536;           // jobs queued (puts and reads); >= 1
  std::size_t batch_max = 1024;            // puts per transaction; 1 .. queue_max
  std::int64_t retention_ms = 86'400'000;  // final documents kept this long after their last put; >= 0
  std::int64_t prune_interval_ms = 60'000; // prune this often; >= 1
  // After a failed write or fsync puts fail (with that error) until a probe
  // (a one-id lease: a small write committed with fsync) succeeds; the writer
  // tries one this often. >= 1
  std::int64_t probe_interval_ms = 1000;
};

class document_writer {
 public:
  using put_done = std::function<void(const status&)>;
  using read_done = std::function<void(const status&, std::optional<document>)>;

  // Starts the thread. Options out of their bounds are a programmer error.
  document_writer(std::unique_ptr<document_store> store, document_writer_options o);
  ~document_writer();  // stop()
  document_writer(const document_writer&) = delete;
  document_writer& operator=(const document_writer&) = delete;

  // Queues a put of `d` (updated_ms 0 is stamped with the writer's clock
  // now). `done` runs once it is durable per the mode (sync: on stable
  // storage; batched: reached the OS, fsynced within fsync_interval_ms), or
  // with the error (`invalid` for a document breaking a limit, which fails
  // alone). Returns false, and never calls done, when the queue holds
  // queue_max jobs or the writer stopped.
  bool put(document d, put_done done);

  // Reads run in queue order after every earlier put (read-your-writes).
  // Return false like put().
  bool get(document_kind k, std::string tenant, std::string id, read_done done);
  bool find_idem(document_kind k, std::string tenant, std::string idem, read_done done);

  // Blocking, before start of service only (recovery): every open document.
  status list_open(std::vector<document>* out);
  // Blocking, callable from any thread: the store's lease_ids, serialized
  // with the writer thread (waits for at most the transaction in progress).
  status lease_ids(std::uint64_t count, std::uint64_t* first);

  // Blocking, from a thread that may wait (not an actor's): deletes every
  // document of `tenant` after every put queued before it, durably.
  status delete_tenant(const std::string& tenant, std::uint64_t* removed);

  // Jobs queued and not yet taken by the writer thread.
  std::size_t queued() const { return queued_.load(std::memory_order_relaxed); }

  // Finishes queued work, fsyncs, joins the thread. Idempotent.
  void stop();

 private:
  enum class job_kind : unsigned char { put, get, find_idem };
  struct job {
    job_kind kind = job_kind::put;
    document doc;  // put: the document; get: kind, tenant, id; find_idem: kind, tenant, idem
    put_done written;
    read_done read;
  };

  bool enqueue(job&& j);
  // `key` is the id (get) or the idempotency key (find_idem).
  bool enqueue_read(job_kind what, document_kind k, std::string tenant, std::string key, read_done done);
  void run();
  void process(std::deque<job>& work);
  void serve_read(job& j);
  // Commits the pending puts in one transaction and answers them.
  void commit_batch();
  // `now` and the interval fields below are on the steady clock.
  void housekeeping(std::int64_t now, bool stopping);
  std::int64_t next_wake(std::int64_t now) const;

  const document_writer_options opt_;
  std::unique_ptr<document_store> store_;
  // Held by whoever calls the store: the writer thread, list_open, lease_ids.
  std::mutex store_mu_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::atomic<std::size_t> queued_{0};
  std::thread thread_;

  // Writer thread only.
  std::vector<document> batch_;
  // The callback of every put in the batch, in queue order, with the status
  // of a put refused before the store saw it (ok for the rest).
  std::vector<std::pair<put_done, status>> batch_done_;
  // A store write or fsync failed: puts fail until a probe succeeds.
  void failed(const status& st);
  status health_;                // ok, or the failure no probe has seen end
  std::int64_t next_probe_ms_ = 0;
  std::int64_t unsynced_since_ = 0;  // batched: when the oldest unsynced put was written; 0 = none
  std::int64_t last_prune_ms_ = 0;
};

}  // namespace stockgrid::persistence
