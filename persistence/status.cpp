#include "persistence/status.hpp"

namespace stockgrid::persistence {

std::string status::to_string() const {
  switch (code_) {
    case code::ok:
      return "ok";
    case code::io_error:
      return "io error: " + message_;
    case code::corruption:
      return "corruption: " + message_;
    case code::fenced:
      return "fenced: " + message_;
    case code::invalid:
      return "invalid: " + message_;
    case code::unavailable:
      return "unavailable: " + message_;
    case code::sync_failed:
      return "sync failed: " + message_;
  }
  return "unknown status: " + message_;
}

}  // namespace stockgrid::persistence
