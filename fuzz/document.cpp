// Fuzz target: the decoders of the document bodies kept in documents.db
// (persistence/document_format.hpp stores them as opaque bytes; orders/
// reads them at startup to resume open orders and transfers, and on every
// tenant.settings read): orders::decode for an order, a transfer and a
// tenant's settings.
//
// The input's first byte chooses the kind (0 order, 1 transfer, 2
// settings); the rest is the body.
//
// Oracle besides the sanitizers: a body that decodes re-encodes to a body
// that decodes to the same document (orders and transfers compare with ==),
// and encoding that gives the same bytes (the input itself may use other
// msgpack widths, so the input is not compared).
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "orders/order.hpp"
#include "orders/requests.hpp"
#include "orders/transfer.hpp"

namespace {

template <class Document>
void round_trip(std::string_view body, const char* kind) {
  Document d;
  if (!stockgrid::orders::decode(body, &d)) return;
  const std::string encoded = stockgrid::orders::encode(d);
  Document again;
  bool same = stockgrid::orders::decode(encoded, &again) &&
              stockgrid::orders::encode(again) == encoded;
  if constexpr (std::equality_comparable<Document>) same = same && again == d;
  if (!same) {
    std::fprintf(stderr, "document: a re-encoded %s does not decode to itself\n", kind);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: round_trip<stockgrid::orders::order>(body, "order"); break;
    case 1: round_trip<stockgrid::orders::transfer>(body, "transfer"); break;
    case 2: round_trip<stockgrid::orders::tenant_settings>(body, "tenant settings"); break;
  }
  return 0;
}
