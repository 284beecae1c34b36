// stockctl's commands: the words of one command ("reserve berlin mug 3
// --ttl 30s") turned into the protocol request it sends. Shared by the
// one-shot mode, the interactive prompt and `stockctl run` scripts, so a
// command means the same everywhere. Requests are the protocol's own
// op_request (protocol/messages.hpp): no field name is spelled here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/messages.hpp"

namespace stockgrid::stockctl {

// The request for one command, or a message saying what is wrong with it
// (starting with the command's usage line when the shape is wrong).
std::variant<protocol::op_request, std::string> build_request(const std::vector<std::string>& words);

// The usage of every command, one per line, for `help`.
std::string command_help();

// A duration: "500ms", "30s", "5m", "2h", "1d"; a bare number is
// milliseconds. Nullopt when malformed or negative.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

// A decimal integer with an optional sign; nullopt when malformed.
std::optional<std::int64_t> parse_integer(std::string_view text);

}  // namespace stockgrid::stockctl
