// The language of `stockctl run FILE` (and of the interactive prompt): one
// step per line. This header parses lines and evaluates expectations; it
// sends nothing (script_runner.hpp runs the steps), so all of it is tested
// without a server.
//
//   # a comment; blank lines are skipped; a word starting with # ends a line
//   reserve berlin mug 1 --ttl 30s -> $h    any command; -> $h saves its
//                                           main field (reserve: the hold)
//   get berlin mug -> $v = record.version   -> $var = PATH saves any field
//   commit $h                               $name or ${name} in any word
//   expect ok                               the previous response was ok
//   expect error INSUFFICIENT_STOCK         ... was that error
//   expect record.available == 99           compare a field: == != < <= > >=
//   expect replayed == true                 true, false, null, numbers,
//   expect record.sku == "mug"              words or "quoted strings"
//   expect records.# == 3                   PATH.# is an array's length
//   expect cursor absent                    (or: exists)
//   let $left = record.available            save a field of the previous response
//   repeat 1000 concurrently: reserve berlin mug 1
//   repeat 10: sell berlin mug 1            (one after the other)
//   expect count ok == 100                  outcomes of the last repeat, by
//   expect count INSUFFICIENT_STOCK == 900  code ("ok", a code, or "total")
//   sleep 1500ms                            wait
//   echo some text $h                       print
//   login $token                            reconnect with another token
//
// A command answered with an error fails the script unless an expect line
// follows it (`expect error CODE` when the error is the point). Every line
// runs even after a failure; failures are reported with their line numbers.
//
// $run is predefined: a random word fixed for the run, to give each run of a
// script its own SKUs or tenants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/value.hpp"

namespace stockgrid::stockctl {

// One word of a line. Quotes group words ("a b", 'a b'); in double quotes
// \" and \\ are escapes. A single-quoted word is literal: no $variables.
struct word {
  std::string text;
  bool quoted = false;
  bool literal = false;
  friend bool operator==(const word&, const word&) = default;
};

// Splits a line into words; false with `error` on an unterminated quote.
// An unquoted word starting with # ends the line (a comment).
bool split_words(std::string_view line, std::vector<word>* out, std::string* error);

enum class comparison { eq, ne, lt, le, gt, ge };
std::string_view to_string(comparison c);

// A command sent to the server, as in the one-shot mode.
struct command_step {
  std::vector<word> words;
  std::string save_var;   // "h" for `-> $h`; empty: nothing saved
  std::string save_path;  // "record.version"; empty: the command's main field
};

// `repeat N [concurrently]: COMMAND`
struct repeat_step {
  std::uint32_t count = 0;
  bool concurrent = false;
  std::vector<word> words;
};

struct expect_step {
  enum class kind { ok, error, field, exists, absent, count };
  kind what = kind::ok;
  std::string path;      // field, exists, absent: the dotted path; count: the code
  comparison cmp = comparison::eq;
  word expected;         // field, count: the value to compare with
  std::string code;      // error: the expected error code
};

// `let $var = PATH`: a field of the previous response into a variable.
struct let_step {
  std::string var;
  std::string path;
};

struct sleep_step {
  std::int64_t ms = 0;
};

struct echo_step {
  std::vector<word> words;
};

struct login_step {
  word token;
};

using step = std::variant<command_step, repeat_step, expect_step, let_step, sleep_step, echo_step,
                          login_step>;

// A parsed line: nothing (blank or comment), a step, or an error message.
struct line_parse {
  std::optional<step> parsed;
  std::string error;
};
line_parse parse_line(std::string_view text);

struct script_line {
  int number = 0;    // 1-based line number in the file
  std::string text;  // the line as written, for messages
  step what;
};
struct script_error {
  int number = 0;
  std::string message;
};
// Parses every line; the steps in order, and every error with its line.
std::vector<script_line> parse_script(std::string_view text, std::vector<script_error>* errors);

// Most repeats are far smaller; this bounds the memory one line can take.
inline constexpr std::uint32_t repeat_count_max = 100'000;

// Variables: name (without $) -> text.
using variables = std::map<std::string, std::string>;

// Replaces $name and ${name} in a word (not in a literal one); "$$" is "$".
// False with `error` naming an undefined variable.
bool expand(const word& w, const variables& vars, std::string* out, std::string* error);

// The field `CMD -> $var` saves for an op when no path is given: reserve
// and extend the hold, tenant.create the token, key.create the token,
// order.* the order id, transfer.* the transfer id.
std::optional<std::string> default_save_path(std::string_view op);

// The outcomes of a repeat by code: "ok" for successes, else the error code.
struct repeat_summary {
  std::size_t total = 0;
  std::map<std::string, std::size_t> by_code;
  double seconds = 0;
};
// "1000 requests in 0.41 s: ok 100, INSUFFICIENT_STOCK 900"
std::string describe(const repeat_summary& summary);

struct expect_result {
  bool passed = false;
  std::string detail;  // what was found, for a failure message
};

// Checks an expectation against the previous response (null when there is
// none) and the last repeat's summary (null when there was none).
expect_result evaluate(const expect_step& e, const protocol::value* last_response,
                       const repeat_summary* last_repeat, const variables& vars);

// The value at a path, with PATH.# meaning an array's (or object's) size.
std::optional<protocol::value> field_at(const protocol::value& root, std::string_view path);

}  // namespace stockgrid::stockctl
