// The `stockctl run` language without a server: splitting words, parsing
// every kind of line (and the errors, with line numbers), variables, and
// evaluating expectations against responses and repeat summaries.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "client/response.hpp"
#include "client/script.hpp"
#include "protocol/codec.hpp"

using namespace stockgrid;
using namespace stockgrid::stockctl;

namespace {

protocol::value json(std::string_view text) {
  protocol::value v;
  std::string error;
  INFO(text << ": " << error);
  REQUIRE(protocol::parse(text, protocol::encoding::json, {}, &v, &error));
  return v;
}

std::vector<std::string> texts(const std::vector<word>& words) {
  std::vector<std::string> out;
  for (const auto& w : words) out.push_back(w.text);
  return out;
}

step parsed(std::string_view line) {
  auto p = parse_line(line);
  INFO(line << " -> " << p.error);
  REQUIRE(p.error.empty());
  REQUIRE(p.parsed);
  return *p.parsed;
}

std::string refused(std::string_view line) {
  auto p = parse_line(line);
  INFO(line);
  REQUIRE_FALSE(p.error.empty());
  return p.error;
}

template <class T>
T parsed_as(std::string_view line) {
  step s = parsed(line);
  INFO(line);
  REQUIRE(std::holds_alternative<T>(s));
  return std::get<T>(s);
}

expect_result check(std::string_view expect_line, std::string_view response_json,
                    const variables& vars = {}) {
  auto e = parsed_as<expect_step>(expect_line);
  const protocol::value response = json(response_json);
  return evaluate(e, &response, nullptr, vars);
}

const char* reserved_ok =
    R"({"id":3,"ok":true,"hold":"H2a-3f1","expires_at_ms":1764417600000,)"
    R"("record":{"warehouse":"berlin","sku":"mug","on_hand":40,"reserved":2,"available":38,"version":12}})";
const char* insufficient =
    R"({"id":4,"ok":false,"error":{"code":"INSUFFICIENT_STOCK","message":"not enough","available":1}})";

}  // namespace

TEST_CASE("words are split on blanks, quotes group them, # starts a comment") {
  std::vector<word> w;
  std::string error;
  REQUIRE(split_words(R"(  set berlin "blue mug" 10 --reason 'cycle count'  # a comment)", &w, &error));
  CHECK(texts(w) == std::vector<std::string>{"set", "berlin", "blue mug", "10", "--reason", "cycle count"});
  CHECK(w[2].quoted);
  CHECK_FALSE(w[2].literal);
  CHECK(w[5].literal);

  REQUIRE(split_words(R"(echo "say \"hi\" \\ now" a#b)", &w, &error));
  CHECK(texts(w) == std::vector<std::string>{"echo", R"(say "hi" \ now)", "a#b"});

  REQUIRE(split_words("   # only a comment", &w, &error));
  CHECK(w.empty());
  REQUIRE(split_words("a \"\" b", &w, &error));
  CHECK(texts(w) == std::vector<std::string>{"a", "", "b"});

  CHECK_FALSE(split_words("echo \"open", &w, &error));
  CHECK(error == "unterminated \"");
  CHECK_FALSE(split_words("echo 'open", &w, &error));
}

TEST_CASE("blank lines and comments are no step") {
  CHECK_FALSE(parse_line("").parsed);
  CHECK_FALSE(parse_line("   ").parsed);
  CHECK_FALSE(parse_line("# reserve berlin mug 1").parsed);
  CHECK(parse_line("# x").error.empty());
}

TEST_CASE("a command, with and without saving a field") {
  auto c = parsed_as<command_step>("reserve berlin mug 1 --ttl 30s");
  CHECK(texts(c.words) == std::vector<std::string>{"reserve", "berlin", "mug", "1", "--ttl", "30s"});
  CHECK(c.save_var.empty());

  c = parsed_as<command_step>("reserve berlin mug 1 -> $h");
  CHECK(texts(c.words) == std::vector<std::string>{"reserve", "berlin", "mug", "1"});
  CHECK(c.save_var == "h");
  CHECK(c.save_path.empty());

  for (const char* line : {"get berlin mug -> $v = record.version", "get berlin mug -> $v=record.version",
                           "get berlin mug -> $v =record.version", "get berlin mug -> ${v} = record.version"}) {
    c = parsed_as<command_step>(line);
    INFO(line);
    CHECK(c.save_var == "v");
    CHECK(c.save_path == "record.version");
  }
  // A quoted arrow is an ordinary word.
  c = parsed_as<command_step>(R"(set berlin "->" 3)");
  CHECK(c.save_var.empty());
  CHECK(c.words.size() == 4);

  CHECK_THAT(refused("-> $h"), Catch::Contains("command is missing"));
  CHECK_THAT(refused("get berlin mug ->"), Catch::Contains("-> $var"));
  CHECK_THAT(refused("get berlin mug -> h"), Catch::Contains("-> $var"));
  CHECK_THAT(refused("get berlin mug -> $v = a b"), Catch::Contains("-> $var"));
}

TEST_CASE("expect lines of every form") {
  auto e = parsed_as<expect_step>("expect ok");
  CHECK(e.what == expect_step::kind::ok);

  e = parsed_as<expect_step>("expect error INSUFFICIENT_STOCK");
  CHECK(e.what == expect_step::kind::error);
  CHECK(e.code == "INSUFFICIENT_STOCK");

  e = parsed_as<expect_step>("expect record.available == 99");
  CHECK(e.what == expect_step::kind::field);
  CHECK(e.path == "record.available");
  CHECK(e.cmp == comparison::eq);
  CHECK(e.expected.text == "99");

  for (auto [text, cmp] : std::vector<std::pair<const char*, comparison>>{
           {"!=", comparison::ne}, {"<", comparison::lt}, {"<=", comparison::le},
           {">", comparison::gt}, {">=", comparison::ge}}) {
    e = parsed_as<expect_step>(std::string("expect x ") + text + " 1");
    CHECK(e.cmp == cmp);
  }

  e = parsed_as<expect_step>(R"(expect record.sku == "blue mug")");
  CHECK(e.expected.text == "blue mug");
  CHECK(e.expected.quoted);

  e = parsed_as<expect_step>("expect cursor absent");
  CHECK(e.what == expect_step::kind::absent);
  e = parsed_as<expect_step>("expect hold exists");
  CHECK(e.what == expect_step::kind::exists);

  e = parsed_as<expect_step>("expect count ok == 100");
  CHECK(e.what == expect_step::kind::count);
  CHECK(e.path == "ok");
  CHECK(e.expected.text == "100");

  CHECK_THAT(refused("expect"), Catch::Contains("expect ok"));
  CHECK_THAT(refused("expect a =~ 3"), Catch::Contains("unknown comparison"));
  CHECK_THAT(refused("expect count ok is 3"), Catch::Contains("unknown comparison"));
  CHECK_THAT(refused("expect a == 1 2"), Catch::Contains("expect ok"));
}

TEST_CASE("repeat lines") {
  auto r = parsed_as<repeat_step>("repeat 1000 concurrently: reserve berlin mug 1");
  CHECK(r.count == 1000);
  CHECK(r.concurrent);
  CHECK(texts(r.words) == std::vector<std::string>{"reserve", "berlin", "mug", "1"});

  r = parsed_as<repeat_step>("repeat 5: sell berlin mug 1");
  CHECK(r.count == 5);
  CHECK_FALSE(r.concurrent);
  r = parsed_as<repeat_step>("repeat 5 concurrently : ping");
  CHECK(r.concurrent);
  CHECK(texts(r.words) == std::vector<std::string>{"ping"});

  CHECK_THAT(refused("repeat 0: ping"), Catch::Contains("1..100000"));
  CHECK_THAT(refused("repeat 100001 concurrently: ping"), Catch::Contains("1..100000"));
  CHECK_THAT(refused("repeat x: ping"), Catch::Contains("1..100000"));
  CHECK_THAT(refused("repeat 3 sometimes: ping"), Catch::Contains("repeat N"));
  CHECK_THAT(refused("repeat 3 concurrently"), Catch::Contains("repeat N"));
  CHECK_THAT(refused("repeat 3:"), Catch::Contains("command is missing"));
  CHECK_THAT(refused("repeat 3: reserve berlin mug 1 -> $h"), Catch::Contains("cannot save"));
}

TEST_CASE("let, sleep, echo and login lines") {
  auto l = parsed_as<let_step>("let $left = record.available");
  CHECK(l.var == "left");
  CHECK(l.path == "record.available");
  CHECK_THAT(refused("let left = x"), Catch::Contains("let $var = PATH"));
  CHECK_THAT(refused("let $left record.available"), Catch::Contains("let $var = PATH"));

  CHECK(parsed_as<sleep_step>("sleep 1500ms").ms == 1500);
  CHECK(parsed_as<sleep_step>("sleep 2s").ms == 2000);
  CHECK_THAT(refused("sleep soon"), Catch::Contains("not a duration"));

  CHECK(texts(parsed_as<echo_step>("echo hello $h").words) == std::vector<std::string>{"hello", "$h"});
  CHECK(parsed_as<login_step>("login $token").token.text == "$token");
  CHECK_THAT(refused("login"), Catch::Contains("login TOKEN"));
}

TEST_CASE("a script reports every syntax error with its line number") {
  std::vector<script_error> errors;
  const auto lines = parse_script(
      "# checkout\n"
      "reserve berlin mug 1 -> $h\n"
      "\n"
      "expect record.available =< 3\n"
      "commit $h\r\n"
      "repeat 0: ping\n"
      "expect ok",
      &errors);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].number == 4);
  CHECK(errors[1].number == 6);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].number == 2);
  CHECK(lines[1].number == 5);
  CHECK(lines[1].text == "commit $h");
  CHECK(lines[2].number == 7);

  errors.clear();
  CHECK(parse_script("", &errors).empty());
  CHECK(errors.empty());
}

TEST_CASE("variables expand in words, not in single-quoted ones") {
  const variables vars{{"h", "H2a-3f1"}, {"run", "ab12"}};
  std::string out, error;
  CHECK(expand(word{"$h"}, vars, &out, &error));
  CHECK(out == "H2a-3f1");
  CHECK(expand(word{"cart-$run"}, vars, &out, &error));
  CHECK(out == "cart-ab12");
  CHECK(expand(word{"${run}x-$h."}, vars, &out, &error));
  CHECK(out == "ab12x-H2a-3f1.");
  CHECK(expand(word{"cost $$5 $"}, vars, &out, &error));
  CHECK(out == "cost $5 $");
  CHECK(expand(word{"$h", true, true}, vars, &out, &error));
  CHECK(out == "$h");
  CHECK_FALSE(expand(word{"$nope"}, vars, &out, &error));
  CHECK(error == "undefined variable $nope");
  CHECK_FALSE(expand(word{"${run"}, vars, &out, &error));
}

TEST_CASE("the field a bare -> $var saves") {
  CHECK(default_save_path("stock.reserve") == "hold");
  CHECK(default_save_path("stock.extend") == "hold");
  CHECK(default_save_path("tenant.create") == "token");
  CHECK(default_save_path("key.create") == "token");
  CHECK_FALSE(default_save_path("stock.get"));
}

TEST_CASE("expectations on a response") {
  CHECK(check("expect ok", reserved_ok).passed);
  CHECK_FALSE(check("expect ok", insufficient).passed);
  CHECK_THAT(check("expect ok", insufficient).detail, Catch::Contains("INSUFFICIENT_STOCK"));
  CHECK(check("expect error INSUFFICIENT_STOCK", insufficient).passed);
  CHECK_FALSE(check("expect error NOT_FOUND", insufficient).passed);
  CHECK_FALSE(check("expect error INSUFFICIENT_STOCK", reserved_ok).passed);
  CHECK(check("expect error.available == 1", insufficient).passed);

  CHECK(check("expect record.available == 38", reserved_ok).passed);
  CHECK_FALSE(check("expect record.available == 39", reserved_ok).passed);
  CHECK(check("expect record.available == 39", reserved_ok).detail == "got 38");
  CHECK(check("expect record.available != 39", reserved_ok).passed);
  CHECK(check("expect record.available < 39", reserved_ok).passed);
  CHECK(check("expect record.available <= 38", reserved_ok).passed);
  CHECK(check("expect record.available > 37", reserved_ok).passed);
  CHECK(check("expect record.available >= 38", reserved_ok).passed);
  CHECK_FALSE(check("expect record.available > 38", reserved_ok).passed);

  CHECK(check("expect record.sku == mug", reserved_ok).passed);
  CHECK(check(R"(expect record.sku == "mug")", reserved_ok).passed);
  CHECK_FALSE(check("expect record.sku == cup", reserved_ok).passed);
  CHECK_FALSE(check("expect record.sku < cup", reserved_ok).passed);
  CHECK(check("expect ok == true", reserved_ok).passed);
  CHECK_FALSE(check(R"(expect ok == "true")", reserved_ok).passed);
  CHECK(check("expect hold == $h", reserved_ok, {{"h", "H2a-3f1"}}).passed);
  CHECK(check("expect record.version == $v", reserved_ok, {{"v", "12"}}).passed);
  CHECK_FALSE(check("expect record.version == $nope", reserved_ok).passed);
  // A number is not equal to a word that is not a number.
  CHECK_FALSE(check("expect record.version == twelve", reserved_ok).passed);
  CHECK(check("expect record.version != twelve", reserved_ok).passed);

  CHECK(check("expect replayed absent", reserved_ok).passed);
  CHECK_FALSE(check("expect replayed exists", reserved_ok).passed);
  CHECK(check("expect record exists", reserved_ok).passed);
  CHECK_FALSE(check("expect replayed == true", reserved_ok).passed);
  CHECK_THAT(check("expect replayed == true", reserved_ok).detail, Catch::Contains("absent"));
}

TEST_CASE("paths reach into arrays; PATH.# is a length") {
  const char* list = R"({"ok":true,"records":[{"sku":"a","version":1},{"sku":"b","version":4}],"cursor":"c2"})";
  CHECK(check("expect records.# == 2", list).passed);
  CHECK(check("expect records.1.sku == b", list).passed);
  CHECK(check("expect records[1].version == 4", list).passed);
  CHECK(check("expect records.0.# == 2", list).passed);
  CHECK(check("expect records.2 absent", list).passed);
  CHECK_FALSE(check("expect records.x.sku == a", list).passed);
  CHECK(check(R"(expect cursor == "c2")", list).passed);
  CHECK(check("expect holds.# == 0", R"({"ok":true,"holds":[]})").passed);
}

TEST_CASE("expect count looks at the last repeat") {
  repeat_summary summary;
  summary.total = 1000;
  summary.by_code = {{"ok", 100}, {"INSUFFICIENT_STOCK", 900}};
  auto count = [&](std::string_view line) {
    return evaluate(parsed_as<expect_step>(line), nullptr, &summary, {});
  };
  CHECK(count("expect count ok == 100").passed);
  CHECK(count("expect count INSUFFICIENT_STOCK == 900").passed);
  CHECK(count("expect count total == 1000").passed);
  CHECK(count("expect count NOT_FOUND == 0").passed);
  CHECK(count("expect count ok <= 100").passed);
  CHECK_FALSE(count("expect count ok == 99").passed);
  CHECK_THAT(count("expect count ok == 99").detail, Catch::Contains("INSUFFICIENT_STOCK 900"));

  const auto e = parsed_as<expect_step>("expect count ok == 1");
  CHECK_FALSE(evaluate(e, nullptr, nullptr, {}).passed);
  CHECK(describe(summary).find("1000 requests") == 0);
  CHECK_THAT(describe(summary), Catch::EndsWith(": ok 100, INSUFFICIENT_STOCK 900"));
}

TEST_CASE("an expect before any response fails") {
  const auto e = parsed_as<expect_step>("expect ok");
  const auto r = evaluate(e, nullptr, nullptr, {});
  CHECK_FALSE(r.passed);
  CHECK_THAT(r.detail, Catch::Contains("no response"));
}
