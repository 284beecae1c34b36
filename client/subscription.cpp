#include "client/subscription.hpp"

#include <algorithm>

namespace stockgrid::client {

using protocol::array;
using protocol::object;
using protocol::value;

std::string_view to_string(event_kind kind) {
  switch (kind) {
    case event_kind::snapshot: return "snapshot";
    case event_kind::snapshot_end: return "snapshot_end";
    case event_kind::stock: return "stock";
    case event_kind::alert: return "alert";
    case event_kind::reset: return "reset";
    case event_kind::ended: return "ended";
  }
  return "?";
}

bool is_event_frame(const value& frame) {
  if (frame.as_object() == nullptr) return false;
  const value* id = frame.find("id");
  const value* event = frame.find("event");
  return (id == nullptr || id->is_null()) && event != nullptr && event->as_string() != nullptr;
}

std::optional<std::int64_t> event_sub(const value& frame) {
  const value* sub = frame.find("sub");
  if (sub == nullptr || sub->as_int() == nullptr) return std::nullopt;
  return *sub->as_int();
}

namespace {

// Readers of one member: a missing required member is an error naming it.
struct member_reader {
  const value& object_value;
  std::string* error;
  std::string where;

  bool integer(std::string_view name, std::int64_t* out, bool required = true) {
    const value* v = object_value.find(name);
    if (v == nullptr || v->is_null()) return !required || fail(name, "required");
    if (const std::int64_t* i = v->as_int()) {
      *out = *i;
      return true;
    }
    // A JSON number with an exponent is read as a double; accept it when integral.
    if (const double* d = v->as_double(); d && *d == static_cast<double>(static_cast<std::int64_t>(*d))) {
      *out = static_cast<std::int64_t>(*d);
      return true;
    }
    return fail(name, "not an integer");
  }
  bool text(std::string_view name, std::string* out, bool required = true) {
    const value* v = object_value.find(name);
    if (v == nullptr || v->is_null()) return !required || fail(name, "required");
    if (const std::string* s = v->as_string()) {
      *out = *s;
      return true;
    }
    return fail(name, "not a string");
  }
  bool boolean(std::string_view name, bool* out) {
    const value* v = object_value.find(name);
    if (v == nullptr || v->is_null()) return true;
    if (const bool* b = v->as_bool()) {
      *out = *b;
      return true;
    }
    return fail(name, "not a boolean");
  }
  bool fail(std::string_view name, std::string_view what) {
    *error = where + std::string(name) + ": " + std::string(what);
    return false;
  }
};

}  // namespace

bool decode_record(const value& v, stock_record* out, std::string* error) {
  if (v.as_object() == nullptr) {
    *error = "record: not an object";
    return false;
  }
  member_reader m{v, error, "record."};
  return m.text("warehouse", &out->warehouse) && m.text("sku", &out->sku) &&
         m.integer("on_hand", &out->on_hand) && m.integer("reserved", &out->reserved) &&
         m.integer("available", &out->available) && m.integer("version", &out->version) &&
         m.integer("backordered", &out->backordered, false) &&
         m.integer("incoming", &out->incoming, false) &&
         m.integer("safety_stock", &out->safety_stock, false) &&
         m.boolean("allow_backorder", &out->allow_backorder) &&
         m.integer("low_stock_threshold", &out->low_stock_threshold, false);
}

bool decode_position(const value& v, stream_position* out, std::string* error) {
  const array* pairs = v.as_array();
  if (pairs == nullptr) {
    *error = "position: not an array";
    return false;
  }
  out->clear();
  for (const value& pair : *pairs) {
    const array* p = pair.as_array();
    if (p == nullptr || p->size() != 2 || (*p)[0].as_int() == nullptr || (*p)[1].as_int() == nullptr) {
      *error = "position: each entry must be [partition, seq]";
      return false;
    }
    (*out)[*(*p)[0].as_int()] = *(*p)[1].as_int();
  }
  return true;
}

value position_value(const stream_position& position) {
  array pairs;
  pairs.reserve(position.size());
  for (const auto& [partition, seq] : position) pairs.emplace_back(array{value(partition), value(seq)});
  return value(std::move(pairs));
}

object subscribe_params(const subscription_filter& filter, const std::optional<stream_position>& from) {
  object o;
  if (!filter.warehouse.empty()) o.emplace_back("warehouse", filter.warehouse);
  if (!filter.sku.empty()) o.emplace_back("sku", filter.sku);
  if (!filter.sku_prefix.empty()) o.emplace_back("sku_prefix", filter.sku_prefix);
  if (filter.alerts) o.emplace_back("alerts", true);
  if (from) o.emplace_back("from", position_value(*from));
  return o;
}

bool decode_event(const value& frame, subscription_event* out, std::string* error) {
  if (!is_event_frame(frame)) {
    *error = "not an event frame";
    return false;
  }
  member_reader m{frame, error, ""};
  std::string kind;
  if (!m.text("event", &kind) || !m.integer("sub", &out->sub)) return false;
  out->raw = frame;
  if (kind == "snapshot") {
    out->kind = event_kind::snapshot;
    const value* records = frame.find("records");
    if (records == nullptr || records->as_array() == nullptr) return m.fail("records", "required");
    out->records.clear();
    out->records.reserve(records->as_array()->size());
    for (const value& r : *records->as_array()) {
      if (!decode_record(r, &out->records.emplace_back(), error)) return false;
    }
    return true;
  }
  if (kind == "snapshot_end") {
    out->kind = event_kind::snapshot_end;
    const value* position = frame.find("position");
    if (position == nullptr) return m.fail("position", "required");
    return decode_position(*position, &out->position, error);
  }
  if (kind == "reset") {
    out->kind = event_kind::reset;
    return true;
  }
  const bool stock = kind == "stock";
  if (!stock && kind != "alert") {
    *error = "event: unknown kind \"" + kind + "\"";
    return false;
  }
  out->kind = stock ? event_kind::stock : event_kind::alert;
  const value* record = frame.find("record");
  if (record == nullptr) return m.fail("record", "required");
  if (!m.integer("partition", &out->partition) || !m.integer("seq", &out->seq) ||
      !m.integer("at_ms", &out->at_ms, false) || !decode_record(*record, &out->record, error)) {
    return false;
  }
  if (!stock) return m.text("kind", &out->alert) && m.integer("threshold", &out->threshold, false);
  if (!m.boolean("coalesced", &out->coalesced)) return false;
  const value* change = frame.find("change");
  if (change == nullptr || change->as_object() == nullptr) return m.fail("change", "required");
  member_reader c{*change, error, "change."};
  return c.text("kind", &out->change.kind) && c.integer("delta", &out->change.delta, false) &&
         c.integer("qty", &out->change.qty, false) && c.text("reason", &out->change.reason, false) &&
         c.integer("version", &out->change.version, false);
}

// ---------------------------------------------------------------------------
// position_keeper

std::string position_keeper::identity(const subscription_event& e) {
  std::string id(to_string(e.kind));
  id += '\0';
  id += e.alert;
  id += '\0';
  id += e.record.warehouse;
  id += '\0';
  id += e.record.sku;
  return id;
}

bool position_keeper::apply(const subscription_event& e) {
  switch (e.kind) {
    case event_kind::snapshot:
      return true;
    case event_kind::snapshot_end:
      position_ = e.position;
      known_ = true;
      resumed_from_.clear();
      at_max_.clear();
      return true;
    case event_kind::reset:
      position_.clear();
      known_ = false;
      resumed_from_.clear();
      at_max_.clear();
      return true;
    case event_kind::ended:
      return true;
    case event_kind::stock:
    case event_kind::alert:
      break;
  }
  // The replay of a resumed stream: what lies at or below the resume point
  // was delivered on the previous connection (the server sends what follows
  // `from`, so this guards against a server that repeats its edge).
  if (auto guard = resumed_from_.find(e.partition); guard != resumed_from_.end()) {
    if (e.seq < guard->second) {
      ++duplicates_dropped_;
      return false;
    }
    if (e.seq == guard->second) {
      const auto& seen = at_max_[e.partition];
      if (seen.seq == e.seq &&
          std::find(seen.identities.begin(), seen.identities.end(), identity(e)) != seen.identities.end()) {
        ++duplicates_dropped_;
        return false;
      }
    } else {
      resumed_from_.erase(guard);  // past the resume point: the guard is done
    }
  }
  // Remember which events were seen at the partition's highest seq: after a
  // resume from that seq, they are the only ones that can repeat.
  const auto found = position_.find(e.partition);
  auto& seen = at_max_[e.partition];
  if (found == position_.end() || e.seq > found->second) {
    seen.seq = e.seq;
    seen.identities.assign(1, identity(e));
  } else if (e.seq == seen.seq && seen.identities.size() < same_seq_events_max) {
    seen.identities.push_back(identity(e));
  }
  auto& at = position_[e.partition];
  at = std::max(at, e.seq);
  return true;
}

std::optional<stream_position> position_keeper::resume_from() const {
  if (!known_) return std::nullopt;
  return position_;
}

void position_keeper::resubscribing() {
  if (known_) {
    resumed_from_ = position_;
  } else {
    position_.clear();
    resumed_from_.clear();
    at_max_.clear();
  }
}

}  // namespace stockgrid::client
