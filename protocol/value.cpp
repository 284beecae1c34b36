#include "protocol/value.hpp"

namespace stockgrid::protocol {

const value* value::find(std::string_view key) const {
  const object* members = as_object();
  if (members == nullptr) return nullptr;
  // Frames have few members (parse_limits::map_entries_max), so a linear scan
  // beats building an index.
  for (const auto& [name, member] : *members) {
    if (name == key) return &member;
  }
  return nullptr;
}

}  // namespace stockgrid::protocol
