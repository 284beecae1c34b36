// The in-memory twin of the SQLite document store (document_store.hpp): the
// same upserts, lookups, limits, lease and prune, in a sorted map.
#include <map>
#include <tuple>

#include "persistence/document_store.hpp"

namespace stockgrid::persistence {

namespace {

class memory_document_store final : public document_store {
 public:
  status put(const std::vector<document>& docs, bool) override {
    for (const document& d : docs)
      if (status st = check_document(d); !st) return st;
    for (const document& d : docs) docs_[key{d.kind, d.tenant, d.id}] = d;
    return status::ok();
  }

  status sync() override { return status::ok(); }

  status get(document_kind kind, std::string_view tenant, std::string_view id,
             std::optional<document>* out) override {
    out->reset();
    auto it = docs_.find(key{kind, std::string(tenant), std::string(id)});
    if (it != docs_.end()) *out = it->second;
    return status::ok();
  }

  // The map is in id order within (kind, tenant): the first match has the
  // smallest id, as in the SQLite store.
  status find_idem(document_kind kind, std::string_view tenant, std::string_view idem,
                   std::optional<document>* out) override {
    out->reset();
    if (idem.empty()) return status::invalid("find_idem with an empty key");
    for (auto it = docs_.lower_bound(key{kind, std::string(tenant), {}});
         it != docs_.end() && std::get<0>(it->first) == kind && std::get<1>(it->first) == tenant; ++it) {
      if (it->second.idem == idem) {
        *out = it->second;
        break;
      }
    }
    return status::ok();
  }

  status list_open(std::vector<document>* out) override {
    out->clear();
    for (const auto& [k, d] : docs_)
      if (d.open) out->push_back(d);
    return status::ok();
  }

  status lease_ids(std::uint64_t count, std::uint64_t* first) override {
    if (count == 0 || count > document_id_lease_max)
      return status::invalid("lease of " + std::to_string(count) + " ids");
    *first = next_id_;
    next_id_ += count;
    return status::ok();
  }

  status prune(epoch_ms before, std::uint64_t* removed) override {
    *removed = 0;
    for (auto it = docs_.begin(); it != docs_.end();) {
      if (!it->second.open && it->second.updated_ms < before) {
        it = docs_.erase(it);
        ++*removed;
      } else {
        ++it;
      }
    }
    return status::ok();
  }

  status delete_tenant(std::string_view tenant, std::uint64_t* removed) override {
    *removed = std::erase_if(docs_, [&](const auto& kv) { return std::get<1>(kv.first) == tenant; });
    return status::ok();
  }

  const std::string& name() const override { return name_; }

 private:
  using key = std::tuple<document_kind, std::string, std::string>;  // kind, tenant, id
  std::map<key, document> docs_;
  std::uint64_t next_id_ = 1;
  std::string name_ = "memory";
};

}  // namespace

std::unique_ptr<document_store> make_memory_document_store() {
  return std::make_unique<memory_document_store>();
}

}  // namespace stockgrid::persistence
