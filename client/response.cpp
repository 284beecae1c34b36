#include "client/response.hpp"

#include <charconv>

#include "protocol/codec.hpp"

namespace stockgrid::client {

bool is_ok(const value& response) {
  const value* ok = response.find("ok");
  return ok != nullptr && ok->as_bool() != nullptr && *ok->as_bool();
}

std::string error_code(const value& response) {
  if (is_ok(response)) return "";
  if (auto code = lookup_string(response, "error.code")) return *code;
  return "";
}

std::string error_message(const value& response) {
  return lookup_string(response, "error.message").value_or("");
}

bool is_replayed(const value& response) {
  const value* replayed = response.find("replayed");
  return replayed != nullptr && replayed->as_bool() != nullptr && *replayed->as_bool();
}

namespace {

// The next segment of a dotted path: "a.b" → "a", "[3].b" → "3".
std::string_view next_segment(std::string_view& path) {
  if (path.starts_with(".")) path.remove_prefix(1);
  if (path.starts_with("[")) {
    const auto close = path.find(']');
    std::string_view segment = path.substr(1, close == std::string_view::npos ? path.npos : close - 1);
    path.remove_prefix(close == std::string_view::npos ? path.size() : close + 1);
    return segment;
  }
  const auto end = path.find_first_of(".[");
  std::string_view segment = path.substr(0, end);
  path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  return segment;
}

}  // namespace

const value* lookup(const value& root, std::string_view path) {
  const value* at = &root;
  while (!path.empty()) {
    const std::string_view segment = next_segment(path);
    if (segment.empty()) return nullptr;
    if (const protocol::array* items = at->as_array()) {
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
      if (ec != std::errc{} || end != segment.data() + segment.size() || index >= items->size())
        return nullptr;
      at = &(*items)[index];
    } else {
      at = at->find(segment);
      if (at == nullptr) return nullptr;
    }
  }
  return at;
}

std::optional<std::int64_t> lookup_int(const value& root, std::string_view path) {
  const value* v = lookup(root, path);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = v->as_int()) return *i;
  return std::nullopt;
}

std::optional<std::string> lookup_string(const value& root, std::string_view path) {
  const value* v = lookup(root, path);
  if (v == nullptr) return std::nullopt;
  if (const auto* s = v->as_string()) return *s;
  return std::nullopt;
}

namespace {

void indent(std::string& out, int depth) {
  out.push_back('\n');
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

void write_pretty(const value& v, std::string& out, int depth) {
  if (const auto* items = v.as_array()) {
    if (items->empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (i > 0) out.push_back(',');
      indent(out, depth + 1);
      write_pretty((*items)[i], out, depth + 1);
    }
    indent(out, depth);
    out.push_back(']');
  } else if (const auto* members = v.as_object()) {
    if (members->empty()) {
      out += "{}";
      return;
    }
    out.push_back('{');
    for (std::size_t i = 0; i < members->size(); ++i) {
      if (i > 0) out.push_back(',');
      indent(out, depth + 1);
      // The protocol's serializer escapes strings exactly as JSON wants.
      out += protocol::serialize(value((*members)[i].first), protocol::encoding::json);
      out += ": ";
      write_pretty((*members)[i].second, out, depth + 1);
    }
    indent(out, depth);
    out.push_back('}');
  } else {
    out += protocol::serialize(v, protocol::encoding::json);
  }
}

}  // namespace

std::string to_json(const value& v, bool pretty) {
  if (!pretty) return protocol::serialize(v, protocol::encoding::json);
  std::string out;
  write_pretty(v, out, 0);
  return out;
}

value local_error(std::string_view code, std::string_view message, protocol::object details) {
  // The shape is the protocol's own error response; only the code is one the
  // protocol does not have.
  details.emplace(details.begin(), "local", true);
  value response = protocol::error_response(std::nullopt, outcome::internal, message, std::move(details));
  for (auto& [name, member] : *response.as_object()) {
    if (name != "error") continue;
    for (auto& [field, text] : *member.as_object()) {
      if (field == "code") text = value(code);
    }
  }
  return response;
}

bool is_mutation_op(std::string_view op) {
  if (op == "stock.bulk") return true;
  if (const protocol::op_spec* spec = protocol::find_op(op); spec && spec->params) return spec->idem;
  const auto kind = protocol::grid_op_of(op);
  return kind && is_mutation(*kind);
}

}  // namespace stockgrid::client
