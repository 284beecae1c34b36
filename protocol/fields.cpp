#include "protocol/fields.hpp"

#include <climits>
#include <cmath>
#include <utility>

namespace stockgrid::protocol {

integer_check read_integer(const value& v, std::int64_t* out) {
  if (const std::int64_t* i = v.as_int()) {
    *out = *i;
    return integer_check::ok;
  }
  if (const double* d = v.as_double()) {
    if (!std::isfinite(*d) || std::trunc(*d) != *d) return integer_check::not_integer;
    if (std::fabs(*d) > static_cast<double>(safe_integer_max)) return integer_check::out_of_range;
    *out = static_cast<std::int64_t>(*d);
    return integer_check::ok;
  }
  return integer_check::not_integer;
}

const value* field_reader::find(std::string_view name) const {
  const value* v = members_.find(name);
  return v == nullptr || v->is_null() ? nullptr : v;
}

void field_reader::required_string(std::string_view name, std::string* out) {
  if (const value* v = find(name)) {
    string(name, *v, out);
  } else {
    fail(name, "required");
  }
}

void field_reader::optional_string(std::string_view name, std::string* out) {
  if (const value* v = find(name)) string(name, *v, out);
}

void field_reader::optional_id(std::string_view name, std::string* out) {
  if (const value* v = find(name)) {
    string(name, *v, out);
    if (const std::string* text = v->as_string(); text && text->empty())
      fail(name, "must not be empty (leave it out instead)");
  }
}

void field_reader::required_id(std::string_view name, std::string* out) {
  required_string(name, out);
  if (ok() && out->empty()) fail(name, "must not be empty");
}

void field_reader::required_integer(std::string_view name, std::int64_t* out) {
  if (const value* v = find(name)) {
    integer(name, *v, out);
  } else {
    fail(name, "required");
  }
}

void field_reader::required_integer(std::string_view name, std::optional<std::int64_t>* out) {
  std::int64_t i = 0;
  required_integer(name, &i);
  if (ok()) *out = i;
}

void field_reader::optional_integer(std::string_view name, std::int64_t* out) {
  if (const value* v = find(name)) integer(name, *v, out);
}

void field_reader::optional_integer(std::string_view name, std::optional<std::int64_t>* out) {
  if (const value* v = find(name)) {
    std::int64_t i = 0;
    if (integer(name, *v, &i)) *out = i;
  }
}

void field_reader::optional_integer(std::string_view name, int* out) {
  std::int64_t i = 0;
  if (const value* v = find(name); v && integer(name, *v, &i)) {
    if (i < INT_MIN || i > INT_MAX) {
      fail(name, "out of range");
    } else {
      *out = static_cast<int>(i);
    }
  }
}

void field_reader::optional_bool(std::string_view name, std::optional<bool>* out) {
  if (const value* v = find(name)) {
    if (const bool* b = v->as_bool()) {
      *out = *b;
    } else {
      fail(name, "must be true or false");
    }
  }
}

void field_reader::optional_bool(std::string_view name, bool* out) {
  std::optional<bool> b;
  optional_bool(name, &b);
  if (b) *out = *b;
}

void field_reader::optional_string_list(std::string_view name, std::vector<std::string>* out) {
  const value* v = find(name);
  if (v == nullptr) return;
  const array* items = v->as_array();
  if (items == nullptr) return fail(name, "must be an array of strings");
  out->clear();
  for (std::size_t i = 0; i < items->size(); ++i) {
    const std::string* s = (*items)[i].as_string();
    if (s == nullptr) {
      return fail(std::string(name) + "[" + std::to_string(i) + "]", "must be a string");
    }
    out->push_back(*s);
  }
}

void field_reader::fail(std::string_view name, std::string_view what) {
  fail_with(prefix_ + std::string(name) + ": " + std::string(what));
}

void field_reader::fail_with(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

bool field_reader::string(std::string_view name, const value& v, std::string* out) {
  const std::string* s = v.as_string();
  if (s == nullptr) {
    fail(name, "must be a string");
    return false;
  }
  *out = *s;
  return true;
}

bool field_reader::integer(std::string_view name, const value& v, std::int64_t* out) {
  switch (read_integer(v, out)) {
    case integer_check::ok: return true;
    case integer_check::not_integer: fail(name, "must be an integer"); return false;
    case integer_check::out_of_range: fail(name, "out of range"); return false;
  }
  return false;
}

}  // namespace stockgrid::protocol
