// The static site the dashboard is served by: a function from request to
// answer, tested directly; one case goes through a real socket.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/static_assets.hpp"
#include "tests/gateway/fixtures.hpp"

namespace {

using namespace stockgrid;
using gateway::http_request;
using gateway::static_asset;
using gateway::static_site;

std::vector<static_asset> page(std::string index_body) {
  return {{"/", "index.html", "text/html; charset=utf-8", std::move(index_body)},
          {"/app.js", "app.js", "text/javascript; charset=utf-8", "console.log(1)"}};
}

http_request get(std::string path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http_request r;
  r.method = "GET";
  r.target = path;
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

std::string header(const gateway::http_response& res, std::string_view name) {
  for (const auto& [key, value] : res.headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

TEST_CASE("static site: serves its paths with type, no-cache and an ETag", "[gateway]") {
  const auto site = static_site::in_memory(page("<p>hi</p>"));
  auto index = site.answer(get("/"));
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->body == "<p>hi</p>");
  CHECK(header(*index, "Cache-Control") == "no-cache");
  const std::string etag = header(*index, "ETag");
  CHECK(etag.size() == 18);  // a quoted 64-bit hash

  auto script = site.answer(get("/app.js"));
  REQUIRE(script);
  CHECK(script->content_type == "text/javascript; charset=utf-8");
  CHECK(header(*script, "ETag") != etag);

  SECTION("a matching If-None-Match is answered 304 without a body") {
    auto again = site.answer(get("/", {{"if-none-match", etag}}));
    REQUIRE(again);
    CHECK(again->status == 304);
    CHECK(again->body.empty());
  }
  SECTION("other paths are not its business") {
    CHECK_FALSE(site.answer(get("/index.html")));
    CHECK_FALSE(site.answer(get("/../etc/passwd")));
    CHECK_FALSE(site.answer(get("/healthz")));
  }
  SECTION("only GET and HEAD") {
    auto post = get("/");
    post.method = "POST";
    auto res = site.answer(post);
    REQUIRE(res);
    CHECK(res->status == 405);
    CHECK(header(*res, "Allow") == "GET, HEAD");
  }
}

TEST_CASE("static site: a directory site reads its files at each request", "[gateway]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("stockgrid-static-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const char* text) {
    std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << text;
  };
  const auto site = static_site::from_directory(dir.string(), page("ignored"));

  write("index.html", "first");
  auto first = site.answer(get("/"));
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->body == "first");

  write("index.html", "second");
  auto second = site.answer(get("/"));
  REQUIRE(second);
  CHECK(second->body == "second");
  CHECK(header(*second, "ETag") != header(*first, "ETag"));

  // app.js was never written.
  auto missing = site.answer(get("/app.js"));
  REQUIRE(missing);
  CHECK(missing->status == 500);
  std::filesystem::remove_all(dir);
}

TEST_CASE("static site: served through the gateway's extra_http", "[gateway]") {
  gateway::stub_dispatcher stub;
  gateway::stub_authenticator auth;
  gateway::server server(gateway_test::test_settings(), stub, auth, [] { return true; });
  const auto site = static_site::in_memory(page("<p>dashboard</p>"));
  server.extra_http = [&site](const http_request& r) { return site.answer(r); };
  std::string error;
  REQUIRE(server.start(&error));
  auto index = gateway_test::http_get(server.port(), "/");
  CHECK(index.status == 200);
  CHECK(index.body == "<p>dashboard</p>");
  CHECK(gateway_test::http_get(server.port(), "/healthz").status == 200);
  CHECK(gateway_test::http_get(server.port(), "/nothing").status == 404);
}
