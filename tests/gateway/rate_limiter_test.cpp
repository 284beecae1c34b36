// The per-tenant token buckets (gateway/rate_limiter.hpp) on a clock the test
// moves by hand, and the dispatcher that puts them in front of the grid.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "gateway/rate_limited_dispatcher.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/stub_dispatcher.hpp"
#include "tests/gateway/test_client.hpp"

namespace stockgrid::gateway_test {
namespace {

using namespace std::chrono_literals;
using gateway::rate_limit;
using gateway::rate_limiter;

// A clock that stands still until the test advances it.
struct manual_clock {
  std::shared_ptr<std::atomic<std::int64_t>> ns = std::make_shared<std::atomic<std::int64_t>>(1'000'000'000);
  void advance(std::chrono::nanoseconds d) { *ns += d.count(); }
  rate_limiter::clock_fn fn() const {
    return [ns = ns] { return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns->load())); };
  }
};

// How many of `n` requests of `tenant` pass.
int allowed(rate_limiter& limiter, const std::string& tenant, int n) {
  int passed = 0;
  for (int i = 0; i < n; ++i) passed += limiter.try_acquire(tenant).allowed;
  return passed;
}

// error.retry_after_ms of an answer; -1 when missing.
std::int64_t retry_after_ms(const protocol::value& answer) {
  const protocol::value* error = answer.find("error");
  const protocol::value* retry = error != nullptr ? error->find("retry_after_ms") : nullptr;
  return retry != nullptr && retry->as_int() != nullptr ? *retry->as_int() : -1;
}

}  // namespace

TEST_CASE("rate limiter: a burst passes, then the rate; a refusal says when to come back", "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({100, 10}, clock.fn());

  CHECK(allowed(limiter, "acme", 10) == 10);  // a full bucket: the burst
  auto refused = limiter.try_acquire("acme");
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_ms == 10);  // one token at 100/s
  CHECK(refused.limit == rate_limit{100, 10});

  clock.advance(9ms);  // not yet a whole token
  refused = limiter.try_acquire("acme");
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_ms == 1);  // 0.1 ms rounded up, never 0

  clock.advance(1ms);
  CHECK(limiter.try_acquire("acme").allowed);
  CHECK_FALSE(limiter.try_acquire("acme").allowed);

  // Over a second the rate's worth comes back, never more than the burst.
  clock.advance(1s);
  CHECK(allowed(limiter, "acme", 50) == 10);
  clock.advance(500ms);
  CHECK(allowed(limiter, "acme", 5) == 5);
  CHECK(allowed(limiter, "acme", 50) == 5);
}

TEST_CASE("rate limiter: tenants have buckets of their own", "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({100, 10}, clock.fn());
  CHECK(allowed(limiter, "noisy", 1000) == 10);
  CHECK(allowed(limiter, "quiet", 10) == 10);
  CHECK_FALSE(limiter.try_acquire("noisy").allowed);
}

TEST_CASE("rate limiter: a cost takes that many tokens, at most the burst", "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({100, 10}, clock.fn());
  CHECK(limiter.try_acquire("acme", 4).allowed);
  CHECK(limiter.try_acquire("acme", 6).allowed);
  auto refused = limiter.try_acquire("acme", 3);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_ms == 30);
  // 1,000 items on a burst of 10: it waits for a full bucket, then passes.
  clock.advance(90ms);
  refused = limiter.try_acquire("acme", 1000);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_ms == 10);
  clock.advance(10ms);
  CHECK(limiter.try_acquire("acme", 1000).allowed);
  CHECK_FALSE(limiter.try_acquire("acme").allowed);
  clock.advance(10ms);
  CHECK(limiter.try_acquire("acme", 0).allowed);  // 0 counts as 1
  CHECK_FALSE(limiter.try_acquire("acme").allowed);
}

TEST_CASE("rate limiter: a tenant's own limit replaces the defaults, and can be dropped", "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({100, 10}, clock.fn());
  CHECK(limiter.limit_of("acme") == rate_limit{100, 10});
  CHECK(allowed(limiter, "acme", 4) == 4);  // 6 left

  REQUIRE(limiter.set_tenant_limit("acme", rate_limit{10, 3}));
  CHECK(limiter.limit_of("acme") == rate_limit{10, 3});
  CHECK(limiter.limit_of("other") == rate_limit{100, 10});
  CHECK(allowed(limiter, "acme", 10) == 3);  // capped at the new burst
  auto refused = limiter.try_acquire("acme");
  CHECK(refused.retry_after_ms == 100);  // 10/s
  CHECK(refused.limit == rate_limit{10, 3});

  // A limit set before the tenant's first request applies to its new bucket.
  REQUIRE(limiter.set_tenant_limit("later", rate_limit{1, 2}));
  CHECK(allowed(limiter, "later", 5) == 2);

  REQUIRE(limiter.set_tenant_limit("acme", std::nullopt));
  CHECK(limiter.limit_of("acme") == rate_limit{100, 10});
  clock.advance(100ms);  // 10 tokens at the default rate
  CHECK(allowed(limiter, "acme", 20) == 10);
}

TEST_CASE("rate limiter: refusals are counted per tenant and in all", "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({100, 2}, clock.fn());
  allowed(limiter, "b", 5);
  allowed(limiter, "a", 3);
  allowed(limiter, "c", 2);
  const auto s = limiter.stats();
  CHECK(s.total == 4);
  using counts = std::vector<std::pair<std::string, std::uint64_t>>;
  CHECK(s.by_tenant == counts{{"a", 1}, {"b", 3}});
}

TEST_CASE("rate limiter: its memory is bounded", "[gateway][quota]") {
  manual_clock clock;
  // 16 shards of one bucket, one own limit and one rejection count each.
  rate_limiter limiter({1000, 1}, clock.fn(), 16);
  for (int i = 0; i < 1000; ++i) {
    const std::string tenant = "t" + std::to_string(i);
    CHECK(limiter.try_acquire(tenant).allowed);  // a new tenant starts full
    CHECK_FALSE(limiter.try_acquire(tenant).allowed);
  }
  const auto s = limiter.stats();
  CHECK(s.total == 1000);  // every refusal counted in all ...
  CHECK(s.by_tenant.size() <= 16);  // ... but per tenant only as many as kept

  int own = 0;
  for (int i = 0; i < 100; ++i) own += limiter.set_tenant_limit("o" + std::to_string(i), rate_limit{1, 1});
  CHECK(own <= 16);
  CHECK(own >= 1);
  // Dropping a limit always works, and frees its place.
  CHECK(limiter.set_tenant_limit("o0", std::nullopt));
}

TEST_CASE("rate limiter: a bucket dropped for room was full, so nothing changes for its tenant",
          "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({10, 5}, clock.fn(), 16);  // one bucket per shard
  CHECK(allowed(limiter, "acme", 10) == 5);
  clock.advance(1s);  // acme's bucket is full again: droppable
  for (int i = 0; i < 200; ++i) limiter.try_acquire("t" + std::to_string(i));
  CHECK(allowed(limiter, "acme", 10) == 5);  // a burst, as it would have had anyway
}

TEST_CASE("rate limiter: threads together never take more than the bucket holds", "[gateway][quota]") {
  manual_clock clock;  // stands still: exactly the burst passes
  rate_limiter limiter({1, 1000}, clock.fn());
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        passed += limiter.try_acquire("shared").allowed;
        limiter.try_acquire("own" + std::to_string(i % 7));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(passed == 1000);
  CHECK(limiter.stats().total >= 3000);
}

TEST_CASE("rate-limited dispatcher: a refused request gets RATE_LIMITED with its id; the system role is never limited",
          "[gateway][quota]") {
  manual_clock clock;
  rate_limiter limiter({10, 2}, clock.fn());
  gateway::stub_dispatcher stub;
  gateway::rate_limited_dispatcher dispatcher(stub, limiter);
  const gateway::principal writer{"demo", "k1", protocol::role::writer, {}, {}};
  const gateway::principal system{{}, "system", protocol::role::system, {}, {}};

  auto send = [&](const gateway::principal& who, std::int64_t id, std::string op = "stock.get") {
    protocol::op_request req;
    req.id = id;
    req.op = std::move(op);
    req.grid.kind = op::get;
    req.grid.key = {who.tenant, "w", "s"};
    protocol::value answer;
    dispatcher.dispatch(who, std::move(req), [&](protocol::value v) { answer = std::move(v); });
    return answer;
  };
  CHECK(is_ok(send(writer, 1)));
  CHECK(is_ok(send(writer, 2)));
  const auto refused = send(writer, 3);
  CHECK(error_code(refused) == "RATE_LIMITED");
  CHECK(id_of(refused) == 3);
  CHECK(retry_after_ms(refused) == 100);
  CHECK(stub.dispatched() == 2);  // the refusal never reached the grid

  for (int i = 0; i < 10; ++i) CHECK(is_ok(send(system, 10 + i, "tenant.list")));

  // A subscribe counts like any request.
  bool refused_subscribe = false;
  protocol::op_request sub;
  sub.id = 30;
  sub.op = "subscribe";
  dispatcher.subscribe(writer, std::move(sub), [] {}, [&](protocol::value v, std::shared_ptr<gateway::event_stream> s) {
    refused_subscribe = error_code(v) == "RATE_LIMITED" && id_of(v) == 30 && s == nullptr;
  });
  CHECK(refused_subscribe);

  // A bulk costs one token per item.
  clock.advance(200ms);  // a full bucket of 2
  protocol::op_request bulk;
  bulk.id = 40;
  bulk.op = "stock.bulk";
  bulk.items.resize(2);
  protocol::value bulk_answer;
  dispatcher.dispatch(writer, std::move(bulk), [&](protocol::value v) { bulk_answer = std::move(v); });
  CHECK(is_ok(bulk_answer));
  CHECK(error_code(send(writer, 41)) == "RATE_LIMITED");
}

}  // namespace stockgrid::gateway_test
