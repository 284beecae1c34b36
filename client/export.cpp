#include "client/export.hpp"

#include <ostream>

#include "client/client.hpp"
#include "protocol/codec.hpp"

namespace stockgrid::stockctl {

namespace {

// Writes each member of the page's `name` array as {"<kind>": item}.
void write_items(const client::value& page, const char* name, const char* kind, std::ostream& out) {
  const client::value* list = page.find(name);
  if (list == nullptr || list->as_array() == nullptr) return;
  for (const auto& item : *list->as_array())
    out << protocol::serialize(protocol::value(protocol::object{{kind, item}}), protocol::encoding::json)
        << '\n';
}

}  // namespace

int run_export(const runner_settings& settings, const std::string& tenant, std::ostream& out,
               std::ostream& err, std::size_t pages_max) {
  client::client c(settings.client);
  if (!connect_or_explain(c, settings, err)) return exit_connection;
  std::string cursor;
  for (std::size_t pages = 0; pages < pages_max; ++pages) {
    protocol::op_request r;
    r.op = "tenant.export";
    r.tenant = tenant;
    r.cursor = cursor;
    const client::value page = c.call(std::move(r)).get();  // bounded by the request timeout
    if (!client::is_ok(page)) {
      err << "stockctl: export: " << client::error_code(page) << " " << client::error_message(page)
          << "\n";
      return exit_failed;
    }
    write_items(page, "records", "record", out);
    write_items(page, "holds", "hold", out);
    write_items(page, "events", "event", out);
    const client::value* next = page.find("cursor");
    if (next == nullptr || next->as_string() == nullptr) {
      out.flush();
      return out ? exit_ok : exit_failed;
    }
    cursor = *next->as_string();
  }
  err << "stockctl: export: more than " << pages_max << " pages\n";
  return exit_failed;
}

}  // namespace stockgrid::stockctl
