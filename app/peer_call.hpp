// An order or transfer op on its way to its tenant's home member
// (grid::forward_call, docs/cluster.md "Orders and transfers"): the caller
// as the first node's gateway authenticated it, and the request frame as
// that node received it. The home runs it through its own dispatcher and
// answers with the response it would have sent a client of its own.
//
//   call:   msgpack [1, tenant, key_id, role, [warehouse...], frame]
//           (frame: the op's request object, a map: op_request::params)
//   answer: the response, msgpack-encoded (its id is the client's)
//
// Both directions are parsed with limits and checked field by field; bytes
// that do not decode are refused with the reason, never half-run.
#pragma once

#include <string>
#include <string_view>

#include "gateway/dispatcher.hpp"
#include "protocol/value.hpp"

namespace stockgrid::app {

struct peer_call {
  gateway::principal who;
  protocol::value frame;
};

std::string encode_call(const gateway::principal& who, const protocol::value& frame);
// False with `error` set when `bytes` is not what encode_call writes.
bool decode_call(std::string_view bytes, peer_call* out, std::string* error);

std::string encode_answer(const protocol::value& response);
bool decode_answer(std::string_view bytes, protocol::value* out, std::string* error);

}  // namespace stockgrid::app
