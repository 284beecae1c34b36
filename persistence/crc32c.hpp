// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum stored
// with every journal and snapshot row (see format.hpp). Software tables
// (slicing-by-8), so the result does not depend on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace stockgrid::persistence {

// The CRC of `size` bytes at `data`. Pass a previous result as `init` to
// continue a CRC over more bytes: crc32c(b, nb, crc32c(a, na)) equals the CRC
// of a followed by b.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t init = 0);

}  // namespace stockgrid::persistence
