// Settings: defaults, flags, config files, bounds and validate(), through the
// same CLI::App path the program's main uses.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "config/keys.hpp"
#include "config/load.hpp"
#include "config/settings.hpp"

namespace {

using namespace stockgrid::config;
namespace fs = std::filesystem;

// ctest sets STOCKGRID_SOURCE_DIR (tests/config/CMakeLists.txt); when the test
// runs by hand from the repository root, the relative path works too.
fs::path example_file() {
  const char* source_dir = std::getenv("STOCKGRID_SOURCE_DIR");
  return fs::path{source_dir ? source_dir : "."} / "config" / "stockgrid.conf.example";
}

// Parses `args` as the command line of a program with only the settings
// options, starting from `start`, and returns the settings it leaves.
settings parse(const std::vector<std::string>& args, settings start = {}) {
  CLI::App app{"settings test"};
  add_options(app, start);
  std::vector<const char*> argv{"stockgrid"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return start;
}

// A config file in the temp directory, removed when the test ends.
class temp_file {
 public:
  explicit temp_file(const std::string& text) {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("stockgrid_settings_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++) + ".conf");
    std::ofstream{path_} << text;
  }
  ~temp_file() { fs::remove(path_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// Changes every setting to another valid value, so a test can tell which
// keys a load actually set.
struct change_every_setting {
  template <class T>
  void operator()(const key_info&, T& field, const bounds<T>& range) const {
    field = field == range.min ? range.max : range.min;
  }
  void operator()(const key_info&, std::string& field, unbounded) const { field += "/elsewhere"; }
  void operator()(const key_info&, durability_mode& field, unbounded) const {
    field = field == durability_mode::sync ? durability_mode::batched : durability_mode::sync;
  }
};

settings every_setting_changed() {
  settings s;
  for_each_setting(s, change_every_setting{});
  // min/max of two TTLs may break their cross-key rule; keep the result valid.
  s.holds.default_ttl_ms = s.holds.max_ttl_ms;
  return s;
}

std::vector<std::string> all_keys() {
  std::vector<std::string> keys;
  const settings defaults;
  for_each_setting(defaults, [&](const key_info& info, const auto&, const auto&) {
    keys.emplace_back(info.key);
  });
  return keys;
}

}  // namespace

TEST_CASE("default settings are the documented ones and valid") {
  const settings s;
  CHECK(s.node.data_dir == "./data");
  CHECK(s.node.partitions == 64);
  CHECK(s.node.scheduler_threads == 0);
  CHECK(s.node.journal_threads == 2);
  CHECK(s.node.max_in_flight == 65'536);
  CHECK(s.node.passivate_idle_ms == 60'000);
  CHECK(s.node.shutdown_drain_ms == 5'000);
  CHECK(s.journal.durability == durability_mode::sync);
  CHECK(s.journal.batched_fsync_interval_ms == 1'000);
  CHECK(s.journal.batch_entries_max == 4'096);
  CHECK(s.journal.batch_window_us == 0);
  CHECK(s.journal.snapshot_every_entries == 200'000);
  CHECK(s.journal.snapshot_interval_ms == 60'000);
  CHECK(s.journal.retention_ms == 86'400'000);
  CHECK(s.holds.default_ttl_ms == 600'000);
  CHECK(s.holds.max_ttl_ms == 86'400'000);
  CHECK(s.holds.holds_per_record_max == stockgrid::limits::holds_per_record_max);
  CHECK(s.idempotency.cache_entries == 2'048);
  CHECK(s.subscriptions.subscriptions_per_tenant_max == 5'000);
  CHECK(s.quotas.rate_per_second == 10'000);
  CHECK(s.quotas.rate_burst == 20'000);
  CHECK(s.quotas.records_per_tenant_max == 1'000'000);
  CHECK(s.validate() == "");
}

TEST_CASE("an empty command line leaves the defaults") {
  CHECK(parse({}) == settings{});
}

TEST_CASE("flags override the defaults") {
  const settings s = parse({"--data-dir", "/var/lib/stockgrid", "--partitions", "8",
                            "--durability", "batched", "--batched-fsync-interval-ms=250",
                            "--journal-batch-window-us", "200", "--hold-max-ttl-ms", "5000",
                            "--hold-default-ttl-ms", "4000", "--retention-ms", "60000"});
  CHECK(s.node.data_dir == "/var/lib/stockgrid");
  CHECK(s.node.partitions == 8);
  CHECK(s.journal.durability == durability_mode::batched);
  CHECK(s.journal.batched_fsync_interval_ms == 250);
  CHECK(s.journal.batch_window_us == 200);
  CHECK(s.holds.max_ttl_ms == 5'000);
  CHECK(s.holds.default_ttl_ms == 4'000);
  CHECK(s.journal.retention_ms == 60'000);
  // Untouched keys keep their defaults.
  CHECK(s.node.journal_threads == 2);
  CHECK(s.idempotency.cache_entries == 2'048);
  CHECK(s.validate() == "");
}

TEST_CASE("every key is a flag that sets its own field") {
  const settings changed = every_setting_changed();
  std::vector<std::string> args;
  std::istringstream lines{to_string(changed)};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find(" = ");
    std::string value = line.substr(eq + 3);
    if (value.front() == '"') value = value.substr(1, value.size() - 2);
    args.push_back("--" + line.substr(0, eq));
    args.push_back(value);
  }
  CHECK(args.size() == 2 * all_keys().size());
  CHECK(parse(args) == changed);
}

TEST_CASE("the example config file loads and yields the defaults") {
  INFO("example file " << example_file());
  REQUIRE(fs::exists(example_file()));
  // Start from other values so that every key the file sets is visible.
  const settings start = every_setting_changed();
  REQUIRE(start != settings{});
  CHECK(parse({"--config", example_file().string()}, start) == settings{});
}

TEST_CASE("the example config file lists every key once") {
  INFO("example file " << example_file());
  REQUIRE(fs::exists(example_file()));
  std::ifstream in{example_file()};
  std::map<std::string, int> seen;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    REQUIRE(eq != std::string::npos);
    std::string key = line.substr(0, eq);
    key.erase(key.find_last_not_of(' ') + 1);
    ++seen[key];
  }
  for (const auto& key : all_keys()) {
    INFO("key " << key);
    CHECK(seen[key] == 1);
  }
  CHECK(seen.size() == all_keys().size());
}

TEST_CASE("a config file sets keys and command-line flags win over it") {
  const temp_file file{
      "# a small node\n"
      "partitions = 16\n"
      "durability = \"batched\"\n"
      "data-dir = \"/srv/stock data\"\n"
      "hold-max-ttl-ms = 120000   # two minutes\n"
      "hold-default-ttl-ms = 60000\n"};
  const settings s = parse({"--config", file.path(), "--partitions", "32"});
  CHECK(s.node.partitions == 32);
  CHECK(s.journal.durability == durability_mode::batched);
  CHECK(s.node.data_dir == "/srv/stock data");
  CHECK(s.holds.max_ttl_ms == 120'000);
  CHECK(s.holds.default_ttl_ms == 60'000);
  CHECK(s.validate() == "");
}

TEST_CASE("to_string prints every setting as a loadable config file") {
  const settings changed = every_setting_changed();
  const std::string text = to_string(changed);
  for (const auto& key : all_keys()) {
    INFO("key " << key);
    CHECK(text.find("\n" + key + " = ") != std::string::npos);
  }
  const temp_file file{text};
  CHECK(parse({"--config", file.path()}) == changed);
}

TEST_CASE("out-of-range flags are refused with a message naming the key") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_AS(parse({"--partitions", "0"}), CLI::ValidationError);
  CHECK_THROWS_WITH(parse({"--partitions", "0"}), Contains("--partitions"));
  CHECK_THROWS_WITH(parse({"--partitions", "4097"}), Contains("--partitions") && Contains("4096"));
  CHECK_THROWS_WITH(parse({"--journal-threads", "65"}), Contains("--journal-threads"));
  CHECK_THROWS_WITH(parse({"--max-in-flight", "10000001"}), Contains("--max-in-flight"));
  CHECK_THROWS_WITH(parse({"--passivate-idle-ms", "99"}), Contains("--passivate-idle-ms"));
  CHECK_THROWS_WITH(parse({"--retention-ms", "59999"}), Contains("--retention-ms"));
  CHECK_THROWS_WITH(parse({"--hold-max-ttl-ms", "2592000001"}), Contains("--hold-max-ttl-ms"));
  CHECK_THROWS_WITH(parse({"--journal-batch-entries-max", "8193"}),
                    Contains("--journal-batch-entries-max"));
  // Negative, overflowing and non-numeric values never wrap into range.
  CHECK_THROWS_WITH(parse({"--max-in-flight=-1"}), Contains("--max-in-flight"));
  CHECK_THROWS_WITH(parse({"--partitions", "4294967297"}), Contains("--partitions"));
  CHECK_THROWS_WITH(parse({"--shutdown-drain-ms", "5s"}), Contains("--shutdown-drain-ms"));
  CHECK_THROWS_WITH(parse({"--durability", "fast"}), Contains("--durability"));
}

TEST_CASE("bounds are inclusive") {
  CHECK(parse({"--partitions", "1"}).node.partitions == 1);
  CHECK(parse({"--partitions", "4096"}).node.partitions == 4096);
  CHECK(parse({"--hold-max-ttl-ms", "2592000000"}).holds.max_ttl_ms == 2'592'000'000);
}

TEST_CASE("bad config files are refused with a message naming the key") {
  using Catch::Matchers::Contains;
  SECTION("out of range") {
    const temp_file file{"journal-threads = 0\n"};
    CHECK_THROWS_WITH(parse({"--config", file.path()}), Contains("--journal-threads"));
  }
  SECTION("unknown key") {
    const temp_file file{"partitons = 8\n"};
    CHECK_THROWS_AS(parse({"--config", file.path()}), CLI::ConfigError);
    CHECK_THROWS_WITH(parse({"--config", file.path()}), Contains("partitons"));
  }
  SECTION("missing file") {
    CHECK_THROWS_AS(parse({"--config", "/nonexistent/stockgrid.conf"}), CLI::FileError);
  }
}

TEST_CASE("validate() names the key and the bound it breaks") {
  settings s;
  s.node.partitions = 0;
  CHECK(s.validate() == "partitions = 0 is outside [1, 4096]");

  s = settings{};
  s.journal.retention_ms = 1'000;
  CHECK(s.validate() == "retention-ms = 1000 is outside [60000, 31536000000]");

  s = settings{};
  s.node.data_dir.clear();
  CHECK(s.validate() == "data-dir must not be empty");
}

TEST_CASE("validate() checks rules that tie keys together") {
  settings s;
  s.holds.max_ttl_ms = 60'000;
  s.holds.default_ttl_ms = 120'000;
  CHECK(s.validate() == "hold-default-ttl-ms = 120000 exceeds hold-max-ttl-ms = 60000");
  // Each flag alone is in range, so only validate() can catch this.
  const settings parsed = parse({"--hold-max-ttl-ms", "60000", "--hold-default-ttl-ms", "120000"});
  CHECK(parsed.validate() != "");
}

TEST_CASE("validate() reports every problem, one per line") {
  settings s;
  s.node.journal_threads = 0;
  s.idempotency.cache_entries = 0;
  CHECK(s.validate() ==
        "journal-threads = 0 is outside [1, 64]\n"
        "idempotency-cache-entries = 0 is outside [1, 4194304]");
}

TEST_CASE("durability modes have names that round-trip") {
  for (auto mode : {durability_mode::sync, durability_mode::batched}) {
    CHECK(parse_durability_mode(to_string(mode)) == mode);
  }
  CHECK(parse_durability_mode("SYNC") == std::nullopt);
  CHECK(parse_durability_mode("") == std::nullopt);
}

TEST_CASE("scheduler_threads 0 resolves to at least one thread") {
  node_settings n;
  CHECK(n.scheduler_threads_resolved() >= 1);
  n.scheduler_threads = 3;
  CHECK(n.scheduler_threads_resolved() == 3);
}

TEST_CASE("--help lists every flag with its default") {
  settings s;
  CLI::App app{"settings test"};
  add_options(app, s);
  const std::string help = app.help();
  for (const auto& key : all_keys()) {
    INFO("key " << key);
    CHECK(help.find("--" + key) != std::string::npos);
  }
  CHECK(help.find("--config") != std::string::npos);
}

TEST_CASE("a tenant's rate: its own values, else the defaults; its own rate alone scales the burst") {
  quota_settings q;  // 10,000/s, burst 20,000
  CHECK(q.for_tenant(0, 0).rate_per_second == 10'000);
  CHECK(q.for_tenant(0, 0).burst == 20'000);
  CHECK(q.for_tenant(500, 1'000).rate_per_second == 500);
  CHECK(q.for_tenant(500, 1'000).burst == 1'000);
  CHECK(q.for_tenant(500, 0).burst == 1'000);  // two seconds' worth, like the default
  CHECK(q.for_tenant(0, 7).rate_per_second == 10'000);
  CHECK(q.for_tenant(0, 7).burst == 7);
  q.rate_burst = 1;
  CHECK(q.for_tenant(1, 0).burst == 1);  // never below 1
}
