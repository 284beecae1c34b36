// Parsing --join and --cluster-advertise.
#include <catch2/catch.hpp>

#include "cluster/endpoints.hpp"

using namespace stockgrid::cluster;

TEST_CASE("endpoint lists parse into host and port, in order", "[cluster][endpoints]") {
  std::vector<endpoint> list;
  std::string error;
  REQUIRE(parse_endpoints("127.0.0.1:7402, node-3.example:7403", 16, &list, &error));
  REQUIRE(list.size() == 2);
  CHECK(list[0] == endpoint{"127.0.0.1", 7402});
  CHECK(list[1].id() == "node-3.example:7403");
  REQUIRE(parse_endpoints("", 16, &list, &error));
  CHECK(list.empty());
}

TEST_CASE("bad endpoint lists are refused naming the item", "[cluster][endpoints]") {
  std::vector<endpoint> list;
  std::string error;
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x", ":7401",
                          "host_name:7401", "[::1]:7401"}) {
    INFO(bad);
    CHECK_FALSE(parse_endpoints(bad, 16, &list, &error));
    CHECK(error.find(std::string("'") + bad + "'") == 0);
  }
  CHECK_FALSE(parse_endpoints("a:1,,b:2", 16, &list, &error));
  CHECK(error == "an empty item in the list");
  CHECK_FALSE(parse_endpoints("a:1, a:1", 16, &list, &error));
  CHECK(error == "'a:1' is listed twice");
  CHECK_FALSE(parse_endpoints("a:1,b:2,c:3", 2, &list, &error));
  CHECK(error == "more than 2 endpoints");
}
