#include <catch2/catch.hpp>

#include <string>

#include "persistence/crc32c.hpp"

using stockgrid::persistence::crc32c;

TEST_CASE("crc32c matches the published check values") {
  const std::string digits = "123456789";
  CHECK(crc32c(digits.data(), digits.size()) == 0xE3069283u);  // RFC 3720 / iSCSI check value
  CHECK(crc32c("", 0) == 0u);
  const std::string zeros(32, '\0');
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720 B.4
  const std::string ones(32, '\xff');
  CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
}

TEST_CASE("crc32c can be continued over split input") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7);
  const auto whole = crc32c(text.data(), text.size());
  for (std::size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u})
    CHECK(crc32c(text.data() + cut, text.size() - cut, crc32c(text.data(), cut)) == whole);
}
