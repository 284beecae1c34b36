// The web dashboard as the gateway serves it: `/` (index.html), `/app.js`,
// `/app.css`, from the bundle compiled into the program (web/), or, for
// development, from a directory holding a bundle (`--web-dir`, e.g.
// build/web/dist, rebuilt with `cmake --build build --target stockgrid_web_assets`
// or `cd web && npm run build`).
#pragma once

#include <string>

#include "gateway/static_assets.hpp"

namespace stockgrid::app {

// The site to hand to the gateway's extra_http. An empty `web_dir` serves
// the embedded bundle.
gateway::static_site dashboard_site(const std::string& web_dir);

}  // namespace stockgrid::app
