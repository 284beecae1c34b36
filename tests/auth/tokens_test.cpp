// Token format, randomness and the salted hash.
#include "auth/tokens.hpp"

#include <catch2/catch.hpp>
#include <set>

#include "auth/limits.hpp"

namespace stockgrid::auth {
namespace {

TEST_CASE("a key token reads sg_<16 hex>_<64 hex> and parses back", "[auth][tokens]") {
  const auto key_id = generate_key_id();
  const auto secret = generate_secret();
  REQUIRE(key_id);
  REQUIRE(secret);
  CHECK(key_id->size() == 16);
  CHECK(secret->size() == 64);
  const std::string token = format_token(*key_id, *secret);
  CHECK(token.size() == 84);
  CHECK(token.starts_with("sg_"));
  const auto parts = parse_token(token);
  REQUIRE(parts);
  CHECK(parts->key_id == *key_id);
  CHECK(parts->secret == *secret);
}

TEST_CASE("anything but a well-formed key token does not parse", "[auth][tokens]") {
  const std::string good = format_token(std::string(16, 'a'), std::string(64, 'b'));
  REQUIRE(parse_token(good));
  CHECK_FALSE(parse_token(""));
  CHECK_FALSE(parse_token("sg_"));
  CHECK_FALSE(parse_token(good.substr(0, good.size() - 1)));                           // short
  CHECK_FALSE(parse_token(good + "0"));                                                // long
  CHECK_FALSE(parse_token("xx" + good.substr(2)));                                     // prefix
  CHECK_FALSE(parse_token(format_token(std::string(16, 'A'), std::string(64, 'b'))));  // upper case
  CHECK_FALSE(parse_token(format_token(std::string(16, 'a'), std::string(63, 'b') + "_")));
  CHECK_FALSE(parse_token(format_token(std::string(15, 'a') + "-", std::string(64, 'b'))));
  std::string shifted = good;
  shifted[19] = 'a';  // the separator
  CHECK_FALSE(parse_token(shifted));
  CHECK_FALSE(parse_token(std::string("sg_system_") + std::string(64, 'c')));  // system tokens
}

TEST_CASE("generated tokens are unique", "[auth][tokens]") {
  std::set<std::string> key_ids, secrets, system_tokens;
  for (int i = 0; i < 2000; ++i) {
    key_ids.insert(*generate_key_id());
    secrets.insert(*generate_secret());
    system_tokens.insert(*generate_system_token());
  }
  CHECK(key_ids.size() == 2000);
  CHECK(secrets.size() == 2000);
  CHECK(system_tokens.size() == 2000);
  CHECK(system_tokens.begin()->starts_with("sg_system_"));
  CHECK(system_tokens.begin()->size() == 10 + 64);
}

TEST_CASE("the hash is salted, never the secret, and verified in constant time", "[auth][tokens]") {
  const std::string secret = *generate_secret();
  const std::string salt_a = *random_bytes(limits::salt_bytes);
  const std::string salt_b = *random_bytes(limits::salt_bytes);
  const std::string hash_a = hash_secret(salt_a, secret);
  REQUIRE(hash_a.size() == 32);
  CHECK(hash_a != secret);
  CHECK(to_hex(hash_a) != secret);
  CHECK(hash_a.find(secret) == std::string::npos);
  CHECK(hash_secret(salt_b, secret) != hash_a);  // same secret, other salt
  CHECK(hash_secret(salt_a, secret) == hash_a);  // deterministic

  CHECK(verify_secret(hash_scheme::hmac_sha256, salt_a, secret, hash_a));
  std::string wrong = secret;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  CHECK_FALSE(verify_secret(hash_scheme::hmac_sha256, salt_a, wrong, hash_a));
  CHECK_FALSE(verify_secret(hash_scheme::hmac_sha256, salt_b, secret, hash_a));
  CHECK_FALSE(verify_secret(hash_scheme::hmac_sha256, salt_a, secret, hash_a.substr(1)));
  CHECK_FALSE(verify_secret(hash_scheme::hmac_sha256, salt_a, secret, ""));
  CHECK_FALSE(verify_secret(static_cast<hash_scheme>(0), salt_a, secret, hash_a));
}

TEST_CASE("to_hex writes two lowercase digits per byte", "[auth][tokens]") {
  CHECK(to_hex(std::string("\x00\x0f\xa0\xff", 4)) == "000fa0ff");
  CHECK(to_hex("") == "");
}

}  // namespace
}  // namespace stockgrid::auth
