// The dashboard bundle (index.html, app.js, app.css) compiled into the
// program by web/CMakeLists.txt. The program decides under which paths and
// content types to serve them (app/dashboard.cpp); the gateway only receives
// that table.
#pragma once

#include <span>
#include <string_view>

namespace stockgrid::web {

struct embedded_file {
  std::string_view name;  // "index.html", "app.js", "app.css"
  std::string_view body;
};

// Every file of the bundle; the views stay valid for the whole program.
std::span<const embedded_file> embedded_files();

}  // namespace stockgrid::web
