// The end-to-end protocol tests' fixture: a real `stockgrid` node (real
// socket, CAF, SQLite in a fresh temp dir) started by the test and stopped
// with SIGTERM at its end, and a session that speaks the wire protocol to it
// with the blocking test client of tests/gateway.
//
// Every wait is bounded: the node must print its port within
// node_start_timeout, each answer must arrive within answer_timeout, and the
// node must exit 0 within node_stop_timeout of SIGTERM. A node a test does
// not stop (a failed REQUIRE) is killed by the destructor.
#pragma once

#include <catch2/catch.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/value.hpp"
#include "tests/gateway/test_client.hpp"
#include "tests/support/grid_harness.hpp"
#include "tests/support/process.hpp"

namespace Catch {
// Failed checks print values as JSON.
template <>
struct StringMaker<stockgrid::protocol::value> {
  static std::string convert(const stockgrid::protocol::value& v) {
    return stockgrid::protocol::serialize(v, stockgrid::protocol::encoding::json);
  }
};
}  // namespace Catch

namespace stockgrid::node_test {

using namespace std::chrono_literals;
namespace gateway_test = ::stockgrid::gateway_test;
namespace protocol = ::stockgrid::protocol;
using protocol::array;
using protocol::encoding;
using protocol::object;
using protocol::value;

inline constexpr auto node_start_timeout = 30s;
inline constexpr auto node_stop_timeout = 15s;
inline constexpr auto answer_timeout = 10s;

// The system token the node bootstraps from STOCKGRID_ADMIN_TOKEN.
inline constexpr const char* system_token = "e2e-system-token-7c41d09b2f5a38e6";

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string name_of(encoding enc) { return enc == encoding::json ? "JSON" : "msgpack"; }

// ---------------------------------------------------------------------------
// Reading responses

// The member at a dotted path ("record.on_hand", "error.code"); a null value
// when any step is missing.
inline const value& at(const value& v, std::string_view path) {
  static const value missing;
  const value* here = &v;
  while (!path.empty()) {
    const auto dot = path.find('.');
    here = here->find(path.substr(0, dot));
    if (here == nullptr) return missing;
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return *here;
}
inline bool has(const value& v, std::string_view path) {
  const auto dot = path.rfind('.');
  const value& parent = dot == std::string_view::npos ? v : at(v, path.substr(0, dot));
  return parent.find(dot == std::string_view::npos ? path : path.substr(dot + 1)) != nullptr;
}
inline std::int64_t integer(const value& v, std::string_view path) {
  const value& member = at(v, path);
  INFO("integer at " << path << " in " << Catch::Detail::stringify(v));
  REQUIRE(member.as_int() != nullptr);
  return *member.as_int();
}
inline std::string text(const value& v, std::string_view path) {
  const value& member = at(v, path);
  return member.as_string() ? *member.as_string() : std::string{};
}
inline const array& items(const value& v, std::string_view path) {
  const value& member = at(v, path);
  INFO("array at " << path << " in " << Catch::Detail::stringify(v));
  REQUIRE(member.as_array() != nullptr);
  return *member.as_array();
}
inline bool ok(const value& response) { return gateway_test::is_ok(response); }
inline std::string code(const value& response) { return text(response, "error.code"); }
inline std::string message(const value& response) { return text(response, "error.message"); }
// The response's id is present and null.
inline bool null_id(const value& response) {
  const value* id = response.find("id");
  return id != nullptr && id->is_null();
}

// A failed answer: ok false, this code, and a message.
inline void check_error(const value& answer, std::string_view expected_code) {
  INFO(Catch::Detail::stringify(answer));
  CHECK(at(answer, "ok") == value(false));
  CHECK(code(answer) == expected_code);
  CHECK_FALSE(message(answer).empty());
}

// A BAD_REQUEST whose message names `field` first ("qty: must be ...").
inline void check_bad_field(const value& answer, std::string_view field) {
  check_error(answer, "BAD_REQUEST");
  INFO(Catch::Detail::stringify(answer));
  CHECK(message(answer).starts_with(std::string(field) + ":"));
}

// `v` with every object's members sorted by name: members have no order on
// the wire, so tests compare sorted values.
inline value sorted(const value& v) {
  if (const array* list = v.as_array()) {
    array out;
    for (const value& item : *list) out.push_back(sorted(item));
    return out;
  }
  if (const object* members = v.as_object()) {
    object out;
    for (const auto& [name, member] : *members) out.emplace_back(name, sorted(member));
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }
  return v;
}

// The record object as the docs define it (sorted, like record_of()).
inline value record(std::string warehouse, std::string sku, std::int64_t on_hand,
                    std::int64_t reserved, std::int64_t version) {
  return sorted(object{{"warehouse", std::move(warehouse)}, {"sku", std::move(sku)},
                       {"on_hand", on_hand},                {"reserved", reserved},
                       {"available", on_hand - reserved},  {"version", version},
                       {"backordered", 0},                  {"incoming", 0},
                       {"safety_stock", 0},                 {"allow_backorder", false},
                       {"low_stock_threshold", 0}});
}
// A response's `record`, sorted.
inline value record_of(const value& response) { return sorted(at(response, "record")); }

// ---------------------------------------------------------------------------
// The node

struct node_options {
  std::vector<std::string> args;  // extra command-line options
  bool demo = true;               // --demo: the `demo` tenant and its tokens
  // The data dir; empty = a fresh one of the node's own. A test that
  // restarts a node gives each of its runs the same one.
  std::string data_dir;
  // A program (and its arguments) the node is started through, which must
  // exec it so the pid stays the node's: `nsenter -t PID -m --` runs it in
  // another process's mount namespace (node_disk_test.cpp). Empty = none.
  std::vector<std::string> launcher = {};
  // Extra NAME=VALUE environment entries for the node.
  std::vector<std::string> env = {};
  // --partitions (every node of a cluster must have the same).
  std::uint32_t partitions = 4;
  // The address the gateway listens on (--bind) and sessions connect to: an
  // address of the node's own network namespace (node_partition_test.cpp).
  std::string host = "127.0.0.1";
  // The gateway's port; 0 = one the kernel picks, anew at every start.
  std::uint16_t port = 0;
};
// A node without the demo tenant (tests that create their own tenants).
inline node_options without_demo() {
  node_options options;
  options.demo = false;
  return options;
}

class session;

class test_node {
 public:
  explicit test_node(node_options options = {}) {
    std::vector<std::string> argv = std::move(options.launcher);
    argv.insert(argv.end(), {"/usr/bin/env", std::string("STOCKGRID_ADMIN_TOKEN=") + system_token});
    for (auto& e : options.env) argv.push_back(std::move(e));
    argv.insert(argv.end(), {testing::built_program("app/stockgrid"),
                             "--data-dir",
                             options.data_dir.empty() ? dir_.path() + "/data" : options.data_dir,
                             "--bind",
                             options.host,
                             "--port",
                             std::to_string(options.port),
                             "--partitions",
                             std::to_string(options.partitions),
                             "--journal-threads",
                             "1",
                             "--io-threads",
                             "2"});
    if (options.demo) argv.push_back("--demo");
    for (auto& a : options.args) argv.push_back(std::move(a));
    argv_ = std::move(argv);
    demo_ = options.demo;
    host_ = std::move(options.host);
    launch();
  }
  ~test_node() { process_.reset(); }  // SIGKILL and reap, if not stopped

  // Starts the node again on the same data dir, with the same options, after
  // stop() (--demo then finds its tenant and stock, and prints new tokens).
  void restart() {
    sessions_.clear();
    writer_.clear();
    reader_.clear();
    stdout_.clear();
    port_ = admin_port_ = 0;
    launch();
  }

  test_node(const test_node&) = delete;
  test_node& operator=(const test_node&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }
  pid_t pid() const { return process_->pid(); }
  // With --admin-port: the port it bound; else 0.
  std::uint16_t admin_port() const { return admin_port_; }
  // The demo tenant's tokens, as printed by --demo.
  const std::string& demo_writer() const { return writer_; }
  const std::string& demo_reader() const { return reader_; }

  // The graceful stop: SIGTERM; every session still open is closed with
  // 1001 (going away), and the node exits 0.
  void stop();
  // Only sends SIGTERM (stop() still checks the end).
  void terminate() { process_->kill(SIGTERM); }

  // Sessions register themselves, so stop() can check how they end.
  void enroll(session* s) { sessions_.insert(s); }
  void leave(session* s) { sessions_.erase(s); }
  // "running", or how it ended ("exited with 139" for a crash: 128 + signal).
  std::string status() {
    const auto code = process_->wait_exit(0ms);
    return code ? "exited with " + std::to_string(*code) : "running";
  }
  // Still serving: running, and /healthz answers 200.
  bool healthy() {
    if (process_->wait_exit(0ms).has_value()) return false;
    return gateway_test::http_get(port_, "/healthz").status == 200;
  }

  std::string log() const {
    std::ifstream in(stderr_path());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string stderr_path() const { return dir_.path() + "/stderr.log"; }

  void launch() {
    process_ = std::make_unique<testing::child_process>(argv_, stderr_path());
    // The node prints the demo tokens, then "listening on HOST:PORT".
    // The lines are read on a helper thread so the wait is bounded: at the
    // deadline the node is killed, which ends the read.
    auto startup = std::async(std::launch::async, [this] { return read_startup(); });
    if (startup.wait_for(node_start_timeout) != std::future_status::ready)
      process_->kill(SIGKILL);
    const bool started = startup.get();
    INFO("node stdout:\n" << stdout_ << "node stderr:\n" << log());
    REQUIRE(started);
    REQUIRE(port_ != 0);
    if (demo_) {
      REQUIRE_FALSE(writer_.empty());
      REQUIRE_FALSE(reader_.empty());
    }
  }

  bool read_startup() {
    while (auto line = process_->read_line()) {
      stdout_ += *line + "\n";
      auto after = [&](std::string_view label) -> std::string {
        const auto found = line->find(label);
        return found == std::string::npos ? "" : line->substr(found + label.size());
      };
      if (auto t = after("writer token: "); !t.empty()) writer_ = t;
      if (auto t = after("reader token: "); !t.empty()) reader_ = t;
      if (auto p = after("admin listening on 127.0.0.1:"); !p.empty()) {
        admin_port_ = static_cast<std::uint16_t>(std::stoi(p));
        continue;
      }
      if (auto p = after("listening on " + host_ + ":"); !p.empty()) {
        port_ = static_cast<std::uint16_t>(std::stoi(p));
        return true;
      }
    }
    return false;
  }

  testing::temp_dir dir_;
  std::vector<std::string> argv_;
  bool demo_ = true;
  std::string host_;
  std::unique_ptr<testing::child_process> process_;
  std::set<session*> sessions_;
  std::string stdout_;
  std::string writer_, reader_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

// ---------------------------------------------------------------------------
// A protocol session

// The descriptors of the sockets this process has open.
inline std::set<int> open_sockets() {
  std::set<int> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  while (const dirent* entry = ::readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    struct stat st {};
    if (fd > 2 && fd != ::dirfd(dir) && ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
      out.insert(fd);
  }
  ::closedir(dir);
  return out;
}

class session {
 public:
  // Connects (and upgrades) without authenticating.
  session(test_node& node, encoding enc, gateway_test::headers upgrade_headers = {})
      : node_(node), enc_(enc) {
    gateway_test::client_options options;
    options.host = node.host();
    options.upgrade_headers = std::move(upgrade_headers);
    std::string error;
    const std::set<int> before = open_sockets();
    client_ = gateway_test::ws_client::connect(node.port(), options, &error);
    INFO("connect: " << error);
    REQUIRE(client_);
    // The test client leaves Nagle's algorithm on: a small frame then waits
    // for the previous one to be acknowledged, usually by its answer, so
    // pipelined frames would reach the node one answer apart. Real clients
    // (client/client.cpp) set TCP_NODELAY; so does this session, on the one
    // socket its connect opened (the tests open sockets from one thread).
    int found = 0;
    for (const int fd : open_sockets()) {
      if (before.count(fd) != 0) continue;
      const int on = 1;
      CHECK(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0);
      ++found;
    }
    CHECK(found == 1);
    node_.enroll(this);
  }
  // Connects and authenticates with an auth frame.
  session(test_node& node, encoding enc, const std::string& token) : session(node, enc) {
    const value answer = call({{"op", "auth"}, {"token", token}});
    INFO(Catch::Detail::stringify(answer));
    REQUIRE(ok(answer));
  }
  ~session() { node_.leave(this); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  encoding enc() const { return enc_; }

  // Sends a request (an id is added unless it has one) in `enc` (the
  // session's by default) and returns its id.
  std::int64_t send(object request, std::optional<encoding> enc = {}) {
    std::int64_t id = 0;
    auto given = std::find_if(request.begin(), request.end(),
                              [](const auto& member) { return member.first == "id"; });
    if (given != request.end() && given->second.as_int()) {
      id = *given->second.as_int();
    } else {
      id = next_id_++;
      request.insert(request.begin() + (request.empty() ? 0 : 1), std::pair<std::string, value>("id", id));
    }
    const encoding e = enc.value_or(enc_);
    sent_in_[id] = e;
    client_->send(value(std::move(request)), e);
    return id;
  }

  // Waits for the answer with this id, keeping answers to other ids for
  // later. Checks that it came in the encoding its request was sent in.
  value answer(std::int64_t id) {
    if (auto found = early_.find(id); found != early_.end()) {
      value v = std::move(found->second);
      early_.erase(found);
      return v;
    }
    for (;;) {
      const value v = next();
      const auto got = gateway_test::id_of(v);
      if (got == id) return v;
      if (!got && v.find("event") != nullptr) {  // a subscription's frame
        events_.push_back(v);
        continue;
      }
      INFO("unexpected answer " << Catch::Detail::stringify(v));
      REQUIRE(got.has_value());
      REQUIRE(early_.count(*got) == 0);
      early_.emplace(*got, v);
    }
  }

  // One request and its answer.
  value call(object request, std::optional<encoding> enc = {}) {
    return answer(send(std::move(request), enc));
  }

  // The next frame, parsed in its encoding; it must come within the timeout
  // and, when it answers a request this session sent, in that request's
  // encoding.
  value next(std::chrono::milliseconds timeout = answer_timeout) {
    const gateway_test::read_result r = client_->read(timeout);
    if (!r.got_frame) {
      ended_ = true;
      INFO("read: " << r.error << ", close code " << r.close_code << " " << r.close_reason
                    << (r.timed_out ? ", timed out" : ""));
      INFO("node " << node_.status() << "; its log:\n" << node_.log());
      REQUIRE(r.got_frame);
    }
    value v;
    std::string error;
    const auto enc = r.text ? encoding::json : encoding::msgpack;
    INFO("frame: " << r.bytes);
    REQUIRE(protocol::parse(r.bytes, enc, protocol::parse_limits{}, &v, &error));
    if (auto id = gateway_test::id_of(v)) {
      if (auto sent = sent_in_.find(*id); sent != sent_in_.end()) {
        INFO("answer to request " << *id << " in the wrong encoding");
        CHECK(sent->second == enc);
      }
    }
    last_was_text_ = r.text;
    return v;
  }
  bool last_was_text() const { return last_was_text_; }

  // The next subscription event (a frame with "event" and no id), in order,
  // keeping answers that arrive meanwhile for answer().
  value next_event(std::chrono::milliseconds timeout = answer_timeout) {
    if (!events_.empty()) {
      value v = std::move(events_.front());
      events_.pop_front();
      return v;
    }
    for (;;) {
      value v = next(timeout);
      if (auto got = gateway_test::id_of(v)) {
        REQUIRE(early_.count(*got) == 0);
        early_.emplace(*got, std::move(v));
        continue;
      }
      INFO(Catch::Detail::stringify(v));
      REQUIRE(v.find("event") != nullptr);
      return v;
    }
  }
  // Whether an event is already waiting (read, not yet returned).
  std::size_t events_waiting() const { return events_.size(); }

  // Raw frames, for bad input.
  void send_text(std::string_view bytes) { client_->send_text(bytes); }
  void send_binary(std::string_view bytes) { client_->send_binary(bytes); }
  void send_raw(std::string_view bytes) {
    enc_ == encoding::json ? send_text(bytes) : send_binary(bytes);
  }

  // Reads until the server ends the connection: its close code, 0 without a
  // close frame, -1 when it did not end within `timeout`.
  int wait_close(std::chrono::milliseconds timeout = 5s) {
    const int code = client_->wait_close(timeout);
    ended_ = ended_ || code >= 0;
    return code;
  }
  void close() {
    client_->close();
    ended_ = true;
  }
  // Whether the connection is known to have ended.
  bool ended() const { return ended_; }
  // One read of the underlying client (for tests that expect a close).
  gateway_test::read_result read(std::chrono::milliseconds timeout) {
    gateway_test::read_result r = client_->read(timeout);
    ended_ = ended_ || r.closed;
    return r;
  }

 private:
  test_node& node_;
  encoding enc_;
  std::unique_ptr<gateway_test::ws_client> client_;
  bool ended_ = false;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, encoding> sent_in_;
  std::map<std::int64_t, value> early_;
  std::deque<value> events_;
  bool last_was_text_ = false;
};

inline void test_node::stop() {
  process_->kill(SIGTERM);
  for (session* s : sessions_) {
    if (s->ended()) continue;
    INFO("a session open when the node stops is closed with 1001");
    CHECK(s->wait_close(node_stop_timeout) == 1001);
  }
  const auto code = process_->wait_exit(node_stop_timeout);
  INFO("node stderr:\n" << log());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

// Reads msgpack answers until the connection ends, handing each answer and
// its id to `each`; returns the close code (-1 when it ended without one).
template <typename Fn>
int read_answers_until_close(session& s, Fn&& each) {
  for (;;) {
    const gateway_test::read_result r = s.read(node_stop_timeout);
    if (!r.got_frame) return r.closed ? r.close_code : -1;
    value v;
    std::string error;
    REQUIRE(protocol::parse(r.bytes, encoding::msgpack, {}, &v, &error));
    const auto id = gateway_test::id_of(v);
    REQUIRE(id.has_value());
    each(v, *id);
  }
}

// The serialized frame of a request, for tests that send bytes themselves.
inline std::string frame(const object& request, encoding enc) {
  return protocol::serialize(value(request), enc);
}

// A tenant created through the system role: its name and admin token, and a
// writer and a reader key its admin created.
struct tenant_keys {
  std::string name;
  std::string admin, writer, reader;
  std::string admin_key_id, writer_key_id, reader_key_id;
};

// Whether an authenticated session's next request is refused: an error
// answer, or the connection closed (1008) before or instead of an answer.
inline bool refused(session& s, const object& request) {
  if (s.ended()) return true;
  s.send(request);
  const gateway_test::read_result r = s.read(std::chrono::seconds(3));
  if (!r.got_frame) return true;
  value v;
  std::string error;
  const auto enc = r.text ? encoding::json : encoding::msgpack;
  REQUIRE(protocol::parse(r.bytes, enc, {}, &v, &error));
  INFO(Catch::Detail::stringify(v));
  return !ok(v);
}

inline tenant_keys create_tenant(test_node& node, const std::string& name,
                                 encoding enc = encoding::json) {
  tenant_keys t;
  t.name = name;
  session system(node, enc, system_token);
  const value created = system.call({{"op", "tenant.create"}, {"tenant", name}});
  INFO(Catch::Detail::stringify(created));
  REQUIRE(ok(created));
  t.admin = text(created, "token");
  t.admin_key_id = text(created, "key_id");
  session admin(node, enc, t.admin);
  const value writer = admin.call({{"op", "key.create"}, {"role", "writer"}});
  const value reader = admin.call({{"op", "key.create"}, {"role", "reader"}});
  REQUIRE(ok(writer));
  REQUIRE(ok(reader));
  t.writer = text(writer, "token");
  t.writer_key_id = text(writer, "key_id");
  t.reader = text(reader, "token");
  t.reader_key_id = text(reader, "key_id");
  return t;
}

}  // namespace stockgrid::node_test
