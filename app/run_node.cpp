// The stockgrid program's body (app/run_node.hpp has its usage and exit
// codes); app/main.cpp runs it as is.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/run_node.hpp"

#include "actors/clock.hpp"
#include "actors/cluster.hpp"
#include "actors/grid.hpp"
#include "app/auth_sync.hpp"
#include "app/dashboard.hpp"
#include "app/logging.hpp"
#include "app/demo_load.hpp"
#include "app/node_dispatcher.hpp"
#include "app/node_metrics.hpp"
#include "auth/authenticator.hpp"
#include "auth/bootstrap.hpp"
#include "auth/sqlite_key_store.hpp"
#include "config/load.hpp"
#include "gateway/conversation.hpp"
#include "gateway/metered_dispatcher.hpp"
#include "gateway/connection_registry.hpp"
#include "gateway/rate_limited_dispatcher.hpp"
#include "gateway/server.hpp"
#include "orders/requests.hpp"
#include "persistence/check.hpp"
#include "persistence/document_store.hpp"

namespace {

using namespace stockgrid;

constexpr int exit_usage = 1;
constexpr int exit_start = 2;
constexpr int exit_corrupt = 3;

int run_check(const config::settings& s) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(s.node.data_dir)) {
    std::fprintf(stderr, "check: %s is not a directory\n", s.node.data_dir.c_str());
    return exit_usage;
  }
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(s.node.data_dir)) {
    const auto name = entry.path().filename().string();
    if (name.starts_with("p-") && name.ends_with(".db")) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  int bad = 0;
  for (const auto& path : paths) {
    persistence::check_report report;
    auto st = persistence::check_partition(path.string(), &report);
    if (!st) {
      ++bad;
      std::fprintf(stderr, "FAIL %s\n", st.to_string().c_str());
      continue;
    }
    std::printf("ok   %s: %llu records, %llu holds, %llu journal entries (%llu after the snapshot)\n",
                path.string().c_str(), static_cast<unsigned long long>(report.snapshot_records),
                static_cast<unsigned long long>(report.snapshot_holds),
                static_cast<unsigned long long>(report.journal_entries),
                static_cast<unsigned long long>(report.tail_entries));
  }
  // documents.db: every row's CRC (listing the open documents reads them all)
  // and every open order's and transfer's body.
  std::size_t files = paths.size();
  if (const auto docs = fs::path(s.node.data_dir) / "documents.db"; fs::exists(docs)) {
    ++files;
    persistence::status st;
    std::vector<persistence::document> open;
    auto store = persistence::open_sqlite_document_store(docs.string(), {}, &st);
    if (store) st = store->list_open(&open);
    std::size_t undecodable = 0;
    for (const auto& d : open) {
      orders::order o;
      orders::transfer t;
      orders::tenant_settings ts;
      const bool ok = d.kind == persistence::document_kind::order      ? orders::decode(d.body, &o)
                      : d.kind == persistence::document_kind::transfer ? orders::decode(d.body, &t)
                                                                       : orders::decode(d.body, &ts);
      if (!ok) {
        ++undecodable;
        std::fprintf(stderr, "FAIL %s: %s %s/%s: body does not decode\n", docs.string().c_str(),
                     persistence::to_string(d.kind).c_str(), d.tenant.c_str(), d.id.c_str());
      }
    }
    if (!st) std::fprintf(stderr, "FAIL %s\n", st.to_string().c_str());
    if (!st || undecodable > 0) {
      ++bad;
    } else {
      std::printf("ok   %s: %zu open orders, transfers and tenant settings\n", docs.string().c_str(),
                  open.size());
    }
  }
  std::printf("%zu files checked, %d failed\n", files, bad);
  return bad == 0 ? 0 : exit_corrupt;
}

// Creates the demo tenant (once) and stocks it through the grid, like a
// client would; prints a writer and a reader token and how to try them.
void run_demo(grid& g, auth::key_admin& admin, std::uint16_t port) {
  gateway::principal system{{}, "system", protocol::role::system, {}, {}};
  if (auto t = admin.tenant_create(system, "demo"); !t.ok() && t.code != outcome::bad_request)
    spdlog::warn("demo tenant: {}", t.message);
  gateway::principal demo_admin{"demo", "demo-setup", protocol::role::admin, {}, {}};
  auto writer = admin.key_create(demo_admin, {protocol::role::writer, {}, {}});
  auto reader = admin.key_create(demo_admin, {protocol::role::reader, {}, {}});
  const char* warehouses[] = {"berlin", "paris", "warsaw"};
  const char* skus[] = {"tshirt-s", "tshirt-m", "tshirt-l", "mug", "poster"};
  std::vector<std::future<reply>> pending;
  for (auto* wh : warehouses) {
    for (auto* sku : skus) {
      request r;
      r.kind = op::set;
      r.key = {"demo", wh, sku};
      r.on_hand = 100;
      r.reason = "demo stock";
      r.idem = std::string("demo-stock-") + wh + "-" + sku;
      auto p = std::make_shared<std::promise<reply>>();
      pending.push_back(p->get_future());
      g.submit(std::move(r), [p](reply&& rep) { p->set_value(std::move(rep)); });
    }
  }
  int ok = 0;
  for (auto& f : pending) ok += f.get().code == outcome::ok;
  std::printf(
      "\nDemo tenant `demo`: %d records in 3 warehouses (berlin, paris, warsaw).\n"
      "  writer token: %s\n  reader token: %s\n\n"
      "Try it:\n"
      "  build/client/stockctl --url ws://127.0.0.1:%u/v1/ws --token <writer> get berlin mug\n"
      "  build/client/stockctl --url ws://127.0.0.1:%u/v1/ws --token <writer> reserve berlin mug 2 --ttl 30s\n"
      "or with any WebSocket tool, a text frame after connecting:\n"
      "  {\"op\":\"auth\",\"id\":1,\"token\":\"<writer>\"}\n"
      "  {\"op\":\"stock.reserve\",\"id\":2,\"warehouse\":\"berlin\",\"sku\":\"mug\",\"qty\":2}\n\n",
      ok, writer.ok() ? writer.value.token.c_str() : writer.message.c_str(),
      reader.ok() ? reader.value.token.c_str() : reader.message.c_str(), port, port);
  std::fflush(stdout);
}

int wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

void add_gateway_options(CLI::App& app, gateway::gateway_settings& g) {
  app.add_option("--bind", g.bind, "address the gateway listens on")->capture_default_str();
  app.add_option("--port", g.port, "gateway port (0 = any free port)")->capture_default_str();
  app.add_option("--io-threads", g.io_threads, "gateway I/O threads (0 = one per core)")
      ->capture_default_str();
  app.add_option("--tls-cert-file", g.tls_cert_file, "PEM certificate: serve wss:// and https://");
  app.add_option("--tls-key-file", g.tls_key_file, "PEM private key for --tls-cert-file");
  app.add_option("--origin-allow", g.origin_allow, "allowed Origin values (default: any)");
  app.add_option("--auth-timeout-ms", g.auth_timeout_ms, "close unauthenticated connections after this")
      ->capture_default_str();
  app.add_option("--connections-per-tenant-max", g.connections_per_tenant_max,
                 "authenticated WebSocket connections one tenant may hold")
      ->capture_default_str();
  app.add_option("--subscriptions-per-connection-max", g.subscriptions_per_connection_max,
                 "live subscriptions one connection may hold")
      ->capture_default_str();
}

// The admin port: /metrics without a token, /healthz and /readyz; no
// WebSocket. Off unless --admin-port is given.
struct admin_port_settings {
  std::string bind = "127.0.0.1";
  int port = -1;  // -1 off, 0 any free port
};

void add_admin_options(CLI::App& app, admin_port_settings& a) {
  app.add_option("--admin-port", a.port,
                 "serve /metrics without a token (and health checks) on this port; -1 = off, 0 = any free port")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  app.add_option("--admin-bind", a.bind, "address of the admin port (keep it on loopback or a private network)")
      ->capture_default_str();
}

}  // namespace

int app::run_node(int argc, char** argv, const node_hooks& hooks) {
  // Block the stop signals in every thread; main collects them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  config::settings s;
  gateway::gateway_settings gs;
  CLI::App app{"stockgrid: a real-time inventory grid node"};
  app.fallthrough();
  config::add_options(app, s);
  add_gateway_options(app, gs);
  admin_port_settings admin_port;
  add_admin_options(app, admin_port);
  bool demo = false;
  auto* demo_flag =
      app.add_flag("--demo", demo, "also create a `demo` tenant with stock and print its tokens");
  bool demo_load_on = false;
  app.add_flag("--demo-load", demo_load_on, "with --demo: keep a small random load on its records")
      ->needs(demo_flag);
  std::string web_dir;
  app.add_option("--web-dir", web_dir, "serve the dashboard from this directory (development)")
      ->check(CLI::ExistingDirectory);
  // Logs go to stderr; stdout is for what the program is asked to print.
  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("--log-format", log_format, "text, or json: one JSON object per line")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  auto* check = app.add_subcommand("check", "verify the data dir's files and invariants");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; every parse error (unknown flag or config
    // key, value out of bounds, missing config file) is a usage error.
    return app.exit(e) == 0 ? 0 : exit_usage;
  }
  if (auto problem = app::configure_logging(log_format, log_level); !problem.empty()) {
    std::fprintf(stderr, "stockgrid: %s\n", problem.c_str());
    return exit_usage;
  }
  if (auto problem = s.validate(); !problem.empty()) {
    std::fprintf(stderr, "stockgrid: %s\n", problem.c_str());
    return exit_usage;
  }
  if (s.cluster.enabled() && s.cluster.tls()) {
    if (auto problem = actors::check_cluster_tls(s.cluster); !problem.empty()) {
      std::fprintf(stderr, "stockgrid: %s\n", problem.c_str());
      return exit_usage;
    }
  }
  if (check->parsed()) return run_check(s);

  spdlog::info("stockgrid {} starting with settings:\n{}", gateway::server_version(), config::to_string(s));
  std::string error;
  // Subscriptions: the publisher sees every committed journal batch; it is
  // made before the grid and outlives it. Snapshot pages take at most half
  // a frame.
  feed::publisher publisher(s.subscriptions, gs.frame_bytes_max / 2);
  metrics::registry registry;
  app::node_metrics node_metrics(registry, gateway::server_version());
  grid_options options{s, hooks.sqlite_vfs};
  options.journal_monitor = node_metrics.journal_monitor();
  options.on_committed = [&publisher](std::uint32_t p, const std::vector<persistence::journal_entry>& batch) {
    publisher.on_committed(p, batch);
  };
  // Per-tenant request rates, checked on the gateway's threads before a
  // request reaches the grid; made before the grid, whose settings (at
  // start and on every change) set each tenant's own.
  const app::node_quotas quotas{s.quotas, s.subscriptions.subscriptions_per_tenant_max,
                                gs.connections_per_tenant_max};
  gateway::rate_limiter limiter({s.quotas.rate_per_second, s.quotas.rate_burst});
  // Tenants' own connection limits, read by the gateway as a connection
  // authenticates. (The records quota is the grid's own.)
  gateway::tenant_connection_limits connection_limits;
  options.on_settings = [&publisher, &limiter, &quotas, &connection_limits](const std::string& tenant,
                                                                            const orders::tenant_settings& ts) {
    publisher.set_tenant_threshold(tenant, ts.low_stock_threshold);
    connection_limits.set(tenant, ts.connections_max);
    publisher.set_tenant_subscriptions_max(tenant, ts.subscriptions_max);
    std::optional<gateway::rate_limit> own;
    if (ts.rate_per_second != 0 || ts.rate_burst != 0) {
      const auto rate = quotas.rates.for_tenant(ts.rate_per_second, ts.rate_burst);
      own = gateway::rate_limit{rate.rate_per_second, rate.burst};
    }
    if (!limiter.set_tenant_limit(tenant, own))
      spdlog::warn("tenant {}: too many tenants with rates of their own; it keeps the defaults", tenant);
  };
  // In a cluster, tenants and keys travel between members (app/auth_sync.hpp).
  // The grid hands peer tables over from its start, before the key store is
  // open: they wait in the inbox, which outlives the grid.
  std::optional<app::auth_inbox> auth_inbox;
  if (s.cluster.enabled()) {
    auth_inbox.emplace();
    options.on_peer_auth = [&auth_inbox](const std::string& member, std::string bytes) {
      if (!auth_inbox->offer(member, std::move(bytes)))
        spdlog::warn("auth sync: too many members' tables waiting; dropped the one of {}", member);
    };
  }
  auto g = grid::open(options, &error);
  if (!g) {
    std::fprintf(stderr, "stockgrid: cannot start: %s\n", error.c_str());
    return exit_corrupt;
  }

  std::unique_ptr<auth::sqlite_key_store> keys;
  if (auto st = auth::sqlite_key_store::open(auth::system_db_path(s.node.data_dir), &keys); !st) {
    std::fprintf(stderr, "stockgrid: cannot open the key store: %s\n", st.message().c_str());
    return exit_start;
  }
  auto boot = auth::bootstrap_system_key(*keys, std::getenv("STOCKGRID_ADMIN_TOKEN"));
  if (!boot.status) {
    std::fprintf(stderr, "stockgrid: system key: %s\n", boot.status.message().c_str());
    return exit_start;
  }
  if (boot.generated_token)
    std::printf("System token (shown once, only its hash is kept): %s\n",
                boot.generated_token->c_str());
  if (boot.env_token_ignored)
    spdlog::warn("STOCKGRID_ADMIN_TOKEN ignored: the data dir already has a system key");
  auth::key_authenticator authn(*keys);
  // Publishes this node's tenants and keys and merges the other members';
  // stopped before the grid (its publish goes through the grid).
  std::optional<app::auth_sync> auth_sync;
  if (auth_inbox)
    auth_sync.emplace(
        *keys, *auth_inbox, [&g](std::string bytes) { g->publish_auth(std::move(bytes)); },
        [&g, &authn](const std::string& tenant, bool removed) {
          (void)authn.reload();  // suspended, or its keys gone from the store
          if (!removed) return g->note_deleting(tenant, actors::now_ms());
          g->note_removed(tenant, actors::now_ms());
          if (auto st = g->forget_tenant(tenant); !st)
            spdlog::warn("tenant {}: forgetting it here: {}", tenant, st.to_string());
        });
  auth::key_admin admin(*keys, &authn, {}, s.cluster.enabled() ? s.cluster.member_id() : std::string{});
  // In a cluster a deleted tenant's name is taken again only after the
  // journal's retention (docs/cluster.md, "Deleting a tenant"), and the
  // tenants being deleted or deleted within it are refused from the start.
  if (s.cluster.enabled()) {
    const auto retention = static_cast<epoch_ms>(s.journal.retention_ms);
    admin.reuse_names_after(retention);
    std::vector<auth::tenant_record> tenants;
    std::vector<auth::tenant_tombstone> tombs;
    if (!keys->list_tenants(&tenants) || !keys->list_tombstones(&tombs)) {
      std::fprintf(stderr, "stockgrid: cannot read the tenants of %s\n", auth::system_db_path(s.node.data_dir).c_str());
      return exit_corrupt;
    }
    for (const auto& t : tenants)
      if (t.deleting_ms) g->note_deleting(t.name, *t.deleting_ms);
    for (const auto& t : tombs)
      if (t.deleted_ms + retention > actors::now_ms()) g->note_removed(t.name, t.deleted_ms);
  }
  publisher.bind(&g->journal());
  app::node_dispatcher grid_dispatcher(*g, admin, &publisher,
                                       {s.subscriptions.queue_events_max, s.subscriptions.coalesce_records_max},
                                       gs.frame_bytes_max / 2, quotas);
  if (demo) grid_dispatcher.protect_tenant("demo");
  // A tenant.delete a stop cut short finishes now, before new admin ops.
  grid_dispatcher.resume_deletes();
  gateway::rate_limited_dispatcher dispatcher(grid_dispatcher, limiter);

  gs.announced_ttl_ms_max = static_cast<std::int64_t>(s.holds.max_ttl_ms);
  gs.announced_ttl_ms_default = static_cast<std::int64_t>(s.holds.default_ttl_ms);
  // Every request is counted, timed and given a request id on its way in.
  gateway::metered_dispatcher metered(dispatcher, registry, 10'000);
  registry.add_counter_family_fn(
      "stockgrid_rate_limited_total", "Requests refused RATE_LIMITED by the tenant's request rate, by tenant.",
      {"tenant"}, 10'000, [&limiter] {
        metrics::registry::labelled_values out;
        for (auto& [tenant, n] : limiter.stats().by_tenant) out.push_back({{tenant}, static_cast<double>(n)});
        return out;
      });
  std::atomic<bool> draining{false};
  auto ready = [&draining] { return !draining.load(); };
  const gateway::static_site dashboard = app::dashboard_site(web_dir);
  gateway::server gateway(gs, metered, authn, ready);
  gateway.extra_http = [&dashboard](const gateway::http_request& r) { return dashboard.answer(r); };
  gateway.metrics = [&registry] { return registry.expose(); };
  gateway.tenant_connections_max = [&connection_limits](const std::string& tenant) {
    return connection_limits.of(tenant);
  };
  node_metrics.watch(*g, publisher, gateway, ready, s.node.max_in_flight);
  if (!gateway.start(&error)) {
    std::fprintf(stderr, "stockgrid: cannot listen on %s:%u: %s\n", gs.bind.c_str(), gs.port,
                 error.c_str());
    return exit_start;
  }
  std::optional<gateway::server> admin_server;
  if (admin_port.port >= 0) {
    gateway::gateway_settings as;
    as.bind = admin_port.bind;
    as.port = static_cast<std::uint16_t>(admin_port.port);
    as.io_threads = 1;
    as.websocket_enabled = false;
    as.metrics_token_required = false;
    admin_server.emplace(as, metered, authn, ready);
    admin_server->metrics = [&registry] { return registry.expose(); };
    if (!admin_server->start(&error)) {
      std::fprintf(stderr, "stockgrid: cannot listen on admin port %s:%d: %s\n", admin_port.bind.c_str(),
                   admin_port.port, error.c_str());
      return exit_start;
    }
  }
  // In a cluster: order and transfer ops other members send, for tenants
  // whose home this node is (until now they were answered UNAVAILABLE).
  // From here on every return goes through g->stop(), which stops the
  // cluster actor before the dispatcher goes.
  g->serve_calls([&grid_dispatcher](std::string call, std::function<void(std::string)> answer) {
    grid_dispatcher.serve_call(std::move(call), std::move(answer));
  });
  if (demo) run_demo(*g, admin, gateway.port());
  std::optional<app::demo_load> load;
  if (demo_load_on) load.emplace(*g, app::demo_load_settings{});
  spdlog::info("stockgrid ready on ws://{}:{}/v1/ws: data in {}, {} partitions, durability {}",
               gs.bind, gateway.port(), s.node.data_dir, s.node.partitions,
               config::to_string(s.journal.durability));
  // The admin line first: tests and scripts wait for "listening on".
  if (admin_server) std::printf("admin listening on %s:%u\n", admin_port.bind.c_str(), admin_server->port());
  std::printf("listening on %s:%u\n", gs.bind.c_str(), gateway.port());
  std::fflush(stdout);

  const int sig = wait_for_signal();
  spdlog::info("signal {}: draining", sig);
  draining = true;
  gateway.begin_drain();
  if (admin_server) admin_server->begin_drain();
  // In a cluster its partitions get new leaders now, while it still serves
  // (and forwards) its clients' requests, instead of after it is gone.
  g->hand_off(std::chrono::milliseconds(s.node.shutdown_drain_ms));
  if (s.node.shutdown_unready_ms > 0) {
    // Load balancers see /readyz 503 and move traffic while it is served.
    spdlog::info("/readyz answers 503 for {} ms before connections close", s.node.shutdown_unready_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(s.node.shutdown_unready_ms));
  }
  gateway.stop();
  if (admin_server) admin_server->stop();
  load.reset();
  grid_dispatcher.stop();  // admin ops (a tenant.delete) use the grid: they end first
  auth_sync.reset();       // it publishes through the grid
  g->stop();
  publisher.stop();  // its thread may call the journal writer: stop it before the grid goes
  spdlog::info("stopped cleanly");
  return 0;
}
