// The JSON parser against RFC 8259: what it accepts, what it refuses, and the
// limits that bound it. Then the serializer's output.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "protocol_test_support.hpp"

using namespace stockgrid::protocol;
using namespace stockgrid::protocol::testing;

namespace {

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

void check_refused(std::string_view text, std::string_view error_part = "json: ") {
  const auto p = parse_json(text);
  INFO("input: " << text);
  CHECK_FALSE(p.ok);
  CHECK_THAT(p.error, Catch::Contains(std::string(error_part)));
}

std::string only_string(std::string_view text) {
  const auto p = parse_json(text);
  INFO("input: " << text << " error: " << p.error);
  REQUIRE(p.ok);
  REQUIRE(p.v.as_string() != nullptr);
  return *p.v.as_string();
}

}  // namespace

TEST_CASE("json: scalars and containers parse into values", "[json]") {
  CHECK(json("true") == value(true));
  CHECK(json("false") == value(false));
  CHECK(json("null").is_null());
  CHECK(json("\"x\"") == value("x"));
  CHECK(json("[]") == value(array{}));
  CHECK(json("{}") == value(object{}));
  CHECK(json(" \t\r\n{ \"a\" : [ 1 , \"b\" , null ] , \"c\" : { } } \n") ==
        value(object{{"a", array{1, "b", nullptr}}, {"c", object{}}}));
}

TEST_CASE("json: object members keep their order", "[json]") {
  const value v = json(R"({"z":1,"a":2,"m":3})");
  const object& o = *v.as_object();
  REQUIRE(o.size() == 3);
  CHECK(o[0].first == "z");
  CHECK(o[1].first == "a");
  CHECK(o[2].first == "m");
  CHECK(*v.find("a") == value(2));
  CHECK(v.find("nope") == nullptr);
  CHECK(value(1).find("a") == nullptr);
}

TEST_CASE("json: integers are int64, everything else a double", "[json]") {
  CHECK(json("0") == value(0));
  CHECK(json("-0") == value(0));
  CHECK(json("42") == value(42));
  CHECK(json("-17") == value(-17));
  CHECK(json("9223372036854775807") == value(std::numeric_limits<std::int64_t>::max()));
  CHECK(json("-9223372036854775808") == value(std::numeric_limits<std::int64_t>::min()));
  // Beyond int64: a double.
  CHECK(json("9223372036854775808") == value(9223372036854775808.0));
  CHECK(json("-9223372036854775809") == value(-9223372036854775809.0));
  CHECK(json("123456789012345678901234567890") == value(1.2345678901234568e29));
  // A fraction or an exponent makes a double, even when integral.
  CHECK(json("1.5") == value(1.5));
  CHECK(json("3.0") == value(3.0));
  CHECK(json("1e3") == value(1000.0));
  CHECK(json("1E-2") == value(0.01));
  CHECK(json("-1.25e+2") == value(-125.0));
  CHECK(json("0.1") == value(0.1));
  // Too small to represent: rounds to zero rather than failing.
  CHECK(json("1e-400") == value(0.0));
}

TEST_CASE("json: malformed numbers are refused", "[json]") {
  for (const char* text : {"01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "0x10", "1.e3",
                           "NaN", "Infinity", "-Infinity", "1 2", "[1.]", "[01]"}) {
    check_refused(text);
  }
  // Finite doubles only: JSON has no infinity.
  check_refused("1e999", "number out of range");
  check_refused("-1e999", "number out of range");
}

TEST_CASE("json: every escape decodes", "[json]") {
  CHECK(only_string(R"("\"\\\/\b\f\n\r\t")") == "\"\\/\b\f\n\r\t");
  CHECK(only_string(R"("\u0041\u00e9\u20AC")") == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(only_string(R"("\u0000")") == std::string(1, '\0'));
  // A surrogate pair is one code point: U+1F600 as four UTF-8 bytes.
  CHECK(only_string(R"("\uD83D\uDE00")") == "\xF0\x9F\x98\x80");
  CHECK(only_string(R"("\udbff\udfff")") == "\xF4\x8F\xBF\xBF");
  // Raw UTF-8 passes through unchanged.
  CHECK(only_string("\"gr\xC3\xBC\xC3\x9F \xF0\x9F\x98\x80\"") ==
        "gr\xC3\xBC\xC3\x9F \xF0\x9F\x98\x80");
}

TEST_CASE("json: bad strings are refused", "[json]") {
  check_refused(R"("abc)", "unterminated string");
  check_refused(R"("abc\)", "unterminated string");
  check_refused(R"("\x")", "invalid escape");
  check_refused(R"("\u12G4")", "invalid \\u escape");
  check_refused(R"("\u12")", "invalid \\u escape");
  check_refused(R"("\uD83D")", "unpaired surrogate");
  check_refused(R"("\uDE00")", "unpaired surrogate");
  check_refused(R"("\uD83D\u0041")", "unpaired surrogate");
  check_refused(R"("\uD83Dx")", "unpaired surrogate");
  check_refused("\"a\x01b\"", "control character in string");
  check_refused("\"a\nb\"", "control character in string");
  check_refused("'single'", "unexpected character");
}

TEST_CASE("json: invalid UTF-8 is refused wherever it is", "[json][utf8]") {
  check_refused("\"\xFF\"", "invalid UTF-8 at offset 1");
  check_refused("\"\xC0\xAF\"", "invalid UTF-8");          // overlong '/'
  check_refused("\"\xE0\x80\xAF\"", "invalid UTF-8");      // overlong, 3 bytes
  check_refused("\"\xED\xA0\x80\"", "invalid UTF-8");      // encoded surrogate
  check_refused("\"\xE2\x82\"", "invalid UTF-8");          // truncated sequence
  check_refused("\"\xF4\x90\x80\x80\"", "invalid UTF-8");  // above U+10FFFF
  check_refused("\"\xF8\x88\x80\x80\x80\"", "invalid UTF-8");
  check_refused("\"\x80\"", "invalid UTF-8");              // lone continuation
  check_refused("{\"k\xFF\":1}", "invalid UTF-8");
  check_refused("[1] \xFF", "invalid UTF-8");
}

TEST_CASE("json: structural errors are refused with an offset", "[json]") {
  const auto p = parse_json(R"({"a":x})");
  CHECK_FALSE(p.ok);
  CHECK(p.error == "json: unexpected character at offset 5");

  for (const char* text : {"", "   ", "{", "[", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":1,}",
                           "{a:1}", "{\"a\":}", "{,}", "[,1]", "tru", "nul", "truex", "}",
                           "{\"a\":1 \"b\":2}", "{1:2}"}) {
    check_refused(text);
  }
  CHECK(parse_json("").error == "json: unexpected end of input at offset 0");
}

TEST_CASE("json: trailing garbage is refused", "[json]") {
  check_refused("{} x", "trailing characters after the value at offset 3");
  check_refused("{}{}", "trailing characters");
  check_refused("[1]]", "trailing characters");
  check_refused("1 2", "trailing characters");
  check_refused(std::string("{}\0", 3), "trailing characters");
  // Whitespace after the value is fine.
  CHECK(parse_json("{} \r\n\t").ok);
}

TEST_CASE("json: duplicate keys are refused", "[json]") {
  check_refused(R"({"a":1,"a":2})", "duplicate key at offset 7");
  check_refused(R"({"a":{"b":1,"b":1}})", "duplicate key");
  // The same key in sibling objects is fine.
  CHECK(parse_json(R"([{"a":1},{"a":2}])").ok);
  // Keys compare after unescaping.
  check_refused(R"({"a":1,"\u0061":2})", "duplicate key");
}

TEST_CASE("json: nesting is bounded by depth_max", "[json][limits]") {
  CHECK(parse_json(nested_arrays(8)).ok);
  check_refused(nested_arrays(9), "nesting deeper than 8");
  CHECK(parse_json(R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{}}}}}}}})").ok);
  check_refused(R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}})", "nesting deeper than 8");
  // A frame of nothing but openers fails at the limit, not at the end.
  const auto deep = parse_json(std::string(100000, '['));
  CHECK_FALSE(deep.ok);
  CHECK(deep.error == "json: nesting deeper than 8 at offset 8");
  parse_limits shallow;
  shallow.depth_max = 1;
  CHECK(parse_json("[1,2]", shallow).ok);
  CHECK_FALSE(parse_json("[[1]]", shallow).ok);
}

TEST_CASE("json: strings, arrays, objects and values are bounded", "[json][limits]") {
  const std::string max_string(4096, 'x');
  CHECK(parse_json("\"" + max_string + "\"").ok);
  check_refused("\"" + max_string + "y\"", "string longer than 4096 bytes");
  // The limit is on decoded bytes: 4096 escapes decode to 4096 bytes...
  std::string escaped;
  for (int i = 0; i < 4096; ++i) escaped += "\\n";
  CHECK(parse_json("\"" + escaped + "\"").ok);
  // ... and an escape that passes the limit is caught too.
  check_refused("\"" + escaped + "\\u00e9\"", "string longer than 4096 bytes");
  // Keys are strings too.
  check_refused("{\"" + max_string + "y\":1}", "string longer than 4096 bytes");

  std::string items = "[0";
  for (int i = 1; i < 1000; ++i) items += ",0";
  CHECK(parse_json(items + "]").ok);
  check_refused(items + ",0]", "array with more than 1000 items");

  std::string members = "{";
  for (int i = 0; i < 64; ++i) members += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  CHECK(parse_json(members + "}").ok);
  check_refused(members + ",\"k64\":0}", "object with more than 64 members");

  parse_limits few;
  few.total_items_max = 4;  // the array and three numbers
  CHECK(parse_json("[1,2,3]", few).ok);
  CHECK_FALSE(parse_json("[1,2,3,4]", few).ok);
  CHECK_THAT(parse_json("[[1],[2]]", few).error, Catch::Contains("more than 4 values"));
}

TEST_CASE("json: the serializer is compact", "[json][serialize]") {
  const value v(object{{"id", 7},
                       {"ok", true},
                       {"list", array{1, 2.5, "x", false, nullptr, array{}, object{}}}});
  CHECK(to_json(v) == R"({"id":7,"ok":true,"list":[1,2.5,"x",false,null,[],{}]})");
  CHECK(to_json(value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
  CHECK(to_json(value(std::numeric_limits<std::int64_t>::max())) == "9223372036854775807");
}

TEST_CASE("json: the serializer escapes what JSON requires", "[json][serialize]") {
  CHECK(to_json(value("a\"b\\c")) == R"("a\"b\\c")");
  CHECK(to_json(value("\b\f\n\r\t")) == R"("\b\f\n\r\t")");
  CHECK(to_json(value(std::string("\x01\x1f\0", 3))) == R"("\u0001\u001f\u0000")");
  CHECK(to_json(value("/ \x7f \xC3\xA9")) == "\"/ \x7f \xC3\xA9\"");
  CHECK(to_json(value(object{{"k\"", 1}})) == R"({"k\"":1})");
}

TEST_CASE("json: the serializer never writes invalid UTF-8", "[json][serialize][utf8]") {
  // A server-side string that is not UTF-8 is repaired with U+FFFD.
  const std::string out = to_json(value("ok\xFF" "fine\xC3"));
  CHECK(out == "\"ok\xEF\xBF\xBD" "fine\xEF\xBF\xBD\"");
  CHECK(valid_utf8(out));
}

TEST_CASE("json: doubles keep their value and their type", "[json][serialize]") {
  CHECK(to_json(value(0.1)) == "0.1");
  CHECK(to_json(value(2.5)) == "2.5");
  CHECK(to_json(value(3.0)) == "3.0");
  CHECK(to_json(value(-0.0)) == "-0.0");
  CHECK(to_json(value(1e300)) == "1e+300");
  for (double d : {1.0 / 3.0, 2.0 / 3.0, 1e-310, 5e-324, 1.7976931348623157e308, -123456.789,
                   9007199254740993.0}) {
    CHECK(json(to_json(value(d))) == value(d));
  }
  // JSON has no NaN or infinity.
  CHECK(to_json(value(std::numeric_limits<double>::quiet_NaN())) == "null");
  CHECK(to_json(value(std::numeric_limits<double>::infinity())) == "null");
  CHECK(to_json(value(-std::numeric_limits<double>::infinity())) == "null");
}

TEST_CASE("utf8: valid_utf8 follows RFC 3629", "[utf8]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xC2\x80"));              // U+0080
  CHECK(valid_utf8("\xDF\xBF"));              // U+07FF
  CHECK(valid_utf8("\xE0\xA0\x80"));          // U+0800
  CHECK(valid_utf8("\xED\x9F\xBF"));          // U+D7FF
  CHECK(valid_utf8("\xEE\x80\x80"));          // U+E000
  CHECK(valid_utf8("\xEF\xBF\xBF"));          // U+FFFF
  CHECK(valid_utf8("\xF0\x90\x80\x80"));      // U+10000
  CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  CHECK(valid_utf8(std::string_view("\0", 1)));
  CHECK_FALSE(valid_utf8("\x80"));
  CHECK_FALSE(valid_utf8("\xC0\x80"));          // overlong NUL
  CHECK_FALSE(valid_utf8("\xC1\xBF"));          // overlong
  CHECK_FALSE(valid_utf8("\xE0\x9F\xBF"));      // overlong
  CHECK_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));      // U+D800
  CHECK_FALSE(valid_utf8("\xED\xBF\xBF"));      // U+DFFF
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(valid_utf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xFE"));
  CHECK_FALSE(valid_utf8("\xFF"));
  CHECK_FALSE(valid_utf8("\xC3"));              // truncated
  CHECK_FALSE(valid_utf8("\xE2\x82"));          // truncated
  CHECK_FALSE(valid_utf8("\xE2\x28\xA1"));      // bad continuation
  CHECK_FALSE(valid_utf8("abc\xF0\x9F\x98"));   // truncated at the end
}
