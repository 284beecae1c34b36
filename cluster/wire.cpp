#include "cluster/wire.hpp"

#include <limits>

#include "persistence/document_entry.hpp"
#include "protocol/array_reader.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::cluster {

namespace {

using protocol::array;
using protocol::array_reader;
using protocol::value;

constexpr std::int64_t format_version = 1;

// Limits for one message: a reply carries at most a history page (1,000
// events) or a record's holds (bounded by holds-per-record-max); a string at
// most a journaled order or transfer document.
protocol::parse_limits wire_limits() {
  protocol::parse_limits l;
  l.depth_max = 8;  // peer message > replies > [id, reply] > events > event > change
  l.string_bytes_max = persistence::document_entry_bytes_max;
  l.array_items_max = 70'000;
  l.map_entries_max = 0;
  l.total_items_max = 2'000'000;
  return l;
}

value opt(const std::optional<std::int64_t>& v) { return v ? value(*v) : value(nullptr); }
value opt(const std::optional<bool>& v) { return v ? value(*v) : value(nullptr); }

value encode_record(const record_view& r) {
  return array{r.key.tenant, r.key.warehouse, r.key.sku,      r.on_hand,     r.reserved,           r.version,
               r.safety_stock, r.allow_backorder, r.backordered, r.incoming, r.low_stock_threshold};
}

value encode_change(const change& c) {
  return array{static_cast<std::int64_t>(c.kind), c.version, c.on_hand_before, c.on_hand_after,
               c.reserved_before, c.reserved_after, c.backordered_before, c.backordered_after,
               c.incoming_before, c.incoming_after, c.policy.safety_stock, c.policy.allow_backorder,
               c.policy.low_stock_threshold, c.qty, c.hold_seq, c.expires_at_ms, c.ref, c.reason};
}

bool decode_record(const value& v, record_view* r, std::string* error) {
  array_reader in(v, "record", 11, error);
  r->key.tenant = in.text();
  r->key.warehouse = in.text();
  r->key.sku = in.text();
  r->on_hand = in.integer();
  r->reserved = in.integer();
  r->version = in.integer();
  r->safety_stock = in.integer();
  r->allow_backorder = in.boolean();
  r->backordered = in.integer();
  r->incoming = in.integer();
  r->low_stock_threshold = in.integer();
  return in.ok();
}

bool decode_change(const value& v, change* c, std::string* error) {
  array_reader in(v, "change", 18, error);
  c->kind = in.enumerated<change_kind>(1, 14);
  c->version = in.integer();
  c->on_hand_before = in.integer();
  c->on_hand_after = in.integer();
  c->reserved_before = in.integer();
  c->reserved_after = in.integer();
  c->backordered_before = in.integer();
  c->backordered_after = in.integer();
  c->incoming_before = in.integer();
  c->incoming_after = in.integer();
  c->policy.safety_stock = in.integer();
  c->policy.allow_backorder = in.boolean();
  c->policy.low_stock_threshold = in.integer();
  c->qty = in.integer();
  c->hold_seq = in.unsigned_integer();
  c->expires_at_ms = in.integer();
  c->ref = in.text();
  c->reason = in.text();
  return in.ok();
}

bool parse_message(std::string_view bytes, value* out, std::string* error) {
  return protocol::parse(bytes, protocol::encoding::msgpack, wire_limits(), out, error);
}

bool check_version(array_reader& in, std::string* error) {
  const auto v = in.integer();
  if (in.ok() && v != format_version) {
    *error = "format version " + std::to_string(v) + ", this node reads " + std::to_string(format_version);
    return false;
  }
  return in.ok();
}

value request_value(const request& r) {
  value allowed = nullptr;
  if (r.warehouses_allowed) {
    array list;
    for (const auto& w : *r.warehouses_allowed) list.emplace_back(w);
    allowed = std::move(list);
  }
  const value v = array{format_version,
                        static_cast<std::int64_t>(r.kind),
                        r.key.tenant,
                        r.key.warehouse,
                        r.key.sku,
                        r.hold,
                        opt(r.qty),
                        r.delta,
                        r.on_hand,
                        opt(r.expected_version),
                        r.ttl_ms,
                        r.ref,
                        r.reason,
                        r.idem,
                        r.key_id,
                        std::move(allowed),
                        static_cast<std::int64_t>(r.limit),
                        r.before_version,
                        opt(r.safety_stock),
                        opt(r.allow_backorder),
                        opt(r.low_stock_threshold),
                        r.internal,
                        r.idem_fresh,
                        r.follower_read};
  return v;
}

bool request_from(const value& v, request* out, std::string* error) {
  request r;
  array_reader in(v, "request", 24, error);
  if (!check_version(in, error)) return false;
  r.kind = in.enumerated<op>(1, 15);
  r.key.tenant = in.text();
  r.key.warehouse = in.text();
  r.key.sku = in.text();
  r.hold = in.text();
  r.qty = in.optional_integer();
  r.delta = in.integer();
  r.on_hand = in.integer();
  r.expected_version = in.optional_integer();
  r.ttl_ms = in.integer();
  r.ref = in.text();
  r.reason = in.text();
  r.idem = in.text();
  r.key_id = in.text();
  if (const value* allowed = in.any(); allowed && !allowed->is_null()) {
    if (!allowed->as_array()) {
      *error = "request field 15: expected an array or nil";
      return false;
    }
    auto list = std::make_shared<std::vector<std::string>>();
    for (const value& w : *allowed->as_array()) {
      if (!w.as_string()) {
        *error = "request field 15: expected strings";
        return false;
      }
      list->push_back(*w.as_string());
    }
    r.warehouses_allowed = std::move(list);
  }
  const auto limit = in.integer();
  if (in.ok() && (limit < 0 || limit > std::numeric_limits<int>::max())) {
    *error = "request field 16: limit out of range";
    return false;
  }
  r.limit = static_cast<int>(limit);
  r.before_version = in.integer();
  r.safety_stock = in.optional_integer();
  r.allow_backorder = in.optional_boolean();
  r.low_stock_threshold = in.optional_integer();
  r.internal = in.boolean();
  r.idem_fresh = in.boolean();
  r.follower_read = in.boolean();
  if (!in.ok()) return false;
  *out = std::move(r);
  return true;
}

value reply_value(const reply& r) {
  array holds;
  holds.reserve(r.holds.size());
  for (const auto& h : r.holds) holds.emplace_back(array{h.hold, h.qty, h.expires_at_ms, h.ref});
  array events;
  events.reserve(r.events.size());
  for (const auto& e : r.events)
    events.emplace_back(array{e.seq, encode_change(e.c), e.hold, e.idem, e.key_id, e.at_ms});
  const value v = array{format_version,
                        static_cast<std::int64_t>(r.code),
                        r.message,
                        r.has_record ? encode_record(r.record) : value(nullptr),
                        r.hold,
                        r.expires_at_ms,
                        r.available,
                        r.limit,
                        r.retry_after_ms,
                        std::move(holds),
                        std::move(events),
                        r.replayed};
  return v;
}

bool reply_from(const value& v, reply* out, std::string* error) {
  reply r;
  array_reader in(v, "reply", 12, error);
  if (!check_version(in, error)) return false;
  r.code = in.enumerated<outcome>(1, 16);
  r.message = in.text();
  if (const value* rec = in.any(); rec && !rec->is_null()) {
    if (!decode_record(*rec, &r.record, error)) return false;
    r.has_record = true;
  }
  r.hold = in.text();
  r.expires_at_ms = in.integer();
  r.available = in.integer();
  r.limit = in.integer();
  r.retry_after_ms = in.integer();
  const value* holds = in.any();
  const value* events = in.any();
  r.replayed = in.boolean();
  if (!in.ok()) return false;
  if (!holds->as_array() || !events->as_array()) {
    *error = "reply: holds and events must be arrays";
    return false;
  }
  for (const value& h : *holds->as_array()) {
    array_reader hin(h, "hold", 4, error);
    hold_view hv;
    hv.hold = hin.text();
    hv.qty = hin.integer();
    hv.expires_at_ms = hin.integer();
    hv.ref = hin.text();
    if (!hin.ok()) return false;
    r.holds.push_back(std::move(hv));
  }
  for (const value& e : *events->as_array()) {
    array_reader ein(e, "event", 6, error);
    history_event ev;
    ev.seq = ein.unsigned_integer();
    const value* c = ein.any();
    ev.hold = ein.text();
    ev.idem = ein.text();
    ev.key_id = ein.text();
    ev.at_ms = ein.integer();
    if (!ein.ok() || !decode_change(*c, &ev.c, error)) return false;
    r.events.push_back(std::move(ev));
  }
  *out = std::move(r);
  return true;
}


value entry_value(const persistence::journal_entry& e) {
  return array{e.seq, e.epoch, e.at_ms, e.key.tenant, e.key.warehouse, e.key.sku, encode_change(e.c), e.idem,
               e.fingerprint, static_cast<std::int64_t>(e.result), e.detail, e.key_id};
}

bool entry_from(const value& v, persistence::journal_entry* e, std::string* error) {
  array_reader in(v, "entry", 12, error);
  e->seq = in.unsigned_integer();
  e->epoch = in.unsigned_integer();
  e->at_ms = in.integer();
  e->key.tenant = in.text();
  e->key.warehouse = in.text();
  e->key.sku = in.text();
  const value* c = in.any();
  e->idem = in.text();
  e->fingerprint = static_cast<std::uint64_t>(in.integer());  // all 64 bits, stored as int64
  e->result = in.enumerated<outcome>(1, 16);
  e->detail = in.integer();
  e->key_id = in.text();
  return in.ok() && decode_change(*c, &e->c, error);
}

// Each section is an array of fixed-size arrays; `fn` reads one item.
template <class Fn>
bool each(const value* section, const char* what, std::string* error, Fn fn) {
  if (!section || !section->as_array()) {
    *error = std::string(what) + ": expected an array";
    return false;
  }
  for (const value& item : *section->as_array())
    if (!fn(item)) return false;
  return true;
}

}  // namespace

std::string encode(const request& r) { return protocol::serialize(request_value(r), protocol::encoding::msgpack); }
std::string encode(const reply& r) { return protocol::serialize(reply_value(r), protocol::encoding::msgpack); }

bool decode(std::string_view bytes, request* out, std::string* error) {
  value v;
  return parse_message(bytes, &v, error) && request_from(v, out, error);
}

bool decode(std::string_view bytes, reply* out, std::string* error) {
  value v;
  return parse_message(bytes, &v, error) && reply_from(v, out, error);
}

std::string encode(const peer_message& m) {
  array appends, results, votes, vote_results, truncates, requests, replies;
  for (const auto& a : m.appends) {
    array entries;
    entries.reserve(a.entries.size());
    for (const auto& e : a.entries) entries.push_back(entry_value(e));
    appends.emplace_back(array{std::int64_t{a.partition}, a.epoch, a.prev_seq, a.prev_epoch, a.commit_seq,
                               std::move(entries)});
  }
  for (const auto& r : m.results)
    results.emplace_back(array{std::int64_t{r.partition}, r.epoch, r.ok, r.last_seq, r.last_epoch});
  for (const auto& v : m.votes) {
    array vote{std::int64_t{v.partition}, v.epoch, v.last_seq, v.last_epoch, v.pre};
    if (v.transfer) vote.emplace_back(true);
    votes.emplace_back(std::move(vote));
  }
  for (const auto& v : m.vote_results)
    vote_results.emplace_back(array{std::int64_t{v.partition}, v.epoch, v.granted, v.pre});
  for (const auto& t : m.truncates)
    truncates.emplace_back(array{std::int64_t{t.partition}, t.epoch, t.after_seq});
  for (const auto& [id, r] : m.requests) requests.emplace_back(array{id, request_value(r)});
  for (const auto& [id, r] : m.replies) replies.emplace_back(array{id, reply_value(r)});
  value leads = nullptr;
  if (m.has_leads) {
    array list;
    for (const auto& [p, epoch] : m.leads) list.emplace_back(array{std::int64_t{p}, epoch});
    leads = std::move(list);
  }
  array fields{format_version,       m.sent_ms,           m.echo_ms,          std::move(appends),
               std::move(results),   std::move(votes),    std::move(vote_results),
               std::move(truncates), std::move(requests), std::move(replies), std::move(leads)};
  if (!m.takeovers.empty()) {
    array takeovers;
    for (const auto& t : m.takeovers) takeovers.emplace_back(array{std::int64_t{t.partition}, t.epoch, t.refused});
    fields.emplace_back(std::move(takeovers));
  }
  return protocol::serialize(value(std::move(fields)), protocol::encoding::msgpack);
}

bool decode(std::string_view bytes, peer_message* out, std::string* error) {
  value v;
  if (!parse_message(bytes, &v, error)) return false;
  array_reader in(v, "peer message", 11, 12, error);
  if (!check_version(in, error)) return false;
  peer_message m;
  m.sent_ms = in.integer();
  m.echo_ms = in.integer();
  const value* sections[8];
  for (auto& s : sections) s = in.any();
  const value* takeovers = in.has_more() ? in.any() : nullptr;
  if (!in.ok()) return false;
  auto partition = [](array_reader& r) { return static_cast<std::uint32_t>(r.enumerated<std::int64_t>(0, 0xffffffffLL)); };
  const bool ok =
      each(sections[0], "appends", error,
           [&](const value& item) {
             array_reader r(item, "append", 6, error);
             partition_append a;
             a.partition = partition(r);
             a.epoch = r.unsigned_integer();
             a.prev_seq = r.unsigned_integer();
             a.prev_epoch = r.unsigned_integer();
             a.commit_seq = r.unsigned_integer();
             const value* entries = r.any();
             if (!r.ok()) return false;
             if (!each(entries, "entries", error, [&](const value& e) {
                   persistence::journal_entry entry;
                   if (!entry_from(e, &entry, error)) return false;
                   a.entries.push_back(std::move(entry));
                   return true;
                 }))
               return false;
             m.appends.push_back(std::move(a));
             return true;
           }) &&
      each(sections[1], "results", error,
           [&](const value& item) {
             array_reader r(item, "result", 5, error);
             append_result a;
             a.partition = partition(r);
             a.epoch = r.unsigned_integer();
             a.ok = r.boolean();
             a.last_seq = r.unsigned_integer();
             a.last_epoch = r.unsigned_integer();
             m.results.push_back(a);
             return r.ok();
           }) &&
      each(sections[2], "votes", error,
           [&](const value& item) {
             array_reader r(item, "vote", 5, 6, error);
             vote_request a;
             a.partition = partition(r);
             a.epoch = r.unsigned_integer();
             a.last_seq = r.unsigned_integer();
             a.last_epoch = r.unsigned_integer();
             a.pre = r.boolean();
             if (r.has_more()) a.transfer = r.boolean();
             m.votes.push_back(a);
             return r.ok();
           }) &&
      each(sections[3], "vote results", error,
           [&](const value& item) {
             array_reader r(item, "vote result", 4, error);
             vote_result a;
             a.partition = partition(r);
             a.epoch = r.unsigned_integer();
             a.granted = r.boolean();
             a.pre = r.boolean();
             m.vote_results.push_back(a);
             return r.ok();
           }) &&
      each(sections[4], "truncates", error,
           [&](const value& item) {
             array_reader r(item, "truncate", 3, error);
             truncate_order a;
             a.partition = partition(r);
             a.epoch = r.unsigned_integer();
             a.after_seq = r.unsigned_integer();
             m.truncates.push_back(a);
             return r.ok();
           }) &&
      each(sections[5], "requests", error,
           [&](const value& item) {
             array_reader r(item, "forwarded request", 2, error);
             const auto id = r.unsigned_integer();
             const value* body = r.any();
             request req;
             if (!r.ok() || !request_from(*body, &req, error)) return false;
             m.requests.emplace_back(id, std::move(req));
             return true;
           }) &&
      each(sections[6], "replies", error, [&](const value& item) {
        array_reader r(item, "forwarded reply", 2, error);
        const auto id = r.unsigned_integer();
        const value* body = r.any();
        reply rep;
        if (!r.ok() || !reply_from(*body, &rep, error)) return false;
        m.replies.emplace_back(id, std::move(rep));
        return true;
      });
  if (!ok) return false;
  if (!sections[7]->is_null()) {
    m.has_leads = true;
    if (!each(sections[7], "leads", error, [&](const value& item) {
          array_reader r(item, "lead", 2, error);
          const auto p = partition(r);
          const auto epoch = r.unsigned_integer();
          m.leads.emplace_back(p, epoch);
          return r.ok();
        }))
      return false;
  }
  if (takeovers != nullptr && !each(takeovers, "takeovers", error, [&](const value& item) {
        array_reader r(item, "takeover", 3, error);
        takeover t;
        t.partition = partition(r);
        t.epoch = r.unsigned_integer();
        t.refused = r.boolean();
        m.takeovers.push_back(t);
        return r.ok();
      }))
    return false;
  *out = std::move(m);
  return true;
}

}  // namespace stockgrid::cluster
