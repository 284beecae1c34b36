// What the examples share: --url/--token from the command line or the
// environment, connecting, and small printing and checking helpers. Each
// example is a short story told through the client library
// (client/client.hpp); read them top to bottom.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "client/client.hpp"

namespace examples {

using stockgrid::client::value;
namespace sg = stockgrid::client;

struct arguments {
  std::string url = "ws://127.0.0.1:7400/v1/ws";
  std::string token;
  int buyers = 1000;      // flash_sale
  int units = 100;        // flash_sale
  int connections = 20;   // flash_sale
};

// --url URL (env STOCKGRID_URL), --token TOKEN (env `token_env`, then
// STOCKGRID_TOKEN); flash_sale also takes --buyers, --units, --connections.
inline arguments parse_arguments(int argc, char** argv, const char* token_env = "STOCKGRID_TOKEN") {
  arguments a;
  if (const char* url = std::getenv("STOCKGRID_URL"); url && *url) a.url = url;
  if (const char* token = std::getenv(token_env); token && *token) a.token = token;
  if (a.token.empty()) {
    if (const char* token = std::getenv("STOCKGRID_TOKEN"); token && *token) a.token = token;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--url") {
      a.url = next();
    } else if (arg == "--token") {
      a.token = next();
    } else if (arg == "--buyers") {
      a.buyers = std::stoi(next());
    } else if (arg == "--units") {
      a.units = std::stoi(next());
    } else if (arg == "--connections") {
      a.connections = std::stoi(next());
    } else {
      std::fprintf(stderr, "usage: %s [--url ws://HOST:PORT/v1/ws] [--token TOKEN]\n", argv[0]);
      std::exit(2);
    }
  }
  if (a.token.empty()) {
    std::fprintf(stderr, "%s: no token: give --token TOKEN or set %s\n", argv[0], token_env);
    std::exit(2);
  }
  return a;
}

// Connects and authenticates, or exits with a message.
inline void connect_or_exit(sg::client& c, const std::string& url, const std::string& token) {
  const value answer = c.connect(url, token).get();
  if (!sg::is_ok(answer)) {
    std::fprintf(stderr, "cannot connect to %s: %s: %s\n", url.c_str(), sg::error_code(answer).c_str(),
                 sg::error_message(answer).c_str());
    std::exit(3);
  }
}

// A short, compact rendering of a response for the story.
inline std::string show(const value& response) { return sg::to_json(response); }

inline std::string record_line(const value& response, std::string_view path = "record") {
  const std::string p(path);
  return "on_hand " + std::to_string(sg::lookup_int(response, p + ".on_hand").value_or(-1)) +
         ", reserved " + std::to_string(sg::lookup_int(response, p + ".reserved").value_or(-1)) +
         ", available " + std::to_string(sg::lookup_int(response, p + ".available").value_or(-1)) +
         ", version " + std::to_string(sg::lookup_int(response, p + ".version").value_or(-1));
}

// Counts failed checks; the example's exit code is non-zero if any failed.
struct checks {
  int failed = 0;
  bool check(bool ok, const std::string& what) {
    std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failed;
    return ok;
  }
  int exit_code(const char* name) const {
    if (failed == 0) {
      std::printf("%s: all checks passed\n", name);
      return 0;
    }
    std::printf("%s: %d check(s) FAILED\n", name, failed);
    return 1;
  }
};

// A short random word, so every run works on its own SKUs and tenants.
inline std::string run_id() { return sg::new_idempotency_key().substr(0, 8); }

}  // namespace examples
