// Reading the fields of a request frame with typed, field-naming errors:
// what decode_request uses for the ops protocol/ decodes itself, and what
// orders/wire.cpp uses for the ops it decodes (order.*, transfer.*,
// stock.find, tenant.settings), so every op answers a bad field the same way
// ("qty: must be an integer", "lines[2].sku: required").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/value.hpp"

namespace stockgrid::protocol {

// The largest integer a double holds exactly; ids stay within it.
inline constexpr std::int64_t safe_integer_max = (std::int64_t{1} << 53) - 1;

enum class integer_check { ok, not_integer, out_of_range };

// Integers arrive as int64, or as a double when written with a fraction or
// exponent ("3.0", "1e3") or encoded as a float. An integral double is
// accepted within ±2^53, where doubles are exact; a larger one could not be
// told from its neighbours.
integer_check read_integer(const value& v, std::int64_t* out);

// Reads the fields of one request object (or one item of a list). The first
// problem wins, so the message names one field; read fields in the order
// docs/protocol.md lists them. A field that is absent or null counts as not
// given. Fields the op does not know are ignored (forward compatibility).
class field_reader {
 public:
  // `prefix` names the object in messages: "" for the frame, "items[3]."
  // for an item.
  field_reader(const value& members, std::string prefix)
      : members_(members), prefix_(std::move(prefix)) {}

  bool ok() const { return error_.empty(); }
  std::string take_error() { return std::move(error_); }
  const std::string& prefix() const { return prefix_; }

  // The member `name`; null when absent or null.
  const value* find(std::string_view name) const;

  void required_string(std::string_view name, std::string* out);
  void optional_string(std::string_view name, std::string* out);
  // An identifier that may be left out but, when present, must not be empty:
  // an empty idem would silently turn a safe retry into a second apply.
  void optional_id(std::string_view name, std::string* out);
  // A string that must be given and not be empty (an id to look up).
  void required_id(std::string_view name, std::string* out);

  void required_integer(std::string_view name, std::int64_t* out);
  void required_integer(std::string_view name, std::optional<std::int64_t>* out);
  void optional_integer(std::string_view name, std::int64_t* out);
  void optional_integer(std::string_view name, std::optional<std::int64_t>* out);
  // An int field (limits): the value must fit it.
  void optional_integer(std::string_view name, int* out);

  void optional_bool(std::string_view name, std::optional<bool>* out);
  void optional_bool(std::string_view name, bool* out);

  void optional_string_list(std::string_view name, std::vector<std::string>* out);

  // The required array `name` of objects (0 or 1..items_max of them), each
  // read by read_item(field_reader& item, std::size_t index) whose messages
  // name the item ("lines[2].qty: required"); stops at the first problem.
  template <class ReadItem>
  void required_objects(std::string_view name, bool may_be_empty, std::size_t items_max,
                        ReadItem&& read_item) {
    const value* v = find(name);
    if (v == nullptr) return fail(name, "required");
    const array* list = v->as_array();
    if (list == nullptr) return fail(name, "must be an array");
    if (list->empty() && !may_be_empty) return fail(name, "must not be empty");
    if (list->size() > items_max)
      return fail(name, "more than " + std::to_string(items_max) + " items");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string item_name = std::string(name) + "[" + std::to_string(i) + "]";
      const value& item = (*list)[i];
      if (item.as_object() == nullptr) return fail(item_name, "must be an object");
      field_reader item_fields(item, prefix_ + item_name + ".");
      read_item(item_fields, i);
      if (!item_fields.ok()) return fail_with(item_fields.take_error());
    }
  }

  // Records "<prefix><name>: <what>" unless a problem was recorded already.
  void fail(std::string_view name, std::string_view what);
  // Records a message as it is (an item's own, already named).
  void fail_with(std::string message);

 private:
  bool string(std::string_view name, const value& v, std::string* out);
  bool integer(std::string_view name, const value& v, std::int64_t* out);

  const value& members_;
  std::string prefix_;
  std::string error_;
};

}  // namespace stockgrid::protocol
