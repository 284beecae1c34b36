#include "config/load.hpp"

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/keys.hpp"

namespace stockgrid::config {

namespace {

// Adds one CLI11 option per setting, in the --help group of its component.
struct option_adder {
  CLI::App& app;

  static std::string flag(const key_info& info) { return "--" + std::string{info.key}; }
  static std::string group(const key_info& info) {
    return std::string{info.component} + " settings";
  }

  template <class T>
  void operator()(const key_info& info, T& field, const bounds<T>& range) const {
    app.add_option(flag(info), field, std::string{info.help})
        ->check(CLI::Range(range.min, range.max))
        ->capture_default_str()
        ->group(group(info));
  }

  void operator()(const key_info& info, std::string& field, unbounded) const {
    app.add_option(flag(info), field, std::string{info.help})
        ->capture_default_str()
        ->group(group(info));
  }

  void operator()(const key_info& info, durability_mode& field, unbounded) const {
    // Taken as text and checked against the names, so --help and errors show
    // the words (binding the enum directly would show its numbers).
    const std::vector<std::string> names{to_string(durability_mode::sync),
                                         to_string(durability_mode::batched)};
    app.add_option_function<std::string>(
           flag(info), [&field](const std::string& name) { field = *parse_durability_mode(name); },
           std::string{info.help})
        ->check(CLI::IsMember(names))
        ->default_str(to_string(field))
        ->group(group(info));
  }
};

}  // namespace

void add_options(CLI::App& app, settings& s) {
  app.set_config("--config", "", "read settings from FILE (`key = value` lines, keys as the flags)")
      ->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);
  for_each_setting(s, option_adder{app});
}

}  // namespace stockgrid::config
