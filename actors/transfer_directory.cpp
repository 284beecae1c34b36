// The directory's transfer half: checks and routes transfer calls, creates
// transfers (with their idempotency keys) and answers calls on final ones
// from the document store. See order_directory.cpp for the order half.
#include <caf/all.hpp>

#include "actors/clock.hpp"
#include "actors/directory.hpp"
#include "config/limits.hpp"
#include "domain/validate.hpp"

namespace stockgrid::actors {

using orders::transfer_reply;
using persistence::document_kind;

namespace {

std::string check(const orders::transfer_request& r) {
  const auto id_ok = [](const std::string& s) { return !s.empty() && s.size() <= limits::id_bytes_max; };
  if (auto bad = validate_client_idem(r.idem); !bad.empty()) return bad;
  if (r.kind != orders::transfer_op::create) {
    if (!id_ok(r.transfer)) return "transfer: must be 1 to 128 bytes";
    if (r.qty && (*r.qty <= 0 || *r.qty > limits::quantity_max)) return "qty: must be between 1 and 10^12";
    return {};
  }
  if (!id_ok(r.sku)) return "sku: must be 1 to 128 bytes";
  if (!id_ok(r.from)) return "from: must be 1 to 128 bytes";
  if (!id_ok(r.to)) return "to: must be 1 to 128 bytes";
  if (r.from == r.to) return "to: must differ from from";
  if (!r.qty || *r.qty <= 0 || *r.qty > limits::quantity_max) return "qty: must be between 1 and 10^12";
  return {};
}

void create(directory_ptr self, transfer_call&& call) {
  auto& st = self->state;
  const auto id = new_id(self, 'T');
  if (id.empty()) {
    if (!call.req.idem.empty())
      release_pending(st.transfer_pending, idem_key{document_kind::transfer, call.req.who.tenant, call.req.idem},
                      [](transfer_call& c) {
                        c.done(transfer_reply::error(outcome::unavailable, "transfer journal unavailable"));
                      });
    return call.done(transfer_reply::error(outcome::unavailable, "transfer journal unavailable"));
  }
  const auto& req = call.req;
  orders::transfer t;
  t.tenant = req.who.tenant;
  t.id = id;
  t.sku = req.sku;
  t.from = req.from;
  t.to = req.to;
  t.idem = req.idem;
  t.key_id = req.who.key_id;
  t.fingerprint = orders::fingerprint(req);
  t.qty = *req.qty;
  t.created_ms = now_ms();
  idem_key key{document_kind::transfer, t.tenant, t.idem};
  const bool has_idem = !req.idem.empty();
  auto handle = spawn_transfer(self->system(), st.cc, std::move(t), std::move(call));
  register_open(self, st.transfers, id, handle, key);
  if (has_idem)
    release_pending(st.transfer_pending, key, [&](transfer_call& c) { self->send(handle, std::move(c)); });
}

}  // namespace

void on_transfer_call(directory_ptr self, transfer_call& call) {
  auto& st = self->state;
  const auto& req = call.req;
  if (st.cc->node->deleted.refuses(req.who.tenant, now_ms()))
    return call.done(transfer_reply::error(outcome::not_found, "tenant " + req.who.tenant + " is being deleted"));
  if (!home_here(self, req.who.tenant)) {
    auto r = transfer_reply::error(outcome::unavailable, "this node is not the order home of tenant " +
                                                             req.who.tenant + " now (its home partition's leader is)");
    r.retry_after_ms = 200;
    return call.done(std::move(r));
  }
  if (auto problem = check(req); !problem.empty())
    return call.done(transfer_reply::error(outcome::bad_request, problem));
  if (req.kind != orders::transfer_op::create) {
    if (auto it = st.transfers.find(req.transfer);
        it != st.transfers.end() && std::get<1>(it->second.idem) == req.who.tenant)
      return self->send(it->second.handle, std::move(call));
    auto me = caf::actor_cast<order_directory>(self);
    auto shared = std::make_shared<transfer_call>(std::move(call));
    if (!st.cc->docs->get(document_kind::transfer, shared->req.who.tenant, shared->req.transfer,
                          [me, shared](const persistence::status& s, std::optional<persistence::document> d) {
                            caf::anon_send(me, read_atom::value, std::move(*shared), doc_result{s, std::move(d)});
                          }))
      shared->done(overloaded_reply<transfer_reply>());
    return;
  }
  for (const auto* w : {&req.from, &req.to})
    if (!req.who.may_use(*w))
      return call.done(transfer_reply::error(outcome::forbidden, "this key may not use warehouse " + *w));
  if (at_bound(self)) return call.done(overloaded_reply<transfer_reply>());
  if (req.idem.empty()) return create(self, std::move(call));
  idem_key key{document_kind::transfer, req.who.tenant, req.idem};
  if (auto it = st.open_idem.find(key); it != st.open_idem.end())
    if (auto t = st.transfers.find(it->second); t != st.transfers.end())
      return self->send(t->second.handle, std::move(call));
  if (auto it = st.transfer_pending.find(key); it != st.transfer_pending.end()) {
    if (it->second.size() >= limits::coordinator_waiting_max)
      return call.done(overloaded_reply<transfer_reply>());
    it->second.push_back(std::move(call));
    return;
  }
  auto tenant = req.who.tenant;
  auto idem = req.idem;
  st.transfer_pending[key].push_back(std::move(call));
  auto me = caf::actor_cast<order_directory>(self);
  if (!st.cc->docs->find_idem(document_kind::transfer, tenant, idem,
                              [me, key](const persistence::status& s, std::optional<persistence::document> d) {
                                caf::anon_send(me, found_atom::value, std::get<0>(key), std::get<1>(key),
                                               std::get<2>(key), doc_result{s, std::move(d)});
                              }))
    release_pending(st.transfer_pending, key,
                    [](transfer_call& c) { c.done(overloaded_reply<transfer_reply>()); });
}

void on_transfer_found(directory_ptr self, const idem_key& key, doc_result& found) {
  auto& st = self->state;
  auto it = st.transfer_pending.find(key);
  if (it == st.transfer_pending.end() || it->second.empty()) return;
  if (!found.st)
    return release_pending(st.transfer_pending, key, [&](transfer_call& c) {
      c.done(transfer_reply::error(outcome::internal, "idempotency look-up failed: " + found.st.message()));
    });
  if (found.doc) {
    orders::transfer t;
    if (!orders::decode(found.doc->body, &t))
      return release_pending(st.transfer_pending, key, [](transfer_call& c) {
        c.done(transfer_reply::error(outcome::internal, "transfer document undecodable"));
      });
    return release_pending(st.transfer_pending, key, [&](transfer_call& c) {
      if (orders::fingerprint(c.req) != t.fingerprint)
        return c.done(transfer_reply::error(outcome::idempotency_mismatch,
                                            "idem: key already used for a different request"));
      c.done(answer_final(t, c));
    });
  }
  auto first = std::move(it->second.front());
  it->second.erase(it->second.begin());
  create(self, std::move(first));
}

void on_transfer_read(directory_ptr self, transfer_call& call, doc_result& r) {
  auto& st = self->state;
  if (auto it = st.transfers.find(call.req.transfer);
      it != st.transfers.end() && std::get<1>(it->second.idem) == call.req.who.tenant)
    return self->send(it->second.handle, std::move(call));
  if (!r.st) return call.done(transfer_reply::error(outcome::internal, r.st.message()));
  if (!r.doc) return call.done(transfer_reply::error(outcome::not_found, "no such transfer"));
  orders::transfer t;
  if (!orders::decode(r.doc->body, &t))
    return call.done(transfer_reply::error(outcome::internal, "transfer document undecodable"));
  if (!permitted(call.req.who, t))
    return call.done(transfer_reply::error(outcome::forbidden, "this key may not use both warehouses of this transfer"));
  call.done(answer_final(t, call));
}

}  // namespace stockgrid::actors
