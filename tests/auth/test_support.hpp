// Helpers shared by the auth tests: a temporary data directory, both key
// stores behind one fixture interface, a settable clock, and a byte search
// over every file of a directory (to prove a secret never reached disk).
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include "auth/memory_key_store.hpp"
#include "auth/sqlite_key_store.hpp"
#include "gateway/dispatcher.hpp"
#include "tests/support/temp_dir.hpp"

namespace stockgrid::auth::testing {

using ::stockgrid::testing::temp_dir;

// Whether any file under `dir` contains `needle` byte for byte.
inline bool any_file_contains(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

inline std::unique_ptr<sqlite_key_store> open_store(const std::string& data_dir) {
  std::unique_ptr<sqlite_key_store> store;
  const store_status st = sqlite_key_store::open(system_db_path(data_dir), &store);
  if (!st) throw std::runtime_error("open system.db: " + st.message());
  return store;
}

// Both stores run the same contract tests.
struct memory_fixture {
  static constexpr const char* name = "memory";
  memory_key_store store;
  key_store& get() { return store; }
};

struct sqlite_fixture {
  static constexpr const char* name = "sqlite";
  temp_dir dir;
  std::unique_ptr<sqlite_key_store> store = open_store(dir.path());
  key_store& get() { return *store; }
};

// A clock the test moves by hand.
struct manual_clock {
  std::shared_ptr<std::atomic<epoch_ms>> now =
      std::make_shared<std::atomic<epoch_ms>>(1'700'000'000'000);
  clock_fn fn() const {
    return [n = now] { return n->load(); };
  }
  void advance(epoch_ms ms) { *now += ms; }
};

inline gateway::principal system_principal() {
  gateway::principal p;
  p.key_id = std::string(system_key_id);
  p.role = protocol::role::system;
  return p;
}

}  // namespace stockgrid::auth::testing
