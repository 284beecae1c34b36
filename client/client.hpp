// The C++ client library of stockgrid: an asynchronous client of the
// WebSocket protocol v1 (docs/protocol.md) over Boost.Beast, ws:// or wss://.
//
//   stockgrid::client::client c;                       // its own io thread
//   auto auth = c.connect("ws://127.0.0.1:7400/v1/ws", token).get();
//   auto held = c.reserve("berlin", "mug", 2, {.ttl_ms = 30'000}).get();
//   if (is_ok(held)) c.commit(*lookup_string(held, "hold")).get();
//
// What it does for the caller:
// - Pipelining: any number of requests in flight on one connection (up to
//   the server's in_flight_max), matched to their answers by id.
// - Idempotency: every mutation (adjust, set, reserve, commit, release,
//   extend, sell, bulk, policy, order.reserve/commit/release/extend,
//   transfer.create/receive/cancel; not a dry run) gets a random 128-bit
//   idempotency key unless the caller gave one, so resending it can never
//   apply it twice.
// - Reconnect: when the connection drops, the client reconnects with
//   exponential backoff (capped, with jitter; to the next node when given
//   several), authenticates again and resends every request that was in
//   flight, in the order first sent, with the same idempotency keys. A resent mutation the server had applied is
//   answered with its original response plus `"replayed": true`.
// - Retries: a TIMEOUT answer is resent with the same key; UNAVAILABLE,
//   OVERLOADED and RATE_LIMITED are resent after their retry_after_ms plus
//   a random share of it (retry_jitter; nothing was applied). At most
//   retries_max resends per request.
// - Limits: at most pending_max requests queued or in flight (more fail at
//   once with QUEUE_FULL); each request ends within request_timeout with an
//   answer or a local TIMEOUT (see client/response.hpp for the local codes).
//
// Answers are protocol::value trees exactly as the server sent them; read
// them with the helpers of client/response.hpp. Error answers are values
// too (never exceptions), so callers branch on error_code().
//
// Threads: the client runs on one io thread (its own, or the caller's
// io_context). Callbacks run on that thread and must not block; they may call
// the client again. Never wait on a future of this client from a callback,
// nor destroy the client there (its destructor waits for the io thread).
// All public functions are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/requests.hpp"
#include "client/response.hpp"
#include "client/subscription.hpp"
#include "protocol/codec.hpp"
#include "protocol/messages.hpp"
#include "protocol/value.hpp"

namespace boost::asio {
class io_context;
}

namespace stockgrid::client {

using callback = std::function<void(value response)>;

// Reconnecting after a dropped connection: the n-th attempt in a row waits
// min(initial * multiplier^(n-1), max), minus a random share of up to
// `jitter` of it, so many clients dropped together do not return together.
struct backoff_settings {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5'000};
  double multiplier = 2.0;
  double jitter = 0.5;  // 0..1
  // Attempts in a row before giving up: every waiting request then fails
  // with DISCONNECTED and the client stays disconnected. 0 = never give up
  // (requests still end at their request_timeout).
  std::uint32_t attempts_max = 0;
};

struct client_options {
  // Binary msgpack frames by default; JSON text frames when set to json.
  protocol::encoding encoding = protocol::encoding::msgpack;
  // One connection attempt: TCP connect, TLS and WebSocket handshakes and
  // the auth answer.
  std::chrono::milliseconds connect_timeout{5'000};
  // From call() to the answer, resends included; then a local TIMEOUT.
  std::chrono::milliseconds request_timeout{10'000};
  // Requests queued or in flight; one more fails at once with QUEUE_FULL.
  std::size_t pending_max = 100'000;
  // Requests sent and not yet answered on the connection; the rest wait in
  // the queue. The server's announced in_flight_max caps it too.
  std::size_t in_flight_max = 4'096;
  // Resends of one request after TIMEOUT, UNAVAILABLE, OVERLOADED or
  // RATE_LIMITED answers (resends after a reconnect do not count).
  std::uint32_t retries_max = 5;
  // An answer with retry_after_ms is resent after that long plus a random
  // share of up to this much of it (retry_delay), so the clients a node
  // refused together do not all come back in the same millisecond. 0..1.
  double retry_jitter = 0.5;
  // Subscriptions at once; one more fails at once with QUEUE_FULL. The
  // server has its own, usually lower, limit per connection.
  std::size_t subscriptions_max = 1'000;
  backoff_settings reconnect;
  // wss://: verify the server's certificate against the system's CAs or
  // tls_ca_file (PEM). tls_verify = false accepts any certificate (tests).
  bool tls_verify = true;
  std::string tls_ca_file;
};

// Optional fields of the typed helpers; empty/zero means "not sent".
struct mutation_options {
  std::string reason;
  std::string idem;  // empty: the client generates one
};
struct reserve_options {
  std::int64_t ttl_ms = 0;  // 0: the server's default
  std::string ref;
  std::string idem;
};
struct list_query {
  std::string warehouse;
  std::string sku_prefix;
  std::string cursor;
  int limit = 0;  // 0: the server's default
};
struct key_options {
  std::vector<std::string> warehouses;  // empty: all
  std::optional<std::int64_t> expires_at_ms;
};

// Counters for diagnostics and tests.
struct client_stats {
  std::uint64_t connects = 0;  // successful connections (first one included)
  std::uint64_t resends = 0;   // requests sent again (reconnect or retryable answer)
  std::uint64_t answered = 0;  // requests completed with a server answer
  // Subscriptions: subscribes answered ok (first time, and again after a
  // reconnect), events handed to callbacks, events not handed on because
  // they repeat ones delivered before a reconnect, event frames that could
  // not be decoded, and events dropped because too many overtook their
  // subscribe answer.
  std::uint64_t subscribes = 0;
  std::uint64_t resubscribes = 0;
  std::uint64_t events = 0;
  std::uint64_t duplicate_events = 0;
  std::uint64_t bad_events = 0;
  std::uint64_t events_dropped = 0;
};

// The caller's name for a subscription: stays the same across reconnects
// (the server's `sub` id does not). Never 0.
using subscription_handle = std::uint64_t;

// A random 128-bit idempotency key, 32 lowercase hex digits.
std::string new_idempotency_key();

// The wait before resending a request answered with `retry_after_ms`
// (OVERLOADED, RATE_LIMITED, UNAVAILABLE; at least 1): never sooner than the
// server asked, later by `share` (drawn uniformly from [0, 1)) of `jitter`
// (clamped to 0..1) of it.
std::chrono::milliseconds retry_delay(std::int64_t retry_after_ms, double jitter, double share);

class client {
 public:
  // Runs on its own io thread, stopped by the destructor.
  explicit client(client_options options = {});
  // Runs on `io`, which the caller runs; it must outlive the client's work
  // (the client's handlers keep what they need alive).
  explicit client(boost::asio::io_context& io, client_options options = {});
  // close(), then stops the own io thread.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Connects to `url` (ws://HOST:PORT/v1/ws or wss://...) and authenticates
  // with `token` (an auth frame; re-sent on every reconnect). Completes with
  // the auth response ({tenant, role, server_version, limits}), the server's
  // error (UNAUTHENTICATED), or a local DISCONNECTED when the connection
  // could not be made (one attempt; no reconnect before the first success).
  // Requests called before it completes wait for it.
  //
  // `url` may name several nodes of one cluster, separated by commas
  // ("ws://a:7400/v1/ws,ws://b:7400/v1/ws"; all ws:// or all wss://, at
  // most 16): connect() tries them in order until one answers, and every
  // reconnect goes to the next one in turn. So when a node stops (a rolling
  // restart) or dies, the client goes on through another, resending what
  // was in flight with the same idempotency keys.
  std::future<value> connect(std::string url, std::string token);
  void connect(std::string url, std::string token, callback done);

  // Sends any request. op_request is the protocol's own struct
  // (protocol/messages.hpp); its `id` is assigned here, and an empty idem
  // of a mutation is filled in.
  std::future<value> call(protocol::op_request request);
  void call(protocol::op_request request, callback done);

  // Typed helpers: build the op_request and call().
  std::future<value> ping();
  std::future<value> get(std::string warehouse, std::string sku);
  std::future<value> list(list_query query = {});
  std::future<value> holds(std::string warehouse, std::string sku);
  std::future<value> history(std::string warehouse, std::string sku, int limit = 0,
                             std::int64_t before_version = 0);
  std::future<value> adjust(std::string warehouse, std::string sku, std::int64_t delta,
                            mutation_options options = {});
  std::future<value> set(std::string warehouse, std::string sku, std::int64_t on_hand,
                         std::optional<std::int64_t> expected_version = std::nullopt,
                         mutation_options options = {});
  std::future<value> reserve(std::string warehouse, std::string sku, std::int64_t qty,
                             reserve_options options = {});
  std::future<value> commit(std::string hold, std::optional<std::int64_t> qty = std::nullopt,
                            std::string idem = {});
  std::future<value> release(std::string hold, std::optional<std::int64_t> qty = std::nullopt,
                             std::string idem = {});
  std::future<value> extend(std::string hold, std::int64_t ttl_ms, std::string idem = {});
  std::future<value> sell(std::string warehouse, std::string sku, std::int64_t qty,
                          mutation_options options = {});
  // Items are adjust or set requests (kind, key, delta/on_hand, ...).
  std::future<value> bulk(std::vector<request> items, std::string idem = {});
  std::future<value> key_create(protocol::role role, key_options options = {});
  std::future<value> key_list();
  std::future<value> key_revoke(std::string key_id);
  std::future<value> tenant_create(std::string tenant);
  std::future<value> tenant_list();
  // stock.policy (admin): a record's safety stock, backorders and low-stock
  // threshold.
  std::future<value> stock_policy(std::string warehouse, std::string sku,
                                  policy_options options = {});
  // stock.find: the SKU in every warehouse of the tenant.
  std::future<value> stock_find(std::string sku);
  // Orders: holds across warehouses, committed or released together
  // (client/requests.hpp for the lines and options).
  std::future<value> order_reserve(std::vector<order_line> lines, order_options options = {});
  std::future<value> order_commit(std::string order, std::string idem = {});
  std::future<value> order_release(std::string order, std::string idem = {});
  std::future<value> order_extend(std::string order, std::int64_t ttl_ms, std::string idem = {});
  std::future<value> order_get(std::string order);
  // Transfers between warehouses; receive without qty lands all in transit.
  std::future<value> transfer_create(std::string sku, std::string from, std::string to,
                                     std::int64_t qty, std::string idem = {});
  std::future<value> transfer_receive(std::string transfer,
                                      std::optional<std::int64_t> qty = std::nullopt,
                                      std::string idem = {});
  std::future<value> transfer_cancel(std::string transfer, std::string idem = {});
  std::future<value> transfer_get(std::string transfer);
  // tenant.settings (admin): reads the settings, or changes and returns them.
  std::future<value> tenant_settings(settings_change change = {});

  // Live subscriptions (docs/protocol.md, "Subscriptions"). `on_event`
  // gets the stream on the io thread: the snapshot pages and snapshot_end,
  // then stock and alert events, a `reset` (drop what was built from the
  // snapshot; a new one follows) and, last, `ended` when the subscription
  // ends without unsubscribe (a resubscribe refused, the client closed or
  // giving up). Across reconnects, and closes 1008 (too slow) or 1013
  // (overloaded), the client resubscribes with `from` = the position it
  // kept (client/subscription.hpp): the callback sees every change once, in
  // order, with no gap. The answer is the first subscribe's ({"sub": N} or
  // the error: BAD_REQUEST, FORBIDDEN, LIMIT_EXCEEDED); after an error no
  // event comes.
  struct subscription {
    subscription_handle handle;
    std::future<value> answer;
  };
  subscription subscribe(subscription_filter filter, event_callback on_event);
  subscription_handle subscribe(subscription_filter filter, event_callback on_event, callback done);
  // Ends a subscription: no event reaches its callback after this call has
  // run on the io thread. The server's answer, or a local ok when the
  // subscription was not active on a connection; NOT_FOUND for an unknown
  // handle.
  std::future<value> unsubscribe(subscription_handle handle);

  // Closes the connection (WebSocket close 1000) and fails every waiting
  // request with DISCONNECTED. Later calls fail the same way. Idempotent.
  void close();

  // Aborts the TCP connection as a network failure would (no close frame).
  // The client reconnects and resends what was in flight: for tests and
  // demonstrations of the retry path.
  void drop_connection();

  // The last successful auth response (tenant, role, limits); null before.
  value session() const;
  client_stats stats() const;

  struct impl;

 private:
  struct own_thread;  // the io_context and thread of the first constructor
  std::unique_ptr<own_thread> own_thread_;
  std::shared_ptr<impl> impl_;
  std::atomic<subscription_handle> next_subscription_handle_{0};
};

}  // namespace stockgrid::client
