// stockgrid-faultnode: the real node (app/run_node.hpp) over the power-cut
// SQLite VFS (persistence/testing/powercut_vfs.hpp), for the crash torture
// tool (tests/torture/torture.cpp). Test-only: never installed or packaged;
// the product's `stockgrid` does not link the VFS.
//
//   stockgrid-faultnode [any stockgrid flag]
//
// SIGUSR1 cuts the power: whatever the partitions and documents.db had
// written since their last sync is dropped, as a disk losing power would,
// and the process ends at once (_exit 86, nothing flushed, no destructor;
// "power cut: N files rolled back, M bytes undone" on stderr, and exit 87
// when no file went through the VFS).
// The key store (system.db) does not go through the VFS: it keeps what the
// process wrote, as after SIGKILL.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "app/run_node.hpp"
#include "persistence/testing/powercut_vfs.hpp"

namespace {

namespace powercut = stockgrid::persistence::powercut;

// Waits for SIGUSR1 (blocked in every thread), then cuts the power.
void power_switch() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  int sig = 0;
  sigwait(&set, &sig);
  powercut::power_off(powercut::exit_power_cut);
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any thread starts, so that every thread inherits the
  // mask: SIGUSR1 reaches only power_switch(), SIGINT and SIGTERM only
  // run_node's sigwait (which blocks them again, too late for a thread
  // started before it).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  powercut::install();
  std::thread(power_switch).detach();
  return stockgrid::app::run_node(argc, argv, {powercut::vfs_name});
}
