// The client library against the real gateway on a real socket, with a
// dispatcher the test controls (the stub's answers, held back or replaced by
// retryable errors on demand): connecting, pipelining in both encodings,
// idempotency keys, resending after a dropped connection, retries of
// TIMEOUT and UNAVAILABLE answers, request timeouts, the bounded queue,
// giving up on reconnecting, closing, and wss://.
// Boost 1.74's Asio needs <utility> first under C++20.
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "gateway/server.hpp"
#include "gateway/stub_dispatcher.hpp"

using namespace stockgrid;
using namespace std::chrono_literals;
using client::value;

namespace {

// Answers like the stub dispatcher, but the test may hold answers back, or
// answer the first few mutations with an error code.
class test_dispatcher : public gateway::dispatcher {
 public:
  void dispatch(const gateway::principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override {
    const std::string idem = req.op == "stock.bulk" ? req.idem : req.grid.idem;
    const std::string op = req.op;
    const auto id = req.id;
    protocol::value answer;
    stub_.dispatch(who, std::move(req), [&answer](protocol::value v) { answer = std::move(v); });
    std::lock_guard lock(mutex_);
    seen_.push_back({op, idem});
    if (client::is_mutation_op(op) && failures_left_ > 0) {
      --failures_left_;
      protocol::object details;
      if (failure_ != outcome::timeout) details.emplace_back("retry_after_ms", 10);
      answer = protocol::error_response(id, failure_, "", std::move(details));
    }
    if (holding_) {
      held_.push_back({std::move(answer), std::move(done)});
    } else {
      done(std::move(answer));
    }
    changed_.notify_all();
  }

  void hold(bool on) {
    std::lock_guard lock(mutex_);
    holding_ = on;
  }
  // Answers the next `n` mutations with `code` instead.
  void fail_next(outcome code, int n) {
    std::lock_guard lock(mutex_);
    failure_ = code;
    failures_left_ = n;
  }
  // Answers everything held so far.
  void release_all() {
    std::vector<held> out;
    {
      std::lock_guard lock(mutex_);
      out.swap(held_);
    }
    for (auto& h : out) h.done(std::move(h.answer));
  }
  // Drops everything held without answering: the gateway would never answer
  // them on a dead connection anyway.
  void forget_held() {
    std::lock_guard lock(mutex_);
    for (auto& h : held_) h.done(protocol::value());
    held_.clear();
  }
  bool wait_seen(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return seen_.size() >= n; });
  }
  std::vector<std::pair<std::string, std::string>> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  struct held {
    protocol::value answer;
    std::function<void(protocol::value)> done;
  };
  gateway::stub_dispatcher stub_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, std::string>> seen_;  // (op, idem)
  std::vector<held> held_;
  bool holding_ = false;
  outcome failure_ = outcome::timeout;
  int failures_left_ = 0;
};

gateway::gateway_settings test_settings() {
  gateway::gateway_settings s;
  s.port = 0;
  s.io_threads = 2;
  return s;
}

struct running_server {
  explicit running_server(gateway::gateway_settings settings = test_settings())
      : server(std::move(settings), dispatch, auth, [] { return true; }) {
    std::string error;
    INFO(error);
    REQUIRE(server.start(&error));
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server.port()) + "/v1/ws"; }

  test_dispatcher dispatch;
  gateway::stub_authenticator auth;
  gateway::server server;
};

client::client_options quick_options() {
  client::client_options o;
  o.request_timeout = 5s;
  o.connect_timeout = 2s;
  o.reconnect.initial = 20ms;
  o.reconnect.max = 200ms;
  return o;
}

void connect(client::client& c, const std::string& url, const std::string& token = "writer-token") {
  const value answer = c.connect(url, token).get();
  INFO(client::to_json(answer));
  REQUIRE(client::is_ok(answer));
}

protocol::op_request get_request(const std::string& sku) {
  protocol::op_request r;
  r.op = "stock.get";
  r.grid.key.warehouse = "berlin";
  r.grid.key.sku = sku;
  return r;
}

bool is_hex_key(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("connect authenticates and reports the session") {
  running_server server;
  client::client c(quick_options());
  const value answer = c.connect(server.url(), "writer-token").get();
  REQUIRE(client::is_ok(answer));
  CHECK(client::lookup_string(answer, "role") == "writer");
  CHECK(client::lookup_string(answer, "tenant") == "demo");
  CHECK(client::lookup_string(c.session(), "role") == "writer");
  CHECK(client::is_ok(c.ping().get()));
  CHECK(c.stats().connects == 1);
}

TEST_CASE("a wrong token, an unreachable server, a bad URL and no connect fail clearly") {
  running_server server;
  {
    client::client c(quick_options());
    const value answer = c.connect(server.url(), "wrong-token").get();
    CHECK(client::error_code(answer) == "UNAUTHENTICATED");
    const value later = c.ping().get();
    CHECK(client::error_code(later) == "UNAUTHENTICATED");
    CHECK_THAT(client::error_message(later), Catch::Contains("authentication failed"));
  }
  {
    client::client c(quick_options());
    const value answer = c.connect("ws://127.0.0.1:1/v1/ws", "writer-token").get();
    CHECK(client::error_code(answer) == client::disconnected_code);
    CHECK_THAT(client::error_message(answer), Catch::Contains("refused"));
  }
  {
    client::client c(quick_options());
    CHECK(client::error_code(c.connect("http://x", "t").get()) == client::disconnected_code);
    CHECK(client::error_code(c.ping().get()) == client::disconnected_code);
  }
  {
    // A path the server does not serve: the upgrade is refused with 404.
    client::client c(quick_options());
    const value answer =
        c.connect("ws://127.0.0.1:" + std::to_string(server.server.port()) + "/v2/ws", "writer-token").get();
    CHECK(client::error_code(answer) == client::disconnected_code);
    CHECK_THAT(client::error_message(answer), Catch::Contains("HTTP 404"));
  }
}

TEST_CASE("requests called before the connection is up wait for it") {
  running_server server;
  client::client c(quick_options());
  auto connected = c.connect(server.url(), "writer-token");
  auto pong = c.ping();
  CHECK(client::is_ok(pong.get()));
  CHECK(client::is_ok(connected.get()));
}

TEST_CASE("many requests in flight are matched to their answers, in both encodings") {
  running_server server;
  for (auto enc : {protocol::encoding::msgpack, protocol::encoding::json}) {
    auto options = quick_options();
    options.encoding = enc;
    // The test is about matching, not speed: under ThreadSanitizer on a
    // busy machine the last of 3,000 answers came after quick_options' 5 s.
    options.request_timeout = 60s;
    client::client c(options);
    connect(c, server.url());
    constexpr int n = 3000;  // more than the server's in-flight window
    std::vector<std::future<value>> answers;
    for (int i = 0; i < n; ++i) answers.push_back(c.call(get_request("sku-" + std::to_string(i))));
    int matched = 0;
    std::string first_unmatched;
    for (int i = 0; i < n; ++i) {
      const value answer = answers[static_cast<std::size_t>(i)].get();
      const bool match = client::lookup_string(answer, "record.sku") == "sku-" + std::to_string(i);
      matched += match;
      if (!match && first_unmatched.empty()) first_unmatched = client::to_json(answer);
    }
    INFO("first unmatched answer: " << first_unmatched);
    CHECK(matched == n);
  }
}

TEST_CASE("mutations carry an idempotency key: the caller's or a random one") {
  running_server server;
  client::client c(quick_options());
  connect(c, server.url());
  REQUIRE(client::is_ok(c.reserve("berlin", "mug", 1).get()));
  REQUIRE(client::is_ok(c.reserve("berlin", "mug", 1, {.ttl_ms = 0, .ref = "", .idem = "mine-1"}).get()));
  REQUIRE(client::is_ok(c.get("berlin", "mug").get()));
  request item;
  item.kind = op::adjust;
  item.key.warehouse = "berlin";
  item.key.sku = "mug";
  item.delta = 1;
  REQUIRE(client::is_ok(c.bulk({item}).get()));
  const auto seen = server.dispatch.seen();
  REQUIRE(seen.size() == 4);
  CHECK(is_hex_key(seen[0].second));
  CHECK(seen[1].second == "mine-1");
  CHECK(seen[2].second.empty());  // reads carry none
  CHECK(seen[3].first == "stock.bulk");
  CHECK(is_hex_key(seen[3].second));
}

TEST_CASE("after a dropped connection, what was in flight is resent with the same keys") {
  running_server server;
  client::client c(quick_options());
  connect(c, server.url());
  server.dispatch.hold(true);
  constexpr int n = 50;
  std::vector<std::future<value>> answers;
  for (int i = 0; i < n; ++i) answers.push_back(c.reserve("berlin", "sku-" + std::to_string(i), 1));
  answers.push_back(c.get("berlin", "read-1"));
  REQUIRE(server.dispatch.wait_seen(n + 1));
  // The answers are lost with the connection; the resent requests are
  // answered at once.
  server.dispatch.hold(false);
  c.drop_connection();
  server.dispatch.forget_held();
  for (auto& a : answers) CHECK(client::is_ok(a.get()));

  const auto seen = server.dispatch.seen();
  REQUIRE(seen.size() == 2 * (n + 1));
  // Every mutation went out twice with one key; the read simply again.
  std::map<std::string, int> sends_by_key;
  for (int i = 0; i < n + 1; ++i) {
    CHECK(seen[static_cast<std::size_t>(i)].first == seen[static_cast<std::size_t>(n + 1 + i)].first);
    CHECK(seen[static_cast<std::size_t>(i)].second == seen[static_cast<std::size_t>(n + 1 + i)].second);
    ++sends_by_key[seen[static_cast<std::size_t>(i)].second];
  }
  CHECK(sends_by_key.size() == n + 1);  // n distinct keys, and "" for the read
  CHECK(c.stats().connects == 2);
  CHECK(c.stats().resends == n + 1);
}

TEST_CASE("TIMEOUT answers are resent with the same key; UNAVAILABLE after retry_after_ms") {
  running_server server;
  client::client c(quick_options());
  connect(c, server.url());

  server.dispatch.fail_next(outcome::timeout, 2);
  const value answer = c.sell("berlin", "mug", 1).get();
  CHECK(client::is_ok(answer));
  auto seen = server.dispatch.seen();
  REQUIRE(seen.size() == 3);
  CHECK(is_hex_key(seen[0].second));
  CHECK(seen[1].second == seen[0].second);
  CHECK(seen[2].second == seen[0].second);

  server.dispatch.fail_next(outcome::unavailable, 1);
  CHECK(client::is_ok(c.adjust("berlin", "mug", 5).get()));
  CHECK(server.dispatch.seen().size() == 5);

  // Past retries_max the error is the answer.
  server.dispatch.fail_next(outcome::overloaded, 100);
  const value refused = c.adjust("berlin", "mug", 5).get();
  CHECK(client::error_code(refused) == "OVERLOADED");
  CHECK(server.dispatch.seen().size() == 5 + 1 + quick_options().retries_max);
  server.dispatch.fail_next(outcome::overloaded, 0);

  // Refusals that are the answer are not resent.
  const std::size_t before = server.dispatch.seen().size();
  server.dispatch.fail_next(outcome::insufficient_stock, 1);
  CHECK(client::error_code(c.sell("berlin", "mug", 1).get()) == "INSUFFICIENT_STOCK");
  CHECK(server.dispatch.seen().size() == before + 1);
}

TEST_CASE("RATE_LIMITED is resent after retry_after_ms plus a random share of it") {
  using client::retry_delay;
  CHECK(retry_delay(100, 0.5, 0.0) == 100ms);  // never sooner than asked
  CHECK(retry_delay(100, 0.5, 0.5) == 125ms);
  CHECK(retry_delay(100, 0.5, 0.999) == 150ms);
  CHECK(retry_delay(100, 0.0, 0.9) == 100ms);  // no jitter
  CHECK(retry_delay(100, 7.0, 0.5) == 150ms);  // jitter clamped to 1
  CHECK(retry_delay(0, 0.5, 0.0) == 1ms);      // at least 1
  CHECK(retry_delay(3, 0.5, 0.1) == 4ms);      // rounded up

  running_server server;
  client::client c(quick_options());
  connect(c, server.url());
  server.dispatch.fail_next(outcome::rate_limited, 2);
  const auto start = std::chrono::steady_clock::now();
  CHECK(client::is_ok(c.adjust("berlin", "mug", 5).get()));
  CHECK(std::chrono::steady_clock::now() - start >= 20ms);  // two waits of at least 10 ms
  const auto seen = server.dispatch.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[2].second == seen[0].second);  // the same idempotency key
}

TEST_CASE("a request without an answer ends with a local TIMEOUT naming its key") {
  running_server server;
  auto options = quick_options();
  options.request_timeout = 300ms;
  client::client c(options);
  connect(c, server.url());
  server.dispatch.hold(true);
  const auto started = std::chrono::steady_clock::now();
  const value answer = c.reserve("berlin", "mug", 1, {.ttl_ms = 0, .ref = "", .idem = "k-7"}).get();
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(client::error_code(answer) == "TIMEOUT");
  CHECK(client::lookup(answer, "error.local") != nullptr);
  CHECK(client::lookup_string(answer, "error.idem") == "k-7");
  CHECK_THAT(client::error_message(answer), Catch::Contains("retry with the same idem"));
  CHECK(waited >= 300ms);
  CHECK(waited < 2s);
  // A late answer to it is ignored; the client goes on working.
  server.dispatch.release_all();
  server.dispatch.hold(false);
  CHECK(client::is_ok(c.ping().get()));
}

TEST_CASE("the pending queue is bounded: one more fails at once") {
  running_server server;
  auto options = quick_options();
  options.pending_max = 5;
  client::client c(options);
  connect(c, server.url());
  server.dispatch.hold(true);
  std::vector<std::future<value>> answers;
  for (int i = 0; i < 5; ++i) answers.push_back(c.get("berlin", "mug"));
  const value refused = c.get("berlin", "mug").get();
  CHECK(client::error_code(refused) == client::queue_full_code);
  CHECK_THAT(client::error_message(refused), Catch::Contains("pending_max"));
  server.dispatch.hold(false);
  REQUIRE(server.dispatch.wait_seen(5));
  server.dispatch.release_all();
  for (auto& a : answers) CHECK(client::is_ok(a.get()));
}

TEST_CASE("close fails what is waiting; later calls fail at once") {
  running_server server;
  client::client c(quick_options());
  connect(c, server.url());
  server.dispatch.hold(true);
  auto pending = c.reserve("berlin", "mug", 1);
  REQUIRE(server.dispatch.wait_seen(1));
  c.close();
  const value answer = pending.get();
  CHECK(client::error_code(answer) == client::disconnected_code);
  CHECK(is_hex_key(client::lookup_string(answer, "error.idem").value_or("")));
  CHECK(client::error_code(c.ping().get()) == client::disconnected_code);
  server.dispatch.release_all();
}

TEST_CASE("reconnecting gives up after attempts_max when the server is gone") {
  auto options = quick_options();
  options.reconnect.attempts_max = 3;
  client::client c(options);
  std::optional<running_server> server;
  server.emplace();
  connect(c, server->url());
  server->dispatch.hold(true);
  auto pending = c.get("berlin", "mug");
  REQUIRE(server->dispatch.wait_seen(1));
  server->dispatch.forget_held();
  server.reset();  // the gateway stops: close 1001, then nothing listens
  const value answer = pending.get();
  CHECK(client::error_code(answer) == client::disconnected_code);
  CHECK_THAT(client::error_message(answer), Catch::Contains("after 3 attempts"));
}

TEST_CASE("given several nodes, the client connects to one that answers and goes on through another when it goes") {
  auto options = quick_options();
  options.reconnect.attempts_max = 10;
  client::client c(options);
  std::optional<running_server> first;
  first.emplace();
  running_server second;
  // Nothing listens at the first URL: connect() goes on to the next.
  connect(c, "ws://127.0.0.1:1/v1/ws," + first->url() + "," + second.url());
  CHECK(client::is_ok(c.get("berlin", "mug").get()));
  CHECK(first->dispatch.seen().size() == 1);

  // A reserve in flight when its node stops is resent, with its key, to
  // the next node that answers (the first URL still refuses).
  first->dispatch.hold(true);
  auto pending = c.reserve("berlin", "mug", 1);
  REQUIRE(first->dispatch.wait_seen(2));
  const std::string key = first->dispatch.seen().back().second;
  first->dispatch.forget_held();
  first.reset();  // close 1001, then nothing listens
  const value answer = pending.get();
  INFO(client::to_json(answer));
  CHECK(client::is_ok(answer));
  const auto seen = second.dispatch.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].first == "stock.reserve");
  CHECK(seen[0].second == key);
  CHECK(c.stats().connects == 2);
}

TEST_CASE("a client on the caller's io_context") {
  running_server server;
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  {
    client::client c(io, quick_options());
    connect(c, server.url());
    std::promise<value> got;
    c.call(get_request("mug"), [&got](value v) { got.set_value(std::move(v)); });
    CHECK(client::lookup_string(got.get_future().get(), "record.sku") == "mug");
  }
  // The client's close finishes on the caller's io_context.
  work.reset();
  runner.join();
}

namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A self-signed certificate for "localhost" and its key, as PEM.
std::pair<std::string, std::string> make_certificate() {
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
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

}  // namespace

TEST_CASE("wss:// verifies the server's certificate") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("stockgrid-client-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto [cert_pem, key_pem] = make_certificate();
  std::ofstream(dir / "cert.pem") << cert_pem;
  std::ofstream(dir / "key.pem") << key_pem;
  auto settings = test_settings();
  settings.tls_cert_file = (dir / "cert.pem").string();
  settings.tls_key_file = (dir / "key.pem").string();
  {
    running_server server(settings);
    const std::string url = "wss://localhost:" + std::to_string(server.server.port()) + "/v1/ws";
    {
      auto options = quick_options();
      options.tls_ca_file = (dir / "cert.pem").string();
      client::client c(options);
      connect(c, url);
      CHECK(client::is_ok(c.get("berlin", "mug").get()));
    }
    {
      client::client c(quick_options());  // the system's CAs do not know it
      const value answer = c.connect(url, "writer-token").get();
      CHECK(client::error_code(answer) == client::disconnected_code);
      CHECK_THAT(client::error_message(answer), Catch::Contains("TLS"));
    }
    {
      auto options = quick_options();
      options.tls_verify = false;
      client::client c(options);
      connect(c, url);
      CHECK(client::is_ok(c.ping().get()));
    }
  }
  std::filesystem::remove_all(dir);
}
