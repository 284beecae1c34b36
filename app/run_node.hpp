// One stockgrid node, as a function: app/main.cpp is the product's program,
// tests/torture/faultnode.cpp the same node over a fault-injecting SQLite VFS.
//
//   stockgrid [--data-dir D] [--port P] [--bind ADDR] [--config FILE] ...
//       start a node (the embedded default: one node, 127.0.0.1:7400, data in ./data)
//   stockgrid --demo
//       the same, and create a `demo` tenant with stock, printing its tokens
//   stockgrid check --data-dir D
//       verify every partition file and the stock invariants; exit 0 if sound
//
// Exit codes: 0 clean stop or sound data, 1 bad usage or settings (flags,
// config keys and values, log options), 2 cannot
// listen or open the key store, 3 the data dir is corrupt or unreadable (the
// message names the file and the row).
#pragma once

#include <string>

namespace stockgrid::app {

// What a test build changes in the node; the product passes {}.
struct node_hooks {
  // The SQLite VFS the grid opens its files with (partitions and
  // documents.db; not the key store, system.db). Empty: SQLite's default.
  std::string sqlite_vfs;
};

// Parses argv, runs the node (or `check`) until SIGINT or SIGTERM, and
// returns the process's exit code. Blocks SIGINT and SIGTERM in the calling
// thread (threads it starts inherit that) and collects them with sigwait.
int run_node(int argc, char** argv, const node_hooks& hooks);

}  // namespace stockgrid::app
