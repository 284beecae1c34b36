// The key store's in-memory twin, for unit tests and for running the gateway
// without a data directory. Same contract as key_store, nothing durable.
#pragma once

#include <map>
#include <mutex>

#include "auth/key_store.hpp"

namespace stockgrid::auth {

class memory_key_store final : public key_store {
 public:
  store_status add_tenant(const tenant_record& tenant, const key_record* first_key) override;
  store_status list_tenants(std::vector<tenant_record>* out) override;
  store_status set_tenant_suspended(std::string_view tenant, bool suspend, epoch_ms now,
                                    std::string_view by) override;
  store_status set_tenant_status(const tenant_record& seen, const tenant_record& peer) override;
  store_status set_tenant_deleting(std::string_view tenant, epoch_ms now) override;
  store_status remove_tenant(std::string_view tenant, epoch_ms now) override;
  store_status apply_tombstone(const tenant_tombstone& t, bool* removed) override;
  store_status list_tombstones(std::vector<tenant_tombstone>* out) override;
  store_status add_key(const key_record& key) override;
  store_status list_keys(std::string_view tenant, std::vector<key_info>* out) override;
  store_status revoke_key(std::string_view tenant, std::string_view key_id, epoch_ms now) override;
  store_status find_key(std::string_view key_id, key_record* out) override;
  store_status load_keys(std::vector<key_record>* out) override;

 private:
  store_status check_new_key(const key_record& key) const;  // with mutex_ held
  void erase_tenant(std::map<std::string, tenant_record, std::less<>>::iterator it);  // and its keys
  void keep_tombstone(const tenant_tombstone& t);  // the later of two; at most tombstones_max

  std::mutex mutex_;
  std::map<std::string, tenant_record, std::less<>> tenants_;
  std::map<std::string, key_record, std::less<>> keys_;
  std::map<std::string, tenant_tombstone, std::less<>> tombstones_;
  std::uint64_t next_order_ = 0;  // creation order, for list_keys
  std::map<std::string, std::uint64_t, std::less<>> order_;
};

}  // namespace stockgrid::auth
