// TLS between cluster nodes (actors/cluster.hpp, docs/cluster.md): CAF
// 0.17.6's OpenSSL module, with this node's files checked first.
//
// What the module does with all three files set (its session code, and
// measured: docs/cluster.md): each connection is TLS with
// SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT on both sides, trusting
// only the CA file (OpenSSL's default locations are not loaded). So the
// node that accepts refuses a peer that shows no certificate or one the
// cluster's CA did not sign, and the node that connects refuses such a
// server. Host names and member ids are not compared with the certificate:
// any certificate the CA signed is accepted for any member.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "actors/cluster.hpp"

// CAF 0.17.6's OpenSSL session calls SSL_get_error after each SSL_accept,
// SSL_connect, SSL_read and SSL_write of its network thread, and never
// empties OpenSSL's per-thread error queue. SSL_get_error reads that queue
// first (OpenSSL requires it empty before each I/O call), so the errors a
// refused handshake leaves there made the next read of a healthy member's
// connection look failed: CAF closed it. Measured: each handshake of a peer
// without the cluster's certificate closed this node's connections to the
// other members. These definitions take the place of OpenSSL's for the
// whole process (the executable's symbols come first when libcaf_openssl's
// calls are bound) and empty the queue before each call, as OpenSSL asks;
// Boost.Asio, the gateway's TLS, already does the same before its calls.
namespace {

template <class F>
F openssl_function(const char* name) {
  auto* f = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
  if (f == nullptr) {
    std::fprintf(stderr, "stockgrid: cannot find OpenSSL's %s: %s\n", name, dlerror());
    std::abort();
  }
  return f;
}

}  // namespace

extern "C" {

int SSL_accept(SSL* ssl) {
  static const auto real = openssl_function<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

int SSL_connect(SSL* ssl) {
  static const auto real = openssl_function<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto real = openssl_function<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto real = openssl_function<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

}  // extern "C"

namespace stockgrid::actors {

namespace {

// OpenSSL's queued errors, as one line (empties the queue).
std::string openssl_errors() {
  std::string out;
  while (const auto code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    out += (out.empty() ? "" : "; ") + std::string(text);
  }
  return out.empty() ? "no reason given" : out;
}

}  // namespace

std::string check_cluster_tls(const config::cluster_settings& c) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx) return "cannot create an OpenSSL context: " + openssl_errors();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.tls_certificate.c_str()) != 1)
    return "tls-certificate: cannot load '" + c.tls_certificate + "': " + openssl_errors();
  // This also checks that the key is the certificate's ("key values mismatch").
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), c.tls_key.c_str(), SSL_FILETYPE_PEM) != 1)
    return "tls-key: cannot load '" + c.tls_key + "' as the unencrypted PEM key of tls-certificate: " +
           openssl_errors();
  if (SSL_CTX_load_verify_locations(ctx.get(), c.tls_ca.c_str(), nullptr) != 1)
    return "tls-ca: cannot load '" + c.tls_ca + "': " + openssl_errors();
  return {};
}

void configure_cluster(caf::actor_system_config& cfg, const config::cluster_settings& c) {
  cfg.load<caf::io::middleman>();
  if (!c.tls()) return;
  // Setting any of these turns on the module's certificate checks.
  cfg.openssl_certificate = c.tls_certificate;
  cfg.openssl_key = c.tls_key;
  cfg.openssl_cafile = c.tls_ca;
  cfg.load<caf::openssl::manager>();
}

}  // namespace stockgrid::actors
