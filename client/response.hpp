// Reading responses: whether one is ok, its error code, a member by dotted
// path, and printing it as JSON. Responses are protocol::value trees, exactly
// as the server sent them (docs/protocol.md, "Requests and responses").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/messages.hpp"
#include "protocol/value.hpp"

namespace stockgrid::client {

using protocol::value;

// Error codes the client library makes up itself, never sent by a server.
// Their error objects carry `"local": true`. A request that ends with one of
// these may or may not have been applied if it was sent; a mutation's error
// carries its `idem`, so the caller can retry it safely.
//   TIMEOUT       (the protocol's own code) no answer within the request
//                 timeout, retries included: the outcome is unknown.
//   QUEUE_FULL    client_options::pending_max requests are already waiting.
//   DISCONNECTED  not connected: connect() failed, the client was closed, or
//                 reconnecting gave up (backoff_settings::attempts_max).
//                 When the server refused the token (at connect() or on a
//                 reconnect, e.g. after the key was revoked), requests fail
//                 with its code instead, UNAUTHENTICATED, marked local too.
//   FRAME_TOO_BIG the encoded request exceeds the server's frame_bytes_max.
inline constexpr std::string_view queue_full_code = "QUEUE_FULL";
inline constexpr std::string_view disconnected_code = "DISCONNECTED";
inline constexpr std::string_view frame_too_big_code = "FRAME_TOO_BIG";

// Whether `response` is {"ok": true, ...}.
bool is_ok(const value& response);
// error.code of an error response; "" for an ok response (or a non-response).
std::string error_code(const value& response);
// error.message of an error response; "".
std::string error_message(const value& response);
// Whether the server answered an idempotent replay ("replayed": true).
bool is_replayed(const value& response);

// The member at a dotted path: "record.available", "records.0.sku",
// "records[0].sku", "error.code". A path segment that is a number indexes
// an array. Null when any segment is missing.
const value* lookup(const value& root, std::string_view path);
// Shortcuts for lookup(): the integer or string there, if it is one.
std::optional<std::int64_t> lookup_int(const value& root, std::string_view path);
std::optional<std::string> lookup_string(const value& root, std::string_view path);

// JSON text of a value: compact on one line, or indented by two spaces.
std::string to_json(const value& v, bool pretty = false);

// A local error response (see the codes above), id null.
value local_error(std::string_view code, std::string_view message, protocol::object details = {});

// Whether an op changes stock (or an order or transfer) and so carries an
// idempotency key.
bool is_mutation_op(std::string_view op);

}  // namespace stockgrid::client
