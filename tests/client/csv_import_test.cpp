// `stockctl import`: reading the CSV (header, quoting, bad rows with their
// line numbers) and cutting rows into bulk requests that fit the limits.
#include <catch2/catch.hpp>

#include <string>

#include "client/csv_import.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::stockctl;

TEST_CASE("rows are read by the header's column names") {
  std::vector<csv_problem> problems;
  const auto rows = parse_stock_csv(
      "\xEF\xBB\xBFsku, Warehouse ,on_hand,note\r\n"
      "mug,berlin,10,x\r\n"
      "\n"
      "\"blue, mug\",\"pa\"\"ris\",0,\n",
      &problems);
  CHECK(problems.empty());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].line == 2);
  CHECK(rows[0].warehouse == "berlin");
  CHECK(rows[0].sku == "mug");
  CHECK(rows[0].on_hand == 10);
  CHECK(rows[1].line == 4);
  CHECK(rows[1].sku == "blue, mug");
  CHECK(rows[1].warehouse == "pa\"ris");
  CHECK(rows[1].on_hand == 0);
}

TEST_CASE("bad rows are skipped and reported with their line") {
  std::vector<csv_problem> problems;
  const auto rows = parse_stock_csv(
      "warehouse,sku,on_hand\n"
      "berlin,mug,ten\n"
      "berlin,cup\n"
      ",cup,3\n"
      "berlin,cup,-1\n"
      "berlin,\"open,4\n"
      "berlin,plate,4\n",
      &problems);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].line == 7);
  REQUIRE(problems.size() == 5);
  CHECK(problems[0].line == 2);
  CHECK_THAT(problems[0].message, Catch::Contains("not a count"));
  CHECK(problems[1].line == 3);
  CHECK_THAT(problems[1].message, Catch::Contains("expected 3 fields"));
  CHECK(problems[2].line == 4);
  CHECK(problems[3].line == 5);
  CHECK(problems[4].line == 6);
  CHECK_THAT(problems[4].message, Catch::Contains("unterminated"));
}

TEST_CASE("a file without the header columns imports nothing") {
  std::vector<csv_problem> problems;
  CHECK(parse_stock_csv("warehouse,sku,count\nberlin,mug,1\n", &problems).empty());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].line == 1);
  problems.clear();
  CHECK(parse_stock_csv("", &problems).empty());
  CHECK(problems.size() == 1);
}

TEST_CASE("rows are cut into bulk requests within the item and frame limits") {
  std::vector<csv_row> rows;
  for (int i = 0; i < 2500; ++i) rows.push_back({i + 2, "berlin", "sku-" + std::to_string(i), i});
  std::vector<std::vector<int>> lines;
  auto chunks = bulk_chunks(rows, 1000, 64 * 1024, protocol::encoding::msgpack, &lines);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].items.size() == 1000);
  CHECK(chunks[2].items.size() == 500);
  CHECK(lines[1].front() == 1002);
  CHECK(chunks[0].op == "stock.bulk");
  CHECK(chunks[0].items[3].kind == op::set);
  CHECK(chunks[0].items[3].on_hand == 3);

  // Long SKUs: a thousand would not fit in 64 KiB, so the chunks are smaller,
  // and each one, with its id and idem, fits.
  rows.clear();
  for (int i = 0; i < 1000; ++i) rows.push_back({i + 2, "warehouse-berlin-main", std::string(100, 'x') + std::to_string(i), 5});
  for (auto enc : {protocol::encoding::msgpack, protocol::encoding::json}) {
    chunks = bulk_chunks(rows, 1000, 64 * 1024, enc, &lines);
    CHECK(chunks.size() > 1);
    std::size_t total = 0;
    for (auto& c : chunks) {
      total += c.items.size();
      c.id = (std::int64_t{1} << 53) - 1;
      c.idem = std::string(32, 'a');
      CHECK(protocol::serialize(protocol::encode_request(c), enc).size() <= 64 * 1024);
    }
    CHECK(total == 1000);
  }
}
