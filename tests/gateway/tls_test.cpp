// The gateway with a certificate and key configured: HTTPS and wss on the
// same port, nothing in plain text. The certificate is made up by the test.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/gateway/fixtures.hpp"

namespace stockgrid::gateway_test {
namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A self-signed certificate for "localhost" and its key, as PEM.
struct certificate {
  std::string cert_pem;
  std::string key_pem;
};

certificate make_certificate() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  REQUIRE(key);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost");
  REQUIRE(san);
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

  certificate out;
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  out.cert_pem = bio_text(cert_bio.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_text(key_bio.get());
  return out;
}

struct temp_dir {
  temp_dir()
      : path(std::filesystem::temp_directory_path() /
             ("stockgrid-gateway-tls-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path / name;
    std::ofstream(file) << text;
    return file.string();
  }
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("gateway: with a certificate the port speaks HTTPS and wss only", "[gateway]") {
  const certificate cert = make_certificate();
  temp_dir dir;
  auto settings = test_settings();
  settings.tls_cert_file = dir.write("cert.pem", cert.cert_pem);
  settings.tls_key_file = dir.write("key.pem", cert.key_pem);
  running_server s(settings);

  tls_options tls;
  tls.enabled = true;
  tls.ca_pem = cert.cert_pem;
  auto health = http_get(s.server.port(), "/healthz", tls);
  CHECK(health.status == 200);
  CHECK(health.body == "ok");
  CHECK(http_get(s.server.port(), "/readyz", tls).status == 200);

  client_options options;
  options.tls = tls;
  options.upgrade_headers = {{"Authorization", "Bearer reader-token"}};
  auto client = s.connect(options);
  client->send_text(R"({"op":"stock.get","id":1,"warehouse":"WH-1","sku":"S"})");
  auto answer = client->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
  client->send(json(R"({"op":"ping","id":2})"), protocol::encoding::msgpack);
  answer = client->read_value();
  REQUIRE(answer);
  CHECK(id_of(*answer) == 2);

  // Plain HTTP to the TLS port gets nothing useful.
  CHECK(http_get(s.server.port(), "/healthz").status == 0);

  // A graceful stop reaches TLS connections too.
  std::thread stopper([&] { s.server.stop(); });
  CHECK(client->wait_close() == 1001);
  stopper.join();
}

TEST_CASE("gateway: start fails on unreadable TLS files", "[gateway]") {
  gateway::stub_dispatcher stub;
  gateway::stub_authenticator auth;
  auto settings = test_settings();
  settings.tls_cert_file = "/nonexistent/cert.pem";
  settings.tls_key_file = "/nonexistent/key.pem";
  gateway::server server(settings, stub, auth, [] { return true; });
  std::string error;
  CHECK_FALSE(server.start(&error));
  CHECK(error.find("tls_cert_file") != std::string::npos);
}

}  // namespace stockgrid::gateway_test
