#include "auth/tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/limits.hpp"

namespace stockgrid::auth {

namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::optional<std::string> random_hex(std::size_t n) {
  auto bytes = random_bytes(n);
  if (!bytes) return std::nullopt;
  std::string hex = to_hex(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return hex;
}

constexpr std::size_t key_id_chars = 2 * limits::key_id_random_bytes;
constexpr std::size_t secret_chars = 2 * limits::secret_random_bytes;

}  // namespace

std::optional<token_parts> parse_token(std::string_view token) {
  if (token.size() != token_prefix.size() + key_id_chars + 1 + secret_chars) return std::nullopt;
  if (!token.starts_with(token_prefix)) return std::nullopt;
  token.remove_prefix(token_prefix.size());
  const std::string_view key_id = token.substr(0, key_id_chars);
  if (token[key_id_chars] != '_') return std::nullopt;
  const std::string_view secret = token.substr(key_id_chars + 1);
  if (!is_lower_hex(key_id) || !is_lower_hex(secret)) return std::nullopt;
  return token_parts{key_id, secret};
}

std::string format_token(std::string_view key_id, std::string_view secret) {
  std::string token;
  token.reserve(token_prefix.size() + key_id.size() + 1 + secret.size());
  token.append(token_prefix).append(key_id).append(1, '_').append(secret);
  return token;
}

std::optional<std::string> random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    return std::nullopt;
  return out;
}

std::optional<std::string> generate_key_id() { return random_hex(limits::key_id_random_bytes); }
std::optional<std::string> generate_secret() { return random_hex(limits::secret_random_bytes); }

std::optional<std::string> generate_system_token() {
  auto secret = generate_secret();
  if (!secret) return std::nullopt;
  return format_token(system_key_id, *secret);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (unsigned char b : bytes) {
    hex.push_back(digits[b >> 4]);
    hex.push_back(digits[b & 0x0f]);
  }
  return hex;
}

std::string hash_secret(std::string_view salt, std::string_view secret) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), salt.data(), static_cast<int>(salt.size()),
            reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
            reinterpret_cast<unsigned char*>(out.data()), &size))
    return {};
  out.resize(size);
  return out;
}

bool verify_secret(hash_scheme scheme, std::string_view salt, std::string_view secret,
                   std::string_view expected) {
  if (scheme != hash_scheme::hmac_sha256) return false;
  const std::string actual = hash_secret(salt, secret);
  if (actual.size() != limits::hash_bytes || expected.size() != actual.size()) return false;
  return CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) == 0;
}

}  // namespace stockgrid::auth
