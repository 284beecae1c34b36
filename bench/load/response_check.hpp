// How the load generator reads and judges an answer. Every response is read
// into a flat view (from msgpack without allocating: strings point into the
// frame; from JSON through the protocol's parser) and judged against what the
// request asked, so a wrong answer is caught whatever the encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "protocol/value.hpp"

namespace stockgrid::bench {

enum class bench_op { reserve, commit, release, get, order_reserve, order_release };
inline constexpr std::size_t bench_op_count = 6;
std::string_view op_name(bench_op op);  // "stock.reserve", ..., "order.reserve", ...

// The members of a response the bench looks at. String views point into the
// frame (msgpack) or the parsed tree (JSON): valid while those live.
struct response_view {
  bool has_id = false;
  std::int64_t id = -1;
  bool ok = false;
  std::string_view error_code;
  std::string_view hold;
  bool has_record = false;
  std::string_view warehouse;
  std::string_view sku;
  std::int64_t on_hand = -1;
  std::int64_t reserved = -1;
  std::int64_t available = -1;
  std::int64_t version = -1;
  // order.*: the order object's id and status, how many lines it has and
  // how many of them name a hold.
  bool has_order = false;
  std::string_view order;
  std::string_view order_status;
  std::int64_t order_lines = -1;
  std::int64_t order_lines_held = 0;
};

// Reads msgpack response maps, reusing one memory zone (cleared per frame,
// kept allocated between frames). One per thread.
class msgpack_reader {
 public:
  msgpack_reader();
  ~msgpack_reader();
  // False when the bytes are not exactly one msgpack map.
  bool read(std::string_view frame, response_view* out);
  // A frame of a batch connection: one map, or an array of maps, each read
  // and handed to `each` in order. False when the frame is neither (nothing
  // is handed over then).
  template <class Each>
  bool read_each(std::string_view frame, Each&& each) {
    std::size_t count = 0;
    if (!unpack_batch(frame, &count)) return false;
    for (std::size_t i = 0; i < count; ++i) {
      response_view view;
      if (!view_of(i, &view)) return false;
      each(view);
    }
    return true;
  }

 private:
  bool unpack_batch(std::string_view frame, std::size_t* count);
  bool view_of(std::size_t index, response_view* out) const;

  struct state;
  std::unique_ptr<state> state_;
};
// Reads one parsed JSON (or msgpack) response tree. False when not an object.
bool read_value(const protocol::value& response, response_view* out);

// What the request was.
struct expectation {
  bench_op op = bench_op::reserve;
  std::string_view warehouse;  // stock.*
  std::string_view sku;        // stock.*
  std::int64_t qty = 1;        // stock.reserve
  std::int64_t order_lines = 0;  // order.reserve: lines of distinct SKUs, so none merged
  std::string_view order = {};   // order.release: the order released
};

enum class validation {
  full,   // the answer must be consistent with the request and the stock rules
  shape,  // only its shape (ok, hold, record key): for the stub dispatcher's canned records
};

enum class verdict_kind {
  ok,     // a correct ok answer
  error,  // a correct error answer a server under load may give (counted by code)
  wrong,  // an answer no correct server gives to this request
};
struct verdict {
  verdict_kind kind = verdict_kind::wrong;
  std::string_view detail;  // the error code, or why the answer is wrong
};

// Judges an answer whose id already matched the request.
verdict judge(const response_view& r, const expectation& e, validation level);

}  // namespace stockgrid::bench
