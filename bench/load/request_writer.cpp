#include "bench/load/request_writer.hpp"

#include <charconv>
#include <cstring>

#include "protocol/codec.hpp"

namespace stockgrid::bench {

namespace {

// ---- msgpack: the few types a request needs --------------------------------

void put_byte(std::string& out, unsigned value) { out.push_back(static_cast<char>(value)); }

void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) put_byte(out, (value >> (8 * i)) & 0xff);
}

void put_str(std::string& out, std::string_view s) {
  if (s.size() < 32) {
    put_byte(out, 0xa0 | static_cast<unsigned>(s.size()));
  } else if (s.size() < 256) {
    put_byte(out, 0xd9);
    put_be(out, s.size(), 1);
  } else {
    put_byte(out, 0xda);
    put_be(out, s.size(), 2);
  }
  out.append(s);
}

// Non-negative integers only: ids, quantities and TTLs.
void put_uint(std::string& out, std::uint64_t v) {
  if (v < 128) {
    put_byte(out, static_cast<unsigned>(v));
  } else if (v <= 0xffff) {
    put_byte(out, 0xcd);
    put_be(out, v, 2);
  } else if (v <= 0xffffffff) {
    put_byte(out, 0xce);
    put_be(out, v, 4);
  } else {
    put_byte(out, 0xcf);
    put_be(out, v, 8);
  }
}

int member_count(const bench_request& r) {
  int n = 2;  // op, id
  if (r.op == bench_op::reserve || r.op == bench_op::get) n += 2;  // warehouse, sku
  if (r.op == bench_op::reserve) n += 1 + (r.ttl_ms > 0);           // qty, ttl_ms
  if (r.op == bench_op::commit || r.op == bench_op::release) n += 1;  // hold
  if (r.op == bench_op::order_reserve) n += 1 + (r.ttl_ms > 0);     // lines, ttl_ms
  if (r.op == bench_op::order_release) n += 1;                        // order
  if (r.op != bench_op::get && !r.idem.empty()) n += 1;
  return n;
}

// order.reserve's lines: [{sku, qty, warehouse}, ...].
void put_lines(std::string& out, const bench_request& r) {
  protocol::append_msgpack_array_header(out, r.line_skus.size());
  for (std::string_view sku : r.line_skus) {
    put_byte(out, 0x80 | 3);
    put_str(out, "sku");
    put_str(out, sku);
    put_str(out, "qty");
    put_uint(out, static_cast<std::uint64_t>(r.qty));
    put_str(out, "warehouse");
    put_str(out, r.warehouse);
  }
}

// ---- JSON ----------------------------------------------------------------------

void put_json_int(std::string& out, std::int64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

// The bench's strings are its own names and the server's hold ids: plain
// ASCII without quotes or backslashes, so they need no escaping.
void put_json_member(std::string& out, std::string_view key, std::string_view s) {
  out += ",\"";
  out += key;
  out += "\":\"";
  out += s;
  out += '"';
}

void put_json_member(std::string& out, std::string_view key, std::int64_t v) {
  out += ",\"";
  out += key;
  out += "\":";
  put_json_int(out, v);
}

// ,"lines":[{"sku":..,"qty":..,"warehouse":..},...]
void put_json_lines(std::string& out, const bench_request& r) {
  out += ",\"lines\":[";
  for (std::size_t i = 0; i < r.line_skus.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"sku\":\"";
    out += r.line_skus[i];
    out += '"';
    put_json_member(out, "qty", r.qty);
    put_json_member(out, "warehouse", r.warehouse);
    out += '}';
  }
  out += ']';
}

}  // namespace

void write_msgpack(const bench_request& r, std::string& out) {
  out.clear();
  put_byte(out, 0x80 | static_cast<unsigned>(member_count(r)));
  put_str(out, "op");
  put_str(out, op_name(r.op));
  put_str(out, "id");
  put_uint(out, static_cast<std::uint64_t>(r.id));
  if (r.op == bench_op::reserve || r.op == bench_op::get) {
    put_str(out, "warehouse");
    put_str(out, r.warehouse);
    put_str(out, "sku");
    put_str(out, r.sku);
  }
  if (r.op == bench_op::reserve) {
    put_str(out, "qty");
    put_uint(out, static_cast<std::uint64_t>(r.qty));
    if (r.ttl_ms > 0) {
      put_str(out, "ttl_ms");
      put_uint(out, static_cast<std::uint64_t>(r.ttl_ms));
    }
  }
  if (r.op == bench_op::commit || r.op == bench_op::release) {
    put_str(out, "hold");
    put_str(out, r.hold);
  }
  if (r.op == bench_op::order_reserve) {
    put_str(out, "lines");
    put_lines(out, r);
    if (r.ttl_ms > 0) {
      put_str(out, "ttl_ms");
      put_uint(out, static_cast<std::uint64_t>(r.ttl_ms));
    }
  }
  if (r.op == bench_op::order_release) {
    put_str(out, "order");
    put_str(out, r.order);
  }
  if (r.op != bench_op::get && !r.idem.empty()) {
    put_str(out, "idem");
    put_str(out, r.idem);
  }
}

void write_json(const bench_request& r, std::string& out) {
  out.clear();
  out += "{\"op\":\"";
  out += op_name(r.op);
  out += '"';
  put_json_member(out, "id", r.id);
  if (r.op == bench_op::reserve || r.op == bench_op::get) {
    put_json_member(out, "warehouse", r.warehouse);
    put_json_member(out, "sku", r.sku);
  }
  if (r.op == bench_op::reserve) {
    put_json_member(out, "qty", r.qty);
    if (r.ttl_ms > 0) put_json_member(out, "ttl_ms", r.ttl_ms);
  }
  if (r.op == bench_op::commit || r.op == bench_op::release) put_json_member(out, "hold", r.hold);
  if (r.op == bench_op::order_reserve) {
    put_json_lines(out, r);
    if (r.ttl_ms > 0) put_json_member(out, "ttl_ms", r.ttl_ms);
  }
  if (r.op == bench_op::order_release) put_json_member(out, "order", r.order);
  if (r.op != bench_op::get && !r.idem.empty()) put_json_member(out, "idem", r.idem);
  out += '}';
}

}  // namespace stockgrid::bench
