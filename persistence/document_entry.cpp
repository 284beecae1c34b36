#include "persistence/document_entry.hpp"

#include <cstring>

#include "domain/hex.hpp"
#include "persistence/document_format.hpp"
#include "persistence/purge.hpp"

namespace stockgrid::persistence {

namespace {

const std::string entry_reason = "document";
const std::string sku_prefix = "doc/";

void put_le(std::string* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_bytes(std::string* out, const std::string& s) {
  put_le(out, s.size(), 4);
  out->append(s);
}

// Reads from a ref, never past its end.
struct reader {
  std::string_view in;
  bool ok = true;
  std::uint64_t le(int bytes) {
    if (in.size() < static_cast<std::size_t>(bytes)) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
    in.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string bytes() {
    const auto n = le(4);
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

}  // namespace

status document_entry(const document& d, journal_entry* out) {
  if (auto st = check_document(d); !st) return st;
  if (d.kind != document_kind::order && d.kind != document_kind::transfer)
    return status::invalid("only orders and transfers are journaled, not " + to_string(d.kind));
  journal_entry e;
  e.at_ms = d.updated_ms;
  e.key.tenant = d.tenant;
  e.key.sku = sku_prefix + d.id;
  e.c.kind = change_kind::refusal;
  e.result = outcome::not_found;
  e.c.reason = entry_reason;
  std::string ref;
  ref.reserve(26 + d.id.size() + d.idem.size() + d.body.size());
  put_le(&ref, document_entry_version, 1);
  put_le(&ref, static_cast<std::uint8_t>(d.kind), 1);
  put_le(&ref, d.open ? 1 : 0, 1);
  put_le(&ref, static_cast<std::uint64_t>(d.updated_ms), 8);
  put_le(&ref, d.fingerprint, 8);
  put_bytes(&ref, d.id);
  put_bytes(&ref, d.idem);
  put_bytes(&ref, d.body);
  e.c.ref = to_hex(ref);  // text: strings between nodes must be UTF-8
  if (e.c.ref.size() > document_entry_bytes_max)
    return status::invalid(to_string(d.kind) + " " + d.id + ": " + std::to_string(e.c.ref.size()) +
                           " bytes, more than a journaled document may hold (" +
                           std::to_string(document_entry_bytes_max) + ")");
  *out = std::move(e);
  return status::ok();
}

bool is_document_entry(const journal_entry& e) {
  return e.c.kind == change_kind::refusal && !e.key.tenant.empty() && e.key.warehouse.empty() &&
         e.key.sku.starts_with(sku_prefix) && e.c.reason == entry_reason;
}

bool decode_document_entry(const journal_entry& e, document* out) {
  if (!is_document_entry(e)) return false;
  std::string raw;
  if (!from_hex(e.c.ref, &raw)) return false;
  reader r{raw};
  if (r.le(1) != document_entry_version) return false;
  document d;
  const auto kind = r.le(1);
  if (kind != static_cast<std::uint8_t>(document_kind::order) &&
      kind != static_cast<std::uint8_t>(document_kind::transfer))
    return false;
  d.kind = static_cast<document_kind>(kind);
  const auto open = r.le(1);
  if (open > 1) return false;
  d.open = open == 1;
  d.updated_ms = static_cast<epoch_ms>(r.le(8));
  d.fingerprint = r.le(8);
  d.id = r.bytes();
  d.idem = r.bytes();
  d.body = r.bytes();
  if (!r.ok || !r.in.empty()) return false;
  d.tenant = e.key.tenant;
  if (e.key.sku != sku_prefix + d.id || !check_document(d)) return false;
  *out = std::move(d);
  return true;
}

bool document_replay::add(const journal_entry& e) {
  if (const auto* tenant = purged_tenant(e)) {
    purged_.insert(*tenant);
    for (auto it = docs_.begin(); it != docs_.end();)
      it = std::get<1>(it->first) == *tenant ? docs_.erase(it) : std::next(it);
    return true;
  }
  if (!is_document_entry(e)) return true;
  document d;
  if (!decode_document_entry(e, &d)) return false;
  auto key = std::make_tuple(d.kind, d.tenant, d.id);
  docs_[std::move(key)] = std::move(d);
  return true;
}

std::vector<document> document_replay::documents() const {
  std::vector<document> out;
  out.reserve(docs_.size());
  for (const auto& [key, d] : docs_) out.push_back(d);
  return out;
}

}  // namespace stockgrid::persistence
