#include "domain/request.hpp"

#include <cstring>

namespace stockgrid {

namespace {
// FNV-1a, fed field by field with a tag per field so that moving a value from
// one field to another changes the fingerprint.
struct hasher {
  std::uint64_t h = 14695981039346656037ull;
  void bytes(const void* p, std::size_t n) {
    auto b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  }
  void tag(char t) { bytes(&t, 1); }
  void str(char t, std::string_view s) {
    tag(t);
    std::uint64_t n = s.size();
    bytes(&n, sizeof n);
    bytes(s.data(), s.size());
  }
  void num(char t, std::int64_t v) {
    tag(t);
    bytes(&v, sizeof v);
  }
};
}  // namespace

std::uint64_t request_fingerprint(const request& req) {
  hasher h;
  h.num('o', static_cast<std::int64_t>(req.kind));
  h.str('t', req.key.tenant);
  h.str('w', req.key.warehouse);
  h.str('s', req.key.sku);
  h.str('h', req.hold);
  h.num('q', req.qty ? *req.qty : -1);
  h.tag(req.qty ? 'Q' : 'N');
  h.num('d', req.delta);
  h.num('n', req.on_hand);
  h.tag(req.expected_version ? 'V' : 'N');
  h.num('v', req.expected_version.value_or(0));
  h.num('l', req.ttl_ms);
  h.str('r', req.ref);
  h.str('R', req.reason);
  // Policy fields only when present, so fingerprints journaled before they
  // existed still match their requests.
  if (req.safety_stock) h.num('S', *req.safety_stock);
  if (req.allow_backorder) h.num('B', *req.allow_backorder ? 1 : 0);
  if (req.low_stock_threshold) h.num('L', *req.low_stock_threshold);
  return h.h;
}

}  // namespace stockgrid
