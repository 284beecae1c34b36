#include "persistence/document_store.hpp"

#include <cstdio>

#include "persistence/document_format.hpp"

namespace stockgrid::persistence {

namespace {

status too_long(const char* field, std::size_t size, std::size_t max) {
  return status::invalid(std::string("document ") + field + " of " + std::to_string(size) +
                         " bytes, more than " + std::to_string(max));
}

}  // namespace

status check_document(const document& d) {
  if (!document_format::valid_kind(static_cast<std::int64_t>(d.kind)))
    return status::invalid("document kind " + to_string(d.kind) + " is not a kind");
  if (d.id.empty()) return status::invalid("document id is empty");
  if (d.tenant.size() > document_key_bytes_max) return too_long("tenant", d.tenant.size(), document_key_bytes_max);
  if (d.id.size() > document_key_bytes_max) return too_long("id", d.id.size(), document_key_bytes_max);
  if (d.idem.size() > document_key_bytes_max) return too_long("idem", d.idem.size(), document_key_bytes_max);
  if (d.body.size() > document_body_bytes_max) return too_long("body", d.body.size(), document_body_bytes_max);
  return status::ok();
}

std::string to_string(document_kind kind) {
  switch (kind) {
    case document_kind::order: return "order";
    case document_kind::transfer: return "transfer";
    case document_kind::tenant_settings: return "tenant_settings";
  }
  return std::to_string(static_cast<int>(kind));
}

std::string format_document_id(char prefix, std::uint64_t n) {
  char digits[17];
  const int length = std::snprintf(digits, sizeof digits, "%llx", static_cast<unsigned long long>(n));
  std::string id(1, prefix);
  id.append(digits, static_cast<std::size_t>(length));
  return id;
}

}  // namespace stockgrid::persistence
