#include "app/dashboard.hpp"

#include <string_view>
#include <vector>

#include "web/embedded_assets.hpp"

namespace stockgrid::app {

namespace {

struct page_file {
  std::string_view path;
  std::string_view file;
  std::string_view content_type;
};

constexpr page_file page_files[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/app.css", "app.css", "text/css; charset=utf-8"},
};

std::string_view embedded_body(std::string_view file) {
  for (const auto& embedded : web::embedded_files()) {
    if (embedded.name == file) return embedded.body;
  }
  return {};
}

}  // namespace

gateway::static_site dashboard_site(const std::string& web_dir) {
  std::vector<gateway::static_asset> assets;
  for (const page_file& f : page_files) {
    assets.push_back({std::string(f.path), std::string(f.file), std::string(f.content_type),
                      web_dir.empty() ? std::string(embedded_body(f.file)) : std::string()});
  }
  if (web_dir.empty()) return gateway::static_site::in_memory(std::move(assets));
  return gateway::static_site::from_directory(web_dir, std::move(assets));
}

}  // namespace stockgrid::app
