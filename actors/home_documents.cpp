// Order and transfer documents in a cluster: journaled in the tenant's home
// partition, so that the next leader of that partition, which becomes the
// tenant's order home, finds them (docs/cluster.md, "Orders and transfers").
#include <condition_variable>
#include <mutex>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/clock.hpp"
#include "actors/coordination.hpp"
#include "cluster/placement.hpp"
#include "persistence/document_entry.hpp"

namespace stockgrid::actors {

using persistence::document;
using persistence::status;

namespace {

// Journal rows read per job of a takeover: the partition's appends run
// between two pages.
constexpr std::size_t replay_page = 2'048;
// Documents put per wait while a takeover writes them to the file.
constexpr std::size_t replay_put_chunk = 512;

// Puts every document through the writer's queue, in order, waiting for each
// chunk to be durable. Blocks: a journal thread's job only.
status put_all(persistence::document_writer& docs, const std::vector<document>& all) {
  for (std::size_t i = 0; i < all.size(); i += replay_put_chunk) {
    struct latch {
      std::mutex mu;
      std::condition_variable cv;
      std::size_t left = 0;
      status first_error;
    };
    auto l = std::make_shared<latch>();
    const auto n = std::min(replay_put_chunk, all.size() - i);
    l->left = n;
    auto one_done = [l](const status& s) {
      std::lock_guard lk(l->mu);
      if (!s && l->first_error) l->first_error = s;
      if (--l->left == 0) l->cv.notify_all();
    };
    for (std::size_t j = 0; j < n; ++j)
      if (!docs.put(all[i + j], one_done)) one_done(status::unavailable("document queue full or stopped"));
    std::unique_lock lk(l->mu);
    l->cv.wait(lk, [&] { return l->left == 0; });
    if (!l->first_error) return l->first_error;
  }
  return status::ok();
}

// A takeover's replay, carried from one page job to the next.
struct replay_job {
  coordination_context* cc = nullptr;
  home_documents out;
  persistence::document_replay replay;
  std::uint64_t after = 0;  // the last seq read
  std::size_t undecodable = 0;
};

void finish(std::shared_ptr<replay_job> job, persistence::partition_store& store);

void read_page(std::shared_ptr<replay_job> job, persistence::partition_store& store) {
  std::vector<persistence::journal_entry> rows;
  if (auto st = store.read_journal(job->after, replay_page, &rows); !st) {
    job->out.st = st;
    return caf::anon_send(job->cc->directory, home_atom::value, std::move(job->out));
  }
  for (const auto& e : rows) {
    if (!job->replay.add(e)) ++job->undecodable;
    job->after = e.seq;
  }
  if (rows.size() < replay_page) return finish(std::move(job), store);
  job->cc->node->journal->run(job->out.partition,
                              [job](persistence::partition_store& s) mutable { read_page(std::move(job), s); });
}

// Writes what the replay found to the documents file, then tells the
// directory the open documents (or why not).
status write_replay(replay_job& job) {
  auto& docs = *job.cc->docs;
  for (const auto& tenant : job.replay.purged()) {
    std::uint64_t removed = 0;
    if (auto st = docs.delete_tenant(tenant, &removed); !st) return st;
  }
  auto all = job.replay.documents();
  if (auto st = put_all(docs, all); !st) return st;
  for (auto& d : all)
    if (d.open) job.out.open.push_back(std::move(d));
  spdlog::info("partition {}: order home here: {} journaled documents read, {} open", job.out.partition, all.size(),
               job.out.open.size());
  return status::ok();
}

void finish(std::shared_ptr<replay_job> job, persistence::partition_store&) {
  if (job->undecodable > 0)
    spdlog::error("partition {}: {} journaled documents do not decode; left out", job->out.partition,
                  job->undecodable);
  job->out.st = write_replay(*job);
  caf::anon_send(job->cc->directory, home_atom::value, std::move(job->out));
}

}  // namespace

std::int64_t touch_age_ms(const coordination_context* cc) {
  return static_cast<std::int64_t>(cc->node->settings.journal.retention_ms) / 4;
}

bool put_document(coordination_context* cc, document d, persistence::document_writer::put_done done) {
  const auto& routes = cc->node->routes;
  if (!routes) return cc->docs->put(std::move(d), std::move(done));
  if (d.updated_ms == 0) d.updated_ms = now_ms();
  persistence::journal_entry e;
  if (auto st = persistence::document_entry(d, &e); !st) {
    done(st);
    return true;
  }
  const auto p = cluster::home_partition(d.tenant, static_cast<std::uint32_t>(cc->node->partitions.size()));
  auto* docs = cc->docs;
  // Once a majority holds the entry the document is stored, whatever this
  // node's file says: the put is then answered ok, after the file's put (so
  // a read here that follows sees it) or without it when the file refuses
  // (every copy writes it again when its journal commits it, and a takeover
  // from the journal). A failure before that leaves the outcome unknown: a
  // leader that lost the lead may still see its entry committed by the next.
  const auto seq = cc->node->journal->append(
      p, std::move(e), [docs, d = std::move(d), done](const status& s, const persistence::journal_entry*) mutable {
        if (!s) return done(status::unavailable("the order home lost its lead before a majority held the document: " +
                                                s.message()));
        const auto id = d.id;
        auto answered = [done, id](const status& local) {
          if (!local) spdlog::warn("document {}: journaled, but this node's documents file refused it: {}", id,
                                   local.message());
          done(status::ok());
        };
        if (!docs->put(std::move(d), answered)) answered(status::unavailable("document queue full or stopped"));
      });
  if (seq == 0)
    done(status::unavailable("this node does not lead partition " + std::to_string(p) +
                             ", the order home's partition, now"));
  return true;
}

void read_home_documents(coordination_context* cc, std::uint32_t p, std::uint64_t generation) {
  auto job = std::make_shared<replay_job>();
  job->cc = cc;
  job->out.partition = p;
  job->out.generation = generation;
  cc->node->journal->run(p, [job](persistence::partition_store& s) mutable { read_page(std::move(job), s); });
}

}  // namespace stockgrid::actors
