// A decoded frame: the common tree that both wire encodings (JSON text
// frames, msgpack binary frames) parse into and serialize from, so request
// decoding and response building are written once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace stockgrid::protocol {

class value;
using array = std::vector<value>;
// Keys keep their order, so responses print fields in the order built.
using object = std::vector<std::pair<std::string, value>>;

class value {
 public:
  // Integers that fit int64 are int64; larger msgpack integers and JSON
  // numbers with a fraction or exponent are double.
  using storage =
      std::variant<std::monostate, bool, std::int64_t, double, std::string, array, object>;

  value() = default;
  value(std::nullptr_t) {}
  value(bool b) : v_(b) {}
  value(int i) : v_(std::int64_t{i}) {}
  value(std::int64_t i) : v_(i) {}
  value(std::uint64_t i) : v_(static_cast<std::int64_t>(i)) {}
  value(double d) : v_(d) {}
  value(const char* s) : v_(std::string(s)) {}
  value(std::string s) : v_(std::move(s)) {}
  value(std::string_view s) : v_(std::string(s)) {}
  value(array a) : v_(std::move(a)) {}
  value(object o) : v_(std::move(o)) {}

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  const bool* as_bool() const { return std::get_if<bool>(&v_); }
  const std::int64_t* as_int() const { return std::get_if<std::int64_t>(&v_); }
  const double* as_double() const { return std::get_if<double>(&v_); }
  const std::string* as_string() const { return std::get_if<std::string>(&v_); }
  const array* as_array() const { return std::get_if<array>(&v_); }
  const object* as_object() const { return std::get_if<object>(&v_); }
  object* as_object() { return std::get_if<object>(&v_); }

  // The member `key` of an object; null if absent or not an object.
  const value* find(std::string_view key) const;

  const storage& raw() const { return v_; }
  friend bool operator==(const value&, const value&) = default;

 private:
  storage v_;
};

}  // namespace stockgrid::protocol
