// Moving journal and snapshot rows between structs and SQLite statements, in
// the layout of format.hpp, with the row CRC written and checked here only.
// Shared by sqlite_store and check. Internal to persistence/.
#pragma once

#include <string>

#include "persistence/partition_store.hpp"
#include "persistence/sqlite_util.hpp"

namespace stockgrid::persistence::sqlite {

// "tenant/warehouse/sku", for messages.
std::string describe(const record_key& key);

// Binds `e` and its CRC to parameters 1..journal_column_count of an INSERT listing
// format::journal_columns. `e` must stay alive until the statement is reset.
void bind_journal_row(statement& s, const journal_entry& e);

// Reads the current row of a SELECT of format::journal_columns into `e`,
// reusing its strings' storage, and checks its CRC and enum values.
// Corruption names `file` and the row's seq.
status read_journal_row(sqlite3_stmt* s, const std::string& file, journal_entry* e);

// Binds `r` (its holds encoded into `holds_scratch`, which must stay alive
// until the statement is reset) and its CRC to parameters 1..snapshot_column_count of an INSERT
// listing format::snapshot_columns.
void bind_snapshot_row(statement& s, const record_image& r, std::string* holds_scratch);

// Reads the current row of a SELECT of format::snapshot_columns into `r` and
// checks its CRC and holds BLOB. Corruption names `file` and the record.
status read_snapshot_row(sqlite3_stmt* s, const std::string& file, record_image* r);

}  // namespace stockgrid::persistence::sqlite
