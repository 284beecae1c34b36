// The seam between the actors that coordinate orders, transfers and tenant
// settings and their storage: a table of opaque documents, upserted by key.
//
// Every method blocks on I/O; a store is used by one thread at a time, in a
// node the document writer's (document_writer.hpp), never an actor scheduler
// thread. Two implementations: SQLite (open_sqlite_document_store, the file
// data/documents.db laid out as document_format.hpp describes) and an
// in-memory twin (make_memory_document_store, for unit tests of the layers
// above).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/types.hpp"
#include "persistence/status.hpp"

namespace stockgrid::persistence {

// Values are stored: never renumber; 0 reserved.
enum class document_kind : std::uint8_t { order = 1, transfer = 2, tenant_settings = 3 };

// Limits of one document; a put breaking one is refused with `invalid` and
// writes nothing.
inline constexpr std::size_t document_body_bytes_max = std::size_t{1} << 20;  // 1 MiB
inline constexpr std::size_t document_key_bytes_max = 256;  // tenant, id and idem each
// The most ids one lease_ids() call may reserve.
inline constexpr std::uint64_t document_id_lease_max = std::uint64_t{1} << 32;

struct document {
  document_kind kind = document_kind::order;
  std::string tenant;
  std::string id;                 // unique per (kind, tenant); not empty
  std::string idem;               // the idempotency key of the request that created it; empty = none
  std::uint64_t fingerprint = 0;  // of that request (opaque here)
  bool open = false;              // not in a final state: recovery hands it back to be driven on
  epoch_ms updated_ms = 0;        // server time of the last put
  std::string body;               // opaque bytes (encoded by the orders layer), at most 1 MiB
};

class document_store {
 public:
  virtual ~document_store() = default;

  // Upserts every document (by kind, tenant, id) in one transaction, in order
  // (of two with the same key, the later wins). With `sync` the transaction is
  // on stable storage when this returns ok; without, it has reached the OS and
  // a power cut may lose it (and later ones), never an earlier synced one. A
  // document breaking a limit fails the whole call with `invalid`, nothing
  // written.
  virtual status put(const std::vector<document>& docs, bool sync) = 0;

  // Forces every put so far to stable storage.
  virtual status sync() = 0;

  // The document with this key, or nullopt. A row that fails its CRC is
  // `corruption` naming the file and the key.
  virtual status get(document_kind kind, std::string_view tenant, std::string_view id,
                     std::optional<document>* out) = 0;

  // The document of this kind and tenant created with idempotency key idem
  // (non-empty), if any; of several, the one with the smallest id.
  virtual status find_idem(document_kind kind, std::string_view tenant, std::string_view idem,
                           std::optional<document>* out) = 0;

  // Every open document (all kinds) in (kind, tenant, id) order, for
  // recovery. Reads and CRC-checks every row of the table on the way: a
  // damaged row is `corruption` naming the file and the row.
  virtual status list_open(std::vector<document>* out) = 0;

  // Durable id lease: *first is a number never returned before by this store
  // (across restarts and crashes); first .. first+count-1 are the caller's.
  // On stable storage when it returns. count is 1 .. document_id_lease_max.
  virtual status lease_ids(std::uint64_t count, std::uint64_t* first) = 0;

  // Deletes final (not open) documents with updated_ms < before; *removed is
  // the number of rows deleted. Durable as the last put's mode.
  virtual status prune(epoch_ms before, std::uint64_t* removed) = 0;
  // Deletes every document of `tenant`, open or final (tenant.delete);
  // *removed is the number of rows deleted. On stable storage when it
  // returns ok.
  virtual status delete_tenant(std::string_view tenant, std::uint64_t* removed) = 0;

  // Where the documents live, for messages ("data/documents.db", "memory").
  virtual const std::string& name() const = 0;
};

// Opens (creating if missing) a documents file; `vfs` empty = SQLite's
// default VFS. A damaged SQLite header or WAL is `corruption`; a file of
// another format version is `invalid`. Null on error, with *st saying why.
std::unique_ptr<document_store> open_sqlite_document_store(const std::string& path,
                                                           const std::string& vfs, status* st);

// The in-memory twin: the same semantics, limits and checks, no file.
std::unique_ptr<document_store> make_memory_document_store();

// ok, or `invalid` saying which limit `d` breaks (as put() checks it).
status check_document(const document& d);

// "order", "transfer", "tenant_settings", or the number of an unknown kind.
std::string to_string(document_kind kind);

// An id for a leased number: the prefix, then n in lowercase hex
// ("O1a2b" for order 0x1a2b, "T..." for transfers).
std::string format_document_id(char prefix, std::uint64_t n);

}  // namespace stockgrid::persistence
