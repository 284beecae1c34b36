// Strict reading of a positional format: a msgpack array whose items are
// fields in a fixed order (node-to-node messages, the cluster's tenants and
// keys table). Each call takes the next field and checks its type; the first
// mismatch stops the reading and names the field ("key 3 field 8: expected
// a string"), and every later call returns a default. Check ok() at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "protocol/value.hpp"

namespace stockgrid::protocol {

class array_reader {
 public:
  // `what` names the array in messages; it must have exactly `fields` items.
  array_reader(const value& v, std::string what, std::size_t fields, std::string* error)
      : what_(std::move(what)), error_(error) {
    items_ = v.as_array();
    if (!items_) fail(what_ + ": not an array");
    else if (items_->size() != fields)
      fail(what_ + ": " + std::to_string(items_->size()) + " fields, not " + std::to_string(fields));
  }
  // A format that grew: `min_fields` to `max_fields` items, the later ones
  // optional (read them while has_more()). Encoders write a newer field only
  // when it is not its default, so a reader of the older format still reads
  // what does not use it.
  array_reader(const value& v, std::string what, std::size_t min_fields, std::size_t max_fields, std::string* error)
      : what_(std::move(what)), error_(error) {
    items_ = v.as_array();
    if (!items_) fail(what_ + ": not an array");
    else if (items_->size() < min_fields || items_->size() > max_fields)
      fail(what_ + ": " + std::to_string(items_->size()) + " fields, not " + std::to_string(min_fields) + " to " +
           std::to_string(max_fields));
  }
  // Whether a field is left to read.
  bool has_more() const { return ok_ && items_ && index_ < items_->size(); }
  bool ok() const { return ok_; }

  std::int64_t integer() {
    const value* v = next();
    if (v && v->as_int()) return *v->as_int();
    return fail_at("an integer"), 0;
  }
  std::uint64_t unsigned_integer() {
    const auto i = integer();
    if (i < 0) fail_at("a non-negative integer");
    return static_cast<std::uint64_t>(i);
  }
  bool boolean() {
    const value* v = next();
    if (v && v->as_bool()) return *v->as_bool();
    return fail_at("a boolean"), false;
  }
  std::string text() {
    const value* v = next();
    if (v && v->as_string()) return *v->as_string();
    return fail_at("a string"), std::string{};
  }
  const array* list() {
    const value* v = next();
    if (v && v->as_array()) return v->as_array();
    return fail_at("an array"), nullptr;
  }
  // The next field whatever its type, for the caller to read; null once the
  // reading failed or past the last field.
  const value* any() { return next(); }
  std::optional<std::int64_t> optional_integer() {
    if (null()) return std::nullopt;
    return integer();
  }
  std::optional<bool> optional_boolean() {
    if (null()) return std::nullopt;
    return boolean();
  }
  // An enum stored as its number, within [lo, hi].
  template <class E>
  E enumerated(std::int64_t lo, std::int64_t hi) {
    const auto i = integer();
    if (ok_ && (i < lo || i > hi)) fail_at("a known value");
    return static_cast<E>(i);
  }
  // Takes a nil field and returns true; leaves any other for the next call.
  bool null() {
    if (!ok_ || !items_ || index_ >= items_->size() || !(*items_)[index_].is_null()) return false;
    ++index_;
    return true;
  }
  // Refuses the field just read: "<what> field <i>: expected <expected>".
  void fail_at(const std::string& expected) {
    if (ok_) fail(what_ + " field " + std::to_string(index_ == 0 ? 0 : index_ - 1) + ": expected " + expected);
  }

 private:
  const value* next() {
    if (!ok_ || !items_ || index_ >= items_->size()) return nullptr;
    return &(*items_)[index_++];
  }
  void fail(std::string why) {
    if (!ok_) return;
    ok_ = false;
    *error_ = std::move(why);
  }

  const array* items_ = nullptr;
  std::size_t index_ = 0;
  std::string what_;
  std::string* error_;
  bool ok_ = true;
};

}  // namespace stockgrid::protocol
