// Model-based randomized test: random sequences of requests, from a printed
// seed, applied both to a real `stockgrid` node (through the wire protocol)
// and to the reference model of reference_model.hpp (written separately from
// docs/protocol.md). Every answer must agree, step by step, and so must the
// final state of every record, hold, order and transfer.
//
//   STOCKGRID_MODEL_SEED=N       replay one seed (the failure message names it)
//   STOCKGRID_MODEL_SEEDS=K      run K seeds (default 5)
//   STOCKGRID_MODEL_STEPS=N      requests per seed (default 400)
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/model/reference_model.hpp"
#include "tests/system/node_fixture.hpp"

using namespace stockgrid::node_test;
namespace model = stockgrid::model_test;

namespace {

// A positive decimal number from the environment, `fallback` when unset or
// empty; anything else (0, a sign, a letter, overflow) is a usage error
// thrown with the variable's name, so a bad value cannot make a vacuous run.
std::uint64_t env_number(const char* name, std::uint64_t fallback, std::uint64_t max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const std::string text = v;
  std::uint64_t n = 0;
  bool ok = text.size() <= 19 && text.find_first_not_of("0123456789") == std::string::npos;
  if (ok) n = std::stoull(text);
  if (!ok || n == 0 || n > max)
    throw std::invalid_argument(std::string(name) + "=" + text + ": not a number in 1.." + std::to_string(max));
  return n;
}

// ---------------------------------------------------------------------------
// The generator: few records, small quantities (so refusals happen), live and
// dead holds, orders and transfers reused, earlier idempotency keys replayed
// as they were and changed, and bad input.

class generator {
 public:
  generator(std::uint64_t seed, const model::reference_model& m) : rng_(seed), m_(m) {}

  model::op next() {
    const int pick = below(100);
    if (pick < 8 && !with_idem_.empty()) return replay();
    if (pick < 20) return adjust();
    if (pick < 25) return set();
    if (pick < 40) return reserve();
    if (pick < 47) return hold_op(model::kind::commit);
    if (pick < 54) return hold_op(model::kind::release);
    if (pick < 58) return hold_op(model::kind::extend);
    if (pick < 63) return sell();
    if (pick < 67) return read();
    if (pick < 76) return order_reserve();
    if (pick < 85) return order_op();
    if (pick < 91) return transfer_create();
    return transfer_op();
  }

  // Remembers an op that carried an idem, for later replays.
  void sent(const model::op& o) {
    if (!o.idem.empty()) with_idem_.push_back(o);
  }

 private:
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }
  bool chance(int percent) { return below(100) < percent; }
  const model::record_id& any_record() { return m_.records()[below(static_cast<int>(m_.records().size()))]; }
  void on_record(model::op& o) {
    const auto& r = any_record();
    o.warehouse = r.warehouse;
    o.sku = r.sku;
  }
  std::string fresh_idem() { return "k" + std::to_string(++idems_); }
  void maybe_idem(model::op& o, int percent = 40) {
    if (!chance(percent)) return;
    o.idem = fresh_idem();
    if (chance(2)) o.idem = "sg:" + o.idem;  // reserved for the server
  }
  // A quantity that is mostly valid and small, sometimes out of range.
  std::int64_t units(std::int64_t hi) {
    const int p = below(100);
    if (p < 3) return 0;
    if (p < 5) return -between(1, 3);
    if (p < 6) return model::quantity_max + 1;
    return between(1, hi);
  }
  std::int64_t ttl() {
    const int p = below(100);
    if (p < 3) return model::ttl_ms_max + 1;
    if (p < 5) return -1;
    return between(300'000, model::ttl_ms_max);  // nothing expires during a run
  }

  model::op adjust() {
    model::op o(model::kind::adjust);
    on_record(o);
    o.delta = chance(4) ? 0 : between(-4, 7);
    if (*o.delta == 0 && chance(50)) o.delta = 1;
    if (chance(2)) o.delta.reset();
    maybe_idem(o);
    return o;
  }
  model::op set() {
    model::op o(model::kind::set);
    on_record(o);
    o.on_hand = chance(4) ? -1 : between(0, 9);
    if (chance(50)) {
      const int r = m_.record_index(o.warehouse, o.sku);
      const auto got = m_.get(r);
      const std::int64_t current = got.record ? got.record->version : 0;
      o.expected_version = chance(60) ? current : std::max<std::int64_t>(0, current + between(-2, 2));
    }
    maybe_idem(o);
    return o;
  }
  model::op reserve() {
    model::op o(model::kind::reserve);
    on_record(o);
    o.qty = units(4);
    if (chance(70)) o.ttl_ms = ttl();
    if (chance(30)) o.ref = "cart-" + std::to_string(below(5));
    maybe_idem(o);
    return o;
  }
  model::op sell() {
    model::op o(model::kind::sell);
    on_record(o);
    o.qty = units(3);
    maybe_idem(o);
    return o;
  }
  model::op read() {
    model::op o(chance(50) ? model::kind::get : model::kind::holds);
    on_record(o);
    if (chance(5)) o.sku = "never-stocked";
    if (chance(2)) o.warehouse.clear();  // missing: BAD_REQUEST
    return o;
  }
  // A hold: mostly a live one, else an ended one, an order's, one never
  // issued, or an id too long to be one.
  model::target hold() {
    model::target t;
    const int issued = static_cast<int>(m_.holds_issued());
    const int p = below(100);
    if (p < 6) {
      t.literal = "H0-" + std::to_string(between(1'000'000, 9'000'000));
      return t;
    }
    if (p < 8) {
      t.literal = std::string(model::hold_id_bytes_max + 1, 'H');
      return t;
    }
    if (issued == 0) {
      t.literal = "no-such-hold";
      return t;
    }
    std::vector<int> live, dead;
    for (int h = 0; h < issued; ++h) (m_.hold_live(h) ? live : dead).push_back(h);
    if (!live.empty() && (p < 75 || dead.empty())) t.index = live[below(static_cast<int>(live.size()))];
    else t.index = dead.empty() ? live[0] : dead[below(static_cast<int>(dead.size()))];
    return t;
  }
  model::op hold_op(model::kind k) {
    model::op o{k};
    o.hold = hold();
    if (k == model::kind::extend) {
      o.ttl_ms = ttl();
    } else if (chance(40)) {
      const std::int64_t held = o.hold.index >= 0 ? m_.hold_qty(o.hold.index) : 2;
      o.qty = chance(10) ? held + 1 : (chance(5) ? 0 : between(1, std::max<std::int64_t>(1, held)));
    }
    maybe_idem(o);
    return o;
  }
  model::op order_reserve() {
    model::op o(model::kind::order_reserve);
    const int n = 1 + below(3);
    for (int i = 0; i < n; ++i) {
      const auto& r = any_record();
      o.lines.push_back({r.sku, r.warehouse, units(4)});
    }
    if (chance(3)) o.lines.clear();
    if (chance(30)) o.policy = "partial";
    if (chance(50)) o.ttl_ms = ttl();
    maybe_idem(o, 50);
    return o;
  }
  model::target order() {
    model::target t;
    const int issued = static_cast<int>(m_.orders_issued());
    if (issued == 0 || chance(5)) t.literal = "O" + std::to_string(between(900'000, 999'999));
    else t.index = below(issued);
    return t;
  }
  model::op order_op() {
    static constexpr model::kind kinds[] = {model::kind::order_commit, model::kind::order_release,
                                            model::kind::order_extend, model::kind::order_get};
    model::op o(kinds[below(4)]);
    o.order = order();
    if (o.k == model::kind::order_extend) o.ttl_ms = ttl();
    return o;
  }
  model::op transfer_create() {
    model::op o(model::kind::transfer_create);
    const auto& from = any_record();
    const auto& to = any_record();
    o.sku = from.sku;
    o.from = from.warehouse;
    o.to = to.warehouse;  // sometimes the same: BAD_REQUEST
    o.qty = units(4);
    maybe_idem(o);
    return o;
  }
  model::op transfer_op() {
    static constexpr model::kind kinds[] = {model::kind::transfer_receive, model::kind::transfer_receive,
                                            model::kind::transfer_cancel, model::kind::transfer_get};
    model::op o(kinds[below(4)]);
    const int issued = static_cast<int>(m_.transfers_issued());
    if (issued == 0 || chance(5)) o.transfer.literal = "T" + std::to_string(between(900'000, 999'999));
    else o.transfer.index = below(issued);
    if (o.k == model::kind::transfer_receive) {
      if (chance(60)) {
        const std::int64_t rest = o.transfer.index >= 0 ? m_.transfer_in_transit(o.transfer.index) : 1;
        o.qty = chance(10) ? rest + 1 : between(1, std::max<std::int64_t>(1, rest));
      }
      if (chance(40)) o.idem = "r" + std::to_string(++idems_);
    }
    return o;
  }
  // An earlier request with an idem: as it was, or changed under its key.
  model::op replay() {
    model::op o = with_idem_[below(static_cast<int>(with_idem_.size()))];
    if (chance(50)) return o;
    // Changed in a field the op has (an unknown field would be ignored).
    using model::kind;
    auto bump = [](std::optional<std::int64_t>& v) { v = v.value_or(0) + 1; };
    switch (o.k) {
      case kind::adjust: bump(o.delta); break;
      case kind::set: bump(o.on_hand); break;
      case kind::extend: bump(o.ttl_ms); break;
      case kind::order_reserve:
        if (o.lines.empty()) o.policy = "partial";
        else bump(o.lines[0].qty);
        break;
      case kind::reserve:
        if (chance(50)) o.ref = "changed";
        else bump(o.qty);
        break;
      default: bump(o.qty);  // commit, release, sell, transfers
    }
    return o;
  }

  std::mt19937_64 rng_;
  const model::reference_model& m_;
  std::vector<model::op> with_idem_;
  int idems_ = 0;
};

// ---------------------------------------------------------------------------
// Talking to the node: requests from ops, answers into the model's terms
// (the node's opaque ids numbered in the order they first appear).

class id_map {
 public:
  // The model number of a node id; a new one gets the next number.
  int number(const std::string& id) {
    if (auto it = numbers_.find(id); it != numbers_.end()) return it->second;
    ids_.push_back(id);
    return numbers_[id] = static_cast<int>(ids_.size()) - 1;
  }
  const std::string& id(int number) const { return ids_.at(number); }
  std::size_t size() const { return ids_.size(); }

 private:
  std::map<std::string, int> numbers_;
  std::vector<std::string> ids_;
};

struct node_ids {
  id_map holds, orders, transfers;

  std::string wire(const model::target& t, const id_map& m) const {
    return t.index >= 0 ? m.id(t.index) : t.literal;
  }
};

object request_of(const model::op& o, const node_ids& ids) {
  object r{{"op", model::name_of(o.k)}};
  auto add = [&](const char* name, value v) { r.emplace_back(name, std::move(v)); };
  auto opt = [&](const char* name, const std::optional<std::int64_t>& v) {
    if (v) add(name, *v);
  };
  using model::kind;
  switch (o.k) {
    case kind::transfer_create:
      add("sku", o.sku);
      add("from", o.from);
      add("to", o.to);
      break;
    case kind::commit:
    case kind::release:
    case kind::extend: add("hold", ids.wire(o.hold, ids.holds)); break;
    case kind::order_reserve: {
      array lines;
      for (const auto& l : o.lines) {
        object line{{"sku", l.sku}, {"warehouse", l.warehouse}};
        if (l.qty) line.emplace_back("qty", *l.qty);
        lines.push_back(std::move(line));
      }
      add("lines", std::move(lines));
      if (!o.policy.empty()) add("policy", o.policy);
      break;
    }
    case kind::order_commit:
    case kind::order_release:
    case kind::order_extend:
    case kind::order_get: add("order", ids.wire(o.order, ids.orders)); break;
    case kind::transfer_receive:
    case kind::transfer_cancel:
    case kind::transfer_get: add("transfer", ids.wire(o.transfer, ids.transfers)); break;
    default:
      if (!o.warehouse.empty()) add("warehouse", o.warehouse);
      if (!o.sku.empty()) add("sku", o.sku);
  }
  opt("qty", o.qty);
  opt("delta", o.delta);
  opt("on_hand", o.on_hand);
  opt("expected_version", o.expected_version);
  opt("ttl_ms", o.ttl_ms);
  if (!o.ref.empty()) add("ref", o.ref);
  if (!o.idem.empty()) add("idem", o.idem);
  return r;
}

std::int64_t int_or(const value& v, std::string_view path, std::int64_t fallback = 0) {
  const value& m = at(v, path);
  return m.as_int() ? *m.as_int() : fallback;
}

model::record_view record_view_of(const value& rec) {
  return {int_or(rec, "on_hand"), int_or(rec, "reserved"), int_or(rec, "available"),
          int_or(rec, "version"), int_or(rec, "incoming")};
}

// The node's order ref "order:<id>" as the model writes it.
std::string model_ref(const std::string& ref, node_ids& ids) {
  const std::string prefix = "order:";
  if (ref.rfind(prefix, 0) != 0) return ref;
  return prefix + "#" + std::to_string(ids.orders.number(ref.substr(prefix.size())));
}

// The node's answer in the model's terms; `expires` gets its deadline.
model::answer observe(const value& v, model::kind k, node_ids& ids, std::int64_t* expires) {
  using model::kind;
  model::answer a;
  const bool good = ok(v);
  const value& body = good ? v : at(v, "error");
  if (!good) a.code = code(v);
  a.replayed = at(v, "replayed") == value(true);
  *expires = int_or(body, "expires_at_ms", -1);
  if (has(body, "record") && !at(body, "record").is_null()) a.record = record_view_of(at(body, "record"));
  if (a.code == "INSUFFICIENT_STOCK" && has(body, "available")) a.available = int_or(body, "available");
  const bool order_op = k == kind::order_reserve || k == kind::order_commit || k == kind::order_release ||
                        k == kind::order_extend || k == kind::order_get;
  const bool transfer_op = k == kind::transfer_create || k == kind::transfer_receive ||
                           k == kind::transfer_cancel || k == kind::transfer_get;
  if (order_op) {
    if (auto id = text(body, "order"); !id.empty()) a.order = ids.orders.number(id);
    a.status = text(body, "status");
    if (const array* lines = at(body, "lines").as_array()) {
      for (const value& l : *lines) {
        if (!good) {  // INSUFFICIENT_STOCK's short lines
          a.short_lines.push_back({text(l, "sku"), text(l, "warehouse"), int_or(l, "requested"),
                                   int_or(l, "available")});
          continue;
        }
        const std::string hold = text(l, "hold");
        a.lines.push_back({text(l, "sku"), text(l, "warehouse"), int_or(l, "qty"),
                           hold.empty() ? -1 : ids.holds.number(hold)});
      }
    }
    if (const array* unfilled = at(body, "unfilled").as_array())
      for (const value& u : *unfilled) a.unfilled.emplace_back(text(u, "sku"), int_or(u, "qty"));
    return a;
  }
  if (transfer_op) {
    if (auto id = text(body, "transfer"); !id.empty() && good) {
      a.transfer = ids.transfers.number(id);
      a.status = text(body, "status");
      a.qty = int_or(body, "qty");
      a.received = int_or(body, "received");
      a.in_transit = int_or(body, "in_transit");
      if (const array* receipts = at(body, "receipts").as_array())
        for (const value& r : *receipts) a.receipts.push_back(int_or(r, "qty", -1));
    }
    return a;
  }
  if (good && (k == kind::reserve || k == kind::extend)) a.hold = ids.holds.number(text(body, "hold"));
  if (good && k == kind::holds) {
    a.has_holds = true;
    for (const value& h : items(body, "holds"))
      a.holds.push_back({ids.holds.number(text(h, "hold")), int_or(h, "qty"), model_ref(text(h, "ref"), ids),
                         int_or(h, "expires_at_ms") != 0, -1, 0, int_or(h, "expires_at_ms", -1)});
  }
  return a;
}

// When each step was sent and answered, for deadlines ("ttl after step S").
struct step_time {
  std::int64_t sent_ms = 0, answered_ms = 0;
};

// The model's answer has no deadline values; the node's must fall in the
// window its step gives (and a replay's is its original's).
std::string deadline_problem(const char* what, int step, std::int64_t ttl_ms, std::int64_t node_expires,
                             const std::vector<step_time>& times) {
  const auto& t = times.at(static_cast<std::size_t>(step));
  const auto lo = t.sent_ms + ttl_ms, hi = t.answered_ms + ttl_ms;
  if (node_expires >= lo && node_expires <= hi) return {};
  std::ostringstream o;
  o << what << " expires_at_ms " << node_expires << " outside [" << lo << ", " << hi << "] (ttl " << ttl_ms
    << " after step " << step << ")";
  return o.str();
}

// Every deadline of an answer: its own (reserve, extend, orders) and each
// stock.holds item's. `got` agrees with `expected` (text), so its holds are
// the same holds in the same order.
std::string deadlines_problem(const model::answer& expected, const model::answer& got, std::int64_t node_expires,
                              const std::vector<step_time>& times) {
  if (!expected.ok()) return {};
  if (expected.deadline_step >= 0)
    if (auto p = deadline_problem("the answer's", expected.deadline_step, expected.deadline_ttl_ms, node_expires,
                                  times);
        !p.empty())
      return p;
  for (std::size_t i = 0; i < expected.holds.size() && i < got.holds.size(); ++i) {
    const auto& h = expected.holds[i];
    if (h.deadline_step < 0) continue;  // an order's hold: no deadline of its own (text: no-deadline)
    const std::string what = "hold #" + std::to_string(h.hold) + "'s";
    if (auto p = deadline_problem(what.c_str(), h.deadline_step, h.deadline_ttl_ms, got.holds[i].expires_at_ms,
                                  times);
        !p.empty())
      return p;
  }
  return {};
}

constexpr int kinds = static_cast<int>(model::kind::transfer_get) + 1;

struct run_figures {
  std::size_t steps = 0, refusals = 0, replays = 0, holds = 0, orders = 0, transfers = 0;
  std::size_t sent[kinds] = {}, ok[kinds] = {};  // by op kind: requests, and those answered ok
};

// One seed: `steps` requests, then the whole final state. Fails (REQUIRE)
// at the first disagreement with the seed, the step, the op, both answers
// and the ops before it.
run_figures run_seed(std::uint64_t seed, int steps) {
  test_node node(without_demo());
  const tenant_keys tenant = create_tenant(node, "model", encoding::msgpack);
  session s(node, encoding::msgpack, tenant.writer);

  model::reference_model m({{"w1", "a"}, {"w1", "b"}, {"w2", "a"}, {"w2", "b"}, {"w3", "a"}, {"w3", "b"}});
  generator gen(seed, m);
  node_ids ids;
  std::vector<step_time> times;
  std::deque<std::string> recent;  // the last ops, for the failure message
  run_figures figures;

  auto fail_report = [&](int step, const std::string& what, const std::string& expected,
                         const std::string& got, const value& raw) {
    std::ostringstream o;
    o << "seed=" << seed << " step=" << step << ": " << what << "\n  model: " << expected
      << "\n  node:  " << got << "\n  raw:   " << Catch::Detail::stringify(raw) << "\n  replay: STOCKGRID_MODEL_SEED="
      << seed << " STOCKGRID_MODEL_STEPS=" << steps << "\n  last ops:\n";
    for (const auto& r : recent) o << "    " << r << "\n";
    return o.str();
  };

  for (int step = 0; step < steps; ++step) {
    const model::op o = gen.next();
    const object request = request_of(o, ids);
    step_time t;
    t.sent_ms = now_ms();
    const value reply = s.call(request);
    t.answered_ms = now_ms();
    times.push_back(t);
    const model::answer expected = m.apply(o, step);
    gen.sent(o);
    std::int64_t node_expires = -1;
    const model::answer got = observe(reply, o.k, ids, &node_expires);
    recent.push_back(std::to_string(step) + ": " + o.describe() + "  =>  " + expected.text());
    if (recent.size() > 20) recent.pop_front();
    if (expected.text() != got.text()) {
      FAIL(fail_report(step, o.describe(), expected.text(), got.text(), reply));
    }
    if (auto problem = deadlines_problem(expected, got, node_expires, times); !problem.empty())
      FAIL(fail_report(step, o.describe() + ": " + problem, expected.text(), got.text(), reply));
    if (!got.ok() && !got.replayed) ++figures.refusals;
    if (got.replayed) ++figures.replays;
    ++figures.sent[static_cast<int>(o.k)];
    if (got.ok()) ++figures.ok[static_cast<int>(o.k)];
    ++figures.steps;
  }

  // The final state: every record and its holds, every order and transfer.
  const auto check_final = [&](const std::string& what, model::kind k, const object& request,
                               const model::answer& expected) {
    const value reply = s.call(request);
    std::int64_t node_expires = -1;
    const model::answer got = observe(reply, k, ids, &node_expires);
    if (expected.text() != got.text()) FAIL(fail_report(steps, "final " + what, expected.text(), got.text(), reply));
    if (auto problem = deadlines_problem(expected, got, node_expires, times); !problem.empty())
      FAIL(fail_report(steps, "final " + what + ": " + problem, expected.text(), got.text(), reply));
  };
  for (std::size_t r = 0; r < m.records().size(); ++r) {
    const auto& id = m.records()[r];
    const std::string name = id.warehouse + "/" + id.sku;
    check_final("stock.get " + name, model::kind::get,
                {{"op", "stock.get"}, {"warehouse", id.warehouse}, {"sku", id.sku}}, m.get(static_cast<int>(r)));
    check_final("stock.holds " + name, model::kind::holds,
                {{"op", "stock.holds"}, {"warehouse", id.warehouse}, {"sku", id.sku}},
                m.holds(static_cast<int>(r)));
  }
  for (std::size_t k = 0; k < m.orders_issued(); ++k)
    check_final("order #" + std::to_string(k), model::kind::order_get,
                {{"op", "order.get"}, {"order", ids.orders.id(static_cast<int>(k))}},
                m.order_get(static_cast<int>(k)));
  for (std::size_t k = 0; k < m.transfers_issued(); ++k)
    check_final("transfer #" + std::to_string(k), model::kind::transfer_get,
                {{"op", "transfer.get"}, {"transfer", ids.transfers.id(static_cast<int>(k))}},
                m.transfer_get(static_cast<int>(k)));
  // Nothing was issued that the model does not know of.
  CHECK(ids.holds.size() == m.holds_issued());
  CHECK(ids.orders.size() == m.orders_issued());
  CHECK(ids.transfers.size() == m.transfers_issued());
  figures.holds = m.holds_issued();
  figures.orders = m.orders_issued();
  figures.transfers = m.transfers_issued();
  node.stop();
  return figures;
}

}  // namespace

// Below this many requests in a run, a rare op may go unsent by chance, so
// the coverage is printed but not required (a one-seed replay).
constexpr std::size_t coverage_required_from = 2'000;

TEST_CASE("model: a real node answers every random request as the reference model does",
          "[model]") {
  int steps = 0;
  std::vector<std::uint64_t> seeds;
  try {
    steps = static_cast<int>(env_number("STOCKGRID_MODEL_STEPS", 400, 10'000'000));
    if (const char* one = std::getenv("STOCKGRID_MODEL_SEED"); one && *one) {
      seeds.push_back(env_number("STOCKGRID_MODEL_SEED", 0, UINT64_MAX / 10));
    } else {
      const auto count = env_number("STOCKGRID_MODEL_SEEDS", 5, 1'000'000);
      std::random_device device;
      const std::uint64_t first = (std::uint64_t{device()} << 32) | device();
      for (std::uint64_t i = 0; i < count; ++i) seeds.push_back(first + i);
    }
  } catch (const std::invalid_argument& bad) {
    FAIL(bad.what());
  }
  run_figures total;
  for (const auto seed : seeds) {
    std::cout << "seed=" << seed << " steps=" << steps << std::endl;
    INFO("seed=" << seed);
    const run_figures f = run_seed(seed, steps);
    total.steps += f.steps;
    total.refusals += f.refusals;
    total.replays += f.replays;
    total.holds += f.holds;
    total.orders += f.orders;
    total.transfers += f.transfers;
    for (int k = 0; k < kinds; ++k) {
      total.sent[k] += f.sent[k];
      total.ok[k] += f.ok[k];
    }
  }
  std::cout << "model: " << seeds.size() << " seeds, " << total.steps << " requests agreed ("
            << total.refusals << " refusals, " << total.replays << " replays), " << total.holds
            << " holds, " << total.orders << " orders, " << total.transfers << " transfers\n  by op (sent/ok):";
  for (int k = 0; k < kinds; ++k)
    std::cout << ' ' << model::name_of(static_cast<model::kind>(k)) << ' ' << total.sent[k] << '/' << total.ok[k];
  std::cout << std::endl;
  if (total.steps < coverage_required_from) return;
  // The run exercised the contract: every op sent and answered ok at least
  // once, some refusals, some replays, and holds, orders and transfers made.
  for (int k = 0; k < kinds; ++k) {
    INFO(model::name_of(static_cast<model::kind>(k)));
    CHECK(total.sent[k] > 0);
    CHECK(total.ok[k] > 0);
  }
  CHECK(total.refusals > 0);
  CHECK(total.replays > 0);
  CHECK(total.holds > 0);
  CHECK(total.orders > 0);
  CHECK(total.transfers > 0);
}
