// Writes the seed corpus of each fuzz target (fuzz/corpus/<target>/) from the
// real encoders, so every seed is something stockgrid itself writes or a
// client sends:
//   protocol_decode  each frame of fuzz/seeds/protocol_frames.jsonl (from
//                    docs/protocol.md) as JSON and as msgpack (serialize)
//   journal_entry    journal rows of each change kind as bind_journal_row
//                    binds them, with their real CRCs
//   snapshot         holds BLOBs (encode_holds) and snapshot rows as
//                    bind_snapshot_row binds them
//   document         order, transfer and tenant settings bodies (encode)
//   ws_upgrade       HTTP requests the gateway serves (upgrades to /v1/ws
//                    followed by client frames, masked as RFC 6455 wants,
//                    health checks, a request with a body)
//
//   build-fuzz/fuzz/make_corpus SOURCE_DIR
// Seeds of bugs (regress-*) are written by hand and kept; this program only
// replaces the files it names itself (json-*, msgpack-*, row-*, ...).
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cluster/wire.hpp"
#include "fuzz/sqlite_row.hpp"
#include "orders/order.hpp"
#include "orders/requests.hpp"
#include "orders/transfer.hpp"
#include "persistence/format.hpp"
#include "persistence/sqlite_rows.hpp"
#include "protocol/codec.hpp"

namespace {

using namespace stockgrid;
using namespace stockgrid::persistence;

std::string source_dir;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::string path = source_dir + "/fuzz/corpus/" + target + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::cerr << "make_corpus: cannot write " << path << "\n";
    std::exit(1);
  }
}

std::string numbered(const char* prefix, int i) {
  char name[64];
  std::snprintf(name, sizeof name, "%s-%02d", prefix, i);
  return name;
}

void protocol_frames() {
  std::ifstream in(source_dir + "/fuzz/seeds/protocol_frames.jsonl");
  std::string line;
  int i = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    protocol::value v;
    std::string error;
    if (!protocol::parse(line, protocol::encoding::json, {}, &v, &error)) {
      std::cerr << "make_corpus: a seed frame does not parse: " << error << ": " << line << "\n";
      std::exit(1);
    }
    write("protocol_decode", numbered("json", i), line);
    write("protocol_decode", numbered("msgpack", i), protocol::serialize(v, protocol::encoding::msgpack));
    ++i;
  }
}

std::vector<journal_entry> journal_entries() {
  std::vector<journal_entry> entries;
  for (int kind = 1; kind <= 14; ++kind) {
    journal_entry e;
    e.seq = 100 + kind;
    e.epoch = 3;
    e.at_ms = 1'765'000'000'000 + kind;
    e.key = {"acme", "berlin-1", "A-100"};
    e.c.kind = static_cast<change_kind>(kind);
    e.c.version = kind;
    e.c.on_hand_before = 10;
    e.c.on_hand_after = kind == 1 ? 12 : 10;
    e.c.reserved_before = 2;
    e.c.reserved_after = kind == 3 ? 4 : 2;
    e.c.qty = 2;
    e.c.hold_seq = kind >= 3 && kind <= 7 ? 90 : 0;
    e.c.expires_at_ms = kind == 3 || kind == 6 ? 1'765'000'600'000 : 0;
    e.c.ref = kind == 3 ? "cart-881" : "";
    e.c.reason = kind == 1 ? "PO 5531" : "";
    if (kind % 2 == 1) {
      e.idem = "pos7-" + std::to_string(kind);
      e.fingerprint = 0x9e3779b97f4a7c15ull * kind;
    }
    if (kind == 9) {
      e.result = outcome::insufficient_stock;
      e.detail = 1;
    }
    e.key_id = kind % 3 == 0 ? "k_32" : "";
    if (kind >= 10) {  // version 2 columns
      e.c.policy.safety_stock = 2;
      e.c.policy.allow_backorder = kind == 10;
      e.c.policy.low_stock_threshold = 5;
      e.c.incoming_before = kind == 12 ? 0 : 4;
      e.c.incoming_after = 4;
    }
    entries.push_back(e);
  }
  return entries;
}

void journal_rows() {
  fuzz::sqlite_row row(format::journal_column_count);
  int i = 0;
  for (const journal_entry& e : journal_entries()) {
    row.statement().reset();
    sqlite::bind_journal_row(row.statement(), e);
    if (!row.step()) std::abort();
    // Even first byte: the crc column as bound (the real CRC).
    write("journal_entry", numbered("row", i++), std::string(1, '\0') + row.input_of_row());
  }
}

std::vector<std::vector<hold>> hold_sets() {
  return {
      {},
      {hold{90, 2, 1'765'000'600'000, "cart-881"}},
      {hold{90, 2, 1'765'000'600'000, ""}, hold{91, 1, 1'765'000'700'000, "pos7"},
       hold{95, 40, 1'765'000'800'000, std::string(100, 'r')}},
  };
}

void snapshot_seeds() {
  int i = 0;
  for (const auto& holds : hold_sets()) {
    std::string blob;
    format::encode_holds(holds, &blob);
    write("snapshot", numbered("holds", i++), std::string(1, '\0') + blob);
  }
  fuzz::sqlite_row row(format::snapshot_column_count);
  i = 0;
  std::string scratch;
  for (const auto& holds : hold_sets()) {
    for (bool policy : {false, true}) {
      record_image r;
      r.key = {"acme", "berlin-1", "A-" + std::to_string(100 + i)};
      r.on_hand = 10;
      for (const hold& h : holds) r.reserved += h.qty;
      r.version = 7;
      r.holds = holds;
      r.last_seq = 120;
      if (policy) {
        r.policy.safety_stock = 1;
        r.policy.allow_backorder = true;
        r.policy.low_stock_threshold = 3;
        r.backordered = 2;
        r.incoming = 5;
      }
      row.statement().reset();
      sqlite::bind_snapshot_row(row.statement(), r, &scratch);
      if (!row.step()) std::abort();
      // First byte 1: the row as bound, its real CRC.
      write("snapshot", numbered("row", i++), std::string(1, '\1') + row.input_of_row());
    }
  }
}

void documents() {
  orders::order o;
  o.tenant = "acme";
  o.id = "O1f";
  o.ref = "cart-77";
  o.idem = "web-1182";
  o.fingerprint = 0x1234567890abcdefull;
  o.key_id = "k_32";
  o.status = orders::order_status::held;
  o.lines = {{"A-100", "berlin-1", 3, "H2a-3f1", false}, {"B-7", "paris-2", 1, "H2b-11", true}};
  o.ttl_ms = 900'000;
  o.created_ms = 1'765'000'000'000;
  o.expires_at_ms = o.created_ms + o.ttl_ms;
  o.updated_ms = o.created_ms + 5;
  write("document", "order-00", std::string(1, '\0') + orders::encode(o));
  o.policy = orders::order_policy::partial;
  o.unfilled = {{"C-9", 4}};
  o.status = orders::order_status::committed;
  o.attempt = 2;
  write("document", "order-01", std::string(1, '\0') + orders::encode(o));
  o.status = orders::order_status::failed;
  o.lines.clear();
  o.shortages = {{"A-100", "berlin-1", 3, 1}};
  o.failure_code = outcome::insufficient_stock;
  o.failure = "not enough stock";
  write("document", "order-02", std::string(1, '\0') + orders::encode(o));

  orders::transfer t;
  t.tenant = "acme";
  t.id = "T9";
  t.sku = "A-100";
  t.from = "berlin-1";
  t.to = "paris-2";
  t.idem = "move-88";
  t.key_id = "k_32";
  t.fingerprint = 42;
  t.qty = 10;
  t.status = orders::transfer_status::in_transit;
  t.out_done = t.in_done = true;
  t.created_ms = 1'765'000'000'000;
  t.updated_ms = t.created_ms + 9;
  write("document", "transfer-00", std::string(1, '\1') + orders::encode(t));
  t.receipts = {{"rcv-1", 4, true, t.created_ms + 7}, {"rcv-2", 6, false, 0}};
  write("document", "transfer-01", std::string(1, '\1') + orders::encode(t));
  t.status = orders::transfer_status::failed;
  t.receipts.clear();
  t.failure = "insufficient stock";
  t.failure_available = 3;
  write("document", "transfer-02", std::string(1, '\1') + orders::encode(t));

  orders::tenant_settings s;
  write("document", "settings-00", std::string(1, '\2') + orders::encode(s));
  s.allocation.policy = orders::allocation_policy::priority;
  s.allocation.priority = {"berlin-1", "paris-2"};
  s.low_stock_threshold = 5;
  s.rate_per_second = 500;
  s.rate_burst = 1000;
  s.subscriptions_max = 10;
  write("document", "settings-01", std::string(1, '\2') + orders::encode(s));
}

// A client's WebSocket frame (RFC 6455 5.2): masked, with a 7, 16 or 64-bit length.
std::string client_frame(unsigned char opcode, const std::string& payload, bool fin = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0x00) | opcode);
  const std::size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xFF);
  }
  const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

void ws_requests() {
  const std::string upgrade =
      "GET /v1/ws HTTP/1.1\r\n"
      "Host: 127.0.0.1:7400\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n";
  const std::string end = "\r\n";
  const std::string auth = R"({"op":"auth","id":1,"token":"sg_4f1c"})";
  const std::string get = R"({"op":"stock.get","id":2,"warehouse":"berlin-1","sku":"A-100"})";
  protocol::value get_value;
  std::string error;
  protocol::parse(get, protocol::encoding::json, {}, &get_value, &error);
  const std::string get_msgpack = protocol::serialize(get_value, protocol::encoding::msgpack);
  // First byte: the chunk size the bytes arrive in, less one.
  const std::vector<std::pair<const char*, std::string>> seeds = {
      {"upgrade-00", std::string(1, 63) + upgrade + end},
      {"upgrade-01", std::string(1, 7) + upgrade + end + client_frame(0x1, auth) +
                         client_frame(0x1, get) + client_frame(0x8, std::string("\x03\xe8", 2))},
      {"upgrade-02", std::string(1, 63) + upgrade + "Authorization: Bearer sg_4f1c\r\n" + end +
                         client_frame(0x2, get_msgpack) + client_frame(0x9, "ping") +
                         client_frame(0x1, "{\"op\":", false) + client_frame(0x0, "\"ping\",\"id\":3}")},
      {"upgrade-03", std::string(1, 0) + upgrade + "Origin: https://shop.example\r\n" +
                         "Sec-WebSocket-Protocol: stockgrid.v1\r\n" + end +
                         client_frame(0x2, std::string(300, 'x')) + client_frame(0xA, "")},
      {"upgrade-04", std::string(1, 31) + upgrade + "Origin: https://evil.example\r\n" + end},
      {"health-00", std::string(1, 63) + "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"health-01", std::string(1, 3) + "HEAD /readyz?x=1 HTTP/1.0\r\n\r\n"},
      {"post-00", std::string(1, 63) +
                      "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"},
      {"post-01", std::string(1, 15) +
                      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\n\r\n"},
  };
  for (const auto& [name, bytes] : seeds) write("ws_upgrade", name, bytes);
}

// Node-to-node messages (cluster_wire): each section of a peer message on
// its own and all together, a lone request and a lone reply.
void cluster_messages() {
  journal_entry e;
  e.seq = 1048600;
  e.epoch = 3;
  e.at_ms = 1'800'000'000'000;
  e.key = {"acme", "berlin", "mug"};
  e.c.kind = change_kind::reserve;
  e.c.version = 2;
  e.c.on_hand_before = e.c.on_hand_after = 10;
  e.c.reserved_after = 2;
  e.c.qty = 2;
  e.c.hold_seq = e.seq;
  e.c.expires_at_ms = 1'800'000'060'000;
  e.idem = "k-1";
  e.fingerprint = 0x8000'0000'0000'0001ull;
  e.key_id = "key1";
  request rq;
  rq.kind = op::reserve;
  rq.key = e.key;
  rq.qty = 2;
  rq.ttl_ms = 60'000;
  rq.idem = "k-1";
  reply rp;
  rp.code = outcome::ok;
  rp.has_record = true;
  rp.record.key = e.key;
  rp.record.on_hand = 10;
  rp.hold = "H0003-100018";
  std::vector<cluster::peer_message> seeds(8);
  seeds[0].appends.push_back({3, 3, 1048599, 3, 1048590, {e, e}});
  seeds[0].appends.back().entries[1].seq += 1;
  seeds[1].appends.push_back({3, 3, 1048599, 3, 1048590, {}});
  seeds[2].results.push_back({3, 3, true, 1048600, 3});
  seeds[3].votes.push_back({3, 4, 1048600, 3, true});
  seeds[3].vote_results.push_back({3, 4, true, false});
  seeds[4].truncates.push_back({3, 4, 1048500});
  seeds[5].requests.emplace_back(7, rq);
  seeds[6].replies.emplace_back(7, rp);
  seeds[7] = seeds[0];
  seeds[7].results = seeds[2].results;
  seeds[7].votes = seeds[3].votes;
  seeds[7].requests = seeds[5].requests;
  seeds[7].replies = seeds[6].replies;
  seeds[7].has_leads = true;
  seeds[7].leads = {{0, 3}, {3, 4}};
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    seeds[i].sent_ms = 5000 + static_cast<std::int64_t>(i);
    seeds[i].echo_ms = 4000;
    write("cluster_wire", numbered("peer", static_cast<int>(i)), cluster::encode(seeds[i]));
  }
  write("cluster_wire", "request-00", cluster::encode(rq));
  write("cluster_wire", "reply-00", cluster::encode(rp));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus SOURCE_DIR\n";
    return 2;
  }
  source_dir = argv[1];
  protocol_frames();
  journal_rows();
  snapshot_seeds();
  documents();
  ws_requests();
  cluster_messages();
  return 0;
}
