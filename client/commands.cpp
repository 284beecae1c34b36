#include "client/commands.hpp"

#include <charconv>
#include <chrono>
#include <map>

#include "client/requests.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::stockctl {

std::optional<std::int64_t> parse_integer(std::string_view text) {
  if (text.starts_with("+")) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  struct unit {
    std::string_view suffix;
    std::int64_t ms;
  };
  // "ms" before "m" and "s": the longest suffix wins.
  static constexpr unit units[] = {{"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000},
                                   {"d", 86'400'000}};
  std::int64_t scale = 1;
  for (const auto& u : units) {
    if (text.size() > u.suffix.size() && text.ends_with(u.suffix)) {
      text.remove_suffix(u.suffix.size());
      scale = u.ms;
      break;
    }
  }
  const auto number = parse_integer(text);
  if (!number || *number < 0 || *number > INT64_MAX / scale) return std::nullopt;
  return *number * scale;
}

namespace {

// One command of the table: its words, usage and builder.
struct parsed_args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--ttl" -> "30s"
};

struct command_spec {
  std::string_view name;   // "reserve", "tenant create"
  std::string_view usage;  // the arguments
  std::string_view about;
  std::size_t positional_min;
  std::size_t positional_max;
  std::vector<std::string_view> options;
  // Fills the request; returns an error message or "".
  std::string (*build)(const parsed_args&, protocol::op_request&);
  // Options without a value ("--partial"); parsed_args holds them as "true".
  std::vector<std::string_view> flags = {};
};

std::string need_integer(const std::string& text, std::string_view what, std::int64_t* out) {
  auto v = parse_integer(text);
  if (!v) return std::string(what) + ": not an integer: \"" + text + "\"";
  *out = *v;
  return "";
}

std::string need_duration(const std::string& text, std::string_view what, std::int64_t* out) {
  auto v = parse_duration_ms(text);
  if (!v) return std::string(what) + ": not a duration (like 500ms, 30s, 5m, 1h): \"" + text + "\"";
  *out = *v;
  return "";
}

const std::string* option(const parsed_args& a, std::string_view name) {
  auto it = a.options.find(std::string(name));
  return it == a.options.end() ? nullptr : &it->second;
}

// The fields most mutations share: --reason and --idem.
void mutation_options(const parsed_args& a, request& r) {
  if (auto* reason = option(a, "--reason")) r.reason = *reason;
  if (auto* idem = option(a, "--idem")) r.idem = *idem;
}

void record_key(const parsed_args& a, request& r) {
  r.key.warehouse = a.positional.at(0);
  r.key.sku = a.positional.at(1);
}

std::string optional_qty(const parsed_args& a, std::size_t index, request& r) {
  if (a.positional.size() <= index) return "";
  std::int64_t qty = 0;
  if (auto e = need_integer(a.positional[index], "QTY", &qty); !e.empty()) return e;
  r.qty = qty;
  return "";
}

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> names;
  std::size_t start = 0;
  for (;;) {
    const auto comma = list.find(',', start);
    std::string name = list.substr(start, comma - start);
    if (!name.empty()) names.push_back(std::move(name));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return names;
}

std::string optional_integer(const parsed_args& a, std::string_view name,
                             std::optional<std::int64_t>* out) {
  const std::string* text = option(a, name);
  if (text == nullptr) return "";
  std::int64_t v = 0;
  if (auto e = need_integer(*text, name, &v); !e.empty()) return e;
  *out = v;
  return "";
}

std::string idem_option(const parsed_args& a) {
  const std::string* idem = option(a, "--idem");
  return idem ? *idem : std::string();
}

// An order line: SKU:QTY or SKU:QTY@WAREHOUSE.
std::string order_line(const std::string& text, client::order_line* out) {
  const std::string shape = "\"" + text + "\": expected SKU:QTY[@WAREHOUSE]";
  std::string rest = text;
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    out->warehouse = rest.substr(at + 1);
    if (out->warehouse.empty()) return shape;
    rest.resize(at);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return shape;
  out->sku = rest.substr(0, colon);
  return need_integer(rest.substr(colon + 1), "QTY", &out->qty);
}

// A bulk item: adjust:WH:SKU:DELTA or set:WH:SKU:ON_HAND[:EXPECTED_VERSION].
std::string bulk_item(const std::string& text, request* out) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto colon = text.find(':', start);
    parts.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  const std::string shape = "\"" + text + "\": expected adjust:WH:SKU:DELTA or set:WH:SKU:ON_HAND[:EXPECTED_VERSION]";
  if (parts.size() < 4) return shape;
  out->key.warehouse = parts[1];
  out->key.sku = parts[2];
  if (parts[0] == "adjust" && parts.size() == 4) {
    out->kind = op::adjust;
    return need_integer(parts[3], "DELTA", &out->delta);
  }
  if (parts[0] == "set" && parts.size() <= 5) {
    out->kind = op::set;
    if (auto e = need_integer(parts[3], "ON_HAND", &out->on_hand); !e.empty()) return e;
    if (parts.size() == 5) {
      std::int64_t expected = 0;
      if (auto e = need_integer(parts[4], "EXPECTED_VERSION", &expected); !e.empty()) return e;
      out->expected_version = expected;
    }
    return "";
  }
  return shape;
}

const std::vector<command_spec>& commands() {
  static const std::vector<command_spec> table = {
      {"ping", "", "check the whole request path", 0, 0, {},
       [](const parsed_args&, protocol::op_request& r) -> std::string {
         r.op = "ping";
         return "";
       }},
      {"get", "WH SKU", "one record", 2, 2, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::get;
         record_key(a, r.grid);
         return "";
       }},
      {"list", "[WH] [--prefix SKU_PREFIX] [--limit N] [--cursor C]", "records, a page at a time",
       0, 1, {"--prefix", "--limit", "--cursor"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "stock.list";
         if (!a.positional.empty()) r.warehouse = a.positional[0];
         if (auto* p = option(a, "--prefix")) r.sku_prefix = *p;
         if (auto* c = option(a, "--cursor")) r.cursor = *c;
         if (auto* l = option(a, "--limit")) {
           std::int64_t limit = 0;
           if (auto e = need_integer(*l, "--limit", &limit); !e.empty()) return e;
           if (limit < 0 || limit > 1'000'000) return "--limit: out of range";
           r.limit = static_cast<int>(limit);
         }
         return "";
       }},
      {"holds", "WH SKU", "a record's active holds", 2, 2, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::holds;
         record_key(a, r.grid);
         return "";
       }},
      {"history", "WH SKU [--limit N] [--before VERSION]", "a record's changes, newest first", 2, 2,
       {"--limit", "--before"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::history;
         record_key(a, r.grid);
         if (auto* l = option(a, "--limit")) {
           std::int64_t limit = 0;
           if (auto e = need_integer(*l, "--limit", &limit); !e.empty()) return e;
           if (limit < 0 || limit > 1'000'000) return "--limit: out of range";
           r.grid.limit = static_cast<int>(limit);
         }
         if (auto* b = option(a, "--before")) return need_integer(*b, "--before", &r.grid.before_version);
         return "";
       }},
      {"adjust", "WH SKU DELTA [--reason TEXT] [--idem KEY]", "add to or remove from on_hand", 3, 3,
       {"--reason", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::adjust;
         record_key(a, r.grid);
         mutation_options(a, r.grid);
         return need_integer(a.positional[2], "DELTA", &r.grid.delta);
       }},
      {"set", "WH SKU ON_HAND [--expected-version V] [--reason TEXT] [--idem KEY]",
       "set on_hand to a counted value", 3, 3, {"--expected-version", "--reason", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::set;
         record_key(a, r.grid);
         mutation_options(a, r.grid);
         if (auto* v = option(a, "--expected-version")) {
           std::int64_t expected = 0;
           if (auto e = need_integer(*v, "--expected-version", &expected); !e.empty()) return e;
           r.grid.expected_version = expected;
         }
         return need_integer(a.positional[2], "ON_HAND", &r.grid.on_hand);
       }},
      {"reserve", "WH SKU QTY [--ttl DURATION] [--ref REF] [--idem KEY]", "create a hold", 3, 3,
       {"--ttl", "--ref", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::reserve;
         record_key(a, r.grid);
         if (auto* ref = option(a, "--ref")) r.grid.ref = *ref;
         if (auto* idem = option(a, "--idem")) r.grid.idem = *idem;
         if (auto* ttl = option(a, "--ttl")) {
           if (auto e = need_duration(*ttl, "--ttl", &r.grid.ttl_ms); !e.empty()) return e;
         }
         return optional_qty(a, 2, r.grid);
       }},
      {"commit", "HOLD [QTY] [--idem KEY]", "sell a hold's units (all, or QTY)", 1, 2, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::commit;
         r.grid.hold = a.positional[0];
         mutation_options(a, r.grid);
         return optional_qty(a, 1, r.grid);
       }},
      {"release", "HOLD [QTY] [--idem KEY]", "give a hold's units back (all, or QTY)", 1, 2,
       {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::release;
         r.grid.hold = a.positional[0];
         mutation_options(a, r.grid);
         return optional_qty(a, 1, r.grid);
       }},
      {"extend", "HOLD TTL [--idem KEY]", "move a hold's deadline to now + TTL", 2, 2, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::extend;
         r.grid.hold = a.positional[0];
         mutation_options(a, r.grid);
         return need_duration(a.positional[1], "TTL", &r.grid.ttl_ms);
       }},
      {"sell", "WH SKU QTY [--reason TEXT] [--idem KEY]", "sell without a hold", 3, 3,
       {"--reason", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.grid.kind = op::sell;
         record_key(a, r.grid);
         mutation_options(a, r.grid);
         return optional_qty(a, 2, r.grid);
       }},
      {"bulk", "ITEM... [--idem KEY]  (ITEM: adjust:WH:SKU:DELTA or set:WH:SKU:ON_HAND[:EXPECTED_VERSION])",
       "many adjusts and sets in one request", 1, protocol::bulk_items_max, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "stock.bulk";
         if (auto* idem = option(a, "--idem")) r.idem = *idem;
         for (const auto& text : a.positional) {
           request item;
           if (auto e = bulk_item(text, &item); !e.empty()) return e;
           r.items.push_back(std::move(item));
         }
         return "";
       }},
      {"policy",
       "WH SKU [--safety-stock N] [--allow-backorder true|false] [--low-stock-threshold N] [--idem KEY]",
       "a record's safety stock, backorders and low-stock threshold (admin token)", 2, 2,
       {"--safety-stock", "--allow-backorder", "--low-stock-threshold", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         client::policy_options p;
         if (auto e = optional_integer(a, "--safety-stock", &p.safety_stock); !e.empty()) return e;
         if (auto e = optional_integer(a, "--low-stock-threshold", &p.low_stock_threshold); !e.empty())
           return e;
         if (auto* b = option(a, "--allow-backorder")) {
           if (*b != "true" && *b != "false") return "--allow-backorder: must be true or false";
           p.allow_backorder = *b == "true";
         }
         if (!p.safety_stock && !p.allow_backorder && !p.low_stock_threshold)
           return "give --safety-stock, --allow-backorder or --low-stock-threshold";
         p.idem = idem_option(a);
         r = client::build_policy(a.positional[0], a.positional[1], p);
         return "";
       }},
      {"find", "SKU", "a SKU in every warehouse of the tenant, with the total available", 1, 1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r = client::build_find(a.positional[0]);
         return "";
       }},
      {"order reserve",
       "SKU:QTY[@WH]... [--ttl-ms N] [--partial] [--ref REF] [--idem KEY] [--dry-run]",
       "hold stock for an order across warehouses (WH left out: the server chooses)", 1,
       limits::order_lines_max, {"--ttl-ms", "--ref", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         std::vector<client::order_line> lines;
         for (const auto& text : a.positional) {
           client::order_line line;
           if (auto e = order_line(text, &line); !e.empty()) return e;
           lines.push_back(std::move(line));
         }
         client::order_options o;
         if (auto* ttl = option(a, "--ttl-ms")) {
           if (auto e = need_integer(*ttl, "--ttl-ms", &o.ttl_ms); !e.empty()) return e;
         }
         o.partial = option(a, "--partial") != nullptr;
         o.dry_run = option(a, "--dry-run") != nullptr;
         if (auto* ref = option(a, "--ref")) o.ref = *ref;
         o.idem = idem_option(a);
         r = client::build_order_reserve(lines, o);
         return "";
       },
       {"--partial", "--dry-run"}},
      {"order commit", "ORDER [--idem KEY]", "sell every held line of an order", 1, 1, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r = client::build_order_op("order.commit", a.positional[0], idem_option(a));
         return "";
       }},
      {"order release", "ORDER [--idem KEY]", "give an order's holds back", 1, 1, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r = client::build_order_op("order.release", a.positional[0], idem_option(a));
         return "";
       }},
      {"order extend", "ORDER --ttl-ms N [--idem KEY]", "move an order's deadline to now + N ms", 1,
       1, {"--ttl-ms", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         const std::string* ttl = option(a, "--ttl-ms");
         if (ttl == nullptr) return "--ttl-ms: required";
         std::int64_t ttl_ms = 0;
         if (auto e = need_integer(*ttl, "--ttl-ms", &ttl_ms); !e.empty()) return e;
         r = client::build_order_extend(a.positional[0], ttl_ms, idem_option(a));
         return "";
       }},
      {"order get", "ORDER", "an order: its status, lines and holds", 1, 1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r = client::build_order_op("order.get", a.positional[0]);
         return "";
       }},
      {"transfer create", "SKU FROM TO QTY [--idem KEY]",
       "move stock out of FROM; it is incoming at TO until received", 4, 4, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         std::int64_t qty = 0;
         if (auto e = need_integer(a.positional[3], "QTY", &qty); !e.empty()) return e;
         r = client::build_transfer_create(a.positional[0], a.positional[1], a.positional[2], qty,
                                           idem_option(a));
         return "";
       }},
      {"transfer receive", "TRANSFER [--qty N] [--idem KEY]",
       "land a transfer's units at TO (all in transit, or N)", 1, 1, {"--qty", "--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         std::optional<std::int64_t> qty;
         if (auto e = optional_integer(a, "--qty", &qty); !e.empty()) return e;
         r = client::build_transfer_receive(a.positional[0], qty, idem_option(a));
         return "";
       }},
      {"transfer cancel", "TRANSFER [--idem KEY]", "put what is still in transit back into FROM",
       1, 1, {"--idem"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r = client::build_transfer_op("transfer.cancel", a.positional[0], idem_option(a));
         return "";
       }},
      {"transfer get", "TRANSFER", "a transfer: its status, receipts and what is in transit", 1, 1,
       {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r = client::build_transfer_op("transfer.get", a.positional[0]);
         return "";
       }},
      {"settings", "[--allocation POLICY] [--priority W1,W2] [--ack quorum|leader]",
       "the tenant's settings; with options, change them (admin token). POLICY: priority, "
       "most_available or fewest_splits; --ack: when a cluster acknowledges the tenant's changes "
       "(docs/cluster.md)",
       0, 0, {"--allocation", "--priority", "--ack"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         client::settings_change change;
         if (auto* p = option(a, "--allocation")) change.allocation = *p;
         if (auto* list = option(a, "--priority")) change.priority = split_list(*list);
         if (auto* ack = option(a, "--ack")) change.ack = *ack;
         r = client::build_settings(change);
         return "";
       }},
      {"tenant create", "TENANT", "create a tenant; prints its first admin token (system token)", 1,
       1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "tenant.create";
         r.tenant = a.positional[0];
         return "";
       }},
      {"cluster status", "", "the cluster's members, who is up, where each partition lives (system token)", 0,
       0, {},
       [](const parsed_args&, protocol::op_request& r) -> std::string {
         r.op = "cluster.status";
         return "";
       }},
      {"tenant list", "", "the tenants (system token)", 0, 0, {},
       [](const parsed_args&, protocol::op_request& r) -> std::string {
         r.op = "tenant.list";
         return "";
       }},
      {"tenant suspend", "TENANT",
       "suspend a tenant: its keys stop working, its connections close (system token)", 1, 1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "tenant.suspend";
         r.tenant = a.positional[0];
         return "";
       }},
      {"tenant resume", "TENANT", "resume a suspended tenant: its keys work again (system token)", 1,
       1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "tenant.resume";
         r.tenant = a.positional[0];
         return "";
       }},
      {"tenant export", "TENANT [--cursor C] [--limit N]",
       "one page of a tenant's records, holds and history (system token); stockctl export "
       "TENANT writes every page",
       1, 1, {"--cursor", "--limit"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "tenant.export";
         r.tenant = a.positional[0];
         if (auto* c = option(a, "--cursor")) r.cursor = *c;
         if (auto* l = option(a, "--limit")) {
           std::int64_t n = 0;
           if (auto e = need_integer(*l, "--limit", &n); !e.empty()) return e;
           r.limit = static_cast<int>(std::clamp<std::int64_t>(n, -1, 1'000'000));
         }
         return "";
       }},
      {"key create", "ROLE [--warehouses W1,W2] [--expires-in DURATION | --expires-at EPOCH_MS]",
       "create an API key of the tenant: reader, writer or admin (admin token)", 1, 1,
       {"--warehouses", "--expires-in", "--expires-at"},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "key.create";
         r.key_role = protocol::parse_role(a.positional[0]);
         if (!r.key_role || *r.key_role == protocol::role::system)
           return "ROLE: must be reader, writer or admin";
         if (auto* list = option(a, "--warehouses")) r.warehouses = split_list(*list);
         const std::string* in = option(a, "--expires-in");
         const std::string* at = option(a, "--expires-at");
         if (in && at) return "give --expires-in or --expires-at, not both";
         if (in) {
           std::int64_t ms = 0;
           if (auto e = need_duration(*in, "--expires-in", &ms); !e.empty()) return e;
           const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch());
           r.expires_at_ms = now.count() + ms;
         }
         if (at) {
           std::int64_t ms = 0;
           if (auto e = need_integer(*at, "--expires-at", &ms); !e.empty()) return e;
           r.expires_at_ms = ms;
         }
         return "";
       }},
      {"key list", "", "the tenant's keys, without secrets (admin token)", 0, 0, {},
       [](const parsed_args&, protocol::op_request& r) -> std::string {
         r.op = "key.list";
         return "";
       }},
      {"key revoke", "KEY_ID", "revoke a key; its connections are closed (admin token)", 1, 1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         r.op = "key.revoke";
         r.key_id = a.positional[0];
         return "";
       }},
      {"raw", "JSON", "send any request written as JSON: {\"op\": ..., fields} (the id is added)", 1,
       1, {},
       [](const parsed_args& a, protocol::op_request& r) -> std::string {
         protocol::value frame;
         std::string error;
         if (!protocol::parse(a.positional[0], protocol::encoding::json, {}, &frame, &error))
           return "JSON: " + error;
         protocol::object* members = frame.as_object();
         if (members == nullptr) return "JSON: must be an object";
         // decode_request wants an id; the client assigns the real one.
         std::erase_if(*members, [](const auto& m) { return m.first == "id"; });
         members->emplace_back("id", 0);
         auto decoded = protocol::decode_request(frame);
         if (auto* failure = std::get_if<protocol::decode_failure>(&decoded))
           return "JSON: " + failure->message;
         r = std::move(std::get<protocol::op_request>(decoded));
         r.id.reset();
         return "";
       }},
  };
  return table;
}

std::string usage_line(const command_spec& c) {
  std::string line(c.name);
  if (!c.usage.empty()) line += " " + std::string(c.usage);
  return line;
}

}  // namespace

std::variant<protocol::op_request, std::string> build_request(const std::vector<std::string>& words) {
  if (words.empty()) return std::string("no command");
  const command_spec* spec = nullptr;
  std::size_t consumed = 0;
  for (const auto& c : commands()) {
    const auto space = c.name.find(' ');
    if (space == std::string_view::npos) {
      if (words[0] == c.name) {
        spec = &c;
        consumed = 1;
        break;
      }
    } else if (words.size() >= 2 && words[0] == c.name.substr(0, space) &&
               words[1] == c.name.substr(space + 1)) {
      spec = &c;
      consumed = 2;
      break;
    }
  }
  if (spec == nullptr) {
    // A group's first word ("order", "key"): the usage of its commands.
    std::string group;
    for (const auto& c : commands()) {
      const auto space = c.name.find(' ');
      if (space == std::string_view::npos || c.name.substr(0, space) != words[0]) continue;
      group += (group.empty() ? "usage: " : " | ") + usage_line(c);
    }
    if (!group.empty()) return group;
    return "unknown command \"" + words[0] + "\" (try `help`)";
  }

  parsed_args args;
  for (std::size_t i = consumed; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() > 2 && w.starts_with("--")) {
      std::string name = w;
      std::string text;
      bool is_flag = false;
      for (auto f : spec->flags) is_flag = is_flag || f == name;
      if (is_flag) {
        args.options[name] = "true";
        continue;
      }
      if (const auto eq = w.find('='); eq != std::string::npos) {
        name = w.substr(0, eq);
        text = w.substr(eq + 1);
      } else if (i + 1 < words.size()) {
        text = words[++i];
      } else {
        return name + ": needs a value\nusage: " + usage_line(*spec);
      }
      bool known = false;
      for (auto o : spec->options) known = known || o == name;
      if (!known) return "unknown option " + name + "\nusage: " + usage_line(*spec);
      args.options[name] = std::move(text);
    } else {
      args.positional.push_back(w);
    }
  }
  if (args.positional.size() < spec->positional_min || args.positional.size() > spec->positional_max)
    return "usage: " + usage_line(*spec);

  protocol::op_request r;
  if (auto error = spec->build(args, r); !error.empty()) return error + "\nusage: " + usage_line(*spec);
  if (r.op.empty()) r.op = std::string(protocol::op_name_of(r.grid.kind));
  return r;
}

std::string command_help() {
  std::string out = "Commands (WH = warehouse; durations like 500ms, 30s, 5m, 1h):\n";
  for (const auto& c : commands()) {
    out += "  " + usage_line(c) + "\n      " + std::string(c.about) + "\n";
  }
  return out;
}

}  // namespace stockgrid::stockctl
