// API tokens: their format, how they are drawn, and the salted hash that is
// all the key store keeps of them. Tokens are secrets: nothing in auth/ logs
// one, and no message built here contains one.
//
// Key token (84 ASCII characters), e.g. sg_3f9c0a1b2c3d4e5f_<64 hex digits>:
//
//   sg_<key_id>_<secret>
//   key_id  16 lowercase hex digits (8 random bytes). It names the key's row,
//           so authentication is one look-up, never a scan over hashes. It is
//           not secret: key.list shows it.
//   secret  64 lowercase hex digits (32 bytes from OpenSSL's RAND_bytes).
//
// System token: it may come verbatim from the environment
// (STOCKGRID_ADMIN_TOKEN: 16..1024 printable ASCII characters), so it has no
// structure to parse. Its row has key_id "system" and its secret is the whole
// token string. A generated system token reads `sg_system_<64 hex digits>`
// so people recognise it, but it is verified the same way: as a whole string.
//
// Hashing: hash = HMAC-SHA256(key = salt, message = secret), with a random
// 16-byte salt per key; rows keep the salt, the hash and a scheme id, never
// the secret. A slow KDF (PBKDF2, scrypt) is not used on purpose: it slows
// down guessing of low-entropy passwords, but a generated secret has 256 bits
// of entropy that no guessing covers, while authentication runs on a gateway
// thread for every connection, where milliseconds of KDF per attempt would be
// latency and an easy CPU-exhaustion target. The salt keeps equal secrets
// from hashing alike and rules out precomputed tables. The one low-entropy
// risk is an operator-chosen system token; docs recommend `openssl rand -hex 32`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stockgrid::auth {

inline constexpr std::string_view token_prefix = "sg_";
// The key id of the one system key.
inline constexpr std::string_view system_key_id = "system";

// How a key's hash was computed; stored with each key. Never renumber; 0 is
// reserved.
enum class hash_scheme : unsigned char { hmac_sha256 = 1 };

struct token_parts {
  std::string_view key_id;
  std::string_view secret;
};

// The parts of a well-formed key token; nullopt for anything else (a system
// token included). Views into `token`.
std::optional<token_parts> parse_token(std::string_view token);
std::string format_token(std::string_view key_id, std::string_view secret);

// Random values from OpenSSL's CSPRNG; nullopt if it fails (an operating
// error: the caller refuses the operation).
std::optional<std::string> random_bytes(std::size_t n);
std::optional<std::string> generate_key_id();  // 16 hex digits
std::optional<std::string> generate_secret();  // 64 hex digits
// A system token `sg_system_<64 hex digits>`.
std::optional<std::string> generate_system_token();

std::string to_hex(std::string_view bytes);

// HMAC-SHA256(salt, secret): 32 raw bytes (empty only if OpenSSL fails).
std::string hash_secret(std::string_view salt, std::string_view secret);
// Whether `secret` hashes to `expected` under `salt`, compared in constant
// time (CRYPTO_memcmp). The length is not secret: a hash of the wrong length
// never matches.
bool verify_secret(hash_scheme scheme, std::string_view salt, std::string_view secret,
                   std::string_view expected);

}  // namespace stockgrid::auth
