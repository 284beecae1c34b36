#include "persistence/document_format.hpp"

#include "persistence/crc32c.hpp"
#include "persistence/row_encoding.hpp"

namespace stockgrid::persistence::document_format {

const char* const schema_sql = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE documents (
  kind INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  idem TEXT,
  fingerprint INTEGER NOT NULL,
  open INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  body BLOB NOT NULL,
  crc INTEGER NOT NULL,
  PRIMARY KEY (kind, tenant, id)
);
CREATE INDEX documents_idem ON documents(kind, tenant, idem) WHERE idem IS NOT NULL;
CREATE INDEX documents_open ON documents(open) WHERE open = 1;
)sql";

const char* const columns = "kind, tenant, id, idem, fingerprint, open, updated_ms, body, crc";

// The body is the last column: its CRC continues over the bytes in place
// rather than over a copy (a body reaches 1 MiB).
std::uint32_t row_crc(const document& d) {
  thread_local std::string head;
  head.clear();
  format::put_i64(static_cast<std::int64_t>(d.kind), &head);
  format::put_text(d.tenant, &head);
  format::put_text(d.id, &head);
  format::put_text(d.idem, &head);
  format::put_u64(d.fingerprint, &head);
  format::put_i64(d.open ? 1 : 0, &head);
  format::put_i64(d.updated_ms, &head);
  format::put_u32(static_cast<std::uint32_t>(d.body.size()), &head);
  return crc32c(d.body.data(), d.body.size(), crc32c(head.data(), head.size()));
}

bool valid_kind(std::int64_t v) {
  return v >= static_cast<std::int64_t>(document_kind::order) &&
         v <= static_cast<std::int64_t>(document_kind::tenant_settings);
}

}  // namespace stockgrid::persistence::document_format
