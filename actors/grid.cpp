// The grid facade and the node's directory: key -> partition -> owner. On one
// node every partition is local; nothing outside this file assumes it.
#include "actors/grid.hpp"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <filesystem>
#include <mutex>
#include <set>
#include <tuple>
#include <fstream>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <spdlog/spdlog.h>

#include "actors/actors.hpp"
#include "actors/clock.hpp"
#include "actors/cluster.hpp"
#include "actors/cluster_state.hpp"
#include "cluster/endpoints.hpp"
#include "cluster/placement.hpp"
#include "actors/coordination.hpp"
#include "actors/replies.hpp"
#include "config/limits.hpp"
#include "domain/hex.hpp"
#include "domain/validate.hpp"
#include "persistence/document_writer.hpp"
#include "persistence/document_entry.hpp"
#include "persistence/purge.hpp"
#include "persistence/sqlite_store.hpp"

namespace stockgrid {

using namespace actors;
using persistence::journal_entry;
using persistence::status;

std::string partition_path(const std::string& data_dir, std::uint32_t p) {
  char name[32];
  std::snprintf(name, sizeof name, "p-%04u.db", p);
  return (std::filesystem::path(data_dir) / name).string();
}

struct grid::impl {
  grid_options options;
  node_context ctx;
  std::unique_ptr<persistence::journal_writer> journal;
  std::unique_ptr<persistence::document_writer> documents;  // orders, transfers, settings
  coordination_context coordination;
  caf::actor_system_config caf_config;
  std::unique_ptr<caf::actor_system> system;
  std::vector<partition_actor> partitions;
  // In a cluster: the cluster actor and what it last saw (actors/cluster.hpp).
  caf::actor cluster;
  std::shared_ptr<cluster::status_board> cluster_board;
  std::vector<std::string> members;  // sorted, as placement sees them; empty on a single node
  std::uint32_t self_member = 0;     // this node's index in `members`
  recovery_summary recovered;
  validation_limits limits;
  std::atomic<bool> accepting{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> actors_up{false};  // ctx.partitions is set and may be sent to
  // In a cluster: leads gained or lost before the order directory ran, told
  // to it once it does (cluster_routes::on_lead).
  std::mutex leads_mu;
  bool directory_up = false;  // guarded by leads_mu
  std::vector<std::pair<std::uint32_t, bool>> early_leads;  // guarded by leads_mu
};

std::uint32_t actors::partition_for(const node_context& ctx, const request& req) {
  const auto n = static_cast<std::uint32_t>(ctx.partitions.size());
  if (!targets_hold(req.kind)) return partition_of(req.key, n);
  hold_ref h;
  return parse_hold_id(req.hold, &h) && h.partition < n ? h.partition : n;
}

namespace {

std::int64_t monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool is_read(op kind) { return kind == op::get || kind == op::holds || kind == op::history; }

// stock.get with consistency "follower" on a node that holds a copy: the
// record as this copy has it, read on the partition's journal thread after
// every entry appended here before (leader or follower alike). A writer
// that is stopping drops the job: the sink then answers by itself.
void read_copy(node_context& ctx, std::uint32_t p, request&& req, reply_sink done) {
  ctx.journal->run(p, [req = std::move(req), done = answered_even_if_dropped(std::move(done), "node is stopping")](
                          persistence::partition_store& store) {
    persistence::record_image image;
    bool found = false;
    if (auto st = store.load_record(req.key, &image, &found); !st)
      return done(reply::error(outcome::internal, "cannot read the record: " + st.message()));
    if (!found) return done(reply::error(outcome::not_found, "record never stocked"));
    if (const auto& allowed = req.warehouses_allowed;
        allowed && std::find(allowed->begin(), allowed->end(), req.key.warehouse) == allowed->end())
      return done(reply::error(outcome::forbidden, "this key may not use warehouse " + req.key.warehouse));
    stock_record rec;
    rec.restore(image.on_hand, image.reserved, image.version, image.holds);
    rec.restore_policy(image.policy, image.backordered, image.incoming);
    reply r;
    r.code = outcome::ok;
    r.has_record = true;
    r.record = view_of(req.key, rec);
    done(std::move(r));
  });
}

// In a cluster: the partition's leader answers, here or on another node.
// A leader answers only within its lease; an answer that comes back after
// the lease ended is withheld (UNAVAILABLE: another leader may have taken
// over meanwhile) unless it is an acknowledged change that the journal gate
// released only once a majority held it (not one of an `ack: "leader"`
// tenant, which no majority confirmed).
void route_in_cluster(node_context& ctx, std::uint32_t p, request&& req, reply_sink done, bool forwarded) {
  auto& routes = *ctx.routes;
  const auto leader = routes.leader[p].load(std::memory_order_acquire);
  auto unavailable = [&](std::string why) {
    auto r = reply::error(outcome::unavailable, std::move(why));
    r.retry_after_ms = routes.retry_after_ms;
    done(std::move(r));
  };
  if (req.follower_read && req.kind == op::get && routes.replica[p]) return read_copy(ctx, p, std::move(req), std::move(done));
  if (leader == routes.self) {
    if (routes.handing_off[p].load(std::memory_order_acquire))
      return unavailable("partition " + std::to_string(p) +
                         ": its leader (this node) is handing it to another member");
    if (monotonic_ms() >= routes.lease_end_ms[p].load(std::memory_order_acquire))
      return unavailable("partition " + std::to_string(p) + ": its leader (this node) cannot reach a majority");
    const bool read = is_read(req.kind);
    const bool leader_acked = !read && routes.leader_acks(req.key.tenant);
    if (leader_acked && ctx.journal->durable_seq(p) > ctx.journal->commit_point(p) + leader_ack_window_entries) {
      auto r = reply::error(outcome::overloaded, "partition " + std::to_string(p) + ": its followers are more than " +
                                                     std::to_string(leader_ack_window_entries) +
                                                     " changes behind the leader");
      r.retry_after_ms = routes.retry_after_ms;
      return done(std::move(r));
    }
    reply_fn checked = [done = std::move(done), read, leader_acked, p, r = ctx.routes](reply&& rep) {
      const bool acknowledged_change = !read && !leader_acked && rep.code == outcome::ok;
      // An UNAVAILABLE says itself what became of the request (a change
      // that waited for a majority when this node stepped down: outcome
      // unknown).
      if (!acknowledged_change && rep.code != outcome::unavailable &&
          monotonic_ms() >= r->lease_end_ms[p].load(std::memory_order_acquire)) {
        // A change of an `ack: "leader"` tenant was applied here, and a new
        // leader may or may not have it: its outcome is unknown. Anything
        // else (a read, a refusal) changed nothing.
        const bool applied = !read && rep.code == outcome::ok;
        auto late = reply::error(outcome::unavailable,
                                 "partition " + std::to_string(p) + ": this node's lease ended before it answered" +
                                     (applied ? "; the change's outcome is unknown: resend it with the same idem"
                                              : ""));
        late.retry_after_ms = r->retry_after_ms;
        return done(std::move(late));
      }
      done(std::move(rep));
    };
    caf::anon_send(ctx.partitions[p], envelope{std::move(req), reply_sink{std::move(checked), nullptr}});
    return;
  }
  if (leader < 0) return unavailable("partition " + std::to_string(p) + " has no leader now (an election is on)");
  if (forwarded)
    return unavailable("partition " + std::to_string(p) + ": this node does not lead it now");
  // A cluster actor that has exited (the node stops) drops the call: the
  // sink then answers by itself.
  caf::anon_send(routes.cluster, forward_call{p, leader, std::move(req),
                                              answered_even_if_dropped(std::move(done), "node is stopping")});
}

}  // namespace

void actors::route(node_context& ctx, request&& req, reply_fn done, bool forwarded) {
  const auto p = partition_for(ctx, req);
  if (p >= ctx.partitions.size()) {
    ctx.in_flight.fetch_sub(1, std::memory_order_relaxed);
    return done(reply::error(outcome::hold_not_found, "no such hold"));
  }
  reply_sink sink{std::move(done), &ctx.in_flight};
  if (ctx.routes) return route_in_cluster(ctx, p, std::move(req), std::move(sink), forwarded);
  caf::anon_send(ctx.partitions[p], envelope{std::move(req), std::move(sink)});
}

namespace {

persistence::journal_writer_options writer_options(const config::settings& s,
                                                   const grid_options& options) {
  const std::string& sqlite_vfs = options.sqlite_vfs;
  persistence::journal_writer_options o;
  o.on_committed = options.on_committed;
  o.monitor = options.journal_monitor;
  o.sync = s.journal.durability == config::durability_mode::sync;
  o.fsync_interval_ms = static_cast<std::int64_t>(s.journal.batched_fsync_interval_ms);
  o.batch_entries_max = s.journal.batch_entries_max;
  o.batch_window_us = static_cast<std::int64_t>(s.journal.batch_window_us);
  o.commit_delay_us = static_cast<std::int64_t>(s.journal.commit_delay_us);
  o.disk_retry_interval_ms = static_cast<std::int64_t>(s.journal.disk_retry_interval_ms);
  o.threads = s.node.journal_threads;
  o.snapshot_every_entries = s.journal.snapshot_every_entries;
  o.snapshot_interval_ms = static_cast<std::int64_t>(s.journal.snapshot_interval_ms);
  o.retention_ms = static_cast<std::int64_t>(s.journal.retention_ms);
  o.idempotency_cache_entries = std::size_t{s.idempotency.cache_entries} * s.node.partitions;
  // One syncfs per pass for all partitions, unless a test VFS must see each
  // store's own syncs.
  if (sqlite_vfs.empty()) o.sync_dir = s.node.data_dir;
  return o;
}

// Holds that must end before the node serves anything, journaled like any
// expiry or release: those whose deadline passed while the node was down, and
// orders' holds whose order is not open (the order's coordinator had not put
// it `held` before the crash: its reserve phase is not journaled, see
// coordination.hpp). Counts what it ended in `expired` and `orphaned`.
void end_at_recovery(persistence::journal_writer& writer, std::uint32_t p,
                     std::vector<persistence::record_image>& images,
                     const std::set<std::string>& open_orders, std::uint64_t* expired,
                     std::uint64_t* orphaned) {
  const auto now = now_ms();
  for (auto& image : images) {
    stock_record rec;
    rec.restore(image.on_hand, image.reserved, image.version, image.holds);
    rec.restore_policy(image.policy, image.backordered, image.incoming);
    auto journal = [&](change c) {
      journal_entry e;
      e.at_ms = now;
      e.key = image.key;
      e.c = c;
      e.result = outcome::ok;
      image.last_seq = writer.append(p, std::move(e), {});
      rec.apply(c);
    };
    for (auto seq : rec.due_holds(now)) {
      journal(rec.decide_expire(seq));
      ++*expired;
    }
    for (const auto& h : rec.holds()) {
      if (!is_order_ref(h.ref)) continue;
      const auto order = h.ref.substr(order_ref_prefix.size());
      if (open_orders.count(image.key.tenant + '\x1f' + order)) continue;
      auto d = rec.decide_release(h.seq, std::nullopt, now);
      d.c.reason = "order " + order + " was not held when the node stopped";
      journal(d.c);
      ++*orphaned;
    }
    image.on_hand = rec.on_hand();
    image.reserved = rec.reserved();
    image.version = rec.version();
    image.holds = rec.holds();
  }
  std::erase_if(images, [](const auto& i) { return i.holds.empty(); });
}

// The journal writer's word on a partition's health, on a writer thread. A
// degraded partition's records may be ahead of its disk: its actor drops
// them (partition_actor's drop_atom). Before the actors run there is
// nothing to drop. In a cluster the cluster actor hears it too: a leader
// whose disk refuses writes steps down, and stands for nothing until a probe
// write succeeds (it is set before this node's first append, as for
// on_committed).
void on_journal_health(grid::impl& im, std::uint32_t p, const status& health) {
  if (im.cluster) caf::anon_send(im.cluster, disk_health{p, health});
  if (health) {
    spdlog::info("partition {}: the disk took a probe write; writes are accepted again", p);
    return;
  }
  spdlog::error("partition {}: {}; its writes are answered UNAVAILABLE and its reads go on, "
                "retrying the disk every {} ms",
                p, health.message(), im.ctx.settings.journal.disk_retry_interval_ms);
  if (im.actors_up.load(std::memory_order_acquire)) caf::anon_send(im.ctx.partitions[p], drop_atom::value);
}

// Blocks until every partition's queued appends are durable (start-up only).
void wait_durable(persistence::journal_writer& writer) {
  std::atomic<std::uint32_t> left{writer.partitions()};
  for (std::uint32_t p = 0; p < writer.partitions(); ++p)
    writer.barrier(p, [&left](const status&, const journal_entry*) { left.fetch_sub(1); });
  while (left.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// The records quota's counts (record_quota.hpp): each partition's records
// per tenant, read on its writer thread. Start-up only: blocks until done.
status count_records(persistence::journal_writer& writer, record_quota& quota) {
  std::mutex mu;
  status failure;
  std::uint32_t left = writer.partitions();
  std::condition_variable all_counted;
  for (std::uint32_t p = 0; p < writer.partitions(); ++p)
    writer.run(p, [&](persistence::partition_store& store) {
      std::vector<std::pair<std::string, std::uint64_t>> counts;
      const auto st = store.count_records(&counts);
      for (const auto& [tenant, n] : counts) quota.add_existing(tenant, n);
      std::lock_guard lk(mu);
      if (!st) failure = st;
      if (--left == 0) all_counted.notify_one();
    });
  std::unique_lock lk(mu);
  all_counted.wait(lk, [&] { return left == 0; });
  return failure;
}

// In a cluster: each partition's journal is its leader's, shipped to its
// followers (actors/cluster.hpp). The writer folds only what a majority
// holds into snapshots, answers a change only once a majority holds it,
// takes this node's own appends only while it leads, and hands every
// committed batch to the cluster actor to ship.
void cluster_journal(grid::impl& im, persistence::journal_writer_options& o) {
  const auto& s = im.options.settings;
  // validate() checked the member list, so neither step fails here.
  std::vector<cluster::endpoint> peers;
  std::string error;
  cluster::parse_endpoints(s.cluster.join, limits::cluster_members_max - 1, &peers, &error);
  std::vector<std::string> members{s.cluster.member_id()};
  for (const auto& peer : peers) members.push_back(peer.id());
  const auto table = cluster::place(std::move(members), s.node.partitions, s.cluster.replication_factor, &error);
  const auto self = std::find(table.members.begin(), table.members.end(), s.cluster.member_id());
  im.members = table.members;
  im.self_member = static_cast<std::uint32_t>(self - table.members.begin());
  im.ctx.routes = std::make_shared<cluster_routes>(
      s.node.partitions, static_cast<std::int32_t>(self - table.members.begin()),
      2 * static_cast<std::int64_t>(s.cluster.heartbeat_interval_ms));
  for (std::uint32_t p = 0; p < s.node.partitions; ++p)
    im.ctx.routes->replica[p] = table.holds(p, static_cast<std::uint32_t>(self - table.members.begin()));
  o.replicated = true;
  // A change waits for a majority unless its tenant chose `ack: "leader"`;
  // the epoch markers (tenant "") never wait, a tenant's purge and an order's
  // or transfer's document always do.
  o.must_wait = [routes = im.ctx.routes.get()](std::uint32_t, const journal_entry& e) {
    if (persistence::purged_tenant(e) || persistence::is_document_entry(e)) return true;
    return !e.key.tenant.empty() && !routes->leader_acks(e.key.tenant);
  };
  o.may_append = [routes = im.ctx.routes.get()](std::uint32_t p) {
    return routes->may_append[p].load(std::memory_order_acquire);
  };
  o.on_committed = [feed = std::move(o.on_committed), im = &im](std::uint32_t p,
                                                                 const std::vector<journal_entry>& batch) {
    if (feed) feed(p, batch);
    // A purge this copy takes: its tenant is refused here from now on, also
    // once this node leads the partition (deleted_tenants.hpp).
    // The followers keep the documents their journals commit in their own
    // documents files too, so a new order home mostly rewrites what it has
    // (home_documents.cpp); the leader, whose coordinators journaled them,
    // has put them there already (put_document). Every copy forgets a purged
    // tenant's.
    const auto& routes = *im->ctx.routes;
    const bool leading = routes.leader[p].load(std::memory_order_acquire) == routes.self;
    const auto retention = static_cast<epoch_ms>(im->ctx.settings.journal.retention_ms);
    for (const auto& e : batch) {
      if (const auto* tenant = persistence::purged_tenant(e)) {
        im->ctx.deleted.add(*tenant, e.at_ms, e.at_ms + retention);
        std::uint64_t removed = 0;
        if (auto st = im->documents->delete_tenant(*tenant, &removed); !st)
          spdlog::error("tenant {}: its documents stay in this node's file: {}", *tenant, st.message());
        continue;
      }
      persistence::document d;
      if (!leading && persistence::decode_document_entry(e, &d) && !im->documents->put(std::move(d), {}))
        spdlog::warn("partition {}: the documents queue is full; a journaled document waits for the next takeover",
                     p);
    }
    // Set before the first append this node makes or takes.
    if (im->cluster) caf::anon_send(im->cluster, committed_batch{p, batch});
  };
}

// Where each partition's journal ends (start-up only: blocks until read).
status journal_ends(persistence::journal_writer& writer, std::vector<cluster::log_position>* ends) {
  std::mutex mu;
  std::condition_variable all_read;
  status failure;
  std::uint32_t left = writer.partitions();
  ends->assign(writer.partitions(), {});
  for (std::uint32_t p = 0; p < writer.partitions(); ++p)
    writer.run(p, [&, p](persistence::partition_store& store) {
      persistence::journal_position end;
      const auto st = store.journal_end(&end);
      std::lock_guard lk(mu);
      (*ends)[p] = {end.epoch, end.seq};
      if (!st) failure = st;
      if (--left == 0) all_read.notify_one();
    });
  std::unique_lock lk(mu);
  all_read.wait(lk, [&] { return left == 0; });
  return failure;
}

// The data dir remembers its partition count: records are placed by
// hash mod partitions, so opening it with another count would lose them.
bool check_layout(const std::string& dir, std::uint32_t partitions, std::string* error) {
  const auto path = std::filesystem::path(dir) / "NODE";
  const auto expected = "stockgrid-data 1\npartitions " + std::to_string(partitions) + "\n";
  if (!std::filesystem::exists(path)) {
    bool empty = true;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      empty = empty && !e.path().filename().string().starts_with("p-");
    if (!empty) {
      *error = path.string() + " is missing but the data dir holds partition files";
      return false;
    }
    std::ofstream out(path);
    out << expected;
    return static_cast<bool>(out);
  }
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text != expected) {
    *error = path.string() + " says \"" + text.substr(0, text.find_last_not_of('\n') + 1) +
             "\" but the settings ask for " + std::to_string(partitions) +
             " partitions; partitions are fixed per data dir";
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<grid> grid::open(const grid_options& options, std::string* error) {
  const auto& s = options.settings;
  if (auto problem = s.validate(); !problem.empty()) {
    *error = problem;
    return nullptr;
  }
  std::error_code ec;
  std::filesystem::create_directories(s.node.data_dir, ec);
  if (ec) {
    *error = "cannot create data dir " + s.node.data_dir + ": " + ec.message();
    return nullptr;
  }
  if (!check_layout(s.node.data_dir, s.node.partitions, error)) return nullptr;
  // Partition copies half sent or half received when the node stopped
  // (actors/replica_copy.cpp): never in use at a start.
  std::filesystem::remove_all(std::filesystem::path(s.node.data_dir) / "copies", ec);
  auto im = std::make_unique<impl>();
  im->options = options;
  im->ctx.settings = s;
  im->ctx.sqlite_vfs = options.sqlite_vfs;
  im->limits.max_ttl_ms = static_cast<std::int64_t>(s.holds.max_ttl_ms);

  std::vector<std::unique_ptr<persistence::partition_store>> stores;
  for (std::uint32_t p = 0; p < s.node.partitions; ++p) {
    status st;
    auto store = persistence::open_sqlite_store({partition_path(s.node.data_dir, p),
                                                 options.sqlite_vfs}, &st);
    if (!store) {
      *error = st.to_string();
      return nullptr;
    }
    stores.push_back(std::move(store));
  }

  const auto started = std::chrono::steady_clock::now();
  status st;
  std::vector<persistence::recovery_report> reports;
  auto journal_options = writer_options(s, options);
  journal_options.on_health = [im = im.get()](std::uint32_t p, const status& health) {
    on_journal_health(*im, p, health);
  };
  if (s.cluster.enabled()) cluster_journal(*im, journal_options);
  im->journal = std::make_unique<persistence::journal_writer>(std::move(stores), std::move(journal_options),
                                                              &st, &reports);
  if (!st) {
    *error = st.to_string();
    return nullptr;
  }
  im->ctx.journal = im->journal.get();
  // Orders and transfers: their documents. The open ones are resumed by the
  // directory once the actors run; their ids decide which order holds stay.
  std::vector<persistence::document> open_documents;
  std::set<std::string> open_orders;  // tenant \x1f order id
  {
    status dst;
    auto store = persistence::open_sqlite_document_store(
        (std::filesystem::path(s.node.data_dir) / "documents.db").string(), options.sqlite_vfs, &dst);
    if (!store) {
      *error = dst.to_string();
      return nullptr;
    }
    persistence::document_writer_options o;
    o.sync = s.journal.durability == config::durability_mode::sync;
    o.fsync_interval_ms = std::max<std::int64_t>(1, static_cast<std::int64_t>(s.journal.batched_fsync_interval_ms));
    o.retention_ms = static_cast<std::int64_t>(s.journal.retention_ms);
    o.probe_interval_ms = static_cast<std::int64_t>(s.journal.disk_retry_interval_ms);
    im->documents = std::make_unique<persistence::document_writer>(std::move(store), o);
    im->coordination.docs = im->documents.get();
    if (auto ls = im->documents->list_open(&open_documents); !ls) {
      *error = ls.to_string();
      return nullptr;
    }
    for (const auto& d : open_documents)
      if (d.kind == persistence::document_kind::order) open_orders.insert(d.tenant + '\x1f' + d.id);
  }
  auto& rec = im->recovered;
  for (std::uint32_t p = 0; p < reports.size(); ++p) {
    rec.snapshot_records += reports[p].snapshot_records;
    rec.replayed_entries += reports[p].replayed_entries;
    // In a cluster only a partition's leader writes, once elected; its
    // records' expiry timers end overdue holds then.
    if (!s.cluster.enabled())
      end_at_recovery(*im->journal, p, reports[p].with_holds, open_orders, &rec.expired_holds,
                      &rec.orphaned_order_holds);
    rec.records_with_holds += reports[p].with_holds.size();
  }
  wait_durable(*im->journal);
  if (auto cs = count_records(*im->journal, im->ctx.records); !cs) {
    *error = cs.to_string();
    return nullptr;
  }
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info(
      "recovered {} partitions in {:.3f} s: {} snapshot records, {} journal entries replayed "
      "({:.0f} entries/s), {} overdue holds released, {} holds of orders not held released, "
      "{} records with active holds",
      reports.size(), rec.seconds, rec.snapshot_records, rec.replayed_entries,
      rec.seconds > 0 ? rec.replayed_entries / rec.seconds : 0.0, rec.expired_holds,
      rec.orphaned_order_holds, rec.records_with_holds);

  im->caf_config.set("scheduler.max-threads", s.node.scheduler_threads_resolved());
  if (s.cluster.enabled()) {
    configure_cluster(im->caf_config, s.cluster);
    // Debian's CAF 0.17.6 leaves both off: without them a frozen peer's
    // connection is never closed. Ours detects a silent member itself
    // (failure-timeout-ms); the middleman's drops the dead connection.
    im->caf_config.set("middleman.heartbeat-interval",
                       caf::timespan{std::chrono::milliseconds(s.cluster.heartbeat_interval_ms)});
    im->caf_config.set("middleman.connection-timeout",
                       caf::timespan{std::chrono::milliseconds(s.cluster.failure_timeout_ms)});
  }
  im->system = std::make_unique<caf::actor_system>(im->caf_config);
  const bool leads_all = !s.cluster.enabled();
  for (std::uint32_t p = 0; p < s.node.partitions; ++p) {
    for (const auto& [tenant, warehouse] : reports[p].warehouses) im->ctx.warehouses.add(tenant, warehouse);
    if (!leads_all) reports[p].with_holds.clear();  // loaded when this node is elected
    im->partitions.push_back(
        spawn_partition(*im->system, &im->ctx, p, std::move(reports[p].with_holds), leads_all));
  }
  im->ctx.partitions = im->partitions;
  im->actors_up.store(true, std::memory_order_release);
  if (s.cluster.enabled()) {
    im->cluster_board = std::make_shared<cluster::status_board>();
    im->cluster_board->publish({});  // until the cluster actor publishes its first view
    std::vector<cluster::log_position> ends;
    if (auto es = journal_ends(*im->journal, &ends); !es) {
      *error = es.to_string();
      return nullptr;
    }
    // A partition this node starts or stops leading makes it the order home
    // of that partition's tenants, or no longer (order_directory.cpp).
    im->ctx.routes->on_lead = [im = im.get()](std::uint32_t p, bool leads) {
      std::lock_guard lk(im->leads_mu);
      if (!im->directory_up) {
        im->early_leads.emplace_back(p, leads);
        return;
      }
      caf::anon_send(im->coordination.directory, home_atom::value, p, leads);
    };
    im->cluster = start_cluster(*im->system, s, im->cluster_board, &im->ctx, std::move(ends), options.on_peer_auth,
                                error);
    if (!im->cluster) return nullptr;
    im->ctx.routes->cluster = im->cluster;
  }

  im->coordination.node = &im->ctx;
  // The records quota is the grid's own; the rest go to the node.
  im->coordination.on_settings = [ctx = &im->ctx, next = options.on_settings](
                                     const std::string& tenant, const orders::tenant_settings& ts) {
    ctx->records.set_limit(tenant, ts.records_max);
    if (ctx->routes) ctx->routes->set_leader_acks(tenant, ts.ack == orders::ack_mode::leader);
    if (next) next(tenant, ts);
  };
  im->coordination.directory = spawn_directory(*im->system, &im->coordination, std::move(open_documents));
  {
    std::lock_guard lk(im->leads_mu);
    im->directory_up = true;
    for (const auto& [p, leads] : im->early_leads)
      caf::anon_send(im->coordination.directory, home_atom::value, p, leads);
    im->early_leads.clear();
  }
  im->accepting = true;
  return std::unique_ptr<grid>(new grid(std::move(im)));
}

grid::grid(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

grid::~grid() { stop(); }

void grid::submit(request req, reply_fn done) {
  auto& im = *impl_;
  if (auto problem = validate(req, im.limits); !problem.empty())
    return done(reply::error(outcome::bad_request, std::move(problem)));
  if (!im.accepting.load(std::memory_order_acquire))
    return done(reply::error(outcome::unavailable, "node is stopping"));
  // Credits: count what is in flight where it is sent, since CAF mailboxes
  // are unbounded.
  const auto limit = static_cast<std::int64_t>(im.ctx.settings.node.max_in_flight);
  if (im.ctx.in_flight.fetch_add(1, std::memory_order_relaxed) >= limit) {
    im.ctx.in_flight.fetch_sub(1, std::memory_order_relaxed);
    im.ctx.overloaded.fetch_add(1, std::memory_order_relaxed);
    auto r = reply::error(outcome::overloaded, "node at its in-flight limit");
    r.retry_after_ms = 10;
    return done(std::move(r));
  }
  route(im.ctx, std::move(req), std::move(done));
}

namespace {

// Cursors are opaque to clients: the hex of "warehouse\x1fsku" of the last
// record returned.
std::string encode_cursor(const record_view& r) {
  return to_hex(r.key.warehouse + '\x1f' + r.key.sku);
}

bool decode_cursor(std::string_view hex, std::string* warehouse, std::string* sku) {
  std::string raw;
  if (hex.size() > 4 * limits::id_bytes_max || !from_hex(hex, &raw)) return false;
  const auto sep = raw.find('\x1f');
  if (sep == std::string::npos) return false;
  *warehouse = raw.substr(0, sep);
  *sku = raw.substr(sep + 1);
  return true;
}

}  // namespace

void grid::list(list_query q, list_fn done) {
  auto& im = *impl_;
  persistence::list_filter f;
  f.tenant = q.tenant;
  f.warehouse = q.warehouse;
  f.sku_prefix = q.sku_prefix;
  if (q.limit < 0 || q.limit > limits::history_limit_max)
    return done({outcome::bad_request, "limit: must be between 1 and 1000 (0 or absent = 100)", {}, {}});
  f.limit = q.limit == 0 ? limits::history_limit_default : static_cast<std::size_t>(q.limit);
  if (!q.cursor.empty() && !decode_cursor(q.cursor, &f.after_warehouse, &f.after_sku))
    return done({outcome::bad_request, "cursor: not a cursor this server issued", {}, {}});
  if (q.tenant.empty() || q.tenant.size() > limits::id_bytes_max || q.warehouse.size() > limits::id_bytes_max ||
      q.sku_prefix.size() > limits::id_bytes_max)
    return done({outcome::bad_request, "warehouse, sku_prefix: at most 128 bytes", {}, {}});
  if (!im.accepting.load()) return done({outcome::unavailable, "node is stopping", {}, {}});

  // Every partition contributes its first `limit` matches; the page is the
  // first `limit` of their union.
  struct gather {
    std::mutex mu;
    std::vector<record_view> found;
    std::uint32_t left = 0;
    persistence::status failure;
    list_query query;
    std::size_t limit = 0;
    list_fn done;
  };
  auto g = std::make_shared<gather>();
  g->left = static_cast<std::uint32_t>(im.partitions.size());
  g->query = std::move(q);
  g->limit = f.limit;
  g->done = std::move(done);
  for (std::uint32_t p = 0; p < im.partitions.size(); ++p) {
    im.journal->run(p, [g, f](persistence::partition_store& store) {
      std::vector<persistence::record_image> images;
      auto st = store.list_records(f, &images);
      std::unique_lock lk(g->mu);
      if (!st) g->failure = st;
      for (auto& i : images)
        g->found.push_back({std::move(i.key), i.on_hand, i.reserved, i.version,
                            i.policy.safety_stock, i.policy.allow_backorder, i.backordered,
                            i.incoming, i.policy.low_stock_threshold});
      if (--g->left > 0) return;
      lk.unlock();
      list_page page;
      if (!g->failure) {
        g->done({outcome::internal, g->failure.message(), {}, {}});
        return;
      }
      auto& rows = g->found;
      std::sort(rows.begin(), rows.end(), [](const record_view& a, const record_view& b) {
        return std::tie(a.key.warehouse, a.key.sku) < std::tie(b.key.warehouse, b.key.sku);
      });
      const bool more = rows.size() > g->limit;
      if (more) rows.resize(g->limit);
      if (more && !rows.empty()) page.next_cursor = encode_cursor(rows.back());
      if (const auto& allowed = g->query.warehouses_allowed)
        std::erase_if(rows, [&](const record_view& r) {
          return std::find(allowed->begin(), allowed->end(), r.key.warehouse) == allowed->end();
        });
      page.records = std::move(rows);
      g->done(std::move(page));
    });
  }
}

void grid::stop() {
  auto& im = *impl_;
  if (im.stopped.exchange(true)) return;
  im.accepting = false;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(im.ctx.settings.node.shutdown_drain_ms);
  while (im.ctx.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (auto left = im.ctx.in_flight.load(); left > 0)
    spdlog::warn("stopping with {} requests still in flight after the drain time", left);
  // Coordinators first: they answer what waits on them and stop sending steps.
  // The shared handles (the directory, ctx.partitions) stay until every
  // actor has exited: coordinators may still route a step meanwhile.
  if (im.cluster) caf::anon_send(im.cluster, stop_atom::value);
  if (im.coordination.directory) caf::anon_send(im.coordination.directory, stop_atom::value);
  for (auto& p : im.partitions) caf::anon_send(p, stop_atom::value);
  im.partitions.clear();
  im.journal->stop();  // no health reports after this
  im.actors_up = false;
  if (im.documents) im.documents->stop();
  im.system.reset();  // waits for every actor, all of which were told to stop
  im.ctx.partitions.clear();
  im.coordination.directory = nullptr;
}

bool grid::hand_off(std::chrono::milliseconds limit) {
  auto& im = *impl_;
  if (!im.cluster) return true;
  const auto start = std::chrono::steady_clock::now();
  bool done = false;
  caf::scoped_actor self{*im.system};
  self->request(im.cluster, limit, handoff_atom::value, true)
      .receive([&done](bool all) { done = all; },
               [](const caf::error&) {});
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (done) {
    spdlog::info("cluster: handed over what this node led that a follower could take, in {} ms", took);
  } else {
    // What is still being handed over takes changes again until the exit.
    caf::anon_send(im.cluster, handoff_atom::value, false);
    spdlog::warn("cluster: still leads partitions after {} ms of handing over; they fail over once it is gone",
                 took);
  }
  return done;
}

void grid::publish_auth(std::string bytes) {
  if (impl_->cluster && bytes.size() <= limits::auth_table_bytes_max)
    caf::anon_send(impl_->cluster, auth_table{std::move(bytes)});
}

std::string grid::order_home(const std::string& tenant) const {
  const auto& im = *impl_;
  if (im.members.empty()) return {};
  const auto& routes = *im.ctx.routes;
  const auto p = cluster::home_partition(tenant, static_cast<std::uint32_t>(im.ctx.partitions.size()));
  const auto leader = routes.leader[p].load(std::memory_order_acquire);
  if (leader == routes.self) return routes.home_ready[p].load(std::memory_order_acquire) ? std::string{} : home_unknown;
  if (leader < 0 || static_cast<std::size_t>(leader) >= im.members.size()) return home_unknown;
  return im.members[static_cast<std::size_t>(leader)];
}

void grid::note_deleting(const std::string& tenant, epoch_ms since_ms) {
  if (impl_->ctx.routes) impl_->ctx.deleted.add(tenant, since_ms, actors::deleted_tenants::forever);
}

void grid::note_removed(const std::string& tenant, epoch_ms deleted_ms) {
  const auto retention = static_cast<epoch_ms>(impl_->ctx.settings.journal.retention_ms);
  if (impl_->ctx.routes) impl_->ctx.deleted.add(tenant, deleted_ms, deleted_ms + retention, true);
}

std::vector<std::string> grid::other_members() const {
  const auto& im = *impl_;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < im.members.size(); ++i)
    if (i != im.self_member) out.push_back(im.members[i]);
  return out;
}

void grid::forward_call(const std::string& member, std::string call, call_answer_fn done) {
  auto& im = *impl_;
  if (!im.cluster || !im.accepting.load(std::memory_order_acquire))
    return done({outcome::unavailable, "node is stopping", 0, {}});
  // A cluster actor that has exited (the node stops) drops the message: the
  // last copy of `answer` then answers by itself.
  auto answer = answered_even_if_dropped<call_answer>(
      std::move(done), [] { return call_answer{outcome::unavailable, "node is stopping", 0, {}}; });
  caf::anon_send(im.cluster, call_out{member, std::move(call), std::move(answer)});
}

void grid::serve_calls(call_handler handler) {
  if (impl_->cluster) caf::anon_send(impl_->cluster, call_handler_set{std::move(handler)});
}

std::shared_ptr<const cluster::status_board::snapshot> grid::cluster_status() const {
  return impl_->cluster_board ? impl_->cluster_board->read() : nullptr;
}

void grid::order(orders::order_request req, std::function<void(orders::order_reply&&)> done) {
  auto& im = *impl_;
  if (!im.accepting.load(std::memory_order_acquire))
    return done(orders::order_reply::error(outcome::unavailable, "node is stopping"));
  caf::anon_send(im.coordination.directory, order_call{std::move(req), std::move(done)});
}

void grid::transfer(orders::transfer_request req,
                    std::function<void(orders::transfer_reply&&)> done) {
  auto& im = *impl_;
  if (!im.accepting.load(std::memory_order_acquire))
    return done(orders::transfer_reply::error(outcome::unavailable, "node is stopping"));
  caf::anon_send(im.coordination.directory, transfer_call{std::move(req), std::move(done)});
}

void grid::tenant_settings(orders::settings_request req,
                           std::function<void(orders::settings_reply&&)> done) {
  auto& im = *impl_;
  if (!im.accepting.load(std::memory_order_acquire))
    return done({outcome::unavailable, "node is stopping", {}});
  caf::anon_send(im.coordination.directory, settings_call{std::move(req), std::move(done)});
}

// The SKU in every warehouse of the tenant (warehouse_directory), read in
// parallel through the records, so the figures are the records' own.
void grid::find(orders::caller who, std::string sku, std::function<void(orders::find_reply&&)> done) {
  auto& im = *impl_;
  if (sku.empty() || sku.size() > limits::id_bytes_max)
    return done({outcome::bad_request, "sku: must be 1 to 128 bytes", {}, 0});
  if (!im.accepting.load(std::memory_order_acquire))
    return done({outcome::unavailable, "node is stopping", {}, 0});
  auto warehouses = im.ctx.warehouses.of(who.tenant);
  std::erase_if(warehouses, [&](const std::string& w) { return !who.may_use(w); });
  if (warehouses.empty()) return done({outcome::ok, {}, {}, 0});
  struct gather {
    std::mutex mu;
    orders::find_reply out;
    std::size_t left = 0;
    std::function<void(orders::find_reply&&)> done;
  };
  auto g = std::make_shared<gather>();
  g->out.code = outcome::ok;
  g->left = warehouses.size();
  g->done = std::move(done);
  for (auto& w : warehouses) {
    request r;
    r.kind = op::get;
    r.key = {who.tenant, std::move(w), sku};
    r.key_id = who.key_id;
    submit(std::move(r), [g](reply&& rep) {
      std::unique_lock lk(g->mu);
      if (rep.code == outcome::ok) {
        g->out.total_available += std::max<std::int64_t>(0, rep.record.available());
        g->out.records.push_back(std::move(rep.record));
      } else if (rep.code != outcome::not_found && g->out.code == outcome::ok) {
        g->out.code = rep.code;
        g->out.message = rep.message;
      }
      if (--g->left > 0) return;
      lk.unlock();
      auto& rows = g->out.records;
      std::sort(rows.begin(), rows.end(),
                [](const record_view& a, const record_view& b) { return a.key.warehouse < b.key.warehouse; });
      if (g->out.code != outcome::ok) rows.clear();
      g->done(std::move(g->out));
    });
  }
}

namespace {

// Sends a tenant_purge through `send` to `n` actors and waits until each
// has answered; the first error, and the records they removed. An actor
// that stops first drops its callback, which breaks the promise: reported
// as an error, never a hang.
template <class Send>
std::pair<status, std::uint64_t> purge_and_wait(const std::string& tenant, std::size_t n, Send send) {
  struct gather {
    std::mutex mu;
    std::size_t left = 0;
    status first_error;
    std::uint64_t records = 0;
    std::promise<void> all_done;
    void finish(const status& s, std::uint64_t removed) {
      std::lock_guard lk(mu);
      if (!s && first_error) first_error = s;
      records += removed;
      if (--left == 0) all_done.set_value();
    }
  };
  // One per callback: destroyed uncalled (its actor stopped), it reports
  // the failure itself.
  struct once {
    std::shared_ptr<gather> g;
    bool called = false;
    ~once() {
      if (!called) g->finish(status::io_error("the node stopped during the delete"), 0);
    }
  };
  auto g = std::make_shared<gather>();
  g->left = n;
  auto finished = g->all_done.get_future();
  if (n == 0) return {};
  for (std::size_t i = 0; i < n; ++i) {
    auto o = std::make_shared<once>();
    o->g = g;
    send(i, tenant_purge{tenant, [o](const status& s, std::uint64_t records) {
                           if (std::exchange(o->called, true)) return;
                           o->g->finish(s, records);
                         }});
  }
  finished.wait();
  std::lock_guard lk(g->mu);
  return {g->first_error, g->records};
}

}  // namespace

persistence::journal_writer& grid::journal() { return *impl_->journal; }

grid_stats grid::stats() const {
  const auto& c = impl_->ctx;
  grid_stats s;
  s.in_flight = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.in_flight.load()));
  s.resident_records = c.resident.load();
  s.activations = c.activations.load();
  s.passivations = c.passivations.load();
  s.journal_queued = impl_->journal->queued();
  s.overloaded = c.overloaded.load();
  s.degraded_partitions = impl_->journal->degraded_partitions();
  s.journal_failures = impl_->journal->failures();
  s.reloaded_records = c.reloads.load();
  return s;
}

status grid::delete_tenant(const std::string& tenant, std::uint64_t* records) {
  auto& im = *impl_;
  if (!im.accepting.load(std::memory_order_acquire)) return status::io_error("node is stopping");
  // Coordinators first: once they have exited, no step of theirs can reach
  // a partition after its purge.
  if (auto st = stop_coordinators(tenant); !st) return st;
  auto [rows, removed] = purge_and_wait(tenant, im.ctx.partitions.size(), [&](std::size_t p, tenant_purge&& call) {
    caf::anon_send(im.ctx.partitions[p], std::move(call));
  });
  if (!rows) return rows;
  if (auto st = forget_local(tenant); !st) return st;
  spdlog::info("tenant {}: {} records deleted", tenant, removed);
  if (records != nullptr) *records = removed;
  return status::ok();
}

status grid::stop_coordinators(const std::string& tenant) {
  auto& im = *impl_;
  return purge_and_wait(tenant, 1, [&](std::size_t, tenant_purge&& call) {
           caf::anon_send(im.coordination.directory, std::move(call));
         }).first;
}

// The node's state of the tenant outside the partitions: its documents, its
// quotas back to the defaults (the settings document is gone), its counts.
status grid::forget_local(const std::string& tenant) {
  auto& im = *impl_;
  std::uint64_t documents = 0;
  if (auto st = im.documents->delete_tenant(tenant, &documents); !st) return st;
  if (im.coordination.on_settings) im.coordination.on_settings(tenant, orders::tenant_settings{});
  im.ctx.records.forget(tenant);
  im.ctx.warehouses.remove_tenant(tenant);
  spdlog::info("tenant {}: {} documents deleted here", tenant, documents);
  return status::ok();
}

status grid::forget_tenant(const std::string& tenant) {
  if (!impl_->accepting.load(std::memory_order_acquire)) return status::io_error("node is stopping");
  if (auto st = stop_coordinators(tenant); !st) return st;
  return forget_local(tenant);
}

status grid::purge_led(const std::string& tenant, std::vector<std::uint32_t>* purged) {
  auto& im = *impl_;
  if (!im.accepting.load(std::memory_order_acquire)) return status::io_error("node is stopping");
  // Each partition answers: ok (purged), unavailable "not led here" (left
  // out), or a failure of its purge.
  struct results {
    std::mutex mu;
    std::vector<std::uint32_t> purged;
    status failure;
  };
  auto r = std::make_shared<results>();
  auto [st, none] = purge_and_wait(tenant, im.ctx.partitions.size(), [&](std::size_t p, tenant_purge&& call) {
    const bool led = im.ctx.routes->leader[p].load(std::memory_order_acquire) == im.ctx.routes->self;
    call.done = [r, p, led, inner = std::move(call.done)](const status& s, std::uint64_t records) {
      {
        std::lock_guard lk(r->mu);
        if (s)
          r->purged.push_back(static_cast<std::uint32_t>(p));
        else if (led && r->failure)
          r->failure = s;
      }
      inner(status::ok(), records);
    };
    caf::anon_send(im.ctx.partitions[p], std::move(call));
  });
  if (!st) return st;  // the node stopped meanwhile
  std::lock_guard lk(r->mu);
  std::sort(r->purged.begin(), r->purged.end());
  *purged = r->purged;
  return r->failure;
}

std::uint64_t grid::tenant_records(const std::string& tenant) const { return impl_->ctx.records.count(tenant); }

const recovery_summary& grid::recovery() const { return impl_->recovered; }
const config::settings& grid::settings() const { return impl_->ctx.settings; }

}  // namespace stockgrid
