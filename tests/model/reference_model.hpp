// A reference model of one tenant's stock, written from docs/protocol.md for
// the model-based test (model_test.cpp) and nothing else. It includes only
// standard headers and links nothing of stockgrid (no domain/, actors/,
// orders/, persistence/): it is a second, independent reading of the
// contract, so a rule the node gets wrong is not copied into the oracle.
//
// What it knows: records (on_hand, reserved, available, version, incoming),
// holds (qty, record, ref, live or ended), idempotency keys (a replay answers
// the original answer, `replayed`; the same key with another request is
// IDEMPOTENCY_MISMATCH; only successes and INSUFFICIENT_STOCK,
// VERSION_CONFLICT and LIMIT_EXCEEDED are remembered), the refusals, orders
// whose lines name their warehouse (all_or_nothing and partial), and
// transfers (create, receipts, cancel). What it leaves out: expiry (the test
// uses TTLs far beyond its run), stock.policy (safety stock, backorders),
// allocation of lines without a warehouse, limits it cannot reach with a few
// records (holds per record, records per tenant, 10^12 on_hand).
//
// Server-chosen values (hold, order and transfer ids, deadlines) are not
// predicted: ids are numbered in the order they are issued (the test maps
// the node's opaque ids onto these numbers), and a deadline is "ttl_ms after
// step S" (the test checks the node's epoch value against the time it sent
// and got step S).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace stockgrid::model_test {

inline constexpr std::int64_t quantity_max = 1'000'000'000'000;  // ±10^12
inline constexpr std::int64_t ttl_ms_max = 86'400'000;           // 24 h
inline constexpr std::int64_t ttl_ms_default = 600'000;          // 10 min
inline constexpr std::size_t hold_id_bytes_max = 64;
inline constexpr std::size_t id_bytes_max = 128;

struct record_id {
  std::string warehouse, sku;
};

enum class kind {
  get, holds, adjust, set, reserve, commit, release, extend, sell,
  order_reserve, order_commit, order_release, order_extend, order_get,
  transfer_create, transfer_receive, transfer_cancel, transfer_get,
};

inline const char* name_of(kind k) {
  static const char* names[] = {
      "stock.get", "stock.holds", "stock.adjust", "stock.set", "stock.reserve", "stock.commit",
      "stock.release", "stock.extend", "stock.sell", "order.reserve", "order.commit",
      "order.release", "order.extend", "order.get", "transfer.create", "transfer.receive",
      "transfer.cancel", "transfer.get"};
  return names[static_cast<int>(k)];
}

// Which hold, order or transfer an op names: one the model issued (index),
// or a string the node never issued (`literal`).
struct target {
  int index = -1;
  std::string literal;
};

struct order_line {
  std::string sku, warehouse;
  std::optional<std::int64_t> qty;
};

// One request, as the test sends it: absent optionals are absent fields.
struct op {
  op() = default;
  explicit op(kind what) : k(what) {}

  kind k = kind::get;
  std::string warehouse, sku;          // record ops
  std::optional<std::int64_t> qty, delta, on_hand, expected_version, ttl_ms;
  std::string ref, idem;
  target hold, order, transfer;
  std::vector<order_line> lines;       // order.reserve
  std::string policy;                  // order.reserve; "" = the default
  std::string from, to;                // transfer.create

  std::string describe() const {
    std::ostringstream o;
    o << name_of(k);
    auto opt = [&](const char* n, const std::optional<std::int64_t>& v) {
      if (v) o << ' ' << n << '=' << *v;
    };
    auto tgt = [&](const char* n, const target& t) {
      if (t.index >= 0) o << ' ' << n << "=#" << t.index;
      else if (!t.literal.empty()) o << ' ' << n << "=\"" << t.literal.substr(0, 20)
                                     << (t.literal.size() > 20 ? "..." : "") << '"';
    };
    if (!warehouse.empty() || !sku.empty()) o << ' ' << warehouse << '/' << sku;
    opt("qty", qty);
    opt("delta", delta);
    opt("on_hand", on_hand);
    opt("expected_version", expected_version);
    opt("ttl_ms", ttl_ms);
    tgt("hold", hold);
    tgt("order", order);
    tgt("transfer", transfer);
    if (!lines.empty()) {
      o << " lines=[";
      for (const auto& l : lines)
        o << l.warehouse << '/' << l.sku << ':' << (l.qty ? std::to_string(*l.qty) : "-") << ' ';
      o << ']';
    }
    if (!policy.empty()) o << " policy=" << policy;
    if (!from.empty() || !to.empty()) o << ' ' << from << "->" << to;
    if (!ref.empty()) o << " ref=" << ref;
    if (!idem.empty()) o << " idem=" << idem;
    return o.str();
  }
};

struct record_view {
  std::int64_t on_hand = 0, reserved = 0, available = 0, version = 0, incoming = 0;
};

struct hold_view {
  int hold = -1;
  std::int64_t qty = 0;
  std::string ref;     // "order:#k" for an order's hold
  bool deadline = true;  // false: an order's hold (expires_at_ms 0)
  // Not in text(): the model's deadline is "ttl after step S" (the test
  // checks the node's value against step S's times); the node's value.
  int deadline_step = -1;
  std::int64_t deadline_ttl_ms = 0;
  std::int64_t expires_at_ms = 0;
};

struct line_view {
  std::string sku, warehouse;
  std::int64_t qty = 0;
  int hold = -1;
};

// The parts of an answer the contract fixes (ids as model numbers). Two
// answers agree when their text() is equal.
struct answer {
  std::string code;  // "" = ok
  bool replayed = false;
  std::optional<record_view> record;
  std::optional<std::int64_t> available;  // INSUFFICIENT_STOCK's detail
  int hold = -1;                          // reserve, extend
  int deadline_step = -1;                 // reserve, extend, orders: deadline = ttl after this step
  std::int64_t deadline_ttl_ms = 0;
  bool has_holds = false;  // stock.holds answered
  std::vector<hold_view> holds;
  // orders
  int order = -1;
  std::string status;
  std::vector<line_view> lines;
  std::vector<std::pair<std::string, std::int64_t>> unfilled;
  struct short_line {
    std::string sku, warehouse;
    std::int64_t requested = 0, available = 0;
  };
  std::vector<short_line> short_lines;
  // transfers
  int transfer = -1;
  std::int64_t qty = 0, received = 0, in_transit = 0;
  std::vector<std::int64_t> receipts;  // each receipt's qty, in order

  bool ok() const { return code.empty(); }

  std::string text() const {
    std::ostringstream o;
    o << (ok() ? "ok" : code);
    if (replayed) o << " replayed";
    if (record)
      o << " record{on_hand=" << record->on_hand << " reserved=" << record->reserved
        << " available=" << record->available << " version=" << record->version
        << " incoming=" << record->incoming << '}';
    if (available) o << " available=" << *available;
    if (hold >= 0) o << " hold=#" << hold;
    if (has_holds) {
      o << " holds=[";
      for (const auto& h : holds)
        o << "#" << h.hold << ":" << h.qty << (h.ref.empty() ? "" : " " + h.ref)
          << (h.deadline ? "" : " no-deadline") << ", ";
      o << ']';
    }
    if (order >= 0) o << " order=#" << order;
    if (transfer >= 0) o << " transfer=#" << transfer;
    if (!status.empty()) o << " status=" << status;
    if (!lines.empty()) {
      o << " lines=[";
      for (const auto& l : lines) o << l.warehouse << '/' << l.sku << ':' << l.qty << " #" << l.hold << ", ";
      o << ']';
    }
    if (!unfilled.empty()) {
      o << " unfilled=[";
      for (const auto& [sku, q] : unfilled) o << sku << ':' << q << ", ";
      o << ']';
    }
    if (!short_lines.empty()) {
      o << " short=[";
      for (const auto& s : short_lines)
        o << (s.warehouse.empty() ? "?" : s.warehouse) << '/' << s.sku << ' ' << s.requested << '>'
          << s.available << ", ";
      o << ']';
    }
    if (transfer >= 0 && ok())
    {
      o << " qty=" << qty << " received=" << received << " in_transit=" << in_transit << " receipts=[";
      for (const auto r : receipts) o << r << ", ";
      o << ']';
    }
    return o.str();
  }
};

class reference_model {
 public:
  explicit reference_model(std::vector<record_id> records) : ids_(std::move(records)) {
    recs_.resize(ids_.size());
  }

  const std::vector<record_id>& records() const { return ids_; }
  std::size_t holds_issued() const { return holds_.size(); }
  std::size_t orders_issued() const { return orders_.size(); }
  std::size_t transfers_issued() const { return transfers_.size(); }
  bool hold_live(int h) const { return holds_[h].live; }
  bool hold_of_order(int h) const { return holds_[h].order >= 0; }
  std::int64_t hold_qty(int h) const { return holds_[h].qty; }
  const std::string& order_status(int k) const { return orders_[k].status; }
  const std::string& transfer_status(int k) const { return transfers_[k].status; }
  std::int64_t transfer_in_transit(int k) const {
    return transfers_[k].qty - transfers_[k].received;
  }
  // Index of a record, -1 when not one of the model's.
  int record_index(const std::string& warehouse, const std::string& sku) const {
    for (std::size_t i = 0; i < ids_.size(); ++i)
      if (ids_[i].warehouse == warehouse && ids_[i].sku == sku) return static_cast<int>(i);
    return -1;
  }

  // stock.get's answer for a record (the final-state check).
  answer get(int r) const {
    if (!recs_[r].exists) return error("NOT_FOUND");
    answer a;
    a.record = view(r);
    return a;
  }
  answer holds(int r) const {
    if (!recs_[r].exists) return error("NOT_FOUND");
    answer a;
    a.has_holds = true;
    for (std::size_t h = 0; h < holds_.size(); ++h)
      if (holds_[h].live && holds_[h].record == r) a.holds.push_back(hold_view_of(static_cast<int>(h)));
    return a;
  }
  answer order_get(int k) const { return order_answer(k, false); }
  answer transfer_get(int k) const { return transfer_answer(k, false); }

  // Applies one request; `step` names it for deadlines.
  answer apply(const op& o, int step) {
    if (auto bad = invalid(o)) return *bad;
    switch (o.k) {
      case kind::get: return by_record(o, [&](int r) { return get(r); });
      case kind::holds: return by_record(o, [&](int r) { return holds(r); });
      case kind::order_get: {
        if (o.order.index < 0) return error("NOT_FOUND");
        return order_get(o.order.index);
      }
      case kind::transfer_get: {
        if (o.transfer.index < 0) return error("NOT_FOUND");
        return transfer_get(o.transfer.index);
      }
      default: break;
    }
    return idempotent(o, [&] { return execute(o, step); });
  }

 private:
  struct record_state {
    bool exists = false;
    std::int64_t on_hand = 0, reserved = 0, incoming = 0, version = 0;
  };
  struct hold_state {
    int record = -1;
    std::int64_t qty = 0;
    std::string ref;
    int order = -1;
    bool live = true;
    int deadline_step = -1;  // reserve or the last extend; -1 for an order's hold
    std::int64_t ttl_ms = 0;
  };
  struct order_state {
    std::string status, policy;
    std::vector<line_view> lines;
    std::vector<std::pair<std::string, std::int64_t>> unfilled;
    int deadline_step = -1;
    std::int64_t ttl_ms = 0;
  };
  struct transfer_state {
    std::string status, sku, from, to;
    std::int64_t qty = 0, received = 0;
    std::vector<std::pair<std::string, std::int64_t>> receipts;  // idem, qty
  };
  struct remembered {
    std::string fingerprint;
    answer original;
  };

  static answer error(std::string code) {
    answer a;
    a.code = std::move(code);
    return a;
  }
  record_view view(int r) const {
    const auto& s = recs_[r];
    return {s.on_hand, s.reserved, s.on_hand - s.reserved, s.version, s.incoming};
  }
  std::int64_t available(int r) const { return recs_[r].on_hand - recs_[r].reserved; }
  hold_view hold_view_of(int h) const {
    const auto& s = holds_[h];
    return {h, s.qty, s.order >= 0 ? "order:#" + std::to_string(s.order) : s.ref, s.order < 0, s.deadline_step,
            s.ttl_ms, 0};
  }
  answer with_record(int r) const {
    answer a;
    a.record = view(r);
    return a;
  }
  template <class Fn>
  answer by_record(const op& o, Fn fn) const {
    const int r = record_index(o.warehouse, o.sku);
    if (r < 0) return error("NOT_FOUND");  // the generator names no other record
    return fn(r);
  }

  // What the gateway refuses before anything runs (the Values, Limits and
  // field tables of docs/protocol.md).
  static std::optional<answer> invalid(const op& o) {
    const auto bad = std::optional<answer>(error("BAD_REQUEST"));
    auto ident = [](const std::string& s) { return !s.empty() && s.size() <= id_bytes_max; };
    auto units = [](const std::optional<std::int64_t>& q) { return q && *q >= 1 && *q <= quantity_max; };
    auto ttl = [](const std::optional<std::int64_t>& t) { return t && *t >= 1 && *t <= ttl_ms_max; };
    auto hold_ok = [](const target& t) {
      return t.index >= 0 || (!t.literal.empty() && t.literal.size() <= hold_id_bytes_max);
    };
    if (!o.idem.empty() && (o.idem.size() > id_bytes_max || o.idem.rfind("sg:", 0) == 0)) return bad;
    switch (o.k) {
      case kind::get:
      case kind::holds:
        if (!ident(o.warehouse) || !ident(o.sku)) return bad;
        break;
      case kind::adjust:
        if (!ident(o.warehouse) || !ident(o.sku) || !o.delta || *o.delta == 0 ||
            *o.delta > quantity_max || *o.delta < -quantity_max)
          return bad;
        break;
      case kind::set:
        if (!ident(o.warehouse) || !ident(o.sku) || !o.on_hand || *o.on_hand < 0 ||
            *o.on_hand > quantity_max)
          return bad;
        break;
      case kind::reserve:
        if (!ident(o.warehouse) || !ident(o.sku) || !units(o.qty)) return bad;
        if (o.ttl_ms && (*o.ttl_ms < 0 || *o.ttl_ms > ttl_ms_max)) return bad;
        break;
      case kind::sell:
        if (!ident(o.warehouse) || !ident(o.sku) || !units(o.qty)) return bad;
        break;
      case kind::commit:
      case kind::release:
        if (!hold_ok(o.hold) || (o.qty && !units(o.qty))) return bad;
        break;
      case kind::extend:
        if (!hold_ok(o.hold) || !ttl(o.ttl_ms)) return bad;
        break;
      case kind::order_reserve:
        if (o.lines.empty() || o.lines.size() > 100) return bad;
        for (const auto& l : o.lines)
          if (!ident(l.sku) || !units(l.qty) || (!l.warehouse.empty() && !ident(l.warehouse))) return bad;
        if (o.ttl_ms && (*o.ttl_ms < 0 || *o.ttl_ms > ttl_ms_max)) return bad;
        break;
      case kind::order_extend:
        if (!ttl(o.ttl_ms)) return bad;
        break;
      case kind::transfer_create:
        if (!ident(o.sku) || !ident(o.from) || !ident(o.to) || !units(o.qty) || o.from == o.to) return bad;
        break;
      case kind::transfer_receive:
        if (o.qty && !units(o.qty)) return bad;
        break;
      default: break;
    }
    return std::nullopt;
  }

  // The idempotency key's scope (docs: the record; for hold ops the hold;
  // order.reserve and transfer.create: the tenant; a receipt: its transfer)
  // and what makes two requests "the same".
  std::string scope(const op& o) const {
    switch (o.k) {
      case kind::commit:
      case kind::release:
      case kind::extend:
        return o.hold.index >= 0 ? "hold#" + std::to_string(o.hold.index) : "hold:" + o.hold.literal;
      case kind::order_reserve: return "orders";
      case kind::transfer_create: return "transfers";
      case kind::transfer_receive:
      case kind::transfer_cancel:
      case kind::order_commit:
      case kind::order_release:
      case kind::order_extend: return "";  // not modelled (the generator sends no idem)
      default: return "record:" + o.warehouse + "/" + o.sku;
    }
  }
  static std::string fingerprint(const op& o) {
    op copy = o;
    copy.idem.clear();
    // Merged lines are the same order; the fingerprint is of the request as
    // the client wrote it, which the generator repeats verbatim.
    return copy.describe();
  }

  template <class Fn>
  answer idempotent(const op& o, Fn run) {
    if (o.idem.empty()) return run();
    if (o.k == kind::transfer_receive) return receive_idempotent(o, run);
    const std::string where = scope(o);
    if (where.empty()) return run();
    const auto key = std::make_pair(where, o.idem);
    if (auto found = idem_.find(key); found != idem_.end()) {
      if (found->second.fingerprint != fingerprint(o)) return error("IDEMPOTENCY_MISMATCH");
      answer a = found->second.original;
      // An order or transfer it created is answered as it is now.
      if (a.ok() && a.order >= 0) return order_answer(a.order, true);
      if (a.ok() && a.transfer >= 0) return transfer_answer(a.transfer, true);
      a.replayed = true;
      return a;
    }
    forget_ = false;
    answer a = run();
    const bool kept = !forget_ && (a.ok() || a.code == "INSUFFICIENT_STOCK" || a.code == "VERSION_CONFLICT" ||
                      a.code == "LIMIT_EXCEEDED");
    if (kept) idem_[key] = {fingerprint(o), a};
    return a;
  }

  // A receipt's idem names the receipt within its transfer: a retry answers
  // the transfer as it is now, replayed; another qty is a mismatch.
  template <class Fn>
  answer receive_idempotent(const op& o, Fn run) {
    if (o.transfer.index < 0) return run();
    const auto& t = transfers_[o.transfer.index];
    for (const auto& [idem, qty] : t.receipts) {
      if (idem != o.idem) continue;
      if (o.qty && *o.qty != qty) return error("IDEMPOTENCY_MISMATCH");
      answer a = transfer_answer(o.transfer.index, true);
      return a;
    }
    return run();
  }

  void change(int r) {
    recs_[r].exists = true;
    ++recs_[r].version;
  }

  answer execute(const op& o, int step) {
    switch (o.k) {
      case kind::adjust: return by_record(o, [&](int r) { return adjust(r, *o.delta); });
      case kind::set: return by_record(o, [&](int r) { return set(r, o); });
      case kind::reserve: return by_record(o, [&](int r) { return reserve(r, o, step); });
      case kind::sell: return by_record(o, [&](int r) { return sell(r, *o.qty); });
      case kind::commit:
      case kind::release:
      case kind::extend: return hold_op(o, step);
      case kind::order_reserve: return order_reserve(o, step);
      case kind::order_commit:
      case kind::order_release:
      case kind::order_extend: return order_op(o, step);
      case kind::transfer_create: return transfer_create(o);
      case kind::transfer_receive:
      case kind::transfer_cancel: return transfer_op(o);
      default: return error("INTERNAL");
    }
  }

  answer insufficient(int r) const {
    answer a = error("INSUFFICIENT_STOCK");
    a.available = recs_[r].exists ? available(r) : 0;
    return a;
  }

  answer adjust(int r, std::int64_t delta) {
    auto& s = recs_[r];
    const auto after = s.on_hand + delta;
    if (after < 0 || after < s.reserved) return insufficient(r);
    s.on_hand = after;
    change(r);
    return with_record(r);
  }
  answer set(int r, const op& o) {
    auto& s = recs_[r];
    if (o.expected_version && *o.expected_version != s.version) {
      answer a = error("VERSION_CONFLICT");
      a.record = view(r);
      return a;
    }
    if (*o.on_hand < s.reserved) return insufficient(r);
    s.on_hand = *o.on_hand;
    change(r);
    return with_record(r);
  }
  answer reserve(int r, const op& o, int step) {
    if (!recs_[r].exists) return error("NOT_FOUND");
    if (*o.qty > available(r)) return insufficient(r);
    recs_[r].reserved += *o.qty;
    change(r);
    const std::int64_t ttl = o.ttl_ms && *o.ttl_ms > 0 ? *o.ttl_ms : ttl_ms_default;
    holds_.push_back({r, *o.qty, o.ref, -1, true, step, ttl});
    answer a = with_record(r);
    a.hold = static_cast<int>(holds_.size()) - 1;
    a.deadline_step = step;
    a.deadline_ttl_ms = ttl;
    return a;
  }
  answer sell(int r, std::int64_t qty) {
    if (!recs_[r].exists) return error("NOT_FOUND");
    if (qty > available(r)) return insufficient(r);
    recs_[r].on_hand -= qty;
    change(r);
    return with_record(r);
  }

  answer hold_op(const op& o, int step) {
    const int h = o.hold.index;
    if (h < 0 || !holds_[h].live) return error("HOLD_NOT_FOUND");
    auto& hs = holds_[h];
    if (hs.order >= 0) return error("FORBIDDEN");
    const int r = hs.record;
    auto& s = recs_[r];
    if (o.k == kind::extend) {
      change(r);
      hs.deadline_step = step;
      hs.ttl_ms = *o.ttl_ms;
      answer a;
      a.hold = h;
      a.deadline_step = step;
      a.deadline_ttl_ms = *o.ttl_ms;
      return a;
    }
    const std::int64_t qty = o.qty.value_or(hs.qty);
    if (qty > hs.qty) return error("BAD_REQUEST");
    if (o.k == kind::commit) {
      s.on_hand -= qty;
      s.reserved -= hs.qty;
      hs.live = false;
    } else {
      s.reserved -= qty;
      hs.qty -= qty;
      hs.live = hs.qty > 0;
    }
    change(r);
    return with_record(r);
  }

  // order.reserve with every line naming its warehouse: lines merged by
  // (warehouse, sku), held in that order; all_or_nothing refuses when any
  // line is short (nothing held), partial holds what it can of each line.
  answer order_reserve(const op& o, int step) {
    std::map<std::pair<std::string, std::string>, std::int64_t> merged;  // (warehouse, sku)
    for (const auto& l : o.lines) merged[{l.warehouse, l.sku}] += *l.qty;
    const bool partial = o.policy == "partial";
    order_state ord;
    ord.policy = partial ? "partial" : "all_or_nothing";
    ord.deadline_step = step;
    ord.ttl_ms = o.ttl_ms && *o.ttl_ms > 0 ? *o.ttl_ms : ttl_ms_default;
    std::vector<answer::short_line> short_lines;
    for (const auto& [where, qty] : merged) {
      const int r = record_index(where.first, where.second);
      const std::int64_t can = r >= 0 && recs_[r].exists ? std::max<std::int64_t>(0, available(r)) : 0;
      if (can < qty) short_lines.push_back({where.second, where.first, qty, can});
    }
    // A partial order that can hold nothing is refused like a short
    // all_or_nothing one (every line is short).
    const bool nothing = std::all_of(short_lines.begin(), short_lines.end(),
                                     [](const auto& s) { return s.available == 0; }) &&
                         short_lines.size() == merged.size();
    if (!short_lines.empty() && (!partial || nothing)) {
      answer a = error("INSUFFICIENT_STOCK");
      a.short_lines = short_lines;
      if (partial)  // its lines as asked, none held, all unfilled
        for (const auto& [where, qty] : merged) {
          ord.lines.push_back({where.second, where.first, qty, -1});
          ord.unfilled.emplace_back(where.second, qty);
        }
      // Remembered under its idem, the order is stored failed; a partial
      // order is placed before it finds nothing to hold, so it always is.
      if (!o.idem.empty() || partial) {
        ord.status = "failed";
        orders_.push_back(ord);
        a.order = static_cast<int>(orders_.size()) - 1;
        a.status = "failed";
      }
      return a;
    }
    const int k = static_cast<int>(orders_.size());
    // What a partial order could not hold: one entry per short line, in
    // (warehouse, sku) order (a SKU short in two warehouses appears twice).
    std::vector<std::pair<std::string, std::int64_t>> unfilled;
    for (const auto& [where, qty] : merged) {
      const int r = record_index(where.first, where.second);
      const std::int64_t can = r >= 0 && recs_[r].exists ? std::max<std::int64_t>(0, available(r)) : 0;
      const std::int64_t take = std::min(can, qty);
      if (take < qty) unfilled.emplace_back(where.second, qty - take);
      if (take == 0) continue;
      recs_[r].reserved += take;
      change(r);
      holds_.push_back({r, take, "", k, true, -1, 0});
      ord.lines.push_back({where.second, where.first, take, static_cast<int>(holds_.size()) - 1});
    }
    ord.unfilled = std::move(unfilled);
    ord.status = ord.lines.empty() ? "failed" : "held";
    orders_.push_back(ord);
    return order_answer(k, false);
  }

  answer order_answer(int k, bool replayed) const {
    const auto& ord = orders_[k];
    answer a;
    a.replayed = replayed;
    a.order = k;
    a.status = ord.status;
    a.lines = ord.lines;
    a.unfilled = ord.unfilled;
    if (ord.status != "failed") {  // a failed order has no deadline (0)
      a.deadline_step = ord.deadline_step;
      a.deadline_ttl_ms = ord.ttl_ms;
    }
    return a;
  }

  answer order_op(const op& o, int step) {
    const int k = o.order.index;
    if (k < 0) return error("NOT_FOUND");
    auto& ord = orders_[k];
    const std::string done = o.k == kind::order_commit ? "committed" : "released";
    if (o.k != kind::order_extend && ord.status == done) return order_answer(k, true);
    if (ord.status != "held") {
      answer a = error("HOLD_NOT_FOUND");
      a.order = k;
      a.status = ord.status;
      return a;
    }
    if (o.k == kind::order_extend) {
      ord.deadline_step = step;
      ord.ttl_ms = *o.ttl_ms;
      return order_answer(k, false);
    }
    for (const auto& l : ord.lines) {
      auto& h = holds_[l.hold];
      auto& s = recs_[h.record];
      if (o.k == kind::order_commit) s.on_hand -= h.qty;
      s.reserved -= h.qty;
      h.live = false;
      change(h.record);
    }
    ord.status = done;
    return order_answer(k, false);
  }

  answer transfer_answer(int k, bool replayed) const {
    const auto& t = transfers_[k];
    answer a;
    a.replayed = replayed;
    a.transfer = k;
    a.status = t.status;
    a.qty = t.qty;
    a.received = t.received;
    a.in_transit = t.status == "in_transit" ? t.qty - t.received : 0;
    for (const auto& [idem, qty] : t.receipts) a.receipts.push_back(qty);
    return a;
  }

  answer transfer_create(const op& o) {
    const int from = record_index(o.from, o.sku);
    const int to = record_index(o.to, o.sku);
    if (from < 0 || !recs_[from].exists || available(from) < *o.qty) {
      // A `from` never stocked is refused but not remembered: a retry
      // decides anew (the record may be stocked by then).
      forget_ = from < 0 || !recs_[from].exists;
      answer a = error("INSUFFICIENT_STOCK");
      a.available = from >= 0 && recs_[from].exists ? available(from) : 0;
      return a;
    }
    recs_[from].on_hand -= *o.qty;
    change(from);
    recs_[to].incoming += *o.qty;
    change(to);
    transfers_.push_back({"in_transit", o.sku, o.from, o.to, *o.qty, 0, {}});
    return transfer_answer(static_cast<int>(transfers_.size()) - 1, false);
  }

  answer transfer_op(const op& o) {
    const int k = o.transfer.index;
    if (k < 0) return error("NOT_FOUND");
    auto& t = transfers_[k];
    const int from = record_index(t.from, t.sku);
    const int to = record_index(t.to, t.sku);
    if (o.k == kind::transfer_cancel) {
      if (t.status == "cancelled") return transfer_answer(k, true);
      if (t.status != "in_transit") return error("BAD_REQUEST");
      const auto rest = t.qty - t.received;
      recs_[from].on_hand += rest;
      change(from);
      recs_[to].incoming -= rest;
      change(to);
      t.status = "cancelled";
      return transfer_answer(k, false);
    }
    const auto rest = t.qty - t.received;
    if (t.status != "in_transit" || o.qty.value_or(rest) > rest) return error("BAD_REQUEST");
    const auto qty = o.qty.value_or(rest);
    recs_[to].on_hand += qty;
    recs_[to].incoming -= qty;
    change(to);
    t.received += qty;
    t.receipts.emplace_back(o.idem, qty);
    if (t.received == t.qty) t.status = "received";
    return transfer_answer(k, false);
  }

  std::vector<record_id> ids_;
  std::vector<record_state> recs_;
  std::vector<hold_state> holds_;
  std::vector<order_state> orders_;
  std::vector<transfer_state> transfers_;
  std::map<std::pair<std::string, std::string>, remembered> idem_;
  bool forget_ = false;  // the answer being made is not remembered
};

}  // namespace stockgrid::model_test
