// Loading settings from the command line and from a config file, with CLI11.
// Only this header and load.cpp know CLI11's option machinery; components see
// plain settings structs.
//
// Use from main:
//
//   stockgrid::config::settings s;          // must outlive app.parse()
//   CLI::App app{"stockgrid node"};
//   stockgrid::config::add_options(app, s);
//   app.add_option("--port", ...);          // the program's own flags
//   CLI11_PARSE(app, argc, argv);           // prints help/errors, returns exit code
//   if (auto problem = s.validate(); !problem.empty()) { print problem; return 2; }
//   log(stockgrid::config::to_string(s));
//
// Precedence: command-line flag > config file > default.
#pragma once

#include "config/settings.hpp"

namespace CLI {
class App;
}

namespace stockgrid::config {

// Registers on `app`:
// - one flag per setting, `--<key>` with the keys of config/keys.hpp
//   (`--data-dir`, `--partitions`, `--durability`, `--hold-max-ttl-ms`, ...),
//   each bound to its field in `s` and range-checked, so a value out of bounds
//   makes app.parse() throw CLI::ValidationError naming the flag;
// - `--config FILE`, which reads the same keys from FILE in CLI11's TOML-like
//   format: `key = value` lines, `#` comments, strings in double quotes
//   (see config/stockgrid.conf.example). Values given as flags win over the
//   file.
// It also makes unknown keys in a config file an error (a misspelt key would
// otherwise be silently ignored); this applies to the whole app, so options
// main adds are accepted in the file too, under their long names.
//
// `s` is written during app.parse(), so it must outlive the parse. Values
// already in `s` act as the defaults shown by --help.
void add_options(CLI::App& app, settings& s);

}  // namespace stockgrid::config
