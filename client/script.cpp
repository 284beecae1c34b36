#include "client/script.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "client/commands.hpp"
#include "client/response.hpp"

namespace stockgrid::stockctl {

bool split_words(std::string_view line, std::vector<word>* out, std::string* error) {
  out->clear();
  std::size_t i = 0;
  const std::size_t n = line.size();
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (i < n) {
    while (i < n && space(line[i])) ++i;
    if (i >= n) break;
    if (line[i] == '#') break;  // the rest of the line is a comment
    word w;
    bool has_content = false;
    while (i < n && !space(line[i])) {
      const char c = line[i];
      if (c == '"') {
        w.quoted = true;
        has_content = true;
        ++i;
        bool closed = false;
        while (i < n) {
          if (line[i] == '\\' && i + 1 < n && (line[i + 1] == '"' || line[i + 1] == '\\')) {
            w.text.push_back(line[i + 1]);
            i += 2;
          } else if (line[i] == '"') {
            closed = true;
            ++i;
            break;
          } else {
            w.text.push_back(line[i++]);
          }
        }
        if (!closed) {
          *error = "unterminated \"";
          return false;
        }
      } else if (c == '\'') {
        w.quoted = true;
        w.literal = true;
        has_content = true;
        const auto close = line.find('\'', i + 1);
        if (close == std::string_view::npos) {
          *error = "unterminated '";
          return false;
        }
        w.text.append(line.substr(i + 1, close - i - 1));
        i = close + 1;
      } else {
        w.text.push_back(c);
        has_content = true;
        ++i;
      }
    }
    if (has_content) out->push_back(std::move(w));
  }
  return true;
}

std::string_view to_string(comparison c) {
  switch (c) {
    case comparison::eq: return "==";
    case comparison::ne: return "!=";
    case comparison::lt: return "<";
    case comparison::le: return "<=";
    case comparison::gt: return ">";
    case comparison::ge: return ">=";
  }
  return "?";
}

namespace {

std::optional<comparison> parse_comparison(std::string_view text) {
  for (auto c : {comparison::eq, comparison::ne, comparison::lt, comparison::le, comparison::gt,
                 comparison::ge}) {
    if (to_string(c) == text) return c;
  }
  return std::nullopt;
}

bool valid_var_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// "$h" -> "h"; "" when it is not a variable.
std::string var_name(const word& w) {
  if (w.quoted || !w.text.starts_with("$")) return "";
  std::string name = w.text.substr(1);
  if (name.starts_with("{") && name.ends_with("}")) name = name.substr(1, name.size() - 2);
  return valid_var_name(name) ? name : "";
}

std::vector<word> slice(const std::vector<word>& words, std::size_t from, std::size_t to) {
  return {words.begin() + static_cast<std::ptrdiff_t>(from),
          words.begin() + static_cast<std::ptrdiff_t>(to)};
}

line_parse fail(std::string message) { return {std::nullopt, std::move(message)}; }

line_parse parse_expect(const std::vector<word>& w) {
  constexpr std::string_view forms =
      "expected: expect ok | expect error CODE | expect PATH OP VALUE | expect PATH exists|absent"
      " | expect count CODE OP VALUE";
  expect_step e;
  if (w.size() == 2 && w[1].text == "ok" && !w[1].quoted) {
    e.what = expect_step::kind::ok;
    return {e, ""};
  }
  if (w.size() == 3 && w[1].text == "error" && !w[1].quoted) {
    e.what = expect_step::kind::error;
    e.code = w[2].text;
    return {e, ""};
  }
  if (w.size() == 3 && (w[2].text == "exists" || w[2].text == "absent")) {
    e.what = w[2].text == "exists" ? expect_step::kind::exists : expect_step::kind::absent;
    e.path = w[1].text;
    return {e, ""};
  }
  if (w.size() == 5 && w[1].text == "count" && !w[1].quoted) {
    auto cmp = parse_comparison(w[3].text);
    if (!cmp) return fail("expect count: unknown comparison \"" + w[3].text + "\"; " + std::string(forms));
    e.what = expect_step::kind::count;
    e.path = w[2].text;
    e.cmp = *cmp;
    e.expected = w[4];
    return {e, ""};
  }
  if (w.size() == 4) {
    auto cmp = parse_comparison(w[2].text);
    if (!cmp) return fail("expect: unknown comparison \"" + w[2].text + "\"; " + std::string(forms));
    e.what = expect_step::kind::field;
    e.path = w[1].text;
    e.cmp = *cmp;
    e.expected = w[3];
    return {e, ""};
  }
  return fail(std::string(forms));
}

line_parse parse_repeat(const std::vector<word>& w) {
  constexpr std::string_view form = "expected: repeat N [concurrently]: COMMAND";
  if (w.size() < 2) return fail(std::string(form));
  repeat_step r;
  // The colon ends "repeat N:" or "repeat N concurrently:", attached or not.
  std::size_t command_start = 0;
  std::vector<std::string> head;
  for (std::size_t i = 1; i < w.size() && i <= 3; ++i) {
    std::string text = w[i].text;
    if (text == ":") {
      command_start = i + 1;
      break;
    }
    if (text.ends_with(":")) {
      head.push_back(text.substr(0, text.size() - 1));
      command_start = i + 1;
      break;
    }
    head.push_back(text);
  }
  if (command_start == 0 || head.empty() || head.size() > 2) return fail(std::string(form));
  const auto count = parse_integer(head[0]);
  if (!count || *count < 1 || *count > repeat_count_max)
    return fail("repeat: N must be 1.." + std::to_string(repeat_count_max));
  if (head.size() == 2) {
    if (head[1] != "concurrently") return fail(std::string(form));
    r.concurrent = true;
  }
  if (command_start >= w.size()) return fail("repeat: the command is missing; " + std::string(form));
  r.count = static_cast<std::uint32_t>(*count);
  r.words = slice(w, command_start, w.size());
  for (const auto& x : r.words) {
    if (x.text == "->" && !x.quoted) return fail("repeat: a repeated command cannot save (->)");
  }
  return {r, ""};
}

line_parse parse_command(const std::vector<word>& w) {
  command_step c;
  std::size_t arrow = w.size();
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i].text == "->" && !w[i].quoted) {
      arrow = i;
      break;
    }
  }
  c.words = slice(w, 0, arrow);
  if (c.words.empty()) return fail("a command is missing before ->");
  if (arrow == w.size()) return {c, ""};

  constexpr std::string_view form = "expected: COMMAND -> $var or COMMAND -> $var = PATH";
  // After the arrow: "$v", "$v = PATH", "$v=PATH" or "$v =PATH".
  std::string rest;
  for (std::size_t i = arrow + 1; i < w.size(); ++i) rest += (i > arrow + 1 ? " " : "") + w[i].text;
  std::string target = rest;
  if (const auto eq = rest.find('='); eq != std::string::npos) {
    target = rest.substr(0, eq);
    c.save_path = rest.substr(eq + 1);
    auto trim = [](std::string& s) {
      while (!s.empty() && s.back() == ' ') s.pop_back();
      while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    };
    trim(target);
    trim(c.save_path);
    if (c.save_path.empty() || c.save_path.find(' ') != std::string::npos) return fail(std::string(form));
  }
  c.save_var = var_name(word{target});
  if (c.save_var.empty()) return fail(std::string(form));
  return {c, ""};
}

}  // namespace

line_parse parse_line(std::string_view text) {
  std::vector<word> w;
  std::string error;
  if (!split_words(text, &w, &error)) return fail(error);
  if (w.empty()) return {};
  const std::string& first = w[0].quoted ? std::string() : w[0].text;

  if (first == "expect") return parse_expect(w);
  if (first == "repeat") return parse_repeat(w);
  if (first == "let") {
    // let $v = PATH
    if (w.size() != 4 || w[2].text != "=" || var_name(w[1]).empty())
      return fail("expected: let $var = PATH");
    return {let_step{var_name(w[1]), w[3].text}, ""};
  }
  if (first == "sleep") {
    if (w.size() != 2) return fail("expected: sleep DURATION");
    auto ms = parse_duration_ms(w[1].text);
    if (!ms) return fail("sleep: not a duration (like 500ms, 2s): \"" + w[1].text + "\"");
    return {sleep_step{*ms}, ""};
  }
  if (first == "echo") return {echo_step{slice(w, 1, w.size())}, ""};
  if (first == "login") {
    if (w.size() != 2) return fail("expected: login TOKEN");
    return {login_step{w[1]}, ""};
  }
  return parse_command(w);
}

std::vector<script_line> parse_script(std::string_view text, std::vector<script_error>* errors) {
  std::vector<script_line> lines;
  int number = 0;
  while (!text.empty() || number == 0) {
    ++number;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // a BOM
    auto parsed = parse_line(line);
    if (!parsed.error.empty()) {
      errors->push_back({number, std::move(parsed.error)});
    } else if (parsed.parsed) {
      std::string shown(line);
      while (!shown.empty() && (shown.back() == '\r' || shown.back() == ' ')) shown.pop_back();
      lines.push_back({number, std::move(shown), std::move(*parsed.parsed)});
    }
    if (text.empty()) break;
  }
  return lines;
}

bool expand(const word& w, const variables& vars, std::string* out, std::string* error) {
  out->clear();
  if (w.literal) {
    *out = w.text;
    return true;
  }
  const std::string& t = w.text;
  for (std::size_t i = 0; i < t.size();) {
    if (t[i] != '$') {
      out->push_back(t[i++]);
      continue;
    }
    if (i + 1 < t.size() && t[i + 1] == '$') {
      out->push_back('$');
      i += 2;
      continue;
    }
    std::string name;
    std::size_t end = i + 1;
    if (end < t.size() && t[end] == '{') {
      const auto close = t.find('}', end);
      if (close == std::string::npos) {
        *error = "unterminated ${ in \"" + t + "\"";
        return false;
      }
      name = t.substr(end + 1, close - end - 1);
      end = close + 1;
    } else {
      while (end < t.size() && (std::isalnum(static_cast<unsigned char>(t[end])) || t[end] == '_'))
        ++end;
      name = t.substr(i + 1, end - i - 1);
    }
    if (name.empty()) {  // a lone $ stays as it is
      out->push_back('$');
      ++i;
      continue;
    }
    auto it = vars.find(name);
    if (it == vars.end()) {
      *error = "undefined variable $" + name;
      return false;
    }
    *out += it->second;
    i = end;
  }
  return true;
}

std::optional<std::string> default_save_path(std::string_view op) {
  if (op == "stock.reserve" || op == "stock.extend") return "hold";
  if (op == "tenant.create" || op == "key.create") return "token";
  if (op.starts_with("order.")) return "order";
  if (op.starts_with("transfer.")) return "transfer";
  return std::nullopt;
}

std::string describe(const repeat_summary& summary) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", summary.seconds);
  std::string out = std::to_string(summary.total) + " requests in " + seconds + " s:";
  bool first = true;
  // "ok" first, then the error codes in alphabetical order.
  if (auto it = summary.by_code.find("ok"); it != summary.by_code.end()) {
    out += " ok " + std::to_string(it->second);
    first = false;
  }
  for (const auto& [code, count] : summary.by_code) {
    if (code == "ok") continue;
    out += std::string(first ? " " : ", ") + code + " " + std::to_string(count);
    first = false;
  }
  return out;
}

std::optional<protocol::value> field_at(const protocol::value& root, std::string_view path) {
  if (path == "#") {
    if (const auto* a = root.as_array()) return protocol::value(static_cast<std::int64_t>(a->size()));
    if (const auto* o = root.as_object()) return protocol::value(static_cast<std::int64_t>(o->size()));
    return std::nullopt;
  }
  if (path.ends_with(".#")) {
    const protocol::value* container = client::lookup(root, path.substr(0, path.size() - 2));
    if (container == nullptr) return std::nullopt;
    return field_at(*container, "#");
  }
  const protocol::value* v = client::lookup(root, path);
  if (v == nullptr) return std::nullopt;
  return *v;
}

namespace {

// The number in a value, if it is one.
std::optional<double> number_of(const protocol::value& v) {
  if (const auto* i = v.as_int()) return static_cast<double>(*i);
  if (const auto* d = v.as_double()) return *d;
  return std::nullopt;
}

bool compare_numbers(double a, comparison cmp, double b) {
  switch (cmp) {
    case comparison::eq: return a == b;
    case comparison::ne: return a != b;
    case comparison::lt: return a < b;
    case comparison::le: return a <= b;
    case comparison::gt: return a > b;
    case comparison::ge: return a >= b;
  }
  return false;
}

// Compares a found value with the expected word: numbers as numbers, a
// string with the word's text, true/false/null with the bare words.
expect_result compare(const protocol::value& actual, comparison cmp, const std::string& expected,
                      bool expected_quoted) {
  const std::string shown = client::to_json(actual);
  expect_result r;
  r.detail = "got " + shown;
  if (auto a = number_of(actual)) {
    const auto e = expected_quoted ? std::nullopt : parse_integer(expected);
    double b = 0;
    if (e) {
      b = static_cast<double>(*e);
    } else {
      char* end = nullptr;
      b = std::strtod(expected.c_str(), &end);
      if (expected_quoted || expected.empty() || end != expected.c_str() + expected.size()) {
        r.detail = "got " + shown + ", which is a number; \"" + expected + "\" is not";
        r.passed = cmp == comparison::ne;
        return r;
      }
    }
    r.passed = compare_numbers(*a, cmp, b);
    return r;
  }
  if (cmp != comparison::eq && cmp != comparison::ne) {
    r.detail = "got " + shown + ", which is not a number: " + std::string(to_string(cmp)) +
               " compares numbers only";
    return r;
  }
  bool equal = false;
  if (const auto* s = actual.as_string()) {
    equal = *s == expected;
  } else if (const auto* b = actual.as_bool()) {
    equal = !expected_quoted && expected == (*b ? "true" : "false");
  } else if (actual.is_null()) {
    equal = !expected_quoted && expected == "null";
  } else {
    equal = !expected_quoted && client::to_json(actual) == expected;
  }
  r.passed = (cmp == comparison::eq) == equal;
  return r;
}

}  // namespace

expect_result evaluate(const expect_step& e, const protocol::value* last_response,
                       const repeat_summary* last_repeat, const variables& vars) {
  std::string expected;
  if (e.what == expect_step::kind::field || e.what == expect_step::kind::count) {
    std::string error;
    if (!expand(e.expected, vars, &expected, &error)) return {false, error};
  }
  if (e.what == expect_step::kind::count) {
    if (last_repeat == nullptr) return {false, "no repeat before this expect count"};
    std::size_t n = 0;
    if (e.path == "total") {
      n = last_repeat->total;
    } else if (auto it = last_repeat->by_code.find(e.path); it != last_repeat->by_code.end()) {
      n = it->second;
    }
    auto result = compare(protocol::value(static_cast<std::int64_t>(n)), e.cmp, expected,
                          e.expected.quoted);
    result.detail = "got " + std::to_string(n) + " (" + describe(*last_repeat) + ")";
    return result;
  }
  if (last_response == nullptr) return {false, "no response before this expect"};
  const protocol::value& response = *last_response;
  const std::string code = client::error_code(response);
  const std::string got = client::is_ok(response)
                              ? "got ok"
                              : "got error " + code + ": " + client::error_message(response);
  switch (e.what) {
    case expect_step::kind::ok: return {client::is_ok(response), got};
    case expect_step::kind::error:
      return {!client::is_ok(response) && code == e.code, client::is_ok(response) ? "got ok" : got};
    case expect_step::kind::exists:
    case expect_step::kind::absent: {
      const bool present = field_at(response, e.path).has_value();
      const bool passed = present == (e.what == expect_step::kind::exists);
      return {passed, present ? "it is " + client::to_json(*field_at(response, e.path))
                              : "it is absent (" + got + ")"};
    }
    case expect_step::kind::field: {
      auto actual = field_at(response, e.path);
      if (!actual) return {false, e.path + " is absent (" + got + ")"};
      return compare(*actual, e.cmp, expected, e.expected.quoted);
    }
    case expect_step::kind::count: break;
  }
  return {false, "unknown expectation"};
}

}  // namespace stockgrid::stockctl
