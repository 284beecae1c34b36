// The partition store nodes run: one SQLite database per partition in WAL
// mode, laid out as format.hpp describes.
//
// Durability. Every append is one transaction. append(..., sync=true) commits
// with synchronous=FULL, so the WAL is fsynced before it returns; sync=false
// commits with synchronous=OFF (the WAL frames reach the OS, not the disk).
// Because a WAL is only ever extended and the frames are checksummed in a
// chain, a power cut loses a suffix of the unsynced transactions, never a
// middle one. That holds only if checkpoints are never run without fsync, so
// the store disables SQLite's automatic checkpoint and checkpoints itself with
// synchronous=FULL once the WAL passes `checkpoint_frames` (and on close).
//
// Lookups. Appends write only the journal table. Entries after the snapshot
// (the tail) are indexed in memory (built by scanning the tail on first use
// after opening); older entries through the record_index and idem_index
// tables, written when the tail is folded by snapshot() or recover(). So a
// store's memory grows with entries_since_snapshot(): call snapshot() every
// so many entries.
//
// Compaction (snapshot()) deletes the oldest journal entries up to the first
// one that must stay (in the snapshot range and appended at or after
// retain_since_ms), so the journal is always a contiguous suffix and each
// record's retained entries form an unbroken version chain. If the clock ran
// backwards, an old entry behind a newer one is kept until a later snapshot.
#pragma once

#include <memory>
#include <string>

#include "persistence/partition_store.hpp"

namespace stockgrid::persistence {

struct sqlite_options {
  std::string path;  // the database file; created if missing
  std::string vfs;   // SQLite VFS name; empty = the default one
  // WAL frames (pages) after which the store checkpoints: 4096 pages of
  // 4 KiB is 16 MiB of WAL between checkpoints. Tests lower it.
  int checkpoint_frames = 4096;
};

// Opens (creating if missing) a partition database. Before SQLite reads an
// existing file, its header and its -wal file are checked: a damaged header
// or a WAL that is not a whole number of frames returns null with
// `corruption` in *st naming the file. A file of another format version is
// `invalid`.
std::unique_ptr<partition_store> open_sqlite_store(const sqlite_options& options, status* st);

// Writes a consistent copy of the partition database at `path` to the new
// file `to` (which must not exist) through its own read-only connection
// and SQLite's VACUUM INTO: one committed state, while the store that owns
// `path` goes on writing (WAL readers do not block the writer, nor it
// them). The copy is not fsynced; whoever keeps it does that. A replica
// rebuilt from its leader's copy is made from this (actors/replica_copy.cpp).
status copy_sqlite_store(const std::string& path, const std::string& vfs, const std::string& to);

}  // namespace stockgrid::persistence
