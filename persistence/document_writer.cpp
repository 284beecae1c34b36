#include "persistence/document_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>

namespace stockgrid::persistence {

namespace {

// Server time, stamped on documents and compared with updated_ms by prune.
epoch_ms wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Intervals (fsync, prune) on a clock that a wall-clock step cannot stall.
std::int64_t steady_ms() {
  using namespace std::chrono;
  // At least 1: 0 means "none" in the writer's fields.
  return std::max<std::int64_t>(1, duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// The writer also wakes this often with nothing to do, so a long interval
// never depends on one long sleep.
constexpr std::int64_t idle_wake_ms_max = 1000;

// Options out of their bounds are a programmer error: stop the process.
void check_options(const document_writer_options& o) {
  const bool ok = o.fsync_interval_ms >= 1 && o.queue_max >= 1 && o.batch_max >= 1 &&
                  o.batch_max <= o.queue_max && o.retention_ms >= 0 && o.prune_interval_ms >= 1 &&
                  o.probe_interval_ms >= 1;
  if (ok) return;
  std::fprintf(stderr, "document_writer: options out of bounds\n");
  std::abort();
}

}  // namespace

document_writer::document_writer(std::unique_ptr<document_store> store, document_writer_options o)
    : opt_(o), store_(std::move(store)) {
  check_options(opt_);
  last_prune_ms_ = steady_ms();
  thread_ = std::thread([this] { run(); });
}

document_writer::~document_writer() { stop(); }

void document_writer::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// ---- the callers' side -------------------------------------------------------

bool document_writer::enqueue(job&& j) {
  std::unique_lock lk(mu_);
  if (stopping_ || queue_.size() >= opt_.queue_max) return false;
  queue_.push_back(std::move(j));
  queued_.fetch_add(1, std::memory_order_relaxed);
  lk.unlock();
  cv_.notify_one();
  return true;
}

bool document_writer::put(document d, put_done done) {
  if (d.updated_ms == 0) d.updated_ms = wall_ms();
  return enqueue(job{job_kind::put, std::move(d), std::move(done), {}});
}

bool document_writer::get(document_kind k, std::string tenant, std::string id, read_done done) {
  return enqueue_read(job_kind::get, k, std::move(tenant), std::move(id), std::move(done));
}

bool document_writer::find_idem(document_kind k, std::string tenant, std::string idem, read_done done) {
  return enqueue_read(job_kind::find_idem, k, std::move(tenant), std::move(idem), std::move(done));
}

bool document_writer::enqueue_read(job_kind what, document_kind k, std::string tenant, std::string key,
                                   read_done done) {
  job j{what, {}, {}, std::move(done)};
  j.doc.kind = k;
  j.doc.tenant = std::move(tenant);
  (what == job_kind::get ? j.doc.id : j.doc.idem) = std::move(key);
  return enqueue(std::move(j));
}

status document_writer::list_open(std::vector<document>* out) {
  std::lock_guard lk(store_mu_);
  return store_->list_open(out);
}

status document_writer::lease_ids(std::uint64_t count, std::uint64_t* first) {
  std::lock_guard lk(store_mu_);
  return store_->lease_ids(count, first);
}

status document_writer::delete_tenant(const std::string& tenant, std::uint64_t* removed) {
  // A read runs after every earlier put is committed: wait for one, so no
  // put queued before this call lands after the delete.
  std::promise<void> committed;
  if (!get(document_kind::tenant_settings, tenant, "settings", [&](const status&, std::optional<document>) {
        committed.set_value();
      }))
    return status::io_error(store_->name() + ": document writer stopped or full");
  committed.get_future().wait();
  std::lock_guard lk(store_mu_);
  return store_->delete_tenant(tenant, removed);
}

// ---- the writer thread -------------------------------------------------------

void document_writer::run() {
  std::deque<job> work;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lk(mu_);
      if (queue_.empty() && !stopping_) {
        const auto now = steady_ms();
        const auto wait = std::clamp<std::int64_t>(next_wake(now) - now, 1, idle_wake_ms_max);
        cv_.wait_for(lk, std::chrono::milliseconds(wait), [&] { return !queue_.empty() || stopping_; });
      }
      work.swap(queue_);
      stopping = stopping_;
    }
    queued_.fetch_sub(work.size(), std::memory_order_relaxed);
    process(work);
    work.clear();
    housekeeping(steady_ms(), stopping);
    // Once stopping_ is set nothing more is queued, so this pass took the rest.
    if (stopping) break;
  }
}

void document_writer::process(std::deque<job>& work) {
  for (job& j : work) {
    if (j.kind != job_kind::put) {
      commit_batch();  // the read sees every earlier put
      serve_read(j);
      continue;
    }
    // A document breaking a limit fails alone instead of failing its batch.
    status refused = health_ ? check_document(j.doc) : health_;
    if (refused) batch_.push_back(std::move(j.doc));
    batch_done_.emplace_back(std::move(j.written), std::move(refused));
    if (batch_.size() >= opt_.batch_max) commit_batch();
  }
  commit_batch();
}

void document_writer::commit_batch() {
  if (batch_done_.empty()) return;
  status st;
  if (!batch_.empty()) {
    {
      std::lock_guard lk(store_mu_);
      st = store_->put(batch_, opt_.sync);
    }
    if (!st) failed(st);  // callers learn it and keep what they hold in memory to themselves
    if (st && !opt_.sync && unsynced_since_ == 0) unsynced_since_ = steady_ms();
  }
  for (auto& [done, refused] : batch_done_)
    if (done) done(refused ? st : refused);
  batch_done_.clear();
  batch_.clear();
}

void document_writer::serve_read(job& j) {
  std::optional<document> found;
  status st;
  {
    std::lock_guard lk(store_mu_);
    st = j.kind == job_kind::get ? store_->get(j.doc.kind, j.doc.tenant, j.doc.id, &found)
                                 : store_->find_idem(j.doc.kind, j.doc.tenant, j.doc.idem, &found);
  }
  if (j.read) j.read(st, std::move(found));
}

// The batched mode's fsync (due fsync_interval_ms after the oldest unsynced
// put was written, and on stop: a clean stop leaves everything on stable
// storage), then the periodic prune.
void document_writer::housekeeping(std::int64_t now, bool stopping) {
  if (unsynced_since_ != 0 && (stopping || now - unsynced_since_ >= opt_.fsync_interval_ms)) {
    std::lock_guard lk(store_mu_);
    if (status st = store_->sync(); !st) failed(st);
    unsynced_since_ = 0;
  }
  // A full or failing disk may heal: the first probe that writes makes puts
  // work again (coordinators retry the puts that failed). A damaged file
  // does not.
  if (!health_ && !stopping && health_.kind() != status::code::corruption && now >= next_probe_ms_) {
    std::lock_guard lk(store_mu_);
    std::uint64_t unused = 0;
    if (store_->lease_ids(1, &unused))
      health_ = status::ok();
    else
      next_probe_ms_ = now + opt_.probe_interval_ms;
  }
  if (stopping || !health_ || now - last_prune_ms_ < opt_.prune_interval_ms) return;
  last_prune_ms_ = now;
  std::uint64_t removed = 0;
  std::lock_guard lk(store_mu_);
  if (status st = store_->prune(wall_ms() - opt_.retention_ms, &removed); !st) failed(st);
}

void document_writer::failed(const status& st) {
  if (!health_) return;
  health_ = st;
  next_probe_ms_ = steady_ms() + opt_.probe_interval_ms;
}

std::int64_t document_writer::next_wake(std::int64_t now) const {
  std::int64_t wake = last_prune_ms_ + opt_.prune_interval_ms;
  if (unsynced_since_ != 0) wake = std::min(wake, unsynced_since_ + opt_.fsync_interval_ms);
  if (!health_) wake = std::min(wake, next_probe_ms_);
  return std::max(wake, now);
}

}  // namespace stockgrid::persistence
