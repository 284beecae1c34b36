// The gateway over a real socket: HTTP endpoints, authentication, both
// encodings, pipelining, bad input, limits, revocation and shutdown. The
// stub dispatcher answers; these tests are about the gateway, not the grid.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "tests/gateway/fixtures.hpp"

namespace stockgrid::gateway_test {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t invalid_payload = 1007;
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t too_big = 1009;

std::string get_request(std::int64_t id, const std::string& sku = "SKU-1") {
  return R"({"op":"stock.get","id":)" + std::to_string(id) +
         R"(,"warehouse":"WH-1","sku":")" + sku + R"("})";
}

// A field of the response's record.
std::string record_field(const protocol::value& response, std::string_view name) {
  const protocol::value* record = response.find("record");
  return record == nullptr ? "" : string_field(*record, name);
}

// Sends a ping and expects its answer (ok, or UNAUTHENTICATED before auth):
// the connection still works.
void expect_alive(ws_client& client, std::int64_t id = 900) {
  client.send_text(R"({"op":"ping","id":)" + std::to_string(id) + "}");
  auto answer = client.read_value();
  REQUIRE(answer);
  CHECK((is_ok(*answer) || error_code(*answer) == "UNAUTHENTICATED"));
  CHECK(id_of(*answer) == id);
}

// Records what the dispatcher is given, then answers like the stub.
class recording_dispatcher : public gateway::dispatcher {
 public:
  void dispatch(const gateway::principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override {
    {
      std::lock_guard lock(mutex);
      requests.push_back(req);
    }
    stub.dispatch(who, std::move(req), std::move(done));
  }
  std::mutex mutex;
  std::vector<protocol::op_request> requests;
  gateway::stub_dispatcher stub;
};

}  // namespace

TEST_CASE("gateway: /healthz, /readyz and unknown paths", "[gateway]") {
  running_server s;
  auto health = http_get(s.server.port(), "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok");
  CHECK(http_get(s.server.port(), "/readyz").status == 200);

  s.ready = false;  // e.g. still recovering
  CHECK(http_get(s.server.port(), "/readyz").status == 503);
  CHECK(http_get(s.server.port(), "/healthz").status == 200);
  s.ready = true;
  CHECK(http_get(s.server.port(), "/readyz").status == 200);

  CHECK(http_get(s.server.port(), "/nothing-here").status == 404);
  CHECK(http_get(s.server.port(), "/v1/ws").status == 426);  // no upgrade

  client_options other_path;
  other_path.target = "/v2/ws";
  CHECK(upgrade_status(s.server.port(), other_path) == 404);
  CHECK(upgrade_status(s.server.port()) == 101);
}

TEST_CASE("gateway: extra_http answers other paths", "[gateway]") {
  gateway::stub_dispatcher stub;
  gateway::stub_authenticator auth;
  gateway::server server(test_settings(), stub, auth, [] { return true; });
  server.extra_http = [](const gateway::http_request& req) -> std::optional<gateway::http_response> {
    if (req.path != "/metrics") return std::nullopt;
    gateway::http_response res;
    res.body = "requests 0\n";
    return res;
  };
  std::string error;
  REQUIRE(server.start(&error));
  auto metrics = http_get(server.port(), "/metrics?format=text");
  CHECK(metrics.status == 200);
  CHECK(metrics.body == "requests 0\n");
  CHECK(http_get(server.port(), "/other").status == 404);
}

TEST_CASE("gateway: draining turns /readyz 503, refuses upgrades and still answers health checks",
          "[gateway]") {
  running_server s;
  auto keep_alive = http_client::connect(s.server.port());
  REQUIRE(keep_alive);
  CHECK(keep_alive->get("/readyz").status == 200);
  auto open = s.connect_as("writer-token");

  s.server.begin_drain();
  CHECK(keep_alive->get("/readyz").status == 503);
  CHECK(keep_alive->get("/healthz").status == 200);
  // New connections still get health checks (a load balancer must see the
  // 503), but no WebSocket; the open one is still served.
  CHECK(http_get(s.server.port(), "/readyz").status == 503);
  CHECK(http_get(s.server.port(), "/healthz").status == 200);
  CHECK(upgrade_status(s.server.port()) == 503);
  open->send_text(get_request(2));
  auto answer = open->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
}

TEST_CASE("gateway: authentication by the upgrade's Authorization header", "[gateway]") {
  running_server s;
  client_options options;
  options.upgrade_headers = {{"Authorization", "Bearer writer-token"}};
  auto client = s.connect(options);
  client->send_text(get_request(1));
  auto answer = client->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
  CHECK(record_field(*answer, "warehouse") == "WH-1");

  // A wrong header token is refused before the upgrade.
  client_options wrong;
  wrong.upgrade_headers = {{"Authorization", "Bearer nope"}};
  CHECK(upgrade_status(s.server.port(), wrong) == 401);
  wrong.upgrade_headers = {{"Authorization", "Basic d3JpdGVyOng="}};
  CHECK(upgrade_status(s.server.port(), wrong) == 401);
}

TEST_CASE("gateway: authentication by a first auth frame", "[gateway]") {
  running_server s;
  auto client = s.connect();
  client->send_text(R"({"op":"auth","id":1,"token":"writer-token"})");
  auto answer = client->read_value();
  REQUIRE(answer);
  INFO(to_json(*answer));
  CHECK(is_ok(*answer));
  CHECK(id_of(*answer) == 1);
  CHECK(string_field(*answer, "tenant") == "demo");
  CHECK(string_field(*answer, "role") == "writer");
  CHECK(string_field(*answer, "server_version") == "0.1.0");
  const protocol::value* limits = answer->find("limits");
  REQUIRE(limits);
  REQUIRE(limits->find("frame_bytes_max"));
  CHECK(*limits->find("frame_bytes_max")->as_int() == 65536);
  REQUIRE(limits->find("in_flight_max"));
  CHECK(*limits->find("in_flight_max")->as_int() == 4096);

  // A second auth on the same connection is refused; the first stands.
  client->send_text(R"({"op":"auth","id":2,"token":"reader-token"})");
  answer = client->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "BAD_REQUEST");
  client->send_text(R"({"op":"stock.adjust","id":3,"warehouse":"WH-1","sku":"S","delta":1})");
  answer = client->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
}

TEST_CASE("gateway: before auth every op but auth is UNAUTHENTICATED", "[gateway]") {
  running_server s;
  auto client = s.connect();
  client->send_text(get_request(1));
  auto answer = client->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "UNAUTHENTICATED");
  CHECK(id_of(*answer) == 1);
  expect_alive(*client, 2);
  CHECK(s.stub.dispatched() == 0);
}

TEST_CASE("gateway: three wrong tokens close the connection with 1008", "[gateway]") {
  running_server s;
  auto client = s.connect();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    client->send_text(R"({"op":"auth","id":)" + std::to_string(attempt) +
                      R"(,"token":"wrong-token"})");
    auto answer = client->read_value();
    REQUIRE(answer);
    CHECK(error_code(*answer) == "UNAUTHENTICATED");
    CHECK(id_of(*answer) == attempt);
  }
  CHECK(client->wait_close() == policy_violation);
}

TEST_CASE("gateway: no auth within auth_timeout_ms closes with 1008", "[gateway]") {
  auto settings = test_settings();
  settings.auth_timeout_ms = 200;
  running_server s(settings);
  auto client = s.connect();
  expect_alive(*client, 1);  // a ping is not an authentication
  const auto start = clock_type::now();
  CHECK(client->wait_close(3s) == policy_violation);
  CHECK(clock_type::now() - start < 2s);

  // An authenticated connection outlives the timeout.
  auto authenticated = s.connect_as("reader-token");
  std::this_thread::sleep_for(300ms);
  expect_alive(*authenticated);
}

TEST_CASE("gateway: a response uses its request's encoding", "[gateway]") {
  running_server s;
  auto client = s.connect_as("reader-token");

  client->send_text(get_request(1, "JSON-SKU"));
  bool text = false;
  auto answer = client->read_value(5s, &text);
  REQUIRE(answer);
  CHECK(text);
  CHECK(id_of(*answer) == 1);
  CHECK(record_field(*answer, "sku") == "JSON-SKU");

  protocol::value request = json(R"({"op":"stock.get","id":2,"warehouse":"WH-1","sku":"MP-SKU"})");
  client->send(request, protocol::encoding::msgpack);
  answer = client->read_value(5s, &text);
  REQUIRE(answer);
  CHECK_FALSE(text);
  CHECK(id_of(*answer) == 2);
  CHECK(record_field(*answer, "sku") == "MP-SKU");

  // Errors too.
  client->send(json(R"({"op":"stock.nope","id":3})"), protocol::encoding::msgpack);
  answer = client->read_value(5s, &text);
  REQUIRE(answer);
  CHECK_FALSE(text);
  CHECK(error_code(*answer) == "UNKNOWN_OP");
  CHECK(id_of(*answer) == 3);
}

TEST_CASE("gateway: the tenant and key come from the token", "[gateway]") {
  recording_dispatcher recorder;
  running_server s(test_settings(), &recorder);
  auto client = s.connect_as("writer-token");
  client->send_text(R"({"op":"stock.adjust","id":2,"warehouse":"WH-1","sku":"S","delta":3})");
  client->send_text(
      R"({"op":"stock.bulk","id":3,"items":[{"op":"adjust","warehouse":"WH-1","sku":"A","delta":1},)"
      R"({"op":"set","warehouse":"WH-2","sku":"B","on_hand":5}]})");
  for (int i = 0; i < 2; ++i) {
    auto answer = client->read_value();
    REQUIRE(answer);
    INFO(to_json(*answer));
    CHECK(is_ok(*answer));
  }
  std::lock_guard lock(recorder.mutex);
  REQUIRE(recorder.requests.size() == 2);
  CHECK(recorder.requests[0].grid.key.tenant == "demo");
  CHECK(recorder.requests[0].grid.key_id == "demo-writer");
  REQUIRE(recorder.requests[1].items.size() == 2);
  for (const auto& item : recorder.requests[1].items) {
    CHECK(item.key.tenant == "demo");
    CHECK(item.key_id == "demo-writer");
  }
}

TEST_CASE("gateway: roles are checked per op (FORBIDDEN)", "[gateway]") {
  running_server s;
  auto reader = s.connect_as("reader-token");
  reader->send_text(R"({"op":"stock.adjust","id":1,"warehouse":"WH-1","sku":"S","delta":1})");
  auto answer = reader->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "FORBIDDEN");
  CHECK(id_of(*answer) == 1);
  reader->send_text(get_request(2));
  answer = reader->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));

  auto writer = s.connect_as("writer-token");
  writer->send_text(R"({"op":"key.create","id":3,"role":"reader"})");
  answer = writer->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "FORBIDDEN");

  auto admin = s.connect_as("admin-token");
  admin->send_text(R"({"op":"key.create","id":4,"role":"reader"})");
  answer = admin->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
  admin->send_text(R"({"op":"tenant.list","id":5})");
  answer = admin->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "FORBIDDEN");

  auto system = s.connect_as("system-token");
  system->send_text(R"({"op":"tenant.list","id":6})");
  answer = system->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
}

TEST_CASE("gateway: 100 pipelined requests are all answered, matched by id", "[gateway]") {
  running_server s;
  auto client = s.connect_as("reader-token");
  for (int id = 1; id <= 100; ++id) {
    if (id % 2 == 0) {
      client->send_text(get_request(id));
    } else {
      client->send(json(get_request(id)), protocol::encoding::msgpack);
    }
  }
  std::set<std::int64_t> answered;
  for (int i = 0; i < 100; ++i) {
    auto answer = client->read_value();
    REQUIRE(answer);
    REQUIRE(is_ok(*answer));
    REQUIRE(id_of(*answer));
    answered.insert(*id_of(*answer));
  }
  CHECK(answered.size() == 100);
  CHECK(*answered.begin() == 1);
  CHECK(*answered.rbegin() == 100);
}

TEST_CASE("gateway: a second in-flight request with the same id is BAD_REQUEST", "[gateway]") {
  held_dispatcher held;
  running_server s(test_settings(), &held);
  auto client = s.connect_as("reader-token");
  client->send_text(get_request(7));
  REQUIRE(held.wait_received(1));
  client->send_text(get_request(7));
  auto answer = client->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "BAD_REQUEST");
  CHECK(id_of(*answer) == 7);

  held.release_all();
  answer = client->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
  CHECK(id_of(*answer) == 7);

  // Once answered, the id may be used again.
  client->send_text(get_request(7));
  REQUIRE(held.wait_received(2));
  held.release_all();
  answer = client->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
  CHECK(held.received() == 2);
}

TEST_CASE("gateway: at in_flight_per_connection_max the socket is not read", "[gateway]") {
  held_dispatcher held;
  auto settings = test_settings();
  settings.in_flight_per_connection_max = 4;
  settings.write_queue_max = 16;
  running_server s(settings, &held);
  auto client = s.connect_as("reader-token");
  for (int id = 1; id <= 10; ++id) client->send_text(get_request(id));

  REQUIRE(held.wait_received(4));
  std::this_thread::sleep_for(200ms);
  CHECK(held.received() == 4);  // the other 6 wait in the socket

  std::set<std::int64_t> answered;
  while (answered.size() < 10) {
    held.release_all();
    auto answer = client->read_value();
    REQUIRE(answer);
    REQUIRE(is_ok(*answer));
    answered.insert(*id_of(*answer));
    held.wait_received(std::min<std::size_t>(answered.size() + 4, 10), 1s);
  }
  CHECK(held.received() == 10);
}

TEST_CASE("gateway: unparseable frames get BAD_REQUEST with id null", "[gateway]") {
  running_server s;
  auto client = s.connect_as("reader-token");
  const std::string garbage[] = {"{not json", "[1,2,3]", "", "{\"op\":\"ping\",\"id\":"};
  for (const std::string& frame : garbage) {
    client->send_text(frame);
    auto answer = client->read_value();
    REQUIRE(answer);
    INFO(frame << " -> " << to_json(*answer));
    CHECK(error_code(*answer) == "BAD_REQUEST");
    REQUIRE(answer->find("id"));
    CHECK(answer->find("id")->is_null());
  }
  client->send_binary(std::string("\x82\xa2op", 4));  // truncated msgpack map
  auto answer = client->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "BAD_REQUEST");
  expect_alive(*client);
}

TEST_CASE("gateway: huge declared msgpack lengths are BAD_REQUEST", "[gateway]") {
  running_server s;
  auto client = s.connect_as("reader-token");
  const std::string frames[] = {
      std::string("\xdf\xff\xff\xff\xff", 5),                     // map32 of 4G entries
      std::string("\x81\xa2op\xdb\xff\xff\xff\xff", 9),           // str32 of 4 GiB
      std::string("\x81\xa2op\xdd\xff\xff\xff\xff", 9),           // array32 of 4G items
      std::string("\x81\xa2op\xc6\x7f\xff\xff\xff" "abc", 12),    // bin32 of 2 GiB
  };
  for (const std::string& frame : frames) {
    client->send_binary(frame);
    bool text = true;
    auto answer = client->read_value(5s, &text);
    REQUIRE(answer);
    CHECK_FALSE(text);
    CHECK(error_code(*answer) == "BAD_REQUEST");
    CHECK(answer->find("id")->is_null());
  }
  expect_alive(*client);
}

TEST_CASE("gateway: a text frame that is not UTF-8 closes with 1007", "[gateway]") {
  running_server s;
  auto client = s.connect_as("reader-token");
  client->send_text("{\"op\":\"ping\",\"id\":1,\"x\":\"\xff\xfe\"}");
  CHECK(client->wait_close() == invalid_payload);
}

TEST_CASE("gateway: a frame over frame_bytes_max closes with 1009", "[gateway]") {
  auto settings = test_settings();
  settings.frame_bytes_max = 1024;
  running_server s(settings);
  auto client = s.connect_as("reader-token");
  const std::string padding(2000, 'x');
  client->send_text(R"({"op":"ping","id":1,"pad":")" + padding + R"("})");
  CHECK(client->wait_close() == too_big);

  // Up to the limit is fine.
  auto other = s.connect_as("reader-token");
  other->send_text(R"({"op":"ping","id":1,"pad":")" + std::string(900, 'x') + R"("})");
  auto answer = other->read_value();
  REQUIRE(answer);
}

TEST_CASE("gateway: a client that answers no ping is dropped after idle_timeout_ms",
          "[gateway]") {
  auto settings = test_settings();
  settings.idle_timeout_ms = 1000;  // ping after 500 ms, drop after 1 s
  running_server s(settings);
  auto silent = s.connect_as("reader-token");
  auto active = s.connect_as("reader-token");
  // The active client keeps talking (and pongs while it reads); the silent
  // one reads nothing, so it never pongs.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(200ms);
    expect_alive(*active, i);
  }
  CHECK(silent->wait_close(2s) != -1);
  CHECK(s.wait_connections(1));
}

TEST_CASE("gateway: revoking a key closes its open connections with 1008", "[gateway]") {
  running_server s;
  auto writer = s.connect_as("writer-token");
  auto reader = s.connect_as("reader-token");
  expect_alive(*writer);

  const auto start = clock_type::now();
  s.auth.revoke("demo-writer");
  CHECK(writer->wait_close(3s) == policy_violation);
  CHECK(clock_type::now() - start < 1500ms);

  expect_alive(*reader);  // another key of the same tenant is untouched
  // The revoked token no longer authenticates.
  auto again = s.connect();
  again->send_text(R"({"op":"auth","id":1,"token":"writer-token"})");
  auto answer = again->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "UNAUTHENTICATED");
}

TEST_CASE("gateway: a misbehaving connection does not disturb the others", "[gateway]") {
  auto settings = test_settings();
  settings.frame_bytes_max = 1024;
  running_server s(settings);
  auto good = s.connect_as("writer-token");

  auto bad = s.connect_as("writer-token");
  bad->send_text("{{{{");
  bad->send_binary(std::string("\xc1\xc1\xc1", 3));  // never-used msgpack bytes
  bad->send_text("\xff");
  CHECK(bad->wait_close() != -1);

  auto big = s.connect_as("writer-token");
  big->send_binary(std::string(4096, '\x90'));
  const int big_close = big->wait_close();
  INFO(big->last_error);
  CHECK(big_close == too_big);

  auto silent = s.connect();  // never authenticates, holds a slot
  expect_alive(*good, 1);
  good->send_text(get_request(2));
  auto answer = good->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
}

TEST_CASE("gateway: connections per tenant are limited", "[gateway]") {
  auto settings = test_settings();
  settings.connections_per_tenant_max = 1;
  running_server s(settings);
  auto first = s.connect_as("writer-token");

  auto second = s.connect();
  second->send_text(R"({"op":"auth","id":1,"token":"reader-token"})");  // same tenant
  auto answer = second->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "LIMIT_EXCEEDED");
  CHECK(second->wait_close() == policy_violation);

  // The system role counts as a tenant of its own.
  auto system = s.connect_as("system-token");
  expect_alive(*system);
  expect_alive(*first);

  // Once the first leaves, its slot is free again.
  first->close();
  REQUIRE(s.wait_connections(1));  // the system connection
  auto third = s.connect_as("reader-token");
  expect_alive(*third);
}

TEST_CASE("gateway: connections_max refuses further upgrades with 503", "[gateway]") {
  auto settings = test_settings();
  settings.connections_max = 1;
  running_server s(settings);
  auto first = s.connect();
  CHECK(upgrade_status(s.server.port()) == 503);
  expect_alive(*first);
}

TEST_CASE("gateway: the Origin allow-list guards the upgrade", "[gateway]") {
  auto settings = test_settings();
  settings.origin_allow = {"https://shop.example.com"};
  running_server s(settings);
  client_options evil;
  evil.upgrade_headers = {{"Origin", "https://evil.example.com"}};
  CHECK(upgrade_status(s.server.port(), evil) == 403);

  client_options shop;
  shop.upgrade_headers = {{"Origin", "https://shop.example.com"}};
  auto allowed = s.connect(shop);
  expect_alive(*allowed);
  auto no_origin = s.connect();  // not a browser
  expect_alive(*no_origin);
}

TEST_CASE("gateway: stop writes in-flight answers, then closes with 1001", "[gateway]") {
  held_dispatcher held;
  running_server s(test_settings(), &held);
  auto client = s.connect_as("writer-token");
  client->send_text(get_request(5));
  REQUIRE(held.wait_received(1));

  std::thread stopper([&] { s.server.stop(); });
  std::this_thread::sleep_for(100ms);
  held.release_all();

  auto answer = client->read_value();
  REQUIRE(answer);
  CHECK(is_ok(*answer));
  CHECK(id_of(*answer) == 5);
  CHECK(client->wait_close() == going_away);
  stopper.join();
  CHECK(s.server.connections() == 0);
}

TEST_CASE("gateway: stop does not wait for a dispatcher that never answers", "[gateway]") {
  held_dispatcher held;  // never released
  auto settings = test_settings();
  settings.close_timeout_ms = 200;
  running_server s(settings, &held);
  auto client = s.connect_as("writer-token");
  client->send_text(get_request(5));
  REQUIRE(held.wait_received(1));
  const auto start = clock_type::now();
  s.server.stop();
  CHECK(clock_type::now() - start < 3s);
  CHECK(client->wait_close() != -1);
  held.release_all();  // a late answer after stop is dropped safely
}

TEST_CASE("gateway: start refuses invalid settings", "[gateway]") {
  gateway::stub_dispatcher stub;
  gateway::stub_authenticator auth;
  auto settings = test_settings();
  settings.write_queue_max = settings.in_flight_per_connection_max;
  settings.tls_cert_file = "cert.pem";  // without a key
  gateway::server server(settings, stub, auth, [] { return true; });
  std::string error;
  CHECK_FALSE(server.start(&error));
  CHECK(error.find("write_queue_max") != std::string::npos);
  CHECK(error.find("tls_key_file") != std::string::npos);
}

}  // namespace stockgrid::gateway_test

namespace stockgrid::gateway_test {
namespace {

client_options batch_client() {
  client_options o;
  o.upgrade_headers = {{"Authorization", "Bearer reader-token"},
                       {"Sec-WebSocket-Protocol", "stockgrid.batch"}};
  return o;
}

// Every answer in a frame: one map, or a batch connection's array of them.
std::vector<protocol::value> answers_in(const protocol::value& frame) {
  if (const protocol::array* many = frame.as_array()) return *many;
  return {frame};
}

}  // namespace

TEST_CASE("gateway: batch frames are only for connections that negotiated them", "[gateway][batch]") {
  running_server s;
  auto plain = s.connect_as("reader-token");
  CHECK(plain->subprotocol.empty());
  plain->send_text("[" + get_request(1) + "]");
  auto answer = plain->read_value();
  REQUIRE(answer);
  CHECK(error_code(*answer) == "BAD_REQUEST");  // as the contract always said
  REQUIRE(answer->find("id"));
  CHECK(answer->find("id")->is_null());

  client_options other;
  other.upgrade_headers = {{"Authorization", "Bearer reader-token"},
                           {"Sec-WebSocket-Protocol", "chat, superchat"}};
  auto unknown = s.connect(other);
  CHECK(unknown->subprotocol.empty());  // no subprotocol it does not know
  expect_alive(*unknown);
}

TEST_CASE("gateway: a batch frame's requests are each answered by id", "[gateway][batch]") {
  running_server s;
  auto client = s.connect(batch_client());
  CHECK(client->subprotocol == "stockgrid.batch");

  for (const auto enc : {protocol::encoding::json, protocol::encoding::msgpack}) {
    INFO((enc == protocol::encoding::json ? "JSON" : "msgpack"));
    // 100 requests in one frame, one of them bad: it gets its own error and
    // the others are served.
    protocol::array batch;
    for (int id = 1; id <= 100; ++id) batch.push_back(json(get_request(id)));
    batch[41] = json(R"({"op":"stock.get","id":42,"warehouse":"WH-1"})");  // no sku
    client->send(protocol::value(batch), enc);

    std::map<std::int64_t, protocol::value> answered;
    int frames = 0, arrays = 0;
    while (answered.size() < 100 && frames < 100) {
      bool text = false;
      auto frame = client->read_value(5s, &text);
      REQUIRE(frame);
      CHECK(text == (enc == protocol::encoding::json));  // answers keep the request's encoding
      ++frames;
      arrays += frame->as_array() != nullptr;
      for (const protocol::value& a : answers_in(*frame)) {
        REQUIRE(id_of(a));
        CHECK(answered.emplace(*id_of(a), a).second);  // each id answered once
      }
    }
    REQUIRE(answered.size() == 100);
    CHECK(error_code(answered.at(42)) == "BAD_REQUEST");
    CHECK(string_field(*answered.at(42).find("error"), "message").starts_with("sku"));
    for (const auto& [id, a] : answered) {
      if (id != 42) CHECK(is_ok(a));
    }
    // The stub answers at once, so answers queue behind the first write and
    // leave together: fewer frames than answers.
    CHECK(arrays > 0);
    CHECK(frames < 100);
  }

  client->send_text("[]");
  auto empty = client->read_value();
  REQUIRE(empty);
  CHECK(error_code(*empty) == "BAD_REQUEST");
  CHECK(empty->find("id")->is_null());
  expect_alive(*client);
}

TEST_CASE("gateway: a batch beyond the in-flight limit is answered OVERLOADED", "[gateway][batch]") {
  held_dispatcher held;
  auto settings = test_settings();
  settings.in_flight_per_connection_max = 4;
  running_server s(settings, &held);
  auto client = s.connect(batch_client());
  std::string batch = "[";
  for (int id = 1; id <= 6; ++id) batch += (id > 1 ? "," : "") + get_request(id);
  client->send_text(batch + "]");
  REQUIRE(held.wait_received(4));
  std::set<std::int64_t> overloaded;
  for (int i = 0; i < 2 && overloaded.size() < 2;) {
    auto frame = client->read_value();
    REQUIRE(frame);
    for (const protocol::value& a : answers_in(*frame)) {
      CHECK(error_code(a) == "OVERLOADED");
      overloaded.insert(*id_of(a));
      ++i;
    }
  }
  CHECK(overloaded == std::set<std::int64_t>{5, 6});
  CHECK(held.received() == 4);
  held.release_all();
}

}  // namespace stockgrid::gateway_test
