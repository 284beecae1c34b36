#include "protocol/messages.hpp"

#include <utility>

#include "protocol/codec.hpp"
#include "protocol/fields.hpp"

namespace stockgrid::protocol {

static_assert(parse_limits{}.array_items_max >= bulk_items_max,
              "a full stock.bulk must get past the parser's array limit");
static_assert(parse_limits{}.total_items_max >= bulk_items_max * 10,
              "a full stock.bulk (about 8 values per item) must get past the value limit");

// ---------------------------------------------------------------------------
// Roles and ops

std::string_view to_string(role r) {
  switch (r) {
    case role::reader: return "reader";
    case role::writer: return "writer";
    case role::admin: return "admin";
    case role::system: return "system";
  }
  return "unknown";
}

std::optional<role> parse_role(std::string_view text) {
  for (role r : {role::reader, role::writer, role::admin, role::system}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

namespace {

// Every op of protocol v1 and the role it needs (docs/protocol.md, "Ops").
constexpr op_spec op_table[] = {
    {"auth", role::reader, true},
    {"ping", role::reader, true},
    {"stock.get", role::reader},
    {"stock.list", role::reader},
    {"stock.holds", role::reader},
    {"stock.history", role::reader},
    {"stock.adjust", role::writer},
    {"stock.set", role::writer},
    {"stock.reserve", role::writer},
    {"stock.commit", role::writer},
    {"stock.release", role::writer},
    {"stock.extend", role::writer},
    {"stock.sell", role::writer},
    {"stock.bulk", role::writer},
    {"stock.policy", role::admin},
    {"stock.find", role::reader, false, true},
    {"subscribe", role::reader, false, true},
    {"unsubscribe", role::reader, false, true},
    {"order.reserve", role::writer, false, true, true},
    {"order.commit", role::writer, false, true, true},
    {"order.release", role::writer, false, true, true},
    {"order.extend", role::writer, false, true, true},
    {"order.get", role::reader, false, true},
    {"transfer.create", role::writer, false, true, true},
    {"transfer.receive", role::writer, false, true, true},
    {"transfer.cancel", role::writer, false, true, true},
    {"transfer.get", role::reader, false, true},
    {"tenant.settings", role::admin, false, true, false, true},
    {"key.create", role::admin},
    {"key.list", role::admin},
    {"key.revoke", role::admin},
    {"tenant.create", role::system},
    {"tenant.list", role::system},
    {"tenant.suspend", role::system},
    {"tenant.delete", role::system},
    {"tenant.resume", role::system},
    {"tenant.export", role::system},
    {"cluster.status", role::system},
};

struct grid_op_name {
  op kind;
  std::string_view name;
};
constexpr grid_op_name grid_op_names[] = {
    {op::get, "stock.get"},         {op::holds, "stock.holds"},
    {op::history, "stock.history"}, {op::adjust, "stock.adjust"},
    {op::set, "stock.set"},         {op::reserve, "stock.reserve"},
    {op::commit, "stock.commit"},   {op::release, "stock.release"},
    {op::extend, "stock.extend"},   {op::sell, "stock.sell"},
    {op::policy, "stock.policy"},
};

}  // namespace

const op_spec* find_op(std::string_view name) {
  for (const op_spec& spec : op_table) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool allows(role who, const op_spec& spec) {
  if (spec.any_role) return true;
  // The operator runs the system's ops, and the tenant ops that let it name
  // the tenant: it belongs to no tenant, so another tenant op would have no
  // tenant to act on.
  if (who == role::system) return spec.needs == role::system || spec.system_names_tenant;
  if (spec.needs == role::system) return false;
  return static_cast<unsigned char>(who) >= static_cast<unsigned char>(spec.needs);
}

std::optional<op> grid_op_of(std::string_view name) {
  for (const auto& entry : grid_op_names) {
    if (entry.name == name) return entry.kind;
  }
  return std::nullopt;
}

std::string_view op_name_of(op kind) {
  for (const auto& entry : grid_op_names) {
    if (entry.kind == kind) return entry.name;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// Decoding requests

namespace {

void read_record_key(field_reader& f, request* r) {
  f.required_string("warehouse", &r->key.warehouse);
  f.required_string("sku", &r->key.sku);
}

// The fields of one grid op into `r`: types and presence only. Ranges and
// lengths are the grid's (domain/validate.hpp), which checks every request
// whatever its origin.
void read_grid_fields(field_reader& f, op kind, request* r) {
  r->kind = kind;
  switch (kind) {
    case op::get: {
      read_record_key(f, r);
      std::string consistency;
      f.optional_string("consistency", &consistency);
      if (f.ok() && f.find("consistency") != nullptr) {
        if (consistency == "follower")
          r->follower_read = true;
        else if (consistency != "leader")
          f.fail("consistency", R"(must be "leader" or "follower")");
      }
      break;
    }
    case op::holds:
      read_record_key(f, r);
      break;
    case op::history:
      read_record_key(f, r);
      f.optional_integer("limit", &r->limit);
      f.optional_integer("before_version", &r->before_version);
      break;
    case op::adjust:
      read_record_key(f, r);
      f.required_integer("delta", &r->delta);
      f.optional_string("reason", &r->reason);
      f.optional_id("idem", &r->idem);
      break;
    case op::set:
      read_record_key(f, r);
      f.required_integer("on_hand", &r->on_hand);
      f.optional_integer("expected_version", &r->expected_version);
      f.optional_string("reason", &r->reason);
      f.optional_id("idem", &r->idem);
      break;
    case op::reserve:
      read_record_key(f, r);
      f.required_integer("qty", &r->qty);
      f.optional_integer("ttl_ms", &r->ttl_ms);
      f.optional_id("ref", &r->ref);
      f.optional_id("idem", &r->idem);
      break;
    case op::commit:
    case op::release:
      f.required_string("hold", &r->hold);
      f.optional_integer("qty", &r->qty);
      f.optional_id("idem", &r->idem);
      break;
    case op::extend:
      f.required_string("hold", &r->hold);
      f.required_integer("ttl_ms", &r->ttl_ms);
      f.optional_id("idem", &r->idem);
      break;
    case op::sell:
      read_record_key(f, r);
      f.required_integer("qty", &r->qty);
      f.optional_string("reason", &r->reason);
      f.optional_id("idem", &r->idem);
      break;
    case op::policy:
      read_record_key(f, r);
      f.optional_integer("safety_stock", &r->safety_stock);
      f.optional_bool("allow_backorder", &r->allow_backorder);
      f.optional_integer("low_stock_threshold", &r->low_stock_threshold);
      f.optional_id("idem", &r->idem);
      break;
    case op::transfer_out:
    case op::incoming:
    case op::receive:
    case op::transfer_back:
      break;  // internal: never named by a frame (grid_op_of does not know them)
  }
}

void read_bulk_items(field_reader& f, std::vector<request>* out) {
  f.required_objects("items", true, bulk_items_max, [&](field_reader& item, std::size_t) {
    std::string item_op;
    item.required_string("op", &item_op);
    if (!item.ok()) return;
    request r;
    if (item_op == "adjust") {
      read_grid_fields(item, op::adjust, &r);
    } else if (item_op == "set") {
      read_grid_fields(item, op::set, &r);
    } else {
      return item.fail("op", "must be \"adjust\" or \"set\"");
    }
    out->push_back(std::move(r));
  });
}

void read_fields(op_request* req, field_reader& f) {
  const std::string_view name = req->op;
  if (const auto kind = grid_op_of(name)) return read_grid_fields(f, *kind, &req->grid);
  if (name == "stock.list") {
    f.optional_string("warehouse", &req->warehouse);
    f.optional_string("sku_prefix", &req->sku_prefix);
    f.optional_string("cursor", &req->cursor);
    f.optional_integer("limit", &req->limit);
  } else if (name == "stock.bulk") {
    read_bulk_items(f, &req->items);
    f.optional_id("idem", &req->idem);
    // Items without their own idem get "<idem>:<index>" (index < 1000).
    if (req->idem.size() > bulk_idem_bytes_max)
      f.fail("idem", "longer than " + std::to_string(bulk_idem_bytes_max) + " bytes");
  } else if (name == "auth") {
    f.required_string("token", &req->token);
  } else if (name == "key.create") {
    std::string role_name;
    f.required_string("role", &role_name);
    if (f.ok()) {
      const auto r = parse_role(role_name);
      // An admin hands out keys of its own tenant; the system role is no
      // tenant's to give.
      if (!r || *r == role::system) {
        f.fail("role", "must be \"reader\", \"writer\" or \"admin\"");
      } else {
        req->key_role = r;
      }
    }
    f.optional_string_list("warehouses", &req->warehouses);
    f.optional_integer("expires_at_ms", &req->expires_at_ms);
  } else if (name == "key.revoke") {
    f.required_string("key_id", &req->key_id);
  } else if (name == "tenant.create" || name == "tenant.suspend" || name == "tenant.resume" ||
             name == "tenant.delete") {
    f.required_string("tenant", &req->tenant);
  } else if (name == "tenant.export") {
    f.required_string("tenant", &req->tenant);
    f.optional_string("cursor", &req->cursor);
    f.optional_integer("limit", &req->limit);
  }
  // ping, key.list, tenant.list: no fields.
}

// For the UNKNOWN_OP message: the name itself if short, so a client sees its
// typo, without echoing a long string back.
std::string quoted_op(const std::string& name) {
  constexpr std::size_t shown_bytes_max = 64;
  if (name.size() > shown_bytes_max) return "";
  return " \"" + name + "\"";
}

}  // namespace

std::variant<op_request, decode_failure> decode_request(const value& frame) {
  if (frame.as_object() == nullptr) {
    return decode_failure{outcome::bad_request, "request: must be an object", std::nullopt};
  }
  op_request req;

  const value* id = frame.find("id");
  if (id == nullptr || id->is_null()) {
    return decode_failure{outcome::bad_request, "id: required", std::nullopt};
  }
  std::int64_t id_value = 0;
  if (read_integer(*id, &id_value) != integer_check::ok || id_value < 0 ||
      id_value > safe_integer_max) {
    return decode_failure{outcome::bad_request,
                          "id: must be an integer between 0 and 2^53-1", std::nullopt};
  }
  req.id = id_value;

  const value* op_field = frame.find("op");
  if (op_field == nullptr || op_field->is_null()) {
    return decode_failure{outcome::bad_request, "op: required", req.id};
  }
  const std::string* op_name = op_field->as_string();
  if (op_name == nullptr) return decode_failure{outcome::bad_request, "op: must be a string", req.id};
  const op_spec* spec = find_op(*op_name);
  if (spec == nullptr) {
    return decode_failure{outcome::unknown_op, "op: unknown op" + quoted_op(*op_name), req.id};
  }
  req.op = *op_name;
  if (spec->params) {
    req.params = frame;
    return req;
  }

  field_reader fields(frame, "");
  read_fields(&req, fields);
  if (!fields.ok()) return decode_failure{outcome::bad_request, fields.take_error(), req.id};
  return req;
}

// ---------------------------------------------------------------------------
// Encoding requests (the client's side)

namespace {

void write_grid_fields(const request& r, object& o) {
  auto add = [&](const char* name, value v) { o.emplace_back(name, std::move(v)); };
  auto add_text = [&](const char* name, const std::string& text) {
    if (!text.empty()) add(name, text);
  };
  if (targets_hold(r.kind)) {
    add("hold", r.hold);
  } else {
    add("warehouse", r.key.warehouse);
    add("sku", r.key.sku);
  }
  switch (r.kind) {
    case op::get:
      if (r.follower_read) add("consistency", std::string("follower"));
      break;
    case op::holds:
      break;
    case op::history:
      if (r.limit != 0) add("limit", r.limit);
      if (r.before_version != 0) add("before_version", r.before_version);
      break;
    case op::adjust:
      add("delta", r.delta);
      add_text("reason", r.reason);
      break;
    case op::set:
      add("on_hand", r.on_hand);
      if (r.expected_version) add("expected_version", *r.expected_version);
      add_text("reason", r.reason);
      break;
    case op::reserve:
      if (r.qty) add("qty", *r.qty);
      if (r.ttl_ms != 0) add("ttl_ms", r.ttl_ms);
      add_text("ref", r.ref);
      break;
    case op::commit:
    case op::release:
      if (r.qty) add("qty", *r.qty);
      break;
    case op::extend:
      add("ttl_ms", r.ttl_ms);
      break;
    case op::sell:
      if (r.qty) add("qty", *r.qty);
      add_text("reason", r.reason);
      break;
    case op::policy:
      if (r.safety_stock) add("safety_stock", *r.safety_stock);
      if (r.allow_backorder) add("allow_backorder", *r.allow_backorder);
      if (r.low_stock_threshold) add("low_stock_threshold", *r.low_stock_threshold);
      break;
    case op::transfer_out:
    case op::incoming:
    case op::receive:
    case op::transfer_back:
      break;
  }
  if (is_mutation(r.kind)) add_text("idem", r.idem);
}

}  // namespace

value encode_request(const op_request& req) {
  object o;
  o.emplace_back("op", req.op);
  if (req.id) o.emplace_back("id", *req.id);
  auto add_text = [&](const char* name, const std::string& text) {
    if (!text.empty()) o.emplace_back(name, text);
  };

  const std::string_view name = req.op;
  if (grid_op_of(name)) {
    write_grid_fields(req.grid, o);
  } else if (name == "stock.list") {
    add_text("warehouse", req.warehouse);
    add_text("sku_prefix", req.sku_prefix);
    add_text("cursor", req.cursor);
    if (req.limit != 0) o.emplace_back("limit", req.limit);
  } else if (name == "stock.bulk") {
    array items;
    items.reserve(req.items.size());
    for (const request& item : req.items) {
      object fields;
      fields.emplace_back("op", to_string(item.kind));
      write_grid_fields(item, fields);
      items.emplace_back(std::move(fields));
    }
    o.emplace_back("items", std::move(items));
    add_text("idem", req.idem);
  } else if (name == "auth") {
    o.emplace_back("token", req.token);
  } else if (name == "key.create") {
    if (req.key_role) o.emplace_back("role", to_string(*req.key_role));
    if (!req.warehouses.empty()) {
      array list(req.warehouses.begin(), req.warehouses.end());
      o.emplace_back("warehouses", std::move(list));
    }
    if (req.expires_at_ms) o.emplace_back("expires_at_ms", *req.expires_at_ms);
  } else if (name == "key.revoke") {
    o.emplace_back("key_id", req.key_id);
  } else if (name == "tenant.create" || name == "tenant.suspend" || name == "tenant.resume" ||
             name == "tenant.delete") {
    o.emplace_back("tenant", req.tenant);
  } else if (name == "tenant.export") {
    o.emplace_back("tenant", req.tenant);
    add_text("cursor", req.cursor);
    if (req.limit != 0) o.emplace_back("limit", req.limit);
  } else if (const op_spec* spec = find_op(name); spec && spec->params) {
    if (const object* params = req.params.as_object()) {
      for (const auto& member : *params) {
        if (member.first != "op" && member.first != "id") o.push_back(member);
      }
    }
  }
  return value(std::move(o));
}

// ---------------------------------------------------------------------------
// Responses

namespace {

value id_value(std::optional<std::int64_t> id) { return id ? value(*id) : value(nullptr); }

// The message of an error whose sender gave none.
std::string_view default_message(outcome code) {
  switch (code) {
    case outcome::ok: return "ok";
    case outcome::bad_request: return "bad request";
    case outcome::unauthenticated: return "not authenticated";
    case outcome::forbidden: return "not allowed for this key";
    case outcome::unknown_op: return "unknown op";
    case outcome::not_found: return "no such record";
    case outcome::hold_not_found: return "no such hold";
    case outcome::insufficient_stock: return "not enough stock available";
    case outcome::version_conflict: return "the record's version differs from expected_version";
    case outcome::idempotency_mismatch: return "idem was used before for a different request";
    case outcome::limit_exceeded: return "a count limit was reached";
    case outcome::rate_limited: return "rate limited";
    case outcome::overloaded: return "overloaded";
    case outcome::unavailable: return "unavailable, nothing was applied";
    case outcome::timeout: return "timed out, the outcome is unknown: retry with the same idem";
    case outcome::internal: return "internal error";
  }
  return "internal error";
}

object error_object(outcome code, std::string_view message, object details) {
  object e;
  e.emplace_back("code", to_code(code));
  e.emplace_back("message", message.empty() ? default_message(code) : message);
  for (auto& detail : details) e.push_back(std::move(detail));
  return e;
}

// The details an error code carries (docs/protocol.md, "Errors").
object error_details(const reply& r) {
  object d;
  switch (r.code) {
    case outcome::insufficient_stock: d.emplace_back("available", r.available); break;
    case outcome::version_conflict:
      if (r.has_record) d.emplace_back("record", record_value(r.record));
      break;
    case outcome::limit_exceeded: d.emplace_back("limit", r.limit); break;
    case outcome::rate_limited:
    case outcome::overloaded:
    case outcome::unavailable: d.emplace_back("retry_after_ms", r.retry_after_ms); break;
    default: break;
  }
  return d;
}

// The result members of a successful grid op, in the op's documented shape.
object grid_result(std::string_view op_name, const reply& r) {
  object o;
  const auto kind = grid_op_of(op_name);
  if (!kind) {
    if (r.has_record) o.emplace_back("record", record_value(r.record));
    return o;
  }
  switch (*kind) {
    case op::get:
    case op::adjust:
    case op::set:
    case op::commit:
    case op::release:
    case op::sell:
    case op::policy:
    case op::transfer_out:
    case op::incoming:
    case op::receive:
    case op::transfer_back:
      if (r.has_record) o.emplace_back("record", record_value(r.record));
      break;
    case op::reserve:
      o.emplace_back("hold", r.hold);
      o.emplace_back("expires_at_ms", r.expires_at_ms);
      if (r.has_record) o.emplace_back("record", record_value(r.record));
      break;
    case op::extend:
      o.emplace_back("hold", r.hold);
      o.emplace_back("expires_at_ms", r.expires_at_ms);
      break;
    case op::holds: {
      array holds;
      holds.reserve(r.holds.size());
      for (const auto& h : r.holds) holds.push_back(hold_value(h));
      o.emplace_back("holds", std::move(holds));
      break;
    }
    case op::history: {
      array events;
      events.reserve(r.events.size());
      for (const auto& e : r.events) events.push_back(event_value(e));
      o.emplace_back("events", std::move(events));
      break;
    }
  }
  return o;
}

// {"ok": true, ...result} or {"ok": false, "error": {...}} for one grid
// reply, plus "replayed" on an idempotent replay.
object grid_outcome(std::string_view op_name, const reply& r) {
  object o;
  if (r.code == outcome::ok) {
    o.emplace_back("ok", true);
    for (auto& member : grid_result(op_name, r)) o.push_back(std::move(member));
  } else {
    o.emplace_back("ok", false);
    o.emplace_back("error", error_object(r.code, r.message, error_details(r)));
  }
  if (r.replayed) o.emplace_back("replayed", true);
  return o;
}

}  // namespace

value ok_response(std::optional<std::int64_t> id, object result) {
  object o;
  o.reserve(result.size() + 2);
  o.emplace_back("id", id_value(id));
  o.emplace_back("ok", true);
  for (auto& member : result) o.push_back(std::move(member));
  return value(std::move(o));
}

value error_response(std::optional<std::int64_t> id, outcome code, std::string_view message,
                     object details) {
  object o;
  o.emplace_back("id", id_value(id));
  o.emplace_back("ok", false);
  o.emplace_back("error", error_object(code, message, std::move(details)));
  return value(std::move(o));
}

value hold_value(const hold_view& h) {
  object o;
  o.emplace_back("hold", h.hold);
  o.emplace_back("qty", h.qty);
  o.emplace_back("expires_at_ms", h.expires_at_ms);
  o.emplace_back("ref", h.ref);
  return value(std::move(o));
}

value event_value(const history_event& e) {
  const change& c = e.c;
  object o;
  o.emplace_back("seq", static_cast<std::int64_t>(e.seq));
  o.emplace_back("version", c.version);
  o.emplace_back("kind", to_string(c.kind));
  o.emplace_back("qty", c.qty);
  o.emplace_back("on_hand_before", c.on_hand_before);
  o.emplace_back("on_hand_after", c.on_hand_after);
  o.emplace_back("reserved_before", c.reserved_before);
  o.emplace_back("reserved_after", c.reserved_after);
  if (!e.hold.empty()) o.emplace_back("hold", e.hold);
  if ((c.kind == change_kind::reserve || c.kind == change_kind::extend) && c.expires_at_ms != 0)
    o.emplace_back("expires_at_ms", c.expires_at_ms);
  if (!c.ref.empty()) o.emplace_back("ref", c.ref);
  if (!c.reason.empty()) o.emplace_back("reason", c.reason);
  if (!e.idem.empty()) o.emplace_back("idem", e.idem);
  if (!e.key_id.empty()) o.emplace_back("key_id", e.key_id);
  o.emplace_back("at_ms", e.at_ms);
  return value(std::move(o));
}

value record_value(const record_view& r) {
  object o;
  o.emplace_back("warehouse", r.key.warehouse);
  o.emplace_back("sku", r.key.sku);
  o.emplace_back("on_hand", r.on_hand);
  o.emplace_back("reserved", r.reserved);
  o.emplace_back("available", r.available());
  o.emplace_back("version", r.version);
  o.emplace_back("backordered", r.backordered);
  o.emplace_back("incoming", r.incoming);
  o.emplace_back("safety_stock", r.safety_stock);
  o.emplace_back("allow_backorder", r.allow_backorder);
  o.emplace_back("low_stock_threshold", r.low_stock_threshold);
  return value(std::move(o));
}

value grid_response(std::optional<std::int64_t> id, std::string_view op, const reply& r) {
  object o;
  o.emplace_back("id", id_value(id));
  for (auto& member : grid_outcome(op, r)) o.push_back(std::move(member));
  return value(std::move(o));
}

value bulk_response(std::optional<std::int64_t> id, const std::vector<reply>& items) {
  array results;
  results.reserve(items.size());
  for (const reply& r : items) {
    // A bulk item is an adjust or a set; both answer with the record.
    results.emplace_back(grid_outcome("stock.adjust", r));
  }
  object result;
  result.emplace_back("results", std::move(results));
  return ok_response(id, std::move(result));
}

object auth_result(std::string_view tenant, role r, std::string_view server_version,
                   const wire_limits& limits) {
  object l;
  l.emplace_back("frame_bytes_max", limits.frame_bytes_max);
  l.emplace_back("in_flight_max", limits.in_flight_max);
  l.emplace_back("ttl_ms_max", limits.ttl_ms_max);
  l.emplace_back("ttl_ms_default", limits.ttl_ms_default);
  l.emplace_back("bulk_items_max", limits.bulk_items_max);
  l.emplace_back("id_bytes_max", limits.id_bytes_max);
  l.emplace_back("hold_id_bytes_max", limits.hold_id_bytes_max);
  l.emplace_back("reason_bytes_max", limits.reason_bytes_max);
  l.emplace_back("string_bytes_max", limits.string_bytes_max);
  l.emplace_back("depth_max", limits.depth_max);

  object o;
  o.emplace_back("tenant", tenant.empty() ? value(nullptr) : value(tenant));
  o.emplace_back("role", to_string(r));
  o.emplace_back("server_version", server_version);
  o.emplace_back("protocol_version", version);
  o.emplace_back("limits", std::move(l));
  return o;
}

object list_result(const std::vector<record_view>& records, std::string_view next_cursor) {
  array list;
  list.reserve(records.size());
  for (const auto& r : records) list.push_back(record_value(r));
  object o;
  o.emplace_back("records", std::move(list));
  if (!next_cursor.empty()) o.emplace_back("cursor", next_cursor);
  return o;
}

object key_list_result(const std::vector<key_info>& keys) {
  array list;
  list.reserve(keys.size());
  for (const auto& k : keys) {
    object o;
    o.emplace_back("key_id", k.key_id);
    o.emplace_back("role", to_string(k.key_role));
    o.emplace_back("warehouses", array(k.warehouses.begin(), k.warehouses.end()));
    if (k.expires_at_ms) o.emplace_back("expires_at_ms", *k.expires_at_ms);
    list.emplace_back(std::move(o));
  }
  object result;
  result.emplace_back("keys", std::move(list));
  return result;
}

object tenant_list_result(const std::vector<tenant_info>& tenants) {
  array list;
  list.reserve(tenants.size());
  for (const auto& t : tenants) {
    object o;
    o.emplace_back("tenant", t.tenant);
    o.emplace_back("suspended", t.suspended);
    list.emplace_back(std::move(o));
  }
  object result;
  result.emplace_back("tenants", std::move(list));
  return result;
}

}  // namespace stockgrid::protocol
