// Fuzz target: bytes one node receives from another (cluster/wire.hpp), as
// the cluster actor hands them to the decoder: a peer message (journal
// batches, acknowledgements, votes, cuts, forwarded requests and their
// answers, who leads what), and a lone request and reply.
//
// Oracles besides the sanitizers: whatever decodes encodes to bytes that
// decode again, and encoding that gives the same bytes (nothing is read
// that encode would not write back).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/wire.hpp"

namespace {

using namespace stockgrid;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "cluster_wire: %s: %s\n", what, detail.c_str());
  std::abort();
}

template <class T>
void round_trip(std::string_view bytes, const char* what) {
  T first;
  std::string error;
  if (!cluster::decode(bytes, &first, &error)) {
    if (error.empty()) fail(what, "refused without a reason");
    return;
  }
  const std::string encoded = cluster::encode(first);
  T again;
  if (!cluster::decode(encoded, &again, &error)) fail(what, "encoded bytes do not decode: " + error);
  if (cluster::encode(again) != encoded) fail(what, "decode(encode(x)) encodes differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  round_trip<cluster::peer_message>(bytes, "peer message");
  round_trip<request>(bytes, "request");
  round_trip<reply>(bytes, "reply");
  return 0;
}
