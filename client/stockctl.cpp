// stockctl: the command-line client of stockgrid, like redis-cli.
//
//   stockctl [OPTIONS]                     an interactive prompt
//   stockctl [OPTIONS] COMMAND ARGS...     one command, its response as JSON
//   stockctl [OPTIONS] run FILE            a script (client/script.hpp)
//   stockctl [OPTIONS] import FILE.csv     stock counts from a CSV file
//   stockctl [OPTIONS] watch [FILTER...]   the live stream of a subscription
//   stockctl [OPTIONS] export TENANT       every page of tenant.export, as JSON lines
//   stockctl help                          every command
//
// Exit codes: 0 ok, 1 an error response / failed expect / failed import
// row, 2 bad usage or script syntax, 3 cannot connect or authenticate.
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "client/commands.hpp"
#include "client/export.hpp"
#include "client/script_runner.hpp"
#include "client/watch.hpp"

namespace {

using namespace stockgrid;
using stockctl::exit_usage;

constexpr const char* default_url = "ws://127.0.0.1:7400/v1/ws";

const char* usage_text =
    "usage: stockctl [OPTIONS] [COMMAND ARGS... | run FILE | import FILE.csv | help]\n"
    "\n"
    "  stockctl                          an interactive prompt (help, quit)\n"
    "  stockctl reserve berlin mug 3 --ttl 30s\n"
    "                                    one command; prints the response as JSON\n"
    "  stockctl run checkout.sg          run a script: commands, expect, repeat, -> $var\n"
    "  stockctl import stock.csv         bulk stock counts: header warehouse,sku,on_hand\n"
    "  stockctl watch --warehouse berlin --count 10\n"
    "                                    live changes, one line each, until Ctrl-C or a bound:\n"
    "                                    [--warehouse W] [--sku S] [--sku-prefix P] [--alerts]\n"
    "                                    [--json] [--count N] [--seconds T]\n"
    "  stockctl export acme > acme.jsonl every page of tenant.export as JSON lines (system token)\n"
    "  stockctl help                     every command\n"
    "\n"
    "Options (anywhere on the line):\n"
    "  --url URL          the node (env STOCKGRID_URL; default ws://127.0.0.1:7400/v1/ws)\n"
    "  --token TOKEN      an API token (env STOCKGRID_TOKEN)\n"
    "  --json             send JSON text frames instead of msgpack (watch: print events as JSON)\n"
    "  --raw              print responses as compact JSON on one line\n"
    "  --quiet            run: print only failures, repeat summaries, echo and the result\n"
    "  --timeout DUR      per-request timeout, retries included (default 10s)\n"
    "  --ca-file PEM      wss://: trust this CA; --insecure: trust any certificate\n"
    "\n"
    "Exit codes: 0 ok, 1 error response or failed expect, 2 usage, 3 cannot connect.\n";

// Set by SIGINT/SIGTERM; `watch` stops at it.
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);
extern "C" void request_stop(int) { stop_requested.store(true); }

int watch(const stockctl::runner_settings& settings, const std::vector<std::string>& words) {
  auto parsed = stockctl::parse_watch({words.begin() + 1, words.end()});
  if (auto* error = std::get_if<std::string>(&parsed)) {
    std::cerr << "stockctl: " << *error << "\n";
    return exit_usage;
  }
  auto options = std::get<stockctl::watch_options>(parsed);
  options.json = settings.client.encoding == protocol::encoding::json;
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  return stockctl::run_watch(settings, options, std::cout, std::cerr, stop_requested);
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  stockctl::runner_settings settings;
  const char* env_url = std::getenv("STOCKGRID_URL");
  const char* env_token = std::getenv("STOCKGRID_TOKEN");
  settings.url = env_url && *env_url ? env_url : default_url;
  settings.token = env_token ? env_token : "";

  // Global options may appear anywhere; everything else is the command.
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg, inline_value;
    bool has_inline = false;
    if (arg.starts_with("--")) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
        has_inline = true;
      }
    }
    auto value = [&](std::string* out) {
      if (has_inline) {
        *out = inline_value;
        return true;
      }
      if (i + 1 >= argc) {
        std::cerr << "stockctl: " << name << " needs a value\n";
        return false;
      }
      *out = argv[++i];
      return true;
    };
    if (name == "--url") {
      if (!value(&settings.url)) return exit_usage;
    } else if (name == "--token") {
      if (!value(&settings.token)) return exit_usage;
    } else if (name == "--ca-file") {
      if (!value(&settings.client.tls_ca_file)) return exit_usage;
    } else if (name == "--timeout") {
      std::string text;
      if (!value(&text)) return exit_usage;
      auto ms = stockctl::parse_duration_ms(text);
      if (!ms || *ms <= 0) {
        std::cerr << "stockctl: --timeout: not a duration: " << text << "\n";
        return exit_usage;
      }
      settings.client.request_timeout = std::chrono::milliseconds(*ms);
    } else if (arg == "--json") {
      settings.client.encoding = protocol::encoding::json;
    } else if (arg == "--raw") {
      settings.raw = true;
    } else if (arg == "--quiet") {
      settings.quiet = true;
    } else if (arg == "--insecure") {
      settings.client.tls_verify = false;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << usage_text;
      return 0;
    } else {
      words.push_back(std::move(arg));
    }
  }

  if (!words.empty() && words[0] == "help") {
    std::cout << usage_text << "\n" << stockctl::command_help();
    return 0;
  }
  if (settings.token.empty()) {
    std::cerr << "stockctl: no token: give --token TOKEN or set STOCKGRID_TOKEN\n";
    return exit_usage;
  }

  if (!words.empty() && words[0] == "watch") return watch(settings, words);
  if (!words.empty() && words[0] == "export") {
    if (words.size() != 2) {
      std::cerr << "usage: stockctl export TENANT\n";
      return exit_usage;
    }
    return stockctl::run_export(settings, words[1], std::cout, std::cerr);
  }
  stockctl::script_runner runner(settings, std::cout);
  if (words.empty()) {
    const bool tty = ::isatty(0) != 0;
    if (!runner.connect()) return stockctl::exit_connection;
    if (tty) std::cout << "connected to " << settings.url << "; `help` lists the commands\n";
    return runner.run_interactive(std::cin, tty);
  }
  if (words[0] == "run" || words[0] == "import") {
    if (words.size() != 2) {
      std::cerr << "usage: stockctl " << words[0] << (words[0] == "run" ? " FILE" : " FILE.csv") << "\n";
      return exit_usage;
    }
    std::string text;
    if (!read_file(words[1], &text)) {
      std::cerr << "stockctl: cannot read " << words[1] << "\n";
      return exit_usage;
    }
    return words[0] == "run" ? runner.run_script(text, words[1]) : runner.run_import(text, words[1]);
  }
  return runner.run_command(words);
}
