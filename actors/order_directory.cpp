// The order directory: one actor per node that routes order and transfer
// calls to their coordinators (coordination.hpp), answers calls on final
// documents from the document store, plans new orders (the tenant's
// allocation settings and what the records hold) and keeps tenant settings.
// Also the grid facade's order, transfer, find and tenant_settings methods.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/clock.hpp"
#include "actors/directory.hpp"
#include "cluster/placement.hpp"
#include "config/limits.hpp"
#include "domain/validate.hpp"
#include "orders/settings_table.hpp"
#include "orders/wire.hpp"

namespace stockgrid::actors {

using orders::order_reply;
using orders::transfer_reply;
using persistence::document_kind;

namespace {
constexpr std::uint64_t id_lease_step = 1024;
const std::string settings_id = "settings";
// In a cluster, how long after a settings change this node sends its table.
constexpr std::int64_t settings_publish_delay_ms = 50;
// A member's settings stamped further ahead of this node's clock are refused.
constexpr std::int64_t settings_clock_skew_max_ms = 24 * 3600 * 1000;
}  // namespace

bool at_bound(directory_ptr self) {
  auto& st = self->state;
  return st.orders.size() + st.transfers.size() + st.planning >= limits::open_coordinators_max;
}

std::string new_id(directory_ptr self, char prefix) {
  auto& st = self->state;
  if (st.next_id >= st.lease_end) {
    // Blocks this actor for one small durable write per 1,024 ids.
    std::uint64_t first = 0;
    if (auto s = st.cc->docs->lease_ids(id_lease_step, &first); !s) {
      spdlog::error("document id lease failed: {}", s.message());
      return {};
    }
    st.next_id = first;
    st.lease_end = first + id_lease_step;
  }
  const auto* routes = st.cc->node->routes.get();
  if (!routes) return persistence::format_document_id(prefix, st.next_id++);
  return std::string(1, prefix) + std::to_string(routes->self) + "-" +
         persistence::format_document_id(prefix, st.next_id++).substr(1);
}

bool home_here(directory_ptr self, const std::string& tenant) {
  const auto& node = *self->state.cc->node;
  if (!node.routes) return true;
  const auto p = cluster::home_partition(tenant, static_cast<std::uint32_t>(node.partitions.size()));
  return node.routes->home_ready[p].load(std::memory_order_acquire);
}

namespace {

using self_ptr = directory_ptr;

order_reply order_overloaded() { return overloaded_reply<order_reply>(); }

// --- orders -------------------------------------------------------------------------

// Range checks of an order call (types are the wire layer's).
std::string check(const orders::order_request& r, std::int64_t max_ttl_ms) {
  const auto id_ok = [](const std::string& s) { return !s.empty() && s.size() <= limits::id_bytes_max; };
  if (auto bad = validate_client_idem(r.idem); !bad.empty()) return bad;
  if (r.kind != orders::order_op::reserve) {
    if (!id_ok(r.order)) return "order: must be 1 to 128 bytes";
    if (r.kind == orders::order_op::extend && (r.ttl_ms <= 0 || r.ttl_ms > max_ttl_ms))
      return "ttl_ms: must be between 1 and " + std::to_string(max_ttl_ms);
    return {};
  }
  if (r.lines.empty() || r.lines.size() > limits::order_lines_max)
    return "lines: must hold 1 to " + std::to_string(limits::order_lines_max) + " lines";
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    const auto& l = r.lines[i];
    const auto at = "lines[" + std::to_string(i) + "].";
    if (!id_ok(l.sku)) return at + "sku: must be 1 to 128 bytes";
    if (l.warehouse.size() > limits::id_bytes_max) return at + "warehouse: longer than 128 bytes";
    if (l.qty <= 0 || l.qty > limits::quantity_max) return at + "qty: must be between 1 and 10^12";
  }
  if (r.ttl_ms < 0 || r.ttl_ms > max_ttl_ms)
    return "ttl_ms: must be between 1 and " + std::to_string(max_ttl_ms) + " (0 = default)";
  if (r.ref.size() > limits::id_bytes_max) return "ref: longer than 128 bytes";
  return {};
}

// Reads what the allocation needs, then sends (planned_atom, plan_input) to
// the directory: each record the order could take from (named lines: that
// record; other lines: the SKU in every warehouse of the tenant the key may
// use), read in parallel.
void gather_plan(self_ptr self, order_call&& call) {
  auto& st = self->state;
  ++st.planning;
  struct gather {
    std::mutex mu;
    plan_input in;
    std::size_t left = 0;
  };
  auto g = std::make_shared<gather>();
  const auto& req = call.req;
  std::vector<record_key> keys;
  for (const auto& l : req.lines) {
    if (!l.warehouse.empty()) {
      keys.push_back({req.who.tenant, l.warehouse, l.sku});
      continue;
    }
    for (auto& w : st.cc->node->warehouses.of(req.who.tenant))
      if (req.who.may_use(w)) keys.push_back({req.who.tenant, std::move(w), l.sku});
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return std::tie(a.warehouse, a.sku) < std::tie(b.warehouse, b.sku);
  });
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (auto it = st.settings.find(req.who.tenant); it != st.settings.end()) g->in.settings = it->second;
  g->left = keys.size() + 1;  // +1: this function's own share
  g->in.call = std::move(call);
  auto me = caf::actor_cast<order_directory>(self);
  auto one_done = [g, me] {
    std::unique_lock lk(g->mu);
    if (--g->left > 0) return;
    lk.unlock();
    caf::anon_send(me, planned_atom::value, std::move(g->in));
  };
  for (auto& key : keys) {
    request r;
    r.kind = op::get;
    r.internal = true;
    r.key = key;
    st.cc->node->in_flight.fetch_add(1, std::memory_order_relaxed);
    route(*st.cc->node, std::move(r), [g, one_done, key](reply&& rep) {
      {
        std::lock_guard lk(g->mu);
        // A record that takes backorders can promise any quantity: the
        // record itself decides when the line is held.
        if (rep.code == outcome::ok)
          g->in.seen.push_back({key.warehouse, key.sku,
                                rep.record.allow_backorder ? limits::quantity_max : rep.record.available()});
        else if (rep.code != outcome::not_found && g->in.failure == outcome::ok) {
          g->in.failure = rep.code;
          g->in.message = key.warehouse + "/" + key.sku + ": " + rep.message;
        }
      }
      one_done();
    });
  }
  one_done();
}

idem_key make_key(document_kind k, const std::string& tenant, const std::string& idem) {
  return {k, tenant, idem};
}

// A new order's document, as the reserve asked for it.
orders::order order_of(const orders::order_request& req, const std::string& id) {
  orders::order o;
  o.tenant = req.who.tenant;
  o.id = id;
  o.ref = req.ref;
  o.idem = req.idem;
  o.fingerprint = orders::fingerprint(req);
  o.key_id = req.who.key_id;
  o.policy = req.policy;
  o.created_ms = o.updated_ms = now_ms();
  return o;
}

void start_order(self_ptr self, order_call&& call, const orders::allocation& plan,
                 const std::string& id) {
  auto& st = self->state;
  const auto& req = call.req;
  auto o = order_of(req, id);
  o.ttl_ms = req.ttl_ms > 0 ? req.ttl_ms
                            : static_cast<std::int64_t>(st.cc->node->settings.holds.default_ttl_ms);
  for (const auto& l : plan.lines) o.lines.push_back({l.sku, l.warehouse, l.qty, {}, false});
  o.unfilled = plan.unfilled;  // partial: what no warehouse had
  const auto key = make_key(document_kind::order, o.tenant, o.idem);
  const bool has_idem = !req.idem.empty();
  auto handle = spawn_order(self->system(), st.cc, std::move(o), std::move(call));
  register_open(self, st.orders, id, handle, key);
  if (has_idem)
    release_pending(st.order_pending, key, [&](order_call& c) { self->send(handle, std::move(c)); });
}

// An order refused before anything is held. With an idempotency key it is
// still journaled (as failed) so that a retry gets the same answer.
void refuse_order(self_ptr self, order_call&& call, order_reply&& r) {
  auto& st = self->state;
  const auto& req = call.req;
  const auto key = make_key(document_kind::order, req.who.tenant, req.idem);
  if (req.idem.empty() || !remembered(r.code)) {
    if (!req.idem.empty())
      release_pending(st.order_pending, key, [&](order_call& c) { c.done(order_reply(r)); });
    return call.done(std::move(r));
  }
  const auto id = new_id(self, 'O');
  if (id.empty()) {
    release_pending(st.order_pending, key, [](order_call& c) {
      c.done(order_reply::error(outcome::unavailable, "order journal unavailable"));
    });
    return call.done(order_reply::error(outcome::unavailable, "order journal unavailable"));
  }
  auto o = order_of(req, id);
  o.status = orders::order_status::failed;
  o.failure_code = r.code;
  o.failure = r.message;
  o.shortages = r.shortages;
  r.has_order = true;
  r.doc = o;
  auto calls = std::make_shared<std::vector<order_call>>();
  calls->push_back(std::move(call));
  if (auto it = st.order_pending.find(key); it != st.order_pending.end()) {
    for (auto& c : it->second) calls->push_back(std::move(c));
    st.order_pending.erase(it);
  }
  auto shared = std::make_shared<order_reply>(std::move(r));
  if (!put_document(st.cc, to_document(o), [calls, shared](const persistence::status& s) {
        for (std::size_t i = 0; i < calls->size(); ++i) {
          if (!s) {
            (*calls)[i].done(order_reply::error(outcome::unavailable, "order journal unavailable"));
            continue;
          }
          auto r = *shared;
          r.replayed = i > 0;
          (*calls)[i].done(std::move(r));
        }
      })) {
    for (auto& c : *calls) c.done(order_overloaded());
  }
}

void on_planned(self_ptr self, plan_input& in) {
  auto& st = self->state;
  --st.planning;
  auto& call = in.call;
  const auto& req = call.req;
  if (in.failure != outcome::ok)
    return refuse_order(self, std::move(call), order_reply::error(in.failure, in.message));
  std::vector<orders::line_request> lines = req.lines;
  const auto plan = orders::allocate(lines, in.seen, in.settings.value_or(orders::tenant_settings{}).allocation,
                                     req.policy == orders::order_policy::partial);
  if (req.dry_run) {
    order_reply r;
    r.code = outcome::ok;
    r.plan = plan.lines;
    r.plan_unfilled = plan.unfilled;
    r.shortages = plan.shortages;
    r.explanation = plan.explanation;
    return call.done(std::move(r));
  }
  // all_or_nothing: refuse at once what the records already say is short
  // (they decide again when held).
  if (req.policy == orders::order_policy::all_or_nothing && !plan.complete()) {
    auto r = order_reply::error(outcome::insufficient_stock, "not enough stock for every line");
    r.shortages = plan.shortages;
    return refuse_order(self, std::move(call), std::move(r));
  }
  if (plan.lines.empty()) {
    auto r = order_reply::error(outcome::insufficient_stock, "no line could be held");
    r.shortages = plan.shortages;
    return refuse_order(self, std::move(call), std::move(r));
  }
  const auto id = new_id(self, 'O');
  if (id.empty()) {
    if (!req.idem.empty())
      release_pending(st.order_pending, make_key(document_kind::order, req.who.tenant, req.idem),
                      [](order_call& c) {
                        c.done(order_reply::error(outcome::unavailable, "order journal unavailable"));
                      });
    return call.done(order_reply::error(outcome::unavailable, "order journal unavailable"));
  }
  start_order(self, std::move(call), plan, id);
}

void on_order_call(self_ptr self, order_call& call) {
  auto& st = self->state;
  auto& req = call.req;
  if (st.cc->node->deleted.refuses(req.who.tenant, now_ms()))
    return call.done(order_reply::error(outcome::not_found, "tenant " + req.who.tenant + " is being deleted"));
  if (!home_here(self, req.who.tenant)) {
    auto r = order_reply::error(outcome::unavailable, "this node is not the order home of tenant " +
                                                          req.who.tenant + " now (its home partition's leader is)");
    r.retry_after_ms = 200;
    return call.done(std::move(r));
  }
  if (auto problem = check(req, static_cast<std::int64_t>(st.cc->node->settings.holds.max_ttl_ms));
      !problem.empty())
    return call.done(order_reply::error(outcome::bad_request, problem));
  for (const auto& l : req.lines)
    if (!l.warehouse.empty() && !req.who.may_use(l.warehouse))
      return call.done(order_reply::error(outcome::forbidden, "this key may not use warehouse " + l.warehouse));
  if (req.kind != orders::order_op::reserve) {
    if (auto it = st.orders.find(req.order);
        it != st.orders.end() && std::get<1>(it->second.idem) == req.who.tenant)
      return self->send(it->second.handle, std::move(call));
    // Not open: a final order, one of another tenant, or none.
    auto me = caf::actor_cast<order_directory>(self);
    auto tenant = req.who.tenant;
    auto id = req.order;
    auto shared = std::make_shared<order_call>(std::move(call));
    if (!st.cc->docs->get(document_kind::order, std::move(tenant), std::move(id),
                          [me, shared](const persistence::status& s, std::optional<persistence::document> d) {
                            caf::anon_send(me, read_atom::value, std::move(*shared),
                                           doc_result{s, std::move(d)});
                          }))
      shared->done(order_overloaded());
    return;
  }
  if (req.dry_run) {
    return gather_plan(self, std::move(call));
  }
  if (at_bound(self)) return call.done(order_overloaded());
  if (req.idem.empty()) return gather_plan(self, std::move(call));
  const auto key = make_key(document_kind::order, req.who.tenant, req.idem);
  if (auto it = st.open_idem.find(key); it != st.open_idem.end()) {
    if (auto o = st.orders.find(it->second); o != st.orders.end())
      return self->send(o->second.handle, std::move(call));
  }
  if (auto it = st.order_pending.find(key); it != st.order_pending.end()) {
    if (it->second.size() >= limits::coordinator_waiting_max) return call.done(order_overloaded());
    it->second.push_back(std::move(call));
    return;
  }
  st.order_pending[key].push_back(std::move(call));  // `req` is gone from here on
  auto me = caf::actor_cast<order_directory>(self);
  if (!st.cc->docs->find_idem(document_kind::order, std::get<1>(key), std::get<2>(key),
                              [me, key](const persistence::status& s, std::optional<persistence::document> d) {
                                caf::anon_send(me, found_atom::value, std::get<0>(key), std::get<1>(key),
                                               std::get<2>(key), doc_result{s, std::move(d)});
                              })) {
    release_pending(st.order_pending, key, [](order_call& c) { c.done(order_overloaded()); });
  }
}

void on_order_found(self_ptr self, const std::tuple<document_kind, std::string, std::string>& key,
                    doc_result& found) {
  auto& st = self->state;
  auto it = st.order_pending.find(key);
  if (it == st.order_pending.end() || it->second.empty()) return;
  if (!found.st) {
    return release_pending(st.order_pending, key, [&](order_call& c) {
      c.done(order_reply::error(outcome::internal, "idempotency look-up failed: " + found.st.message()));
    });
  }
  if (found.doc) {
    orders::order o;
    if (!orders::decode(found.doc->body, &o))
      return release_pending(st.order_pending, key, [&](order_call& c) {
        c.done(order_reply::error(outcome::internal, "order document undecodable"));
      });
    return release_pending(st.order_pending, key, [&](order_call& c) {
      if (orders::fingerprint(c.req) != o.fingerprint)
        return c.done(order_reply::error(outcome::idempotency_mismatch,
                                         "idem: key already used for a different request"));
      c.done(answer_final(o, c));
    });
  }
  // A new order: the first call plans it; the others stay pending and follow
  // it to its coordinator.
  auto first = std::move(it->second.front());
  it->second.erase(it->second.begin());
  gather_plan(self, std::move(first));
}

void on_order_read(self_ptr self, order_call& call, doc_result& r) {
  auto& st = self->state;
  // Opened meanwhile (recovery does not race; a new order cannot have this
  // id before its document exists), so only the store's answer counts.
  if (auto it = st.orders.find(call.req.order);
      it != st.orders.end() && std::get<1>(it->second.idem) == call.req.who.tenant)
    return self->send(it->second.handle, std::move(call));
  if (!r.st) return call.done(order_reply::error(outcome::internal, r.st.message()));
  orders::order o;
  if (!r.doc) return call.done(order_reply::error(outcome::not_found, "no such order"));
  if (!orders::decode(r.doc->body, &o))
    return call.done(order_reply::error(outcome::internal, "order document undecodable"));
  if (!permitted(call.req.who, o))
    return call.done(order_reply::error(outcome::forbidden, "this key may not use every warehouse of this order"));
  call.done(answer_final(o, call));
}

// --- tenant settings ------------------------------------------------------------------

// Settings documents stay open, so recovery loads them all: the cache is
// the truth and a read needs no I/O.
//
// In a cluster every member keeps every tenant's settings; a change goes
// to the others as this node's whole table (orders/settings_table.hpp),
// and the change with the later stamp wins everywhere.

bool in_cluster(directory_ptr self) {
  const auto* node = self->state.cc->node;
  return node->routes && node->routes->cluster;
}

// The tenant's settings as the next change must see them: the latest put
// not yet saved, else the cache. Puts of one tenant's settings go out only
// with a later stamp than every earlier put, and the document writer saves
// them in order, so the cache, the document and the node's uses only ever
// move to later changes.
const orders::tenant_settings* latest_settings(directory_ptr self, const std::string& tenant) {
  auto& st = self->state;
  if (auto it = st.unsaved.find(tenant); it != st.unsaved.end()) return &it->second;
  if (auto it = st.settings.find(tenant); it != st.settings.end()) return &it->second;
  return nullptr;
}

// Writes a tenant's settings document; once it is durable the node's own
// uses learn them (before `done`, so a client that reads ok finds them in
// force) and the cache takes them (saved_atom), so no plan uses settings
// that a crash could take back. False when the document queue is full.
bool put_settings(directory_ptr self, const std::string& tenant, const orders::tenant_settings& ts,
                  std::function<void(const persistence::status&)> done) {
  persistence::document d;
  d.kind = document_kind::tenant_settings;
  d.tenant = tenant;
  d.id = settings_id;
  d.open = true;
  d.body = orders::encode(ts);
  auto me = caf::actor_cast<order_directory>(self);
  auto* cc = self->state.cc;
  const bool queued =
      cc->docs->put(std::move(d), [done = std::move(done), ts, me, cc, tenant](const persistence::status& s) {
        if (s && cc->on_settings) cc->on_settings(tenant, ts);
        caf::anon_send(me, saved_atom::value, tenant, ts, static_cast<bool>(s));
        done(s);
      });
  if (queued) self->state.unsaved[tenant] = ts;
  return queued;
}

// Sends this node's table to the cluster actor when it changed since the
// last time. The first message, sent at start even when the table cannot
// go out, tells the cluster actor where members' tables go.
void publish_settings(directory_ptr self) {
  auto& st = self->state;
  if (!in_cluster(self)) return;
  orders::settings_table table(st.settings.begin(), st.settings.end());
  std::sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string bytes = orders::encode(table);
  if (st.settings_published && bytes == st.published_settings) return;
  const bool first = !st.settings_published;
  st.published_settings = bytes;
  st.settings_published = true;
  if (bytes.size() > orders::settings_table_bytes_max) {
    spdlog::error("cluster: the tenant settings take {} bytes, more than {}: not sent to the other members",
                  bytes.size(), orders::settings_table_bytes_max);
    if (!first) return;
    bytes.clear();
  }
  caf::anon_send(st.cc->node->routes->cluster, settings_bytes{std::move(bytes), caf::actor_cast<caf::actor>(self)});
}

// Publishes once the changes of this turn are in: a member's table can
// change many tenants at once, and each table sent holds them all.
void publish_settings_soon(directory_ptr self) {
  auto& st = self->state;
  if (st.publish_due || !in_cluster(self)) return;
  st.publish_due = true;
  self->delayed_send(self, std::chrono::milliseconds(settings_publish_delay_ms), tsettings_atom::value);
}

// A settings document was saved (or its write failed): the cache takes it.
void on_settings_saved(directory_ptr self, const std::string& tenant, const orders::tenant_settings& ts,
                       bool durable) {
  auto& st = self->state;
  if (auto it = st.unsaved.find(tenant); it != st.unsaved.end() && !orders::newer(it->second, ts))
    st.unsaved.erase(it);
  if (!durable) return;
  st.settings[tenant] = ts;
  publish_settings_soon(self);
}

// A member's table: each tenant whose settings there carry a later stamp
// takes them. A table whose stamps lie more than a day ahead of this
// node's clock is refused whole: one bad clock must not pin a tenant's
// settings for everyone.
void on_peer_settings(directory_ptr self, const std::string& from, const std::string& bytes) {
  auto& st = self->state;
  orders::settings_table table;
  std::string error;
  if (!orders::decode(bytes, &table, &error)) {
    spdlog::warn("cluster: refused the tenant settings of {} ({} bytes): {}", from, bytes.size(), error);
    return;
  }
  const auto horizon = now_ms() + settings_clock_skew_max_ms;
  for (const auto& [tenant, ts] : table)
    if (ts.changed_ms > horizon) {
      spdlog::warn("cluster: refused the tenant settings of {}: tenant {} changed at {} ms, more than a day "
                   "ahead of this node's clock",
                   from, tenant, ts.changed_ms);
      return;
    }
  std::size_t taken = 0;
  for (const auto& [tenant, ts] : table) {
    // Not from a member that has not forgotten a deleted tenant yet.
    if (auto since = st.cc->node->deleted.since(tenant, now_ms()); since && ts.changed_ms <= *since) continue;
    const auto* here = latest_settings(self, tenant);
    if (here != nullptr && !orders::newer(ts, *here)) continue;
    if (!put_settings(self, tenant, ts, [tenant, from](const persistence::status& s) {
          if (!s) spdlog::warn("tenant {}: the settings from {} were not saved: {}", tenant, from, s.message());
        })) {
      // Tried again in a second (the latest table of that member then).
      spdlog::warn("cluster: the document queue is full; the rest of {}'s tenant settings are taken later", from);
      const bool scheduled = st.settings_retry.count(from) > 0;
      st.settings_retry[from] = bytes;
      if (!scheduled) self->delayed_send(self, std::chrono::seconds(1), tsettings_atom::value, from);
      break;
    }
    ++taken;
  }
  if (taken > 0) spdlog::info("cluster: took the settings of {} tenants from {}", taken, from);
}

void on_settings_call(self_ptr self, settings_call& call) {
  auto& st = self->state;
  const auto& req = call.req;
  if (req.priority) {
    if (req.priority->size() > orders::priority_warehouses_max)
      return call.done({outcome::bad_request, "priority: at most 1000 warehouses", {}});
    for (const auto& w : *req.priority)
      if (w.empty() || w.size() > limits::id_bytes_max)
        return call.done({outcome::bad_request, "priority: each warehouse must be 1 to 128 bytes", {}});
  }
  const auto* latest = latest_settings(self, req.who.tenant);
  const auto before = latest != nullptr ? *latest : orders::tenant_settings{};
  if (!req.changes()) {
    auto saved = st.settings.find(req.who.tenant);
    return call.done({outcome::ok, {}, saved != st.settings.end() ? saved->second : orders::tenant_settings{}});
  }
  auto ts = before;
  if (req.allocation) ts.allocation.policy = *req.allocation;
  if (req.priority) ts.allocation.priority = *req.priority;
  if (req.low_stock_threshold) ts.low_stock_threshold = *req.low_stock_threshold;
  if (req.rate_per_second) ts.rate_per_second = *req.rate_per_second;
  if (req.rate_burst) ts.rate_burst = *req.rate_burst;
  if (req.subscriptions_max) ts.subscriptions_max = *req.subscriptions_max;
  if (req.records_max) ts.records_max = *req.records_max;
  if (req.connections_max) ts.connections_max = *req.connections_max;
  if (req.ack) ts.ack = *req.ack;
  // Later than the change it replaces (saved or not yet), so it wins.
  orders::stamp(ts, now_ms(), in_cluster(self) ? st.cc->node->settings.cluster.member_id() : std::string{},
                before);
  auto done = call.done;
  if (!put_settings(self, req.who.tenant, ts, [done, ts](const persistence::status& s) {
        if (!s) return done({outcome::unavailable, "settings journal unavailable: " + s.message(), {}});
        done({outcome::ok, {}, ts});
      }))
    done({outcome::overloaded, "document queue full", {}});
}

// Stops the coordinators of the tenants `which` picks and takes them out of
// the maps; `each(handle)` runs first for each.
template <class Which, class Each>
void stop_coordinators(self_ptr self, Which which, Each each) {
  auto& st = self->state;
  const auto stop = [&](auto& map) {
    for (auto it = map.begin(); it != map.end();) {
      if (!which(std::get<1>(it->second.idem))) {
        ++it;
        continue;
      }
      each(it->second.handle);
      self->send(it->second.handle, stop_atom::value);
      st.open_idem.erase(it->second.idem);
      it = map.erase(it);
    }
  };
  stop(st.orders);
  stop(st.transfers);
}

// Answers the calls waiting on idempotency keys of the tenants `which` picks.
template <class Which>
void answer_waiting(self_ptr self, Which which, const order_reply& order_error,
                    const transfer_reply& transfer_error) {
  auto& st = self->state;
  const auto answer = [&](auto& pending, const auto& error) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (!which(std::get<1>(it->first))) {
        ++it;
        continue;
      }
      for (auto& c : it->second) {
        auto copy = error;
        c.done(std::move(copy));
      }
      it = pending.erase(it);
    }
  };
  answer(st.order_pending, order_error);
  answer(st.transfer_pending, transfer_error);
}

// Resumes an open document's coordinator unless one runs already.
void resume(self_ptr self, persistence::document& d) {
  auto& st = self->state;
  if (d.kind == document_kind::order) {
    if (st.orders.count(d.id)) return;
    orders::order o;
    if (!orders::decode(d.body, &o)) return spdlog::error("order {}: document undecodable; left as is", d.id);
    auto key = make_key(document_kind::order, o.tenant, o.idem);
    register_open(self, st.orders, o.id, spawn_order(self->system(), st.cc, o, std::nullopt), key);
  } else if (d.kind == document_kind::transfer) {
    if (st.transfers.count(d.id)) return;
    orders::transfer t;
    if (!orders::decode(d.body, &t)) return spdlog::error("transfer {}: document undecodable; left as is", d.id);
    idem_key key{document_kind::transfer, t.tenant, t.idem};
    register_open(self, st.transfers, t.id, spawn_transfer(self->system(), st.cc, t, std::nullopt), key);
  }
}

// Open documents from the store at start: coordinators resume their orders
// and transfers; settings fill the cache.
//
// In a cluster only settings are taken here: orders and transfers are
// resumed by the member that leads their tenant's home partition, from its
// journal, when it takes the partition over (on_home_documents).
void recover(self_ptr self, std::vector<persistence::document> open) {
  auto& st = self->state;
  std::size_t orders_resumed = 0, transfers_resumed = 0, left_to_homes = 0;
  for (auto& d : open) {
    if (d.kind != document_kind::tenant_settings && st.cc->node->routes) {
      ++left_to_homes;
      continue;
    }
    switch (d.kind) {
      case document_kind::tenant_settings: {
        orders::tenant_settings ts;
        if (orders::decode(d.body, &ts)) {
          st.settings[d.tenant] = ts;
          if (st.cc->on_settings) st.cc->on_settings(d.tenant, ts);
        } else spdlog::error("tenant {}: settings document undecodable; using defaults", d.tenant);
        break;
      }
      case document_kind::order:
        resume(self, d);
        ++orders_resumed;
        break;
      case document_kind::transfer:
        resume(self, d);
        ++transfers_resumed;
        break;
    }
  }
  if (orders_resumed + transfers_resumed > 0)
    spdlog::info("resumed {} open orders and {} open transfers", orders_resumed, transfers_resumed);
  if (left_to_homes > 0)
    spdlog::info("{} open orders and transfers in this node's documents file are left to their order homes, which "
                 "resume those journaled in their home partitions (docs/cluster.md)",
                 left_to_homes);
}

// In a cluster: this node started or stopped leading partition p. Either
// way it is not the order home of p's tenants until a takeover has read
// their documents; on the loss their coordinators stop (the next home
// resumes them from the journal) and their waiting calls are answered.
void on_home(self_ptr self, std::uint32_t p, bool leads) {
  auto& st = self->state;
  auto& routes = *st.cc->node->routes;
  if (st.home_generation.size() <= p) st.home_generation.resize(st.cc->node->partitions.size(), 0);
  const auto generation = ++st.home_generation[p];
  routes.home_ready[p].store(false, std::memory_order_release);
  const auto partitions = static_cast<std::uint32_t>(st.cc->node->partitions.size());
  const auto homed = [&](const std::string& tenant) { return cluster::home_partition(tenant, partitions) == p; };
  stop_coordinators(self, homed, [](const auto&) {});
  auto moved_order = order_reply::error(outcome::unavailable, "the order home moved; retry");
  moved_order.retry_after_ms = 200;
  auto moved_transfer = transfer_reply::error(outcome::unavailable, "the order home moved; retry");
  moved_transfer.retry_after_ms = 200;
  answer_waiting(self, homed, moved_order, moved_transfer);
  if (leads) read_home_documents(st.cc, p, generation);
}

void on_home_documents(self_ptr self, home_documents& h) {
  auto& st = self->state;
  const auto p = h.partition;
  if (p >= st.home_generation.size() || h.generation != st.home_generation[p]) return;  // superseded
  if (!h.st) {
    spdlog::error("partition {}: cannot take over its tenants' orders: {}; trying again in 1 s", p, h.st.message());
    self->delayed_send(self, std::chrono::seconds(1), home_atom::value, p, h.generation);
    return;
  }
  const auto now = now_ms();
  for (auto& d : h.open)
    if (!st.cc->node->deleted.refuses(d.tenant, now)) resume(self, d);
  st.cc->node->routes->home_ready[p].store(true, std::memory_order_release);
}

// tenant.delete: the tenant's coordinators stop (and leave the maps), the
// calls waiting for its idempotency keys are answered UNAVAILABLE, its
// settings leave the cache; `done` runs once every coordinator has exited,
// so none sends a step to a partition after that.
void on_purge(self_ptr self, tenant_purge& call) {
  auto& st = self->state;
  const auto& tenant = call.tenant;
  auto& purge = st.purges[tenant];
  purge.done = std::move(call.done);
  const auto of_tenant = [&](const std::string& t) { return t == tenant; };
  stop_coordinators(self, of_tenant, [&](const auto& handle) {
    self->monitor(handle);
    st.exiting.emplace(handle.address(), tenant);
    ++purge.exiting;
  });
  answer_waiting(self, of_tenant, order_reply::error(outcome::unavailable, "tenant is being deleted"),
                 transfer_reply::error(outcome::unavailable, "tenant is being deleted"));
  st.settings.erase(tenant);
  st.unsaved.erase(tenant);
  if (in_cluster(self)) publish_settings_soon(self);  // the table without it
  if (purge.exiting == 0) {
    auto done = std::move(purge.done);
    st.purges.erase(tenant);
    done(persistence::status::ok(), 0);
  }
}

void on_coordinator_exit(self_ptr self, const caf::down_msg& down) {
  auto& st = self->state;
  auto it = st.exiting.find(down.source);
  if (it == st.exiting.end()) return;
  const auto tenant = std::move(it->second);
  st.exiting.erase(it);
  auto p = st.purges.find(tenant);
  if (p == st.purges.end() || --p->second.exiting > 0) return;
  auto done = std::move(p->second.done);
  st.purges.erase(p);
  done(persistence::status::ok(), 0);
}

}  // namespace

namespace {

order_directory::behavior_type directory_behavior(self_ptr self, coordination_context* cc,
                                                  std::vector<persistence::document> open) {
  self->state.cc = cc;
  self->set_down_handler([=](caf::down_msg& down) { on_coordinator_exit(self, down); });
  recover(self, std::move(open));
  publish_settings(self);
  if (cc->node->routes)
    self->delayed_send(self, std::chrono::milliseconds(touch_interval_ms(cc)), touch_atom::value);
  return {
      [=](order_call& call) { on_order_call(self, call); },
      [=](transfer_call& call) { on_transfer_call(self, call); },
      [=](settings_call& call) { on_settings_call(self, call); },
      [=](found_atom, document_kind k, const std::string& tenant, const std::string& idem, doc_result& r) {
        const auto key = make_key(k, tenant, idem);
        if (k == document_kind::order) return on_order_found(self, key, r);
        on_transfer_found(self, key, r);
      },
      [=](planned_atom, plan_input& in) { on_planned(self, in); },
      [=](read_atom, order_call& call, doc_result& r) { on_order_read(self, call, r); },
      [=](read_atom, transfer_call& call, doc_result& r) { on_transfer_read(self, call, r); },
      [=](saved_atom, const std::string& tenant, const orders::tenant_settings& ts, bool durable) {
        on_settings_saved(self, tenant, ts, durable);
      },
      [=](tsettings_atom, const std::string& from, const std::string& bytes) { on_peer_settings(self, from, bytes); },
      [=](tsettings_atom, const std::string& from) {
        auto node = self->state.settings_retry.extract(from);
        if (!node.empty()) on_peer_settings(self, from, node.mapped());
      },
      [=](tsettings_atom) {
        self->state.publish_due = false;
        publish_settings(self);
      },
      [=](ended_atom, document_kind k, const std::string& id) {
        auto& st = self->state;
        auto forget = [&](auto& map) {
          auto it = map.find(id);
          // Not from a coordinator stopped earlier (the home moved away and
          // back) for one resumed since under the same id.
          if (it == map.end() || it->second.handle.address() != self->current_sender()) return;
          self->send(it->second.handle, stop_atom::value);
          st.open_idem.erase(it->second.idem);
          map.erase(it);
        };
        if (k == document_kind::order)
          forget(st.orders);
        else
          forget(st.transfers);
      },
      [=](tenant_purge& call) { on_purge(self, call); },
      [=](home_atom, std::uint32_t p, bool leads) { on_home(self, p, leads); },
      [=](home_atom, home_documents& h) { on_home_documents(self, h); },
      [=](home_atom, std::uint32_t p, std::uint64_t generation) {
        // Still the same takeover (no lead lost or gained since): read again.
        auto& st = self->state;
        if (p < st.home_generation.size() && st.home_generation[p] == generation) read_home_documents(st.cc, p, generation);
      },
      [=](touch_atom) {
        auto& st = self->state;
        for (auto& [id, e] : st.orders) self->send(e.handle, touch_atom::value);
        for (auto& [id, e] : st.transfers) self->send(e.handle, touch_atom::value);
        self->delayed_send(self, std::chrono::milliseconds(touch_interval_ms(st.cc)), touch_atom::value);
      },
      [=](stop_atom) {
        auto& st = self->state;
        for (auto& [id, e] : st.orders) self->send(e.handle, stop_atom::value);
        for (auto& [id, e] : st.transfers) self->send(e.handle, stop_atom::value);
        st.orders.clear();
        st.transfers.clear();
        for (auto& [key, calls] : st.order_pending)
          for (auto& c : calls) c.done(order_reply::error(outcome::unavailable, "node is stopping"));
        for (auto& [key, calls] : st.transfer_pending)
          for (auto& c : calls) c.done(transfer_reply::error(outcome::unavailable, "node is stopping"));
        st.order_pending.clear();
        st.transfer_pending.clear();
        self->quit();
      },
  };
}

}  // namespace

order_directory spawn_directory(caf::actor_system& system, coordination_context* cc,
                                std::vector<persistence::document> open) {
  return system.spawn(directory_behavior, cc, std::move(open));
}

}  // namespace stockgrid::actors
