#include "gateway/conversation.hpp"

#include <utility>
#include <variant>

namespace stockgrid::gateway {

#ifndef STOCKGRID_VERSION
#error "STOCKGRID_VERSION must be defined by the build (gateway/CMakeLists.txt)"
#endif

std::string_view server_version() { return STOCKGRID_VERSION; }

namespace {

conversation::verdict reply_with(protocol::value reply) {
  conversation::verdict v;
  v.reply = std::move(reply);
  return v;
}

conversation::verdict refuse(std::optional<std::int64_t> id, outcome code,
                             std::string_view message) {
  return reply_with(protocol::error_response(id, code, message));
}

}  // namespace

conversation::conversation(const gateway_settings& settings, authenticator& auth, admit_fn admit)
    : settings_(settings), auth_(auth), admit_(std::move(admit)) {}

std::optional<close_request> conversation::on_header_auth(principal who) {
  auto refused = admit(std::move(who));
  if (!refused) return std::nullopt;
  return std::move(refused->close);
}

conversation::verdict conversation::on_frame(std::string_view bytes, protocol::encoding enc) {
  protocol::value frame;
  std::string error;
  if (!protocol::parse(bytes, enc, settings_.parse, &frame, &error)) {
    return refuse(std::nullopt, outcome::bad_request, error);
  }
  return on_request(frame);
}

std::vector<conversation::verdict> conversation::on_batch_frame(std::string_view bytes,
                                                                protocol::encoding enc) {
  protocol::value frame;
  std::string error;
  if (!protocol::parse(bytes, enc, settings_.parse, &frame, &error)) {
    return {refuse(std::nullopt, outcome::bad_request, error)};
  }
  const protocol::array* requests = frame.as_array();
  if (requests == nullptr) return {on_request(frame)};
  if (requests->empty()) return {refuse(std::nullopt, outcome::bad_request, "batch: empty array")};
  std::vector<verdict> out;
  out.reserve(requests->size());
  for (const protocol::value& request : *requests) {
    // The session stops reading at the in-flight limit; a batch could still
    // overshoot it by its length, so the rest is refused instead.
    if (who_ && in_flight_.size() >= settings_.in_flight_per_connection_max) {
      const protocol::value* id = request.find("id");
      std::optional<std::int64_t> known;
      if (id && id->as_int() && *id->as_int() >= 0) known = *id->as_int();
      out.push_back(reply_with(protocol::error_response(
          known, outcome::overloaded, "too many requests in flight on this connection",
          {{"retry_after_ms", std::int64_t{10}}})));
      continue;
    }
    out.push_back(on_request(request));
  }
  return out;
}

conversation::verdict conversation::on_request(const protocol::value& frame) {
  auto decoded = protocol::decode_request(frame);
  if (auto* failure = std::get_if<protocol::decode_failure>(&decoded)) {
    return refuse(failure->id, failure->code, failure->message);
  }
  auto& req = std::get<protocol::op_request>(decoded);
  if (!req.id) return refuse(std::nullopt, outcome::bad_request, "id: required");
  const std::int64_t id = *req.id;

  // Answers are matched by id, so two requests in flight under one id would
  // make the answers ambiguous.
  if (in_flight_.contains(id)) {
    return refuse(id, outcome::bad_request, "id: " + std::to_string(id) + " is already in flight");
  }
  const protocol::op_spec* spec = protocol::find_op(req.op);
  if (spec == nullptr) return refuse(id, outcome::unknown_op, "op: unknown op " + req.op);

  if (req.op == "auth") return on_auth(req);
  // The contract: until authenticated, every op but auth is UNAUTHENTICATED.
  if (!who_) {
    return refuse(id, outcome::unauthenticated,
                  "authenticate first (auth op or Authorization header)");
  }
  // The periodic re-check closes a revoked key's connections; this one makes
  // every request after the revocation fail, not just those after the check.
  if (!auth_.still_valid(*who_)) {
    if (auth_.why_invalid(*who_) == authenticator::invalid_reason::tenant_suspended) {
      auto v = refuse(id, outcome::forbidden, "tenant " + who_->tenant + " is suspended");
      v.close = close_request{close_code::policy_violation, std::string(tenant_suspended_reason)};
      return v;
    }
    auto v = refuse(id, outcome::unauthenticated, "the key was revoked or has expired");
    v.close = close_request{close_code::policy_violation, "key revoked or expired"};
    return v;
  }
  if (req.op == "ping") return reply_with(protocol::ok_response(id, {}));
  if (!spec->any_role && !protocol::allows(who_->role, *spec)) {
    return refuse(id, outcome::forbidden,
                  req.op + " needs the " + std::string(protocol::to_string(spec->needs)) +
                      " role");
  }
  fill_from_principal(req);
  in_flight_.insert(id);
  verdict v;
  v.dispatch = std::move(req);
  return v;
}

void conversation::finished(std::int64_t id) { in_flight_.erase(id); }

conversation::verdict conversation::on_auth(const protocol::op_request& req) {
  const std::int64_t id = *req.id;
  if (who_) return refuse(id, outcome::bad_request, "already authenticated");

  std::optional<principal> who = auth_.authenticate(req.token);
  if (!who) {
    verdict v = refuse(id, outcome::unauthenticated,
                       "invalid, expired or revoked token, or its tenant is suspended");
    if (++auth_failures_ >= settings_.auth_failures_max) {
      v.close = close_request{close_code::policy_violation,
                              "too many failed authentication attempts"};
    }
    return v;
  }
  if (auto refused = admit(std::move(*who))) {
    verdict v = reply_with(protocol::error_response(id, outcome::limit_exceeded, refused->close.reason,
                                                    {{"limit", std::int64_t{refused->limit}}}));
    v.close = std::move(refused->close);
    return v;
  }
  return reply_with(auth_result(id));
}

std::optional<conversation::refusal> conversation::admit(principal who) {
  if (const std::uint32_t limit = admit_ ? admit_(who) : 0; limit != 0) {
    return refusal{{close_code::policy_violation, "too many connections for this tenant"}, limit};
  }
  who_ = std::move(who);
  return std::nullopt;
}

protocol::value conversation::auth_result(std::int64_t id) const {
  protocol::wire_limits limits;
  limits.frame_bytes_max = settings_.frame_bytes_max;
  limits.in_flight_max = settings_.in_flight_per_connection_max;
  limits.ttl_ms_max = settings_.announced_ttl_ms_max;
  limits.ttl_ms_default = settings_.announced_ttl_ms_default;
  limits.string_bytes_max = static_cast<std::int64_t>(settings_.parse.string_bytes_max);
  limits.depth_max = static_cast<std::int64_t>(settings_.parse.depth_max);
  return protocol::ok_response(
      id, protocol::auth_result(who_->tenant, who_->role, server_version(), limits));
}

// The tenant and key always come from the token, never from a frame.
void conversation::fill_from_principal(protocol::op_request& req) const {
  req.grid.key.tenant = who_->tenant;
  req.grid.key_id = who_->key_id;
  for (request& item : req.items) {
    item.key.tenant = who_->tenant;
    item.key_id = who_->key_id;
  }
}

}  // namespace stockgrid::gateway
