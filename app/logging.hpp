// The node's logs on stderr: human-readable text, or one JSON object per line
// ({"ts", "level", "logger", "thread", "msg"}) for log shippers. Log lines
// about one request carry its request id (gateway/metered_dispatcher.hpp) in
// the message as "request <id>", the id its error answer carries.
#pragma once

#include <string>

namespace stockgrid::app {

// format: "text" or "json"; level: trace, debug, info, warn, error, critical
// or off. Empty when applied; otherwise what is wrong.
std::string configure_logging(const std::string& format, const std::string& level);

}  // namespace stockgrid::app
