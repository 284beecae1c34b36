// decode_request: the frame's shape, the id rules, every op's fields (happy
// path, wrong types, missing required fields), stock.bulk items, and the role
// table. encode_request is checked as its inverse.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol_test_support.hpp"

using namespace stockgrid;
using namespace stockgrid::protocol;
using namespace stockgrid::protocol::testing;

namespace {

op_request decoded(const value& frame) {
  auto result = decode_request(frame);
  if (auto* failure = std::get_if<decode_failure>(&result)) {
    FAIL("decode failed: " << failure->message << " frame: " << to_json(frame));
  }
  return std::get<op_request>(std::move(result));
}

// Text overloads: a const char* or std::string is a JSON text (not a string
// value), and these exact matches win over the conversion to value.
op_request decoded(const char* text) { return decoded(json(text)); }

decode_failure refused(const value& frame) {
  auto result = decode_request(frame);
  if (std::holds_alternative<op_request>(result)) {
    FAIL("decode should have failed: " << to_json(frame));
  }
  return std::get<decode_failure>(std::move(result));
}

decode_failure refused(const char* text) { return refused(json(text)); }
decode_failure refused(const std::string& text) { return refused(json(text)); }

value with(value frame, const std::string& name, value v) {
  object& members = *frame.as_object();
  for (auto& member : members) {
    if (member.first == name) {
      member.second = std::move(v);
      return frame;
    }
  }
  members.emplace_back(name, std::move(v));
  return frame;
}

value without(value frame, const std::string& name) {
  object& members = *frame.as_object();
  std::erase_if(members, [&](const auto& member) { return member.first == name; });
  return frame;
}

// What each op reads, for the table-driven checks below.
enum class field_type { text, integer, text_list, role };
struct field {
  const char* name;
  field_type type;
  bool required;
};
struct op_case {
  const char* op;
  const char* fields_json;  // a valid set of fields for the op
  std::vector<field> fields;
};

const std::vector<op_case>& op_cases() {
  static const std::vector<op_case> cases = {
      {"auth", R"({"token":"t0k"})", {{"token", field_type::text, true}}},
      {"ping", R"({})", {}},
      {"stock.get", R"({"warehouse":"w1","sku":"s1"})",
       {{"warehouse", field_type::text, true}, {"sku", field_type::text, true}}},
      {"stock.list", R"({"warehouse":"w1","sku_prefix":"s","cursor":"c1","limit":10})",
       {{"warehouse", field_type::text, false},
        {"sku_prefix", field_type::text, false},
        {"cursor", field_type::text, false},
        {"limit", field_type::integer, false}}},
      {"stock.holds", R"({"warehouse":"w1","sku":"s1"})",
       {{"warehouse", field_type::text, true}, {"sku", field_type::text, true}}},
      {"stock.history", R"({"warehouse":"w1","sku":"s1","limit":5,"before_version":9})",
       {{"warehouse", field_type::text, true},
        {"sku", field_type::text, true},
        {"limit", field_type::integer, false},
        {"before_version", field_type::integer, false}}},
      {"stock.adjust", R"({"warehouse":"w1","sku":"s1","delta":-4,"reason":"r","idem":"i1"})",
       {{"warehouse", field_type::text, true},
        {"sku", field_type::text, true},
        {"delta", field_type::integer, true},
        {"reason", field_type::text, false},
        {"idem", field_type::text, false}}},
      {"stock.set",
       R"({"warehouse":"w1","sku":"s1","on_hand":12,"expected_version":3,"reason":"r","idem":"i1"})",
       {{"warehouse", field_type::text, true},
        {"sku", field_type::text, true},
        {"on_hand", field_type::integer, true},
        {"expected_version", field_type::integer, false},
        {"reason", field_type::text, false},
        {"idem", field_type::text, false}}},
      {"stock.reserve",
       R"({"warehouse":"w1","sku":"s1","qty":2,"ttl_ms":30000,"ref":"cart","idem":"i1"})",
       {{"warehouse", field_type::text, true},
        {"sku", field_type::text, true},
        {"qty", field_type::integer, true},
        {"ttl_ms", field_type::integer, false},
        {"ref", field_type::text, false},
        {"idem", field_type::text, false}}},
      {"stock.commit", R"({"hold":"H1-2","qty":1,"idem":"i1"})",
       {{"hold", field_type::text, true},
        {"qty", field_type::integer, false},
        {"idem", field_type::text, false}}},
      {"stock.release", R"({"hold":"H1-2","qty":1,"idem":"i1"})",
       {{"hold", field_type::text, true},
        {"qty", field_type::integer, false},
        {"idem", field_type::text, false}}},
      {"stock.extend", R"({"hold":"H1-2","ttl_ms":60000,"idem":"i1"})",
       {{"hold", field_type::text, true},
        {"ttl_ms", field_type::integer, true},
        {"idem", field_type::text, false}}},
      {"stock.sell", R"({"warehouse":"w1","sku":"s1","qty":1,"reason":"r","idem":"i1"})",
       {{"warehouse", field_type::text, true},
        {"sku", field_type::text, true},
        {"qty", field_type::integer, true},
        {"reason", field_type::text, false},
        {"idem", field_type::text, false}}},
      {"stock.bulk",
       R"({"items":[{"op":"adjust","warehouse":"w1","sku":"s1","delta":1}],"idem":"b1"})",
       {{"idem", field_type::text, false}}},
      {"key.create", R"({"role":"writer","warehouses":["w1","w2"],"expires_at_ms":1700000000000})",
       {{"role", field_type::role, true},
        {"warehouses", field_type::text_list, false},
        {"expires_at_ms", field_type::integer, false}}},
      {"key.list", R"({})", {}},
      {"key.revoke", R"({"key_id":"k1"})", {{"key_id", field_type::text, true}}},
      {"tenant.create", R"({"tenant":"acme"})", {{"tenant", field_type::text, true}}},
      {"tenant.list", R"({})", {}},
      {"tenant.suspend", R"({"tenant":"acme"})", {{"tenant", field_type::text, true}}},
      {"tenant.resume", R"({"tenant":"acme"})", {{"tenant", field_type::text, true}}},
      {"tenant.delete", R"({"tenant":"acme"})", {{"tenant", field_type::text, true}}},
      {"tenant.export", R"({"tenant":"acme","cursor":"c1","limit":10})",
       {{"tenant", field_type::text, true},
        {"cursor", field_type::text, false},
        {"limit", field_type::integer, false}}},
  };
  return cases;
}

value frame_of(const op_case& c, std::int64_t id = 1) {
  value frame = json(c.fields_json);
  frame = with(frame, "op", c.op);
  return with(frame, "id", id);
}

std::vector<value> wrong_values(field_type type) {
  switch (type) {
    case field_type::text:
    case field_type::role: return {value(5), value(true), value(1.5), value(array{}), value(object{})};
    case field_type::integer:
      return {value("5"), value(true), value(1.5), value(array{}), value(object{})};
    case field_type::text_list: return {value("w1"), value(5), value(object{})};
  }
  return {};
}

std::string type_message(field_type type) {
  switch (type) {
    case field_type::text: return "must be a string";
    case field_type::integer: return "must be an integer";
    case field_type::text_list: return "must be an array of strings";
    case field_type::role: return "must be a string";
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------
// Roles and the op table

TEST_CASE("roles: names round-trip and unknown names are refused", "[roles]") {
  for (role r : {role::reader, role::writer, role::admin, role::system}) {
    CHECK(parse_role(to_string(r)) == r);
  }
  CHECK(to_string(role::reader) == "reader");
  CHECK(to_string(role::writer) == "writer");
  CHECK(to_string(role::admin) == "admin");
  CHECK(to_string(role::system) == "system");
  CHECK_FALSE(parse_role("Admin"));
  CHECK_FALSE(parse_role(""));
  CHECK_FALSE(parse_role("root"));
}

TEST_CASE("roles: every op needs the role the issue names", "[roles]") {
  const std::vector<std::pair<std::string, role>> tenant_ops = {
      {"stock.get", role::reader},     {"stock.list", role::reader},
      {"stock.holds", role::reader},   {"stock.history", role::reader},
      {"stock.adjust", role::writer},  {"stock.set", role::writer},
      {"stock.reserve", role::writer}, {"stock.commit", role::writer},
      {"stock.release", role::writer}, {"stock.extend", role::writer},
      {"stock.sell", role::writer},    {"stock.bulk", role::writer},
      {"key.create", role::admin},     {"key.list", role::admin},
      {"key.revoke", role::admin},     {"tenant.create", role::system},
      {"tenant.list", role::system},   {"tenant.suspend", role::system},
      {"tenant.resume", role::system}, {"tenant.export", role::system},
      {"tenant.delete", role::system},
  };
  for (const auto& [name, needs] : tenant_ops) {
    const op_spec* spec = find_op(name);
    INFO(name);
    REQUIRE(spec != nullptr);
    CHECK(spec->name == name);
    CHECK(spec->needs == needs);
    CHECK_FALSE(spec->any_role);
  }
  for (const char* name : {"auth", "ping"}) {
    const op_spec* spec = find_op(name);
    REQUIRE(spec != nullptr);
    CHECK(spec->any_role);
  }
  CHECK(find_op("stock.delete") == nullptr);
  CHECK(find_op("") == nullptr);
  CHECK(find_op("STOCK.GET") == nullptr);
  // The table and the decoder agree on the set of ops.
  CHECK(op_cases().size() == tenant_ops.size() + 2);
}

TEST_CASE("roles: admin ⊃ writer ⊃ reader; system runs only system ops", "[roles]") {
  auto can = [](role who, const char* op_name) { return allows(who, *find_op(op_name)); };
  for (role who : {role::reader, role::writer, role::admin, role::system}) {
    INFO(to_string(who));
    CHECK(can(who, "auth"));
    CHECK(can(who, "ping"));
  }
  CHECK(can(role::reader, "stock.get"));
  CHECK_FALSE(can(role::reader, "stock.reserve"));
  CHECK_FALSE(can(role::reader, "key.create"));
  CHECK(can(role::writer, "stock.history"));
  CHECK(can(role::writer, "stock.bulk"));
  CHECK_FALSE(can(role::writer, "key.list"));
  CHECK(can(role::admin, "stock.list"));
  CHECK(can(role::admin, "stock.sell"));
  CHECK(can(role::admin, "key.revoke"));
  for (role who : {role::reader, role::writer, role::admin}) {
    for (const char* op_name : {"tenant.create", "tenant.list", "tenant.suspend", "tenant.resume",
                                "tenant.export", "tenant.delete"})
      CHECK_FALSE(can(who, op_name));
  }
  // The operator belongs to no tenant: no stock or key ops.
  CHECK(can(role::system, "tenant.create"));
  CHECK(can(role::system, "tenant.list"));
  for (const char* op_name : {"stock.get", "stock.list", "stock.reserve", "stock.bulk",
                              "key.create", "key.list", "key.revoke"}) {
    INFO(op_name);
    CHECK_FALSE(can(role::system, op_name));
  }
}

TEST_CASE("grid op names map both ways", "[roles]") {
  for (op kind : {op::get, op::holds, op::history, op::adjust, op::set, op::reserve, op::commit,
                  op::release, op::extend, op::sell}) {
    const auto name = op_name_of(kind);
    CHECK(name == "stock." + std::string(to_string(kind)));
    CHECK(grid_op_of(name) == kind);
    CHECK(find_op(name) != nullptr);
  }
  CHECK_FALSE(grid_op_of("stock.list"));
  CHECK_FALSE(grid_op_of("stock.bulk"));
  CHECK_FALSE(grid_op_of("ping"));
}

// ---------------------------------------------------------------------------
// Envelope and id

TEST_CASE("decode: a frame must be an object", "[decode]") {
  for (const char* text : {"[]", "1", "\"stock.get\"", "null", "true"}) {
    const auto f = refused(text);
    CHECK(f.code == outcome::bad_request);
    CHECK(f.message == "request: must be an object");
    CHECK_FALSE(f.id);
  }
}

TEST_CASE("decode: id is an integer 0..2^53-1", "[decode][id]") {
  CHECK(decoded(R"({"op":"ping","id":0})").id == 0);
  CHECK(decoded(R"({"op":"ping","id":9007199254740991})").id == 9007199254740991);
  // An integral double is an integer (some encoders write 7.0).
  CHECK(decoded(R"({"op":"ping","id":7.0})").id == 7);
  CHECK(decoded(R"({"op":"ping","id":1e3})").id == 1000);

  for (const char* text :
       {R"({"op":"ping","id":9007199254740992})", R"({"op":"ping","id":-1})",
        R"({"op":"ping","id":1.5})", R"({"op":"ping","id":"7"})", R"({"op":"ping","id":true})",
        R"({"op":"ping","id":[1]})", R"({"op":"ping","id":{}})",
        R"({"op":"ping","id":1e300})", R"({"op":"ping","id":18446744073709551616})"}) {
    INFO(text);
    const auto f = refused(text);
    CHECK(f.code == outcome::bad_request);
    CHECK(f.message == "id: must be an integer between 0 and 2^53-1");
    CHECK_FALSE(f.id);
  }
  for (const char* text : {R"({"op":"ping"})", R"({"op":"ping","id":null})"}) {
    const auto f = refused(text);
    CHECK(f.message == "id: required");
    CHECK_FALSE(f.id);
  }
  // The id is checked first: a frame with no id and a bad op still gets id null.
  const auto both = refused(R"({"op":"nope"})");
  CHECK(both.code == outcome::bad_request);
  CHECK_FALSE(both.id);
}

TEST_CASE("decode: op is required and must be known", "[decode]") {
  const auto missing = refused(R"({"id":4})");
  CHECK(missing.code == outcome::bad_request);
  CHECK(missing.message == "op: required");
  CHECK(missing.id == 4);

  const auto wrong_type = refused(R"({"id":4,"op":7})");
  CHECK(wrong_type.code == outcome::bad_request);
  CHECK(wrong_type.message == "op: must be a string");
  CHECK(wrong_type.id == 4);

  const auto unknown = refused(R"({"id":5,"op":"stock.teleport"})");
  CHECK(unknown.code == outcome::unknown_op);
  CHECK(unknown.message == "op: unknown op \"stock.teleport\"");
  CHECK(unknown.id == 5);

  // A long unknown name is not echoed back.
  const auto long_name = refused(value(object{{"id", 6}, {"op", std::string(500, 'x')}}));
  CHECK(long_name.code == outcome::unknown_op);
  CHECK(long_name.message == "op: unknown op");
}

// ---------------------------------------------------------------------------
// Every op: happy path

TEST_CASE("decode: every op's valid frame decodes", "[decode]") {
  for (const auto& c : op_cases()) {
    INFO(c.op);
    const op_request req = decoded(frame_of(c, 77));
    CHECK(req.op == c.op);
    CHECK(req.id == 77);
    // Never from a frame: the gateway fills these from the token.
    CHECK(req.grid.key.tenant.empty());
    CHECK(req.grid.key_id.empty());
  }
}

TEST_CASE("decode: auth and ping", "[decode]") {
  CHECK(decoded(R"({"op":"auth","id":1,"token":"sg_abc"})").token == "sg_abc");
  const op_request ping = decoded(R"({"op":"ping","id":2})");
  CHECK(ping.op == "ping");
}

TEST_CASE("decode: stock.get and stock.holds", "[decode]") {
  const op_request get = decoded(R"({"op":"stock.get","id":1,"warehouse":"berlin-1","sku":"A-1"})");
  CHECK(get.grid.kind == op::get);
  CHECK(get.grid.key.warehouse == "berlin-1");
  CHECK(get.grid.key.sku == "A-1");
  const op_request holds = decoded(R"({"op":"stock.holds","id":1,"warehouse":"w","sku":"s"})");
  CHECK(holds.grid.kind == op::holds);
  CHECK(holds.grid.key.sku == "s");
}

TEST_CASE("decode: stock.list", "[decode]") {
  const op_request all = decoded(R"({"op":"stock.list","id":1})");
  CHECK(all.warehouse.empty());
  CHECK(all.sku_prefix.empty());
  CHECK(all.cursor.empty());
  CHECK(all.limit == 0);
  const op_request some = decoded(
      R"({"op":"stock.list","id":1,"warehouse":"w","sku_prefix":"A-","cursor":"c9","limit":50})");
  CHECK(some.warehouse == "w");
  CHECK(some.sku_prefix == "A-");
  CHECK(some.cursor == "c9");
  CHECK(some.limit == 50);
}

TEST_CASE("decode: stock.history", "[decode]") {
  const op_request h = decoded(
      R"({"op":"stock.history","id":1,"warehouse":"w","sku":"s","limit":20,"before_version":31})");
  CHECK(h.grid.kind == op::history);
  CHECK(h.grid.limit == 20);
  CHECK(h.grid.before_version == 31);
  const op_request defaults = decoded(R"({"op":"stock.history","id":1,"warehouse":"w","sku":"s"})");
  CHECK(defaults.grid.limit == 0);
  CHECK(defaults.grid.before_version == 0);
}

TEST_CASE("decode: stock.adjust, stock.set and stock.sell", "[decode]") {
  const op_request adjust = decoded(
      R"({"op":"stock.adjust","id":1,"warehouse":"w","sku":"s","delta":-3,"reason":"damaged","idem":"k1"})");
  CHECK(adjust.grid.kind == op::adjust);
  CHECK(adjust.grid.delta == -3);
  CHECK(adjust.grid.reason == "damaged");
  CHECK(adjust.grid.idem == "k1");

  const op_request set = decoded(
      R"({"op":"stock.set","id":1,"warehouse":"w","sku":"s","on_hand":40,"expected_version":7})");
  CHECK(set.grid.kind == op::set);
  CHECK(set.grid.on_hand == 40);
  CHECK(set.grid.expected_version == 7);
  const op_request unconditional =
      decoded(R"({"op":"stock.set","id":1,"warehouse":"w","sku":"s","on_hand":0})");
  CHECK_FALSE(unconditional.grid.expected_version);

  const op_request sell =
      decoded(R"({"op":"stock.sell","id":1,"warehouse":"w","sku":"s","qty":2,"reason":"pos"})");
  CHECK(sell.grid.kind == op::sell);
  CHECK(sell.grid.qty == 2);
  CHECK(sell.grid.reason == "pos");
  CHECK(sell.grid.idem.empty());
}

TEST_CASE("decode: stock.reserve, commit, release and extend", "[decode]") {
  const op_request reserve = decoded(
      R"({"op":"stock.reserve","id":1,"warehouse":"w","sku":"s","qty":3,"ttl_ms":30000,"ref":"cart-9","idem":"r1"})");
  CHECK(reserve.grid.kind == op::reserve);
  CHECK(reserve.grid.qty == 3);
  CHECK(reserve.grid.ttl_ms == 30000);
  CHECK(reserve.grid.ref == "cart-9");
  CHECK(reserve.grid.idem == "r1");
  const op_request default_ttl =
      decoded(R"({"op":"stock.reserve","id":1,"warehouse":"w","sku":"s","qty":1})");
  CHECK(default_ttl.grid.ttl_ms == 0);

  const op_request commit = decoded(R"({"op":"stock.commit","id":1,"hold":"H3-1f","qty":2})");
  CHECK(commit.grid.kind == op::commit);
  CHECK(commit.grid.hold == "H3-1f");
  CHECK(commit.grid.qty == 2);
  CHECK(commit.grid.key.warehouse.empty());
  const op_request commit_all = decoded(R"({"op":"stock.commit","id":1,"hold":"H3-1f"})");
  CHECK_FALSE(commit_all.grid.qty);

  const op_request release = decoded(R"({"op":"stock.release","id":1,"hold":"H3-1f","idem":"x"})");
  CHECK(release.grid.kind == op::release);
  CHECK_FALSE(release.grid.qty);
  CHECK(release.grid.idem == "x");

  const op_request extend = decoded(R"({"op":"stock.extend","id":1,"hold":"H3-1f","ttl_ms":5000})");
  CHECK(extend.grid.kind == op::extend);
  CHECK(extend.grid.ttl_ms == 5000);
}

TEST_CASE("decode: key and tenant ops", "[decode]") {
  const op_request create = decoded(
      R"({"op":"key.create","id":1,"role":"reader","warehouses":["store-7"],"expires_at_ms":1800000000000})");
  CHECK(create.key_role == role::reader);
  CHECK(create.warehouses == std::vector<std::string>{"store-7"});
  CHECK(create.expires_at_ms == 1800000000000);
  const op_request plain = decoded(R"({"op":"key.create","id":1,"role":"admin"})");
  CHECK(plain.key_role == role::admin);
  CHECK(plain.warehouses.empty());
  CHECK_FALSE(plain.expires_at_ms);

  CHECK(decoded(R"({"op":"key.revoke","id":1,"key_id":"k-17"})").key_id == "k-17");
  CHECK(decoded(R"({"op":"tenant.create","id":1,"tenant":"acme"})").tenant == "acme");
  CHECK(decoded(R"({"op":"key.list","id":1})").op == "key.list");
  CHECK(decoded(R"({"op":"tenant.list","id":1})").op == "tenant.list");
}

TEST_CASE("decode: key.create's role must be a tenant role", "[decode]") {
  for (const char* name : {"system", "root", "Admin", ""}) {
    const auto f = refused(with(json(R"({"op":"key.create","id":3})"), "role", name));
    CHECK(f.code == outcome::bad_request);
    CHECK(f.message == R"(role: must be "reader", "writer" or "admin")");
    CHECK(f.id == 3);
  }
  const auto bad_list = refused(R"({"op":"key.create","id":3,"role":"reader","warehouses":["a",2]})");
  CHECK(bad_list.message == "warehouses[1]: must be a string");
}

// ---------------------------------------------------------------------------
// Every op: wrong types, missing fields, nulls, extra fields

TEST_CASE("decode: a field of the wrong type is a BAD_REQUEST naming it", "[decode]") {
  for (const auto& c : op_cases()) {
    for (const field& f : c.fields) {
      for (const value& wrong : wrong_values(f.type)) {
        const value frame = with(frame_of(c, 12), f.name, wrong);
        INFO(to_json(frame));
        const auto failure = refused(frame);
        CHECK(failure.code == outcome::bad_request);
        CHECK(failure.message == std::string(f.name) + ": " + type_message(f.type));
        CHECK(failure.id == 12);
      }
    }
  }
}

TEST_CASE("decode: a missing required field is a BAD_REQUEST naming it", "[decode]") {
  for (const auto& c : op_cases()) {
    for (const field& f : c.fields) {
      const value frame = without(frame_of(c, 13), f.name);
      INFO(to_json(frame));
      if (f.required) {
        const auto failure = refused(frame);
        CHECK(failure.code == outcome::bad_request);
        CHECK(failure.message == std::string(f.name) + ": required");
        CHECK(failure.id == 13);
        // null is the same as absent.
        const auto null_failure = refused(with(frame_of(c, 13), f.name, nullptr));
        CHECK(null_failure.message == std::string(f.name) + ": required");
      } else {
        CHECK(decoded(frame).op == c.op);
        CHECK(decoded(with(frame_of(c, 13), f.name, nullptr)).op == c.op);
      }
    }
  }
}

TEST_CASE("decode: unknown fields are ignored", "[decode]") {
  for (const auto& c : op_cases()) {
    INFO(c.op);
    value frame = with(frame_of(c), "future_field", object{{"x", 1}});
    frame = with(frame, "tenant_override", "other-tenant");
    CHECK(decoded(frame).op == c.op);
  }
  // In particular a tenant or key_id in a grid op never reaches the request.
  const op_request req = decoded(
      R"({"op":"stock.get","id":1,"warehouse":"w","sku":"s","tenant":"evil","key_id":"k"})");
  CHECK(req.grid.key.tenant.empty());
  CHECK(req.grid.key_id.empty());
  CHECK(req.tenant.empty());
}

TEST_CASE("decode: numbers out of range name the field", "[decode]") {
  auto message = [](const char* text) { return refused(text).message; };
  CHECK(message(R"({"op":"stock.reserve","id":1,"warehouse":"w","sku":"s","qty":1e30})") ==
        "qty: out of range");
  CHECK(message(
            R"({"op":"stock.adjust","id":1,"warehouse":"w","sku":"s","delta":-123456789012345678901234})") ==
        "delta: out of range");
  CHECK(message(R"({"op":"stock.list","id":1,"limit":4294967296})") == "limit: out of range");
  CHECK(message(R"({"op":"stock.history","id":1,"warehouse":"w","sku":"s","limit":-4294967296})") ==
        "limit: out of range");
  // Integral doubles within ±2^53 are integers.
  CHECK(decoded(R"({"op":"stock.sell","id":1,"warehouse":"w","sku":"s","qty":2.0})").grid.qty == 2);
  // Ranges that are the grid's to judge pass through untouched.
  CHECK(decoded(R"({"op":"stock.sell","id":1,"warehouse":"w","sku":"s","qty":-5})").grid.qty == -5);
  CHECK(decoded(R"({"op":"stock.get","id":1,"warehouse":"","sku":""})").grid.key.sku.empty());
}

// ---------------------------------------------------------------------------
// stock.bulk

TEST_CASE("decode: stock.bulk items", "[decode][bulk]") {
  const op_request bulk = decoded(R"({"op":"stock.bulk","id":1,"idem":"sync-42","items":[
      {"op":"adjust","warehouse":"w","sku":"a","delta":5,"reason":"receiving"},
      {"op":"set","warehouse":"w","sku":"b","on_hand":0,"expected_version":4,"idem":"b-item"},
      {"op":"set","warehouse":"v","sku":"c","on_hand":9}]})");
  CHECK(bulk.idem == "sync-42");
  REQUIRE(bulk.items.size() == 3);
  CHECK(bulk.items[0].kind == op::adjust);
  CHECK(bulk.items[0].key.sku == "a");
  CHECK(bulk.items[0].delta == 5);
  CHECK(bulk.items[0].reason == "receiving");
  CHECK(bulk.items[1].kind == op::set);
  CHECK(bulk.items[1].on_hand == 0);
  CHECK(bulk.items[1].expected_version == 4);
  CHECK(bulk.items[1].idem == "b-item");
  CHECK(bulk.items[2].key.warehouse == "v");
  CHECK_FALSE(bulk.items[2].expected_version);

  CHECK(decoded(R"({"op":"stock.bulk","id":1,"items":[]})").items.empty());
}

TEST_CASE("decode: one malformed item makes the whole bulk a BAD_REQUEST", "[decode][bulk]") {
  auto message = [](std::string_view items) {
    const auto f = refused(R"({"op":"stock.bulk","id":8,"items":)" + std::string(items) + "}");
    CHECK(f.code == outcome::bad_request);
    CHECK(f.id == 8);
    return f.message;
  };
  const std::string good = R"({"op":"adjust","warehouse":"w","sku":"s","delta":1})";
  CHECK(message("[" + good + "," + good + "," + good +
                R"(,{"op":"adjust","warehouse":"w","sku":"s","delta":"1"}])") ==
        "items[3].delta: must be an integer");
  CHECK(message(R"([{"op":"set","warehouse":"w","sku":"s"}])") == "items[0].on_hand: required");
  CHECK(message(R"([{"warehouse":"w","sku":"s","delta":1}])") == "items[0].op: required");
  CHECK(message(R"([{"op":"reserve","warehouse":"w","sku":"s","qty":1}])") ==
        R"(items[0].op: must be "adjust" or "set")");
  CHECK(message("[" + good + ",7]") == "items[1]: must be an object");
  CHECK(message(R"([{"op":"adjust","warehouse":5,"sku":"s","delta":1}])") ==
        "items[0].warehouse: must be a string");
  CHECK(message(R"("all")") == "items: must be an array");
  CHECK(refused(R"({"op":"stock.bulk","id":8})").message == "items: required");
  CHECK(refused(R"({"op":"stock.bulk","id":8,"items":null})").message == "items: required");
}

TEST_CASE("decode: stock.bulk takes at most 1000 items", "[decode][bulk]") {
  const value item = json(R"({"op":"adjust","warehouse":"w","sku":"s","delta":1})");
  array items(bulk_items_max, item);
  const value full = value(object{{"op", "stock.bulk"}, {"id", 1}, {"items", items}});
  CHECK(decoded(full).items.size() == 1000);
  // A frame parsed with the default limits can't hold more; one built
  // another way (or parsed with larger limits) is still refused.
  items.push_back(item);
  const auto f = refused(value(object{{"op", "stock.bulk"}, {"id", 1}, {"items", items}}));
  CHECK(f.message == "items: more than 1000 items");
  // And the JSON text of a full bulk fits the default parse limits.
  CHECK(parse_json(to_json(full)).ok);
}

// ---------------------------------------------------------------------------
// encode_request is decode_request's inverse

namespace {

request grid_request(op kind) {
  request r;
  r.kind = kind;
  return r;
}

std::vector<op_request> every_kind_of_request() {
  std::vector<op_request> all;
  auto add = [&](std::string op_name, auto fill) {
    op_request req;
    req.op = std::move(op_name);
    req.id = static_cast<std::int64_t>(all.size()) * 1000 + 1;
    fill(req);
    all.push_back(std::move(req));
  };
  auto key = [](request& r) {
    r.key.warehouse = "berlin-1";
    r.key.sku = "sku-\xC3\xA9";
  };
  add("auth", [](op_request& r) { r.token = "sg_secret"; });
  add("ping", [](op_request&) {});
  add("stock.get", [&](op_request& r) { r.grid = grid_request(op::get); key(r.grid); });
  add("stock.holds", [&](op_request& r) { r.grid = grid_request(op::holds); key(r.grid); });
  add("stock.history", [&](op_request& r) {
    r.grid = grid_request(op::history);
    key(r.grid);
    r.grid.limit = 25;
    r.grid.before_version = 99;
  });
  add("stock.history", [&](op_request& r) { r.grid = grid_request(op::history); key(r.grid); });
  add("stock.list", [](op_request&) {});
  add("stock.list", [](op_request& r) {
    r.warehouse = "w";
    r.sku_prefix = "A-";
    r.cursor = "next";
    r.limit = 500;
  });
  add("stock.adjust", [&](op_request& r) {
    r.grid = grid_request(op::adjust);
    key(r.grid);
    r.grid.delta = -12;
    r.grid.reason = "shrinkage";
    r.grid.idem = "i-1";
  });
  add("stock.set", [&](op_request& r) {
    r.grid = grid_request(op::set);
    key(r.grid);
    r.grid.on_hand = 0;
    r.grid.expected_version = 0;
  });
  add("stock.set", [&](op_request& r) {
    r.grid = grid_request(op::set);
    key(r.grid);
    r.grid.on_hand = 1'000'000'000'000;
    r.grid.reason = "cycle count";
    r.grid.idem = "i-2";
  });
  add("stock.reserve", [&](op_request& r) {
    r.grid = grid_request(op::reserve);
    key(r.grid);
    r.grid.qty = 3;
    r.grid.ttl_ms = 30'000;
    r.grid.ref = "cart-1";
    r.grid.idem = "i-3";
  });
  add("stock.reserve", [&](op_request& r) {
    r.grid = grid_request(op::reserve);
    key(r.grid);
    r.grid.qty = 1;
  });
  add("stock.commit", [](op_request& r) {
    r.grid = grid_request(op::commit);
    r.grid.hold = "H3-1f";
    r.grid.qty = 2;
    r.grid.idem = "i-4";
  });
  add("stock.commit", [](op_request& r) {
    r.grid = grid_request(op::commit);
    r.grid.hold = "H3-1f";
  });
  add("stock.release", [](op_request& r) {
    r.grid = grid_request(op::release);
    r.grid.hold = "opaque";
    r.grid.qty = 1;
  });
  add("stock.extend", [](op_request& r) {
    r.grid = grid_request(op::extend);
    r.grid.hold = "H0-0";
    r.grid.ttl_ms = 120'000;
    r.grid.idem = "i-5";
  });
  add("stock.sell", [&](op_request& r) {
    r.grid = grid_request(op::sell);
    key(r.grid);
    r.grid.qty = 4;
    r.grid.reason = "walk-in";
    r.grid.idem = "i-6";
  });
  add("stock.bulk", [&](op_request& r) {
    r.idem = "bulk-1";
    request a = grid_request(op::adjust);
    key(a);
    a.delta = 7;
    a.reason = "po-17";
    request s = grid_request(op::set);
    key(s);
    s.key.sku = "other";
    s.on_hand = 3;
    s.expected_version = 12;
    s.idem = "item-idem";
    r.items = {a, s};
  });
  add("key.create", [](op_request& r) { r.key_role = role::writer; });
  add("key.create", [](op_request& r) {
    r.key_role = role::reader;
    r.warehouses = {"store-1", "store-2"};
    r.expires_at_ms = 1'900'000'000'000;
  });
  add("key.list", [](op_request&) {});
  add("key.revoke", [](op_request& r) { r.key_id = "k-9"; });
  add("tenant.create", [](op_request& r) { r.tenant = "acme"; });
  add("tenant.list", [](op_request&) {});
  add("tenant.suspend", [](op_request& r) { r.tenant = "acme"; });
  add("tenant.resume", [](op_request& r) { r.tenant = "acme"; });
  add("tenant.delete", [](op_request& r) { r.tenant = "acme"; });
  add("tenant.export", [](op_request& r) { r.tenant = "acme"; });
  add("tenant.export", [](op_request& r) {
    r.tenant = "acme";
    r.cursor = "c1";
    r.limit = 50;
  });
  return all;
}

}  // namespace

TEST_CASE("encode_request: decode(encode(r)) == r for every op", "[decode][encode]") {
  for (const op_request& original : every_kind_of_request()) {
    const value frame = encode_request(original);
    INFO(to_json(frame));
    const op_request back = decoded(frame);
    CHECK(same_op_request(back, original));
    // And through both wire encodings.
    for (encoding enc : {encoding::json, encoding::msgpack}) {
      const auto p = parse_as(enc, serialize(frame, enc));
      REQUIRE(p.ok);
      CHECK(same_op_request(decoded(p.v), original));
    }
  }
}

TEST_CASE("encode_request: the frame uses the wire names", "[encode]") {
  op_request req;
  req.op = "stock.reserve";
  req.id = 42;
  req.grid.kind = op::reserve;
  req.grid.key = {"tenant-is-never-sent", "w", "s"};
  req.grid.key_id = "never-sent-either";
  req.grid.qty = 2;
  req.grid.ttl_ms = 1000;
  CHECK(to_json(encode_request(req)) ==
        R"({"op":"stock.reserve","id":42,"warehouse":"w","sku":"s","qty":2,"ttl_ms":1000})");
}

// ---------------------------------------------------------------------------
// Ops decoded above protocol/ (orders/wire.hpp): the frame is kept as sent

TEST_CASE("decode: order, transfer, find and settings ops keep their frame", "[decode][params]") {
  const std::vector<std::pair<std::string, role>> ops = {
      {"stock.find", role::reader},       {"order.reserve", role::writer},
      {"order.commit", role::writer},     {"order.release", role::writer},
      {"order.extend", role::writer},     {"order.get", role::reader},
      {"transfer.create", role::writer},  {"transfer.receive", role::writer},
      {"transfer.cancel", role::writer},  {"transfer.get", role::reader},
      {"tenant.settings", role::admin},
  };
  for (const auto& [name, needs] : ops) {
    INFO(name);
    const op_spec* spec = find_op(name);
    REQUIRE(spec != nullptr);
    CHECK(spec->needs == needs);
    CHECK(spec->params);
    CHECK(spec->idem == (needs == role::writer));
    const value frame = json(R"({"op":")" + name + R"(","id":4,"lines":[{"sku":"A","qty":"x"}]})");
    const op_request req = decoded(frame);
    CHECK(req.id == 4);
    CHECK(req.op == name);
    CHECK(req.params == frame);
  }
  // The envelope is still protocol/'s.
  CHECK(refused(R"({"op":"order.get","order":"O1"})").message == "id: required");
  CHECK(refused(R"({"op":"order.teleport","id":1})").code == outcome::unknown_op);
  // No other op fills params.
  CHECK(decoded(R"({"op":"stock.get","id":1,"warehouse":"w","sku":"s"})").params.is_null());
}

TEST_CASE("encode: params are written after op and id, and decode back", "[decode][params]") {
  op_request req;
  req.op = "order.extend";
  req.id = 9;
  req.params = json(R"({"op":"ignored","id":1,"order":"O1","ttl_ms":5000})");
  CHECK(to_json(encode_request(req)) == R"({"op":"order.extend","id":9,"order":"O1","ttl_ms":5000})");
  const op_request back = decoded(encode_request(req));
  CHECK(back.params == json(R"({"op":"order.extend","id":9,"order":"O1","ttl_ms":5000})"));
  // params of an op that has none are not sent.
  req.op = "ping";
  CHECK(to_json(encode_request(req)) == R"({"op":"ping","id":9})");
}
