#include "bench/load/response_check.hpp"

#include <array>
#include <limits>

#include <msgpack.hpp>

namespace stockgrid::bench {

std::string_view op_name(bench_op op) {
  switch (op) {
    case bench_op::reserve: return "stock.reserve";
    case bench_op::commit: return "stock.commit";
    case bench_op::release: return "stock.release";
    case bench_op::get: return "stock.get";
    case bench_op::order_reserve: return "order.reserve";
    case bench_op::order_release: return "order.release";
  }
  return "?";
}

namespace {

// ---- msgpack -------------------------------------------------------------

std::string_view str_of(const msgpack::object& o) {
  if (o.type != msgpack::type::STR) return {};
  return {o.via.str.ptr, o.via.str.size};
}

bool int_of(const msgpack::object& o, std::int64_t* out) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    *out = static_cast<std::int64_t>(o.via.u64);
    return true;
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    *out = o.via.i64;
    return true;
  }
  return false;
}

void read_record(const msgpack::object& o, response_view* out) {
  if (o.type != msgpack::type::MAP) return;
  out->has_record = true;
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    const std::string_view key = str_of(kv.key);
    if (key == "warehouse") out->warehouse = str_of(kv.val);
    else if (key == "sku") out->sku = str_of(kv.val);
    else if (key == "on_hand") int_of(kv.val, &out->on_hand);
    else if (key == "reserved") int_of(kv.val, &out->reserved);
    else if (key == "available") int_of(kv.val, &out->available);
    else if (key == "version") int_of(kv.val, &out->version);
  }
}

// An order's lines (members of the result): how many, and how many name a
// hold.
void read_order_lines(const msgpack::object& lines, response_view* out) {
  if (lines.type != msgpack::type::ARRAY) return;
  out->order_lines = lines.via.array.size;
  for (std::uint32_t l = 0; l < lines.via.array.size; ++l) {
    const msgpack::object& line = lines.via.array.ptr[l];
    for (std::uint32_t m = 0; line.type == msgpack::type::MAP && m < line.via.map.size; ++m) {
      const auto& member = line.via.map.ptr[m];
      if (str_of(member.key) == "hold" && !str_of(member.val).empty()) ++out->order_lines_held;
    }
  }
}

void read_error(const msgpack::object& o, response_view* out) {
  if (o.type != msgpack::type::MAP) return;
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (str_of(kv.key) == "code") out->error_code = str_of(kv.val);
  }
}

// Strings may point into the frame instead of being copied into the zone.
bool reference_strings(msgpack::type::object_type type, std::size_t, void*) {
  return type == msgpack::type::STR;
}

// ---- JSON (through protocol::value) ----------------------------------------

std::string_view str_of(const protocol::value* v) {
  const std::string* s = v ? v->as_string() : nullptr;
  return s ? std::string_view(*s) : std::string_view();
}

void int_of(const protocol::value* v, std::int64_t* out) {
  if (const std::int64_t* i = v ? v->as_int() : nullptr) *out = *i;
}

// The order members of a result: its id, status and lines.
void read_order(const protocol::value& response, response_view* out) {
  const std::string* id = response.find("order") ? response.find("order")->as_string() : nullptr;
  if (!id) return;
  out->has_order = true;
  out->order = *id;
  out->order_status = str_of(response.find("status"));
  const protocol::value* lines = response.find("lines");
  const protocol::array* items = lines ? lines->as_array() : nullptr;
  if (!items) return;
  out->order_lines = static_cast<std::int64_t>(items->size());
  for (const protocol::value& line : *items) {
    if (line.as_object() && !str_of(line.find("hold")).empty()) ++out->order_lines_held;
  }
}

// Reads one response map into a view.
bool read_map(const msgpack::object& map, response_view* out) {
  *out = {};
  if (map.type != msgpack::type::MAP) return false;
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    const std::string_view key = str_of(kv.key);
    if (key == "id") out->has_id = int_of(kv.val, &out->id);
    else if (key == "ok") out->ok = kv.val.type == msgpack::type::BOOLEAN && kv.val.via.boolean;
    else if (key == "hold") out->hold = str_of(kv.val);
    else if (key == "record") read_record(kv.val, out);
    else if (key == "order" && kv.val.type == msgpack::type::STR) {
      out->has_order = true;  // an order's members are the result's
      out->order = str_of(kv.val);
    } else if (key == "status") out->order_status = str_of(kv.val);
    else if (key == "lines") read_order_lines(kv.val, out);
    else if (key == "error") read_error(kv.val, out);
  }
  return true;
}

}  // namespace

struct msgpack_reader::state {
  msgpack::zone zone;
  msgpack::object root;
};

msgpack_reader::msgpack_reader() : state_(std::make_unique<state>()) {}
msgpack_reader::~msgpack_reader() = default;

bool msgpack_reader::unpack_batch(std::string_view frame, std::size_t* count) {
  state_->zone.clear();
  std::size_t offset = 0;
  try {
    bool referenced = false;
    state_->root = msgpack::unpack(state_->zone, frame.data(), frame.size(), offset, referenced,
                                   reference_strings, nullptr);
  } catch (const std::exception&) {
    return false;
  }
  if (offset != frame.size()) return false;
  const msgpack::object& root = state_->root;
  if (root.type == msgpack::type::MAP) *count = 1;
  else if (root.type == msgpack::type::ARRAY && root.via.array.size > 0) *count = root.via.array.size;
  else return false;
  return true;
}

bool msgpack_reader::view_of(std::size_t index, response_view* out) const {
  const msgpack::object& root = state_->root;
  return read_map(root.type == msgpack::type::ARRAY ? root.via.array.ptr[index] : root, out);
}

bool msgpack_reader::read(std::string_view frame, response_view* out) {
  std::size_t count = 0;
  return unpack_batch(frame, &count) && state_->root.type == msgpack::type::MAP && view_of(0, out);
}

bool read_value(const protocol::value& response, response_view* out) {
  *out = {};
  if (!response.as_object()) return false;
  if (const protocol::value* id = response.find("id"); id && id->as_int()) {
    out->has_id = true;
    out->id = *id->as_int();
  }
  const protocol::value* ok = response.find("ok");
  out->ok = ok && ok->as_bool() && *ok->as_bool();
  out->hold = str_of(response.find("hold"));
  if (const protocol::value* error = response.find("error"); error && error->as_object()) {
    out->error_code = str_of(error->find("code"));
  }
  if (const protocol::value* record = response.find("record"); record && record->as_object()) {
    out->has_record = true;
    out->warehouse = str_of(record->find("warehouse"));
    out->sku = str_of(record->find("sku"));
    int_of(record->find("on_hand"), &out->on_hand);
    int_of(record->find("reserved"), &out->reserved);
    int_of(record->find("available"), &out->available);
    int_of(record->find("version"), &out->version);
  }
  read_order(response, out);
  return true;
}

namespace {

// Error codes a correct server may answer to a well-formed request of the
// bench under load; any other code is a wrong answer.
bool expected_error(std::string_view code, bench_op op) {
  static constexpr std::array<std::string_view, 4> any_op{"OVERLOADED", "UNAVAILABLE", "TIMEOUT",
                                                          "RATE_LIMITED"};
  for (std::string_view c : any_op) {
    if (code == c) return true;
  }
  if (op == bench_op::reserve || op == bench_op::order_reserve) {
    return code == "INSUFFICIENT_STOCK" || code == "LIMIT_EXCEEDED";
  }
  return false;
}

// The record's counts obey the stock rules: nothing negative, and available
// never more than what is on hand and not reserved.
bool consistent_counts(const response_view& r) {
  return r.version >= 1 && r.on_hand >= 0 && r.reserved >= 0 && r.available >= 0 &&
         r.available <= r.on_hand - r.reserved;
}

// An ok order answer: an all_or_nothing reserve holds every line it asked
// for (the bench's lines name distinct SKUs, so the server merges none); a
// release answers the order it was asked about, released.
verdict judge_order(const response_view& r, const expectation& e) {
  if (!r.has_order) return {verdict_kind::wrong, "no order"};
  if (r.order.empty() || r.order.size() > 64) return {verdict_kind::wrong, "no order id"};
  if (e.op == bench_op::order_release) {
    if (r.order != e.order) return {verdict_kind::wrong, "another order"};
    if (r.order_status != "released") return {verdict_kind::wrong, "release: status is not released"};
    return {verdict_kind::ok, {}};
  }
  if (r.order_status != "held") return {verdict_kind::wrong, "reserve: status is not held"};
  if (r.order_lines != e.order_lines) return {verdict_kind::wrong, "reserve: not every line in the order"};
  if (r.order_lines_held != r.order_lines) return {verdict_kind::wrong, "reserve: a line without a hold"};
  return {verdict_kind::ok, {}};
}

}  // namespace

verdict judge(const response_view& r, const expectation& e, validation level) {
  if (!r.ok) {
    if (r.error_code.empty()) return {verdict_kind::wrong, "neither ok nor an error code"};
    if (!expected_error(r.error_code, e.op)) return {verdict_kind::wrong, r.error_code};
    return {verdict_kind::error, r.error_code};
  }
  if (e.op == bench_op::order_reserve || e.op == bench_op::order_release) return judge_order(r, e);
  if (e.op == bench_op::reserve && (r.hold.empty() || r.hold.size() > 64)) {
    return {verdict_kind::wrong, "reserve: no hold id"};
  }
  if (!r.has_record) return {verdict_kind::wrong, "no record"};
  if (r.warehouse != e.warehouse || r.sku != e.sku) return {verdict_kind::wrong, "another record"};
  if (level == validation::shape) return {verdict_kind::ok, {}};
  if (!consistent_counts(r)) return {verdict_kind::wrong, "record counts break the stock rules"};
  if (e.op == bench_op::reserve && r.reserved < e.qty) {
    return {verdict_kind::wrong, "reserve: record shows fewer units reserved than granted"};
  }
  return {verdict_kind::ok, {}};
}

}  // namespace stockgrid::bench
