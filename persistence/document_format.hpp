// The on-disk format of the documents file (data/documents.db), described
// here once and used by the SQLite document store (sqlite_document_store.cpp)
// for writing and reading. One SQLite database in WAL mode.
//
// Tables (SQL text in `schema_sql`):
//
//   meta(key TEXT PRIMARY KEY, value INTEGER)
//     format_version  this file's layout; must equal `format_version` below
//     id_lease        numbers >= id_lease have never been handed out by
//                     lease_ids() (fresh: 1)
//
//   documents(kind, tenant, id, idem, fingerprint, open, updated_ms,
//             body BLOB, crc, PRIMARY KEY(kind, tenant, id))
//     One row per document (document_store.hpp). kind is the numeric value
//     of document_kind; idem is NULL when empty; fingerprint is stored as the
//     int64 with the same bits; open is 0 or 1; body holds the opaque bytes.
//     An ordinary rowid table, not WITHOUT ROWID: bodies reach 1 MiB.
//     Indexes: documents_idem on (kind, tenant, idem) WHERE idem IS NOT NULL
//     (find_idem), documents_open on (open) WHERE open = 1 (open documents).
//
// Row checksum. `crc` is the CRC-32C (crc32c.hpp) of the row's canonical
// bytes, stored as a non-negative INTEGER: the columns before `crc` in the
// order listed above, each encoded as format.hpp describes for partition rows
// (row_encoding.hpp): integers (kind, fingerprint, open, updated_ms) as 8
// bytes little-endian, text and blob (tenant, id, idem with NULL == '', body)
// as a 4-byte little-endian length and the bytes. The CRC covers the key, so
// a row copied under another key is caught too. Every read checks it.
//
// Compatibility: never renumber document kinds; a layout change bumps
// format_version. Any version but this one is refused.
#pragma once

#include <cstdint>
#include <string>

#include "persistence/document_store.hpp"

namespace stockgrid::persistence::document_format {

inline constexpr std::int64_t format_version = 1;

// Creates the tables and indexes of an empty database (no meta rows).
extern const char* const schema_sql;

// Meta keys.
inline constexpr const char* meta_format_version = "format_version";
inline constexpr const char* meta_id_lease = "id_lease";

// The documents columns in canonical order, for INSERT and SELECT, and their
// positions.
extern const char* const columns;
enum column : int { c_kind, c_tenant, c_id, c_idem, c_fingerprint, c_open, c_updated_ms, c_body, c_crc, column_count };

// The CRC of a document row's canonical bytes.
std::uint32_t row_crc(const document& d);

bool valid_kind(std::int64_t v);

}  // namespace stockgrid::persistence::document_format
