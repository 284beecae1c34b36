// JSON text frames: a strict RFC 8259 parser bounded by parse_limits, and a
// compact serializer.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "protocol/encodings.hpp"

namespace stockgrid::protocol::detail {

namespace {

class json_parser {
 public:
  json_parser(std::string_view input, const parse_limits& limits)
      : in_(input), limits_(limits) {}

  bool run(value* out, std::string* error) {
    const bool ok = parse_document(out);
    if (!ok) *error = std::move(error_);
    return ok;
  }

 private:
  bool parse_document(value* out) {
    // A text frame must be UTF-8 as a whole; checking it once up front lets
    // the string scanner copy bytes without decoding them.
    const std::size_t valid = utf8_valid_prefix(in_);
    if (valid != in_.size()) {
      pos_ = valid;
      return fail("invalid UTF-8");
    }
    skip_whitespace();
    if (!parse_value(out, 0)) return false;
    skip_whitespace();
    if (pos_ != in_.size()) return fail("trailing characters after the value");
    return true;
  }

  // `enclosing` is the number of arrays and objects around this value.
  bool parse_value(value* out, std::size_t enclosing) {
    if (++items_ > limits_.total_items_max)
      return fail("more than " + std::to_string(limits_.total_items_max) + " values");
    if (at_end()) return fail("unexpected end of input");
    switch (in_[pos_]) {
      case '{': return parse_object(out, enclosing + 1);
      case '[': return parse_array(out, enclosing + 1);
      case '"': {
        std::string text;
        if (!parse_string(&text)) return false;
        *out = value(std::move(text));
        return true;
      }
      case 't': return parse_literal("true", value(true), out);
      case 'f': return parse_literal("false", value(false), out);
      case 'n': return parse_literal("null", value(nullptr), out);
      default: return parse_number(out);
    }
  }

  bool parse_object(value* out, std::size_t depth) {
    if (depth > limits_.depth_max) return fail(deeper_than());
    ++pos_;  // '{'
    object members;
    skip_whitespace();
    if (consume('}')) {
      *out = value(std::move(members));
      return true;
    }
    while (true) {
      skip_whitespace();
      if (at_end()) return fail("unexpected end of input");
      if (in_[pos_] != '"') return fail("expected a string key");
      const std::size_t key_at = pos_;
      std::string key;
      if (!parse_string(&key)) return false;
      for (const auto& member : members) {
        if (member.first == key) {
          pos_ = key_at;
          return fail("duplicate key");
        }
      }
      if (members.size() == limits_.map_entries_max)
        return fail("object with more than " + std::to_string(limits_.map_entries_max) +
                    " members");
      skip_whitespace();
      if (!consume(':')) return fail(at_end() ? "unexpected end of input" : "expected ':'");
      skip_whitespace();
      value member;
      if (!parse_value(&member, depth)) return false;
      members.emplace_back(std::move(key), std::move(member));
      skip_whitespace();
      if (consume(',')) continue;
      if (consume('}')) break;
      return fail(at_end() ? "unexpected end of input" : "expected ',' or '}'");
    }
    *out = value(std::move(members));
    return true;
  }

  bool parse_array(value* out, std::size_t depth) {
    if (depth > limits_.depth_max) return fail(deeper_than());
    ++pos_;  // '['
    array items;
    skip_whitespace();
    if (consume(']')) {
      *out = value(std::move(items));
      return true;
    }
    while (true) {
      skip_whitespace();
      if (items.size() == limits_.array_items_max)
        return fail("array with more than " + std::to_string(limits_.array_items_max) + " items");
      value item;
      if (!parse_value(&item, depth)) return false;
      items.push_back(std::move(item));
      skip_whitespace();
      if (consume(',')) continue;
      if (consume(']')) break;
      return fail(at_end() ? "unexpected end of input" : "expected ',' or ']'");
    }
    *out = value(std::move(items));
    return true;
  }

  bool parse_string(std::string* out) {
    ++pos_;  // '"'
    while (true) {
      // Copy the run up to the next quote, backslash or control character.
      const std::size_t run_start = pos_;
      while (pos_ < in_.size()) {
        const auto c = static_cast<unsigned char>(in_[pos_]);
        if (c == '"' || c == '\\' || c < 0x20) break;
        ++pos_;
      }
      out->append(in_.substr(run_start, pos_ - run_start));
      if (out->size() > limits_.string_bytes_max) return fail(longer_than());
      if (at_end()) return fail("unterminated string");
      const char c = in_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c != '\\') return fail("control character in string");
      if (!parse_escape(out)) return false;
      if (out->size() > limits_.string_bytes_max) return fail(longer_than());
    }
  }

  bool parse_escape(std::string* out) {
    const std::size_t escape_at = pos_;
    ++pos_;  // '\'
    if (at_end()) return fail("unterminated string");
    const char c = in_[pos_++];
    switch (c) {
      case '"': out->push_back('"'); return true;
      case '\\': out->push_back('\\'); return true;
      case '/': out->push_back('/'); return true;
      case 'b': out->push_back('\b'); return true;
      case 'f': out->push_back('\f'); return true;
      case 'n': out->push_back('\n'); return true;
      case 'r': out->push_back('\r'); return true;
      case 't': out->push_back('\t'); return true;
      case 'u': break;
      default: pos_ = escape_at; return fail("invalid escape");
    }
    char32_t unit = 0;
    if (!parse_hex4(&unit)) return false;
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      pos_ = escape_at;
      return fail("unpaired surrogate");
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      // A high surrogate must be followed at once by an escaped low one.
      char32_t low = 0;
      if (in_.substr(pos_, 2) != "\\u") {
        pos_ = escape_at;
        return fail("unpaired surrogate");
      }
      pos_ += 2;
      if (!parse_hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        pos_ = escape_at;
        return fail("unpaired surrogate");
      }
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(*out, unit);
    return true;
  }

  bool parse_hex4(char32_t* out) {
    if (in_.size() - pos_ < 4) return fail("invalid \\u escape");
    char32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = in_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<char32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<char32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<char32_t>(c - 'A' + 10);
      } else {
        return fail("invalid \\u escape");
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  // number = [ "-" ] ( "0" / digit1-9 *digit ) [ "." 1*digit ] [ ( "e" / "E" ) [ "-" / "+" ] 1*digit ]
  bool parse_number(value* out) {
    const std::size_t start = pos_;
    consume('-');
    if (consume('0')) {
      // No leading zeros: "01" ends the number after "0" and fails as
      // trailing characters or a missing separator.
    } else if (digit_here()) {
      skip_digits();
    } else {
      pos_ = start;
      return fail("unexpected character");
    }
    bool integral = true;
    if (consume('.')) {
      integral = false;
      if (!digit_here()) return fail("invalid number");
      skip_digits();
    }
    if (!at_end() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!consume('+')) consume('-');
      if (!digit_here()) return fail("invalid number");
      skip_digits();
    }
    const char* first = in_.data() + start;
    const char* last = in_.data() + pos_;
    if (integral) {
      std::int64_t i = 0;
      const auto [end, ec] = std::from_chars(first, last, i);
      if (ec == std::errc{} && end == last) {
        *out = value(i);
        return true;
      }
      // Beyond int64: a double, as the value type documents.
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // from_chars reports underflow and overflow alike; strtod tells them
      // apart (a tiny number becomes 0 or a denormal, a huge one infinity).
      const std::string text(first, last);
      d = std::strtod(text.c_str(), nullptr);
    } else if (ec != std::errc{} || end != last) {
      pos_ = start;
      return fail("invalid number");
    }
    if (!std::isfinite(d)) {
      pos_ = start;
      return fail("number out of range");
    }
    *out = value(d);
    return true;
  }

  bool parse_literal(std::string_view word, value v, value* out) {
    if (in_.substr(pos_, word.size()) != word) return fail("unexpected character");
    pos_ += word.size();
    *out = std::move(v);
    return true;
  }

  void skip_whitespace() {
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }
  bool at_end() const { return pos_ >= in_.size(); }
  bool consume(char c) {
    if (at_end() || in_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool digit_here() const { return !at_end() && in_[pos_] >= '0' && in_[pos_] <= '9'; }
  void skip_digits() {
    while (digit_here()) ++pos_;
  }

  std::string deeper_than() const {
    return "nesting deeper than " + std::to_string(limits_.depth_max);
  }
  std::string longer_than() const {
    return "string longer than " + std::to_string(limits_.string_bytes_max) + " bytes";
  }
  bool fail(const std::string& what) {
    error_ = "json: " + what + " at offset " + std::to_string(pos_);
    return false;
  }

  std::string_view in_;
  const parse_limits& limits_;
  std::size_t pos_ = 0;
  std::size_t items_ = 0;
  std::string error_;
};

void write_string(std::string_view text, std::string& out) {
  // Strings we did not parse (server messages) might not be UTF-8; a text
  // frame must be.
  if (utf8_valid_prefix(text) != text.size()) {
    write_string(sanitize_utf8(text), out);
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void write_double(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  // Shortest text that reads back as the same double.
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out += text;
  // Keep a double a double when read back ("3" would parse as an integer).
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

struct json_writer {
  std::string& out;

  void operator()(std::monostate) { out += "null"; }
  void operator()(bool b) { out += b ? "true" : "false"; }
  void operator()(std::int64_t i) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
    out.append(buf, end);
  }
  void operator()(double d) { write_double(d, out); }
  void operator()(const std::string& s) { write_string(s, out); }
  void operator()(const array& items) {
    out.push_back('[');
    bool first = true;
    for (const auto& item : items) {
      if (!first) out.push_back(',');
      first = false;
      std::visit(*this, item.raw());
    }
    out.push_back(']');
  }
  void operator()(const object& members) {
    out.push_back('{');
    bool first = true;
    for (const auto& [key, member] : members) {
      if (!first) out.push_back(',');
      first = false;
      write_string(key, out);
      out.push_back(':');
      std::visit(*this, member.raw());
    }
    out.push_back('}');
  }
};

}  // namespace

bool json_parse(std::string_view bytes, const parse_limits& limits, value* out,
                std::string* error) {
  return json_parser(bytes, limits).run(out, error);
}

void json_serialize(const value& v, std::string& out) { std::visit(json_writer{out}, v.raw()); }

}  // namespace stockgrid::protocol::detail
