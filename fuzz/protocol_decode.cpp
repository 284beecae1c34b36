// Fuzz target: one WebSocket frame's bytes, as the gateway hands them to the
// protocol (gateway/conversation.cpp): parsed as JSON and as msgpack with the
// gateway's default parse limits, then decoded into op_request (each item of
// a batch array too), and the ops decoded above protocol/ (order.*,
// transfer.*, stock.find, tenant.settings, subscribe, unsubscribe) into
// their requests.
//
// Oracles besides the sanitizers:
// - whatever parses serializes, in either encoding, to bytes that parse back
//   to the same value;
// - whatever decodes encodes (encode_request, the client's side) to a frame
//   that decodes again, and encoding that gives the same frame.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

#include "feed/wire.hpp"
#include "gateway/settings.hpp"
#include "orders/wire.hpp"
#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

namespace {

using namespace stockgrid;

const gateway::gateway_settings settings;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "protocol_decode: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

protocol::value reparse(const std::string& bytes, protocol::encoding enc) {
  protocol::value v;
  std::string error;
  if (!protocol::parse(bytes, enc, settings.parse, &v, &error))
    fail("a serialized value does not parse", error + " in " + bytes);
  return v;
}

// The ops the node's dispatcher decodes from op_request::params.
void decode_above_protocol(const protocol::op_request& req) {
  const std::string_view op = req.op;
  if (op.starts_with("order.")) (void)orders::decode_order(req);
  else if (op.starts_with("transfer.")) (void)orders::decode_transfer(req);
  else if (op == "stock.find") (void)orders::decode_find(req);
  else if (op == "tenant.settings") (void)orders::decode_settings(req);
  else if (op == "subscribe") (void)feed::decode_subscribe(req);
  else if (op == "unsubscribe") (void)feed::decode_unsubscribe(req);
}

void decode(const protocol::value& frame) {
  auto decoded = protocol::decode_request(frame);
  auto* req = std::get_if<protocol::op_request>(&decoded);
  if (req == nullptr) return;
  decode_above_protocol(*req);

  const protocol::value encoded = protocol::encode_request(*req);
  auto again = protocol::decode_request(encoded);
  auto* req2 = std::get_if<protocol::op_request>(&again);
  if (req2 == nullptr) {
    fail("an encoded request does not decode",
         std::get<protocol::decode_failure>(again).message + " in " +
             protocol::serialize(encoded, protocol::encoding::json));
  }
  if (protocol::encode_request(*req2) != encoded)
    fail("encode(decode(encode(r))) != encode(r)",
         protocol::serialize(encoded, protocol::encoding::json));
}

void one_encoding(std::string_view bytes, protocol::encoding enc) {
  protocol::value frame;
  std::string error;
  if (!protocol::parse(bytes, enc, settings.parse, &frame, &error)) return;

  for (protocol::encoding out : {protocol::encoding::json, protocol::encoding::msgpack}) {
    const std::string serialized = protocol::serialize(frame, out);
    if (reparse(serialized, out) != frame) fail("round trip changed the value", serialized);
  }

  // A batch frame (conversation::on_batch_frame): each item is a request.
  if (const protocol::array* items = frame.as_array()) {
    for (const protocol::value& item : *items) decode(item);
  } else {
    decode(frame);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The gateway refuses a larger frame before parsing (read_message_max).
  if (size > settings.frame_bytes_max) return -1;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  one_encoding(bytes, protocol::encoding::json);
  one_encoding(bytes, protocol::encoding::msgpack);
  return 0;
}
