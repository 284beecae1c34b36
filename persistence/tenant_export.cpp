#include "persistence/tenant_export.hpp"

#include <algorithm>
#include <vector>

namespace stockgrid::persistence {

namespace {

// Rows read per store call; a page usually ends (sink full) long before.
constexpr std::size_t records_per_read = 32;
constexpr int events_per_read = 100;

using stage = export_position::stage;

// Offers the record's holds after pos->after_hold_seq; false when the sink is full.
bool offer_holds(const record_image& r, export_sink& sink, export_position* pos) {
  std::vector<const hold*> left;
  for (const auto& h : r.holds)
    if (h.seq > pos->after_hold_seq) left.push_back(&h);
  std::sort(left.begin(), left.end(), [](const hold* a, const hold* b) { return a->seq < b->seq; });
  for (const hold* h : left) {
    if (!sink.hold(r.key, *h)) return false;
    pos->after_hold_seq = h->seq;
  }
  pos->at = stage::history;
  pos->before_version = 0;
  return true;
}

// Offers the record's events below pos->before_version; false when the sink
// is full.
status offer_history(partition_store& store, const record_key& key, export_sink& sink,
                     export_position* pos, bool* full) {
  *full = false;
  std::vector<journal_entry> events;
  for (;;) {
    if (status st = store.history(key, pos->before_version, events_per_read, &events); !st)
      return st;
    for (const auto& e : events) {
      if (!sink.event(e)) {
        *full = true;
        return status::ok();
      }
      pos->before_version = e.c.version;
    }
    // Fewer than asked for: the oldest kept event was offered. Version 1 is
    // a record's first change: nothing is below it.
    if (events.size() < static_cast<std::size_t>(events_per_read) || pos->before_version <= 1) break;
  }
  pos->at = stage::next_record;
  return status::ok();
}

// Offers the rest of the record at `pos` (its holds, then its history).
status offer_rest(partition_store& store, const record_image& r, export_sink& sink,
                  export_position* pos, bool* full) {
  *full = false;
  if (pos->at == stage::holds && !offer_holds(r, sink, pos)) {
    *full = true;
    return status::ok();
  }
  return offer_history(store, r.key, sink, pos, full);
}

}  // namespace

status read_export_page(partition_store& store, std::string_view tenant, export_position from,
                        export_sink& sink, export_step* out) {
  *out = {};
  export_position pos = std::move(from);
  bool full = false;
  // Continuing a record begun on an earlier page: read it again, here.
  if (pos.at != stage::next_record) {
    record_image r;
    bool found = false;
    if (status st = store.load_record({std::string(tenant), pos.warehouse, pos.sku}, &r, &found); !st)
      return st;
    if (!found) {
      pos.at = stage::next_record;
    } else {
      if (status st = offer_rest(store, r, sink, &pos, &full); !st) return st;
      if (full) {
        out->next = std::move(pos);
        return status::ok();
      }
    }
  }
  for (;;) {
    list_filter f;
    f.tenant = std::string(tenant);
    f.after_warehouse = pos.warehouse;
    f.after_sku = pos.sku;
    f.limit = records_per_read;
    std::vector<record_image> records;
    if (status st = store.list_records(f, &records); !st) return st;
    for (const auto& r : records) {
      if (!sink.record(r)) {
        out->next = std::move(pos);
        return status::ok();
      }
      pos = {stage::holds, r.key.warehouse, r.key.sku, 0, 0};
      if (status st = offer_rest(store, r, sink, &pos, &full); !st) return st;
      if (full) {
        out->next = std::move(pos);
        return status::ok();
      }
    }
    if (records.size() < records_per_read) break;
  }
  out->partition_done = true;
  return status::ok();
}

history_event history_event_of(journal_entry&& e, std::uint32_t p) {
  history_event ev;
  ev.seq = e.seq;
  ev.hold = e.c.hold_seq ? format_hold_id({p, e.c.hold_seq}) : std::string{};
  ev.c = std::move(e.c);
  ev.idem = std::move(e.idem);
  ev.key_id = std::move(e.key_id);
  ev.at_ms = e.at_ms;
  return ev;
}

}  // namespace stockgrid::persistence
