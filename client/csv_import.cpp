#include "client/csv_import.hpp"

#include <algorithm>
#include <cctype>

#include "client/commands.hpp"

namespace stockgrid::stockctl {

namespace {

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

// Splits one CSV line into fields; false on an unterminated quote.
bool split_csv(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(trim(std::move(field)));
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  if (quoted) return false;
  fields->push_back(trim(std::move(field)));
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<csv_row> parse_stock_csv(std::string_view text, std::vector<csv_problem>* problems) {
  std::vector<csv_row> rows;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  int number = 0;
  int warehouse_col = -1, sku_col = -1, on_hand_col = -1;
  bool header_seen = false;
  std::vector<std::string> fields;
  while (!text.empty()) {
    ++number;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.ends_with("\r")) line.remove_suffix(1);
    if (trim(std::string(line)).empty()) continue;
    if (!split_csv(line, &fields)) {
      problems->push_back({number, "unterminated quote"});
      if (!header_seen) return rows;
      continue;
    }
    if (!header_seen) {
      header_seen = true;
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const std::string name = lower(fields[i]);
        if (name == "warehouse") warehouse_col = static_cast<int>(i);
        if (name == "sku") sku_col = static_cast<int>(i);
        if (name == "on_hand") on_hand_col = static_cast<int>(i);
      }
      if (warehouse_col < 0 || sku_col < 0 || on_hand_col < 0) {
        problems->push_back({number, "the header must name the columns warehouse,sku,on_hand"});
        return rows;
      }
      continue;
    }
    const auto needed = static_cast<std::size_t>(std::max({warehouse_col, sku_col, on_hand_col}));
    if (fields.size() <= needed) {
      problems->push_back({number, "expected " + std::to_string(needed + 1) + " fields, found " +
                                       std::to_string(fields.size())});
      continue;
    }
    csv_row row;
    row.line = number;
    row.warehouse = fields[static_cast<std::size_t>(warehouse_col)];
    row.sku = fields[static_cast<std::size_t>(sku_col)];
    const std::string& count = fields[static_cast<std::size_t>(on_hand_col)];
    if (row.warehouse.empty() || row.sku.empty()) {
      problems->push_back({number, "warehouse and sku must not be empty"});
      continue;
    }
    const auto on_hand = parse_integer(count);
    if (!on_hand || *on_hand < 0) {
      problems->push_back({number, "on_hand: not a count: \"" + count + "\""});
      continue;
    }
    row.on_hand = *on_hand;
    rows.push_back(std::move(row));
  }
  if (!header_seen) problems->push_back({1, "the file is empty: expected a header warehouse,sku,on_hand"});
  return rows;
}

std::vector<protocol::op_request> bulk_chunks(const std::vector<csv_row>& rows, std::size_t items_max,
                                              std::size_t frame_bytes_max, protocol::encoding enc,
                                              std::vector<std::vector<int>>* chunk_lines) {
  auto set_item = [](const csv_row& row) {
    request item;
    item.kind = op::set;
    item.key.warehouse = row.warehouse;
    item.key.sku = row.sku;
    item.on_hand = row.on_hand;
    return item;
  };
  auto empty_bulk = [] {
    protocol::op_request r;
    r.op = "stock.bulk";
    return r;
  };
  // Sizes come from the protocol's own encoder: an empty bulk with the id
  // and idem it will carry, plus each item's encoding on its own.
  protocol::op_request probe = empty_bulk();
  probe.id = (std::int64_t{1} << 53) - 1;
  probe.idem = std::string(32, 'f');
  const std::size_t base_bytes =
      protocol::serialize(protocol::encode_request(probe), enc).size() + 16;  // array header growth
  auto item_bytes = [&](const request& item) {
    protocol::op_request one = probe;
    one.items = {item};
    return protocol::serialize(protocol::encode_request(one), enc).size() + 1 - base_bytes + 16;
  };

  std::vector<protocol::op_request> chunks;
  chunk_lines->clear();
  protocol::op_request current = empty_bulk();
  std::vector<int> lines;
  std::size_t bytes = base_bytes;
  for (const auto& row : rows) {
    request item = set_item(row);
    const std::size_t size = item_bytes(item);
    if (!current.items.empty() && (current.items.size() >= items_max || bytes + size > frame_bytes_max)) {
      chunks.push_back(std::move(current));
      chunk_lines->push_back(std::move(lines));
      current = empty_bulk();
      lines.clear();
      bytes = base_bytes;
    }
    current.items.push_back(std::move(item));
    lines.push_back(row.line);
    bytes += size;
  }
  if (!current.items.empty()) {
    chunks.push_back(std::move(current));
    chunk_lines->push_back(std::move(lines));
  }
  return chunks;
}

}  // namespace stockgrid::stockctl
