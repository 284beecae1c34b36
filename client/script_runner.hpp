// Runs stockctl's modes against a server through the client library: one
// command (the one-shot mode), a script (`stockctl run FILE`), the
// interactive prompt and `stockctl import FILE.csv`. The language is in
// client/script.hpp, the commands in client/commands.hpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.hpp"
#include "client/script.hpp"

namespace stockgrid::stockctl {

// Exit codes of stockctl.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;      // an error response, a failed expect or import row
inline constexpr int exit_usage = 2;       // bad command line or script syntax
inline constexpr int exit_connection = 3;  // cannot connect or authenticate

struct runner_settings {
  std::string url;
  std::string token;
  client::client_options client;
  bool raw = false;    // responses as compact JSON (one-shot and prompt)
  bool quiet = false;  // run: print only failures, repeat summaries, echo and the result
};

// Connects `c` to the settings' url with their token; when that fails, says
// why on `err` ("stockctl: cannot connect to URL: CODE message") and returns
// false. For the modes that drive a client of their own (watch, export).
bool connect_or_explain(client::client& c, const runner_settings& settings, std::ostream& err);

class script_runner {
 public:
  script_runner(runner_settings settings, std::ostream& out);
  ~script_runner();
  script_runner(const script_runner&) = delete;
  script_runner& operator=(const script_runner&) = delete;

  // Connects with `token` (the settings' token when empty); prints why not.
  bool connect(const std::string& token = {});

  // One command from the command line: prints the response; exit code.
  int run_command(const std::vector<std::string>& words);

  // A script: every line runs (a failed expect does not stop it); failures
  // are reported with their line numbers. Returns exit_ok, exit_failed, or
  // exit_usage when the script does not parse (then nothing runs).
  int run_script(std::string_view text, std::string_view name);

  // The interactive prompt: lines from `in` until EOF, `quit` or `exit`.
  // Failures are printed but end nothing. Returns exit_ok.
  int run_interactive(std::istream& in, bool show_prompt);

  // Stock counts from a CSV file as stock.bulk sets; per-row failures are
  // printed with their line numbers. exit_ok when every row was applied.
  int run_import(std::string_view csv_text, std::string_view name);

 private:
  enum class mode { script, interactive };
  // Runs one step; false when it failed.
  bool execute(const script_line& line, mode m);
  bool run_step(const command_step& c, const script_line& line, mode m);
  bool run_step(const repeat_step& r, const script_line& line, mode m);
  bool run_step(const expect_step& e, const script_line& line, mode m);
  bool run_step(const let_step& l, const script_line& line, mode m);
  bool run_step(const sleep_step& s, const script_line& line, mode m);
  bool run_step(const echo_step& e, const script_line& line, mode m);
  bool run_step(const login_step& l, const script_line& line, mode m);
  // An error response no expect looked at is a failure (script mode).
  bool settle_unchecked_error();
  bool expand_words(const std::vector<word>& words, std::vector<std::string>* out,
                    const script_line& line);
  void fail(const script_line& line, const std::string& message);
  void print_response(const protocol::value& response, mode m);
  protocol::value send(protocol::op_request request);

  runner_settings settings_;
  std::ostream& out_;
  std::unique_ptr<client::client> client_;
  variables vars_;
  std::optional<protocol::value> last_response_;
  std::optional<repeat_summary> last_repeat_;
  // An error response that no expect has looked at yet.
  std::optional<std::string> unchecked_error_;
  int commands_ = 0;
  int expects_passed_ = 0;
  int failures_ = 0;
};

}  // namespace stockgrid::stockctl
