// The node's dispatcher: what the gateway calls for every authenticated,
// decoded request. Stock, order and transfer ops and tenant.settings go to
// the grid, key and tenant ops to the key store (on a thread of their own:
// they fsync; tenant.export then reads on the partitions' writer threads,
// app/tenant_export.hpp), subscribe to the subscription publisher (feed/publisher.hpp).
// Knows the protocol and the grid facade, no Beast, no CAF.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "actors/grid.hpp"
#include "auth/admin.hpp"
#include "config/settings.hpp"
#include "feed/publisher.hpp"
#include "gateway/dispatcher.hpp"

namespace stockgrid::app {

// The node's quotas (config/settings.hpp), for tenants without their own.
struct node_quotas {
  config::quota_settings rates;
  std::uint32_t subscriptions_per_tenant_max = config::subscription_settings{}.subscriptions_per_tenant_max;
  // The gateway's --connections-per-tenant-max.
  std::uint32_t connections_per_tenant_max = 1'000;
};

// The tenant's settings with every quota it has not set (0) replaced by the
// node's: what applies to it, as tenant.settings shows it.
orders::tenant_settings with_node_quotas(orders::tenant_settings ts, const node_quotas& node);

class node_dispatcher final : public gateway::dispatcher {
 public:
  // `feed` (may be null: no subscriptions) serves subscribe. A tenant.export
  // page takes at most `export_page_bytes_max` (main: half a frame).
  // `quotas` are only shown (tenant.settings); the gateway's rate limiter
  // and the feed enforce them.
  node_dispatcher(grid& g, auth::key_admin& admin, feed::publisher* feed = nullptr,
                  feed::subscription_limits subscriber_limits = {},
                  std::size_t export_page_bytes_max = 32 * 1024, node_quotas quotas = {});
  ~node_dispatcher() override;

  void dispatch(const gateway::principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override;
  void subscribe(const gateway::principal& who, protocol::op_request&& req, std::function<void()> wake,
                 subscribed_fn done) override;

  // A tenant tenant.delete refuses (BAD_REQUEST): the demo tenant of a
  // node started with --demo. Call before serving.
  void protect_tenant(std::string tenant) { protected_tenant_ = std::move(tenant); }
  // Runs the admin ops already queued (a tenant.delete under way finishes)
  // and joins the admin thread; later admin ops must not come. Call after
  // the gateway stopped and before the grid stops: admin ops use the grid.
  void stop();

  // In a cluster: runs an order or transfer op another member sent here,
  // its tenant's home (app/peer_call.hpp), or a member op of a tenant.delete
  // (app/cluster_delete.cpp); `answer` gets the encoded response, exactly
  // once. Give it to grid::serve_calls.
  void serve_call(std::string call, std::function<void(std::string)> answer);

  // Finishes, on the admin thread, every tenant.delete a stop cut short
  // (tenants marked deleting in the key store). Call once at start.
  void resume_deletes();

 private:
  protocol::object cluster_status() const;
  using response_fn = std::function<void(protocol::value)>;
  void stock_op(const gateway::principal& who, protocol::op_request&& req, response_fn done);
  void bulk(const gateway::principal& who, protocol::op_request&& req, response_fn done);
  void list(const gateway::principal& who, protocol::op_request&& req, response_fn done);
  // order.*, transfer.*, stock.find, tenant.settings: decoded by
  // orders/wire.hpp and answered by the grid's coordinators.
  // In a cluster they run at the tenant's home member (grid::order_home):
  // another node's are sent there (forward_call), and `at_home` says the
  // op came from another member, to be run here.
  void order_op(const gateway::principal& who, protocol::op_request&& req, response_fn done,
                bool at_home = false);
  void transfer_op(const gateway::principal& who, protocol::op_request&& req, response_fn done,
                   bool at_home = false);
  // Whether the op is for this node to run; when not, it has been sent to
  // the tenant's home (or answered) and `done` gets the home's response.
  bool runs_here(const gateway::principal& who, protocol::op_request& req, bool at_home, response_fn& done);
  void find(const gateway::principal& who, protocol::op_request&& req, response_fn done);
  // A tenant's admin reads and changes its tenant's settings but not its
  // quotas (FORBIDDEN); the system role names the tenant and may change
  // them all.
  void settings(const gateway::principal& who, protocol::op_request&& req, response_fn done);
  void ask_settings(std::optional<std::int64_t> id, orders::settings_request&& r, response_fn done);
  void admin_op(const gateway::principal& who, protocol::op_request&& req, response_fn done);
  // tenant.export, on the admin thread.
  void export_page(const gateway::principal& who, const protocol::op_request& req,
                   const response_fn& done);
  // tenant.delete, on the admin thread: marks the suspended tenant deleting
  // (durably), then finish_delete.
  void delete_tenant(const gateway::principal& who, const protocol::op_request& req, const response_fn& done);
  // Removes the data of a tenant marked deleting from the grid, then its
  // row and keys. The error text when it failed (the mark stays: the next
  // start or tenant.delete finishes it).
  std::optional<std::string> finish_delete(const gateway::principal& who, const std::string& tenant,
                                           std::uint64_t* records);
  // tenant.delete in a cluster (app/cluster_delete.cpp): the steps after
  // the mark, on the admin thread; the error text when one failed.
  std::optional<std::string> finish_cluster_delete(const std::string& tenant, std::size_t* partitions);
  // Sends member op `op` for `tenant` to `member` and waits for its answer
  // (at most forward-timeout-ms); `partitions` (may be null) gets those it
  // names. The error text when it did not answer ok.
  std::optional<std::string> call_member(const std::string& member, const std::string& op,
                                         const std::string& tenant, std::vector<std::uint32_t>* partitions);
  // A member op another member sent here, run on the admin thread.
  void serve_member_op(const protocol::value& frame, std::function<void(protocol::value)> reply);
  // Queues `job` for the admin thread, or answers OVERLOADED when too many wait.
  void on_admin_thread(std::optional<std::int64_t> id, std::function<void()> job, const response_fn& done);
  void admin_loop();

  grid& grid_;
  auth::key_admin& admin_;
  feed::publisher* feed_;
  feed::subscription_limits subscriber_limits_;
  std::size_t export_page_bytes_max_;
  const node_quotas quotas_;
  std::string protected_tenant_;
  std::atomic<std::uint64_t> next_subscription_{1};
  // Admin ops wait here for the admin thread; bounded.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> admin_queue_;
  bool stopping_ = false;
  std::thread admin_thread_;
};

}  // namespace stockgrid::app
