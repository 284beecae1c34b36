#include "app/tenant_export.hpp"

#include <charconv>
#include <memory>

#include "config/limits.hpp"
#include "domain/hex.hpp"
#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

namespace stockgrid::app {

namespace {

using persistence::export_position;
using protocol::array;
using protocol::object;
using protocol::value;

// Cursor text before hex: "e1 P STAGE AFTER_HOLD BEFORE_VERSION WLEN " then
// the warehouse and the SKU (the warehouse's length tells them apart; ids
// may hold any byte).
constexpr std::string_view cursor_tag = "e1";
constexpr std::size_t cursor_bytes_max = 2 * (64 + 2 * limits::id_bytes_max);

template <class T>
bool read_number(std::string_view& text, T* out) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + space, *out);
  if (ec != std::errc{} || end != text.data() + space) return false;
  text.remove_prefix(space + 1);
  return true;
}

// Collects one page's items as protocol values, within the limits.
class page_sink final : public persistence::export_sink {
 public:
  page_sink(std::uint32_t partition, const export_page_limits& limits)
      : partition_(partition), limits_(limits) {}

  bool record(const persistence::record_image& r) override {
    record_view v{r.key, r.on_hand, r.reserved, r.version, r.policy.safety_stock,
                  r.policy.allow_backorder, r.backordered, r.incoming, r.policy.low_stock_threshold};
    return take(records_, protocol::record_value(v));
  }
  bool hold(const record_key& key, const stockgrid::hold& h) override {
    object o = with_key(key);
    const value held = protocol::hold_value(
        {format_hold_id({partition_, h.seq}), h.qty, h.expires_at_ms, h.ref});
    for (const auto& member : *held.as_object()) o.push_back(member);
    return take(holds_, value(std::move(o)));
  }
  bool event(const persistence::journal_entry& e) override {
    object o = with_key(e.key);
    const value ev = protocol::event_value(persistence::history_event_of(persistence::journal_entry(e), partition_));
    for (const auto& member : *ev.as_object()) o.push_back(member);
    return take(events_, value(std::move(o)));
  }

  std::size_t items() const { return items_; }
  // The result members of the page, arrays moved out.
  void finish(object* out) {
    out->emplace_back("records", std::move(records_));
    out->emplace_back("holds", std::move(holds_));
    out->emplace_back("events", std::move(events_));
  }

 private:
  static object with_key(const record_key& key) {
    object o;
    o.emplace_back("warehouse", key.warehouse);
    o.emplace_back("sku", key.sku);
    return o;
  }
  // The first item is always taken (persistence::export_sink's contract);
  // one item is far below a frame.
  bool take(array& into, value v) {
    const std::size_t size = protocol::serialize(v, protocol::encoding::json).size();
    if (items_ > 0 && (items_ >= limits_.items_max || bytes_ + size > limits_.bytes_max)) return false;
    bytes_ += size;
    ++items_;
    into.push_back(std::move(v));
    return true;
  }

  std::uint32_t partition_;
  export_page_limits limits_;
  array records_, holds_, events_;
  std::size_t items_ = 0;
  std::size_t bytes_ = 0;
};

struct export_job {
  persistence::journal_writer& journal;
  std::string tenant;
  export_page_limits limits;
  export_done done;
};

void read_partition(const std::shared_ptr<export_job>& job, export_cursor at) {
  job->journal.run(at.partition, [job, at](persistence::partition_store& store) {
    page_sink sink(at.partition, job->limits);
    persistence::export_step step;
    if (auto st = persistence::read_export_page(store, job->tenant, at.pos, sink, &step); !st)
      return job->done(outcome::internal, "reading " + store.name() + ": " + st.message(), {});
    const std::uint32_t next_partition = at.partition + 1;
    const bool last = step.partition_done && next_partition >= job->journal.partitions();
    // Nothing of the tenant here: go on with the next partition in this request.
    if (step.partition_done && sink.items() == 0 && !last)
      return read_partition(job, {next_partition, {}});
    object result;
    result.emplace_back("tenant", job->tenant);
    result.emplace_back("partition", static_cast<std::int64_t>(at.partition));
    sink.finish(&result);
    if (!last) {
      const export_cursor next = step.partition_done ? export_cursor{next_partition, {}}
                                                     : export_cursor{at.partition, std::move(step.next)};
      result.emplace_back("cursor", encode_export_cursor(next));
    }
    job->done(outcome::ok, {}, std::move(result));
  });
}

}  // namespace

std::string encode_export_cursor(const export_cursor& c) {
  const auto& p = c.pos;
  return to_hex(std::string(cursor_tag) + ' ' + std::to_string(c.partition) + ' ' +
                std::to_string(static_cast<int>(p.at)) + ' ' + std::to_string(p.after_hold_seq) +
                ' ' + std::to_string(p.before_version) + ' ' + std::to_string(p.warehouse.size()) +
                ' ' + p.warehouse + p.sku);
}

bool decode_export_cursor(std::string_view hex, std::uint32_t partitions, export_cursor* out) {
  std::string raw;
  if (hex.size() > cursor_bytes_max || !from_hex(hex, &raw)) return false;
  std::string_view text = raw;
  if (!text.starts_with(std::string(cursor_tag) + ' ')) return false;
  text.remove_prefix(cursor_tag.size() + 1);
  export_cursor c;
  int stage = 0;
  std::size_t warehouse_bytes = 0;
  if (!read_number(text, &c.partition) || !read_number(text, &stage) ||
      !read_number(text, &c.pos.after_hold_seq) || !read_number(text, &c.pos.before_version) ||
      !read_number(text, &warehouse_bytes))
    return false;
  if (c.partition >= partitions || stage < 0 || stage > 2 || c.pos.before_version < 0 ||
      warehouse_bytes > text.size() || warehouse_bytes > limits::id_bytes_max ||
      text.size() - warehouse_bytes > limits::id_bytes_max)
    return false;
  c.pos.at = static_cast<export_position::stage>(stage);
  c.pos.warehouse = std::string(text.substr(0, warehouse_bytes));
  c.pos.sku = std::string(text.substr(warehouse_bytes));
  *out = std::move(c);
  return true;
}

void tenant_export_page(persistence::journal_writer& journal, std::string tenant, export_cursor from,
                      export_page_limits limits, export_done done) {
  auto job = std::make_shared<export_job>(export_job{journal, std::move(tenant), limits, std::move(done)});
  read_partition(job, std::move(from));
}

}  // namespace stockgrid::app
