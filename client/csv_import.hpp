// `stockctl import FILE.csv`: stock counts from a CSV file, sent as
// stock.bulk `set` items. The file has a header line naming the columns
// warehouse, sku and on_hand (in any order; other columns are ignored), then
// one record per line. Fields may be "quoted" ("" is a quote inside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/messages.hpp"

namespace stockgrid::stockctl {

struct csv_row {
  int line = 0;  // 1-based line in the file
  std::string warehouse;
  std::string sku;
  std::int64_t on_hand = 0;
};

struct csv_problem {
  int line = 0;
  std::string message;
};

// Reads the rows. A malformed row becomes a problem and is skipped; a
// missing or incomplete header is a problem on line 1 and yields no rows.
std::vector<csv_row> parse_stock_csv(std::string_view text, std::vector<csv_problem>* problems);

// The rows split into requests of at most `items_max` items whose encoded
// frame stays within `frame_bytes_max` (a bulk of 1,000 long SKUs does not fit
// 64 KiB). Each chunk is a stock.bulk request of `set` items.
std::vector<protocol::op_request> bulk_chunks(const std::vector<csv_row>& rows, std::size_t items_max,
                                              std::size_t frame_bytes_max, protocol::encoding enc,
                                              std::vector<std::vector<int>>* chunk_lines);

}  // namespace stockgrid::stockctl
