// Test-only SQLite VFS that simulates a power cut (like LevelDB's
// fault_injection_test.cc) and a disk that refuses writes, fails its
// fsyncs or is slow to sync. It wraps the default VFS and remembers, for every
// file opened through it, what was written since that file's last xSync: the
// old bytes of each overwritten region and the size at the last sync. After
// cut(), writes are discarded; restore_unsynced() then rolls every file back
// to what a disk would hold after losing power.
//
// Simplifications:
//  - Unsynced writes are lost whole. A real disk may keep any subset of them
//    (SQLite's WAL checksums are what copes with that); this VFS tests the
//    ordering of syncs, not torn writes.
//  - A file created through the VFS exists after a cut only if it was synced
//    at least once (SQLite fsyncs the directory when it first syncs a new
//    WAL); a file that existed before it was first opened counts as synced.
//  - Deleting a file is durable at once (directory fsyncs are not modelled).
//  - The -shm file is shared memory, never persisted: restore deletes it, so
//    SQLite rebuilds its index from the WAL, as after a real power cut.
//  - A tracked file removed outside SQLite (a test's temp dir) is skipped.
// A node never links this library.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "persistence/status.hpp"

namespace stockgrid::persistence::powercut {

inline constexpr const char* vfs_name = "powercut";

// Registers the VFS under `vfs_name` (once; later calls do nothing). It is not
// made the default: open databases with it by name (sqlite_options::vfs).
void install();

// The power goes: from now on every write, truncate, sync and delete through
// the VFS is discarded (and reported as done, like a dying process sees).
void cut();
bool is_cut();

// Call after every connection through the VFS is closed. Rolls each tracked
// file back to its content at its last sync (undoing writes newest first,
// then truncating to the synced size), deletes files never synced and the
// -shm files, ends the cut and starts tracking afresh.
status restore_unsynced();

// The exit code of power_off() when no file was tracked: nothing went
// through the VFS, so the "power cut" would be a mere kill.
inline constexpr int exit_nothing_tracked = 87;
// The exit code the test node passes to power_off() (tests/torture/
// faultnode.cpp), so the torture tool can tell a power cut from a crash.
inline constexpr int exit_power_cut = 86;

// The power goes for good, for the test node's power switch
// (tests/torture/faultnode.cpp): cut(), every tracked file rolled back as
// restore_unsynced() does, "power cut: N files rolled back, M bytes undone"
// on stderr, and the process ended with _exit(exit_code); with
// _exit(exit_nothing_tracked) when N is 0, and with _exit(1), after printing
// the error to stderr, if a file could not be rolled back.
// The VFS's lock is never released, so no thread of the process writes or
// syncs through the VFS afterwards, nor hears a sync succeed: nothing is
// acknowledged after the cut. Safe with connections open and writing.
[[noreturn]] void power_off(int exit_code);

// Treats every tracked file's current content as synced and ends the cut;
// for tests that start over. Safe with connections open.
void reset();

// A full disk: while on, every write and truncate through the VFS (of files
// whose path contains `only`, when it is not empty) fails with SQLITE_FULL
// and changes nothing (reads, syncs and deletes work). Counts the writes
// refused, for tests that must see the failure happen.
void fail_writes(bool on, std::string only = {});
std::uint64_t refused_writes();

// A failing disk: while on, every sync through the VFS fails with
// SQLITE_IOERR_FSYNC and makes nothing durable (writes and reads work, as
// when a device reports EIO on flush). Counts the syncs failed.
void fail_syncs(bool on);
std::uint64_t failed_syncs();

// A slow disk: while `delay` is above zero, every sync through the VFS waits
// that long before it syncs (and succeeds); reads, writes and everything else
// go at full speed, so a commit in sync mode takes at least `delay`. The
// wait happens outside the VFS's lock. A sync already waiting finishes its
// wait when the delay is set back to zero. Counts the syncs delayed.
void slow_syncs(std::chrono::milliseconds delay);
std::uint64_t delayed_syncs();

// A full disk for as long as it lives, even when a failed REQUIRE leaves the
// test early (the VFS is shared by every test of the program).
class full_disk {
 public:
  explicit full_disk(std::string only = {}) { fail_writes(true, std::move(only)); }
  ~full_disk() { fail_writes(false); }
  full_disk(const full_disk&) = delete;
  full_disk& operator=(const full_disk&) = delete;
};

// A slow disk (slow_syncs) for as long as it lives.
class slow_disk {
 public:
  explicit slow_disk(std::chrono::milliseconds sync_delay) { slow_syncs(sync_delay); }
  ~slow_disk() { slow_syncs(std::chrono::milliseconds(0)); }
  slow_disk(const slow_disk&) = delete;
  slow_disk& operator=(const slow_disk&) = delete;
};

}  // namespace stockgrid::persistence::powercut
