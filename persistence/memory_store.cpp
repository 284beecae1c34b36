#include "persistence/memory_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "config/limits.hpp"
#include "persistence/listing.hpp"
#include "persistence/purge.hpp"

namespace stockgrid::persistence {

std::unique_ptr<partition_store> make_memory_store() { return std::make_unique<memory_store>(); }

void memory_store::fail_writes(int count, status error) {
  failures_left_ = count;
  failure_ = std::move(error);
}

bool memory_store::injected_failure(status* st) {
  if (failures_left_ <= 0) return false;
  --failures_left_;
  *st = failure_;
  return true;
}

void memory_store::lose_unsynced() {
  while (!journal_.empty() && journal_.rbegin()->first > synced_seq_)
    erase_entry(std::prev(journal_.end()));
  count_tail();
}

// last_seq_ and since_snapshot_ from the journal as it is.
void memory_store::count_tail() {
  last_seq_ = std::max(snapshot_seq_, journal_.empty() ? 0 : journal_.rbegin()->first);
  since_snapshot_ = static_cast<std::uint64_t>(
      std::distance(journal_.upper_bound(snapshot_seq_), journal_.end()));
}

status memory_store::truncate_after(std::uint64_t seq) {
  if (seq < snapshot_seq_)
    return status::invalid(name_ + ": cannot truncate after seq " + std::to_string(seq) +
                           ": entries up to " + std::to_string(snapshot_seq_) + " are in the snapshot");
  if (seq >= last_seq_) return status::ok();
  if (status st; injected_failure(&st)) return st;
  while (!journal_.empty() && journal_.rbegin()->first > seq) erase_entry(std::prev(journal_.end()));
  count_tail();
  synced_seq_ = last_seq_;  // a durable write, like the store's FULL commit
  return status::ok();
}

status memory_store::set_epoch(std::uint64_t epoch) {
  if (epoch < epoch_)
    return status::invalid(name_ + ": epoch " + std::to_string(epoch) + " is below " + std::to_string(epoch_));
  if (status st; injected_failure(&st)) return st;
  epoch_ = epoch;
  synced_seq_ = last_seq_;  // like the store's FULL commit, which fsyncs the WAL
  return status::ok();
}

status memory_store::extend_seq_lease(std::uint64_t new_lease) {
  if (new_lease < seq_lease_)
    return status::invalid(name_ + ": seq lease " + std::to_string(new_lease) + " is below " +
                           std::to_string(seq_lease_));
  if (status st; injected_failure(&st)) return st;
  seq_lease_ = new_lease;
  synced_seq_ = last_seq_;
  return status::ok();
}

status memory_store::append(const std::vector<journal_entry>& entries, bool sync, std::uint64_t writer_epoch) {
  if (entries.empty()) return sync ? this->sync() : status::ok();
  if (status st = check_append_batch(entries, last_seq_, seq_lease_, name_); !st) return st;
  if (status st = check_fencing(entries, writer_epoch, epoch_, name_); !st) return st;
  if (status st; injected_failure(&st)) return st;
  for (const journal_entry& e : entries) {
    journal_.emplace(e.seq, e);
    by_record_[e.key].insert(e.seq);
    if (!e.idem.empty()) by_idem_[e.idem].insert(e.seq);
  }
  last_seq_ = entries.back().seq;
  since_snapshot_ += entries.size();
  if (sync) synced_seq_ = last_seq_;
  return status::ok();
}

status memory_store::sync() {
  if (status st; injected_failure(&st)) return st;
  synced_seq_ = last_seq_;
  return status::ok();
}

// Like the SQLite store's probe, a durable write: it makes every earlier
// entry durable. This store's view is its content, so there is nothing to reload.
status memory_store::probe() { return sync(); }

status memory_store::load_record(const record_key& key, record_image* out, bool* found) {
  auto image = snapshot_.find(key);
  folded_record r = image != snapshot_.end() ? restore_image(image->second) : folded_record{};
  if (auto seqs = by_record_.find(key); seqs != by_record_.end()) {
    for (auto it = seqs->second.upper_bound(snapshot_seq_); it != seqs->second.end(); ++it)
      if (status st = fold_entry(journal_.at(*it), name_, &r); !st) return st;
  }
  *out = make_image(key, r);
  *found = r.rec.exists();
  return status::ok();
}

status memory_store::history(const record_key& key, std::int64_t before_version, int limit,
                             std::vector<journal_entry>* out) {
  out->clear();
  const auto seqs = by_record_.find(key);
  if (limit <= 0 || seqs == by_record_.end()) return status::ok();
  const auto wanted = static_cast<std::size_t>(std::min(limit, limits::history_limit_max));
  const std::int64_t bound = before_version > 0 ? before_version : INT64_MAX;
  for (auto it = seqs->second.rbegin(); it != seqs->second.rend() && out->size() < wanted; ++it) {
    const journal_entry& e = journal_.at(*it);
    if (e.c.kind != change_kind::refusal && e.c.version < bound) out->push_back(e);
  }
  return status::ok();
}

std::optional<journal_entry> memory_store::newest_with_idem(
    std::string_view idem, epoch_ms since_ms,
    const std::function<bool(const journal_entry&)>& match) const {
  const auto seqs = by_idem_.find(std::string(idem));
  if (seqs == by_idem_.end()) return std::nullopt;
  for (auto it = seqs->second.rbegin(); it != seqs->second.rend(); ++it) {
    const journal_entry& e = journal_.at(*it);
    if (e.at_ms >= since_ms && match(e)) return e;
  }
  return std::nullopt;
}

status memory_store::find_idempotent(const record_key& key, std::string_view idem, epoch_ms since_ms,
                                     std::optional<journal_entry>* out) {
  *out = newest_with_idem(idem, since_ms, [&](const journal_entry& e) { return e.key == key; });
  return status::ok();
}

status memory_store::find_idempotent_hold(std::string_view tenant, std::uint64_t hold_seq,
                                          std::string_view idem, epoch_ms since_ms,
                                          std::optional<journal_entry>* out) {
  *out = newest_with_idem(idem, since_ms, [&](const journal_entry& e) {
    return e.key.tenant == tenant && e.c.hold_seq == hold_seq;
  });
  return status::ok();
}

status memory_store::list_records(const list_filter& f, std::vector<record_image>* out) {
  out->clear();
  std::set<record_key, listing_order> keys;
  for (const auto& [key, image] : snapshot_)
    if (in_listing(f, key)) keys.insert(key);
  for (const auto& [key, seqs] : by_record_)
    if (in_listing(f, key)) keys.insert(key);
  for (const record_key& key : keys) {
    if (out->size() >= f.limit) break;
    record_image image;
    bool found = false;
    if (status st = load_record(key, &image, &found); !st) return st;
    if (found) out->push_back(std::move(image));
  }
  return status::ok();
}

status memory_store::fold_tail(std::uint64_t upto, folded_map* touched, purge_list* purges, std::uint64_t* entries,
                               std::uint64_t* last) {
  *last = snapshot_seq_;
  for (auto it = journal_.upper_bound(snapshot_seq_); it != journal_.end() && it->first <= upto; ++it) {
    const journal_entry& e = it->second;
    *last = e.seq;
    ++*entries;
    if (const std::string* tenant = purged_tenant(e)) {
      std::erase_if(*touched, [&](const auto& r) { return r.first.tenant == *tenant; });
      purges->emplace_back(*tenant, e.seq);
      continue;
    }
    auto r = touched->find(e.key);
    if (r == touched->end()) {
      // A tenant purged earlier in this pass has no snapshot rows any more.
      const bool purged =
          std::any_of(purges->begin(), purges->end(), [&](const auto& p) { return p.first == e.key.tenant; });
      auto image = purged ? snapshot_.end() : snapshot_.find(e.key);
      r = touched->emplace(e.key, image != snapshot_.end() ? restore_image(image->second) : folded_record{})
              .first;
    }
    if (status st = fold_entry(e, name_, &r->second); !st) return st;
  }
  return check_folded(*touched, name_);
}

void memory_store::purge_images(const purge_list& purges, image_map& images) {
  for (const auto& [tenant, seq] : purges)
    std::erase_if(images, [&](const auto& r) { return r.first.tenant == tenant; });
}

void memory_store::save(const folded_map& touched, const purge_list& purges, std::uint64_t last,
                        std::uint64_t* written) {
  purge_images(purges, snapshot_);
  for (const auto& [key, r] : touched) {
    if (!r.rec.exists()) continue;
    snapshot_.insert_or_assign(key, make_image(key, r));
    ++*written;
  }
  // The twin of the SQLite store's index rows: the purged tenants' journal
  // entries below their purge leave the record and idempotency indexes.
  for (const auto& [tenant, below] : purges) {
    for (auto& [key, seqs] : by_record_)
      if (key.tenant == tenant) seqs.erase(seqs.begin(), seqs.lower_bound(below));
    std::erase_if(by_record_, [](const auto& r) { return r.second.empty(); });
    for (auto& [idem, seqs] : by_idem_)
      std::erase_if(seqs, [&](std::uint64_t seq) { return seq < below && journal_.at(seq).key.tenant == tenant; });
    std::erase_if(by_idem_, [](const auto& r) { return r.second.empty(); });
  }
  snapshot_seq_ = last;
  count_tail();
  synced_seq_ = last_seq_;
}

void memory_store::erase_entry(std::map<std::uint64_t, journal_entry>::iterator it) {
  const journal_entry& e = it->second;
  if (auto seqs = by_record_.find(e.key); seqs != by_record_.end()) {
    seqs->second.erase(e.seq);
    if (seqs->second.empty()) by_record_.erase(seqs);
  }
  if (auto seqs = by_idem_.find(e.idem); !e.idem.empty() && seqs != by_idem_.end()) {
    seqs->second.erase(e.seq);
    if (seqs->second.empty()) by_idem_.erase(seqs);
  }
  journal_.erase(it);
}

// The same rule as the SQLite store: the oldest entries, up to the first one
// in the snapshot range appended at or after retain_since_ms.
std::uint64_t memory_store::compact(epoch_ms retain_since_ms) {
  std::uint64_t deleted = 0;
  while (!journal_.empty() && journal_.begin()->first <= snapshot_seq_ &&
         journal_.begin()->second.at_ms < retain_since_ms) {
    compacted_below_ = std::max(compacted_below_, journal_.begin()->first + 1);
    compacted_end_ = {journal_.begin()->second.epoch, journal_.begin()->first};
    erase_entry(journal_.begin());
    ++deleted;
  }
  return deleted;
}

status memory_store::read_journal(std::uint64_t after_seq, std::size_t limit,
                                  std::vector<journal_entry>* out) {
  out->clear();
  for (auto it = journal_.upper_bound(after_seq); it != journal_.end() && out->size() < limit; ++it)
    out->push_back(it->second);
  return status::ok();
}

status memory_store::journal_end(journal_position* out) {
  *out = journal_.empty() ? compacted_end_ : journal_position{journal_.rbegin()->second.epoch, journal_.rbegin()->first};
  return status::ok();
}

status memory_store::snapshot(epoch_ms retain_since_ms, std::uint64_t fold_upto_seq,
                              snapshot_report* report) {
  const auto start = std::chrono::steady_clock::now();
  *report = snapshot_report{};
  if (status st; injected_failure(&st)) return st;
  folded_map touched;
  purge_list purges;
  std::uint64_t last = 0;
  if (status st = fold_tail(fold_upto_seq, &touched, &purges, &report->folded_entries, &last); !st) return st;
  save(touched, purges, last, &report->records_written);
  report->compacted_entries = compact(retain_since_ms);
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return status::ok();
}

// Without `fold`, the report is built from a copy of the snapshot with the
// tail folded in, which is what the snapshot becomes with `fold`.
status memory_store::recover(recovery_report* report, bool fold) {
  const auto start = std::chrono::steady_clock::now();
  *report = recovery_report{};
  for (const auto& [key, image] : snapshot_)
    if (std::string bad = restore_image(image).rec.check_invariants(); !bad.empty())
      return status::corruption(name_ + ": snapshot record " + key.tenant + "/" + key.warehouse +
                                "/" + key.sku + ": " + bad);
  report->snapshot_records = snapshot_.size();
  folded_map touched;
  purge_list purges;
  std::uint64_t last = 0, written = 0;
  if (status st = fold_tail(fold_everything, &touched, &purges, &report->replayed_entries, &last); !st) return st;
  image_map current = snapshot_;
  purge_images(purges, current);
  for (const auto& [key, r] : touched)
    if (r.rec.exists()) current.insert_or_assign(key, make_image(key, r));
  if (fold) save(touched, purges, last, &written);
  report->last_seq = last_seq_;
  for (const auto& [key, image] : current) {
    if (!image.holds.empty()) report->with_holds.push_back(image);
    report->warehouses.emplace_back(key.tenant, key.warehouse);
  }
  std::sort(report->warehouses.begin(), report->warehouses.end());
  report->warehouses.erase(std::unique(report->warehouses.begin(), report->warehouses.end()),
                           report->warehouses.end());
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return status::ok();
}

}  // namespace stockgrid::persistence

namespace stockgrid::persistence {

status memory_store::count_records(std::vector<std::pair<std::string, std::uint64_t>>* out) {
  std::map<std::string, std::set<std::pair<std::string, std::string>>> keys;
  for (const auto& [key, image] : snapshot_) keys[key.tenant].emplace(key.warehouse, key.sku);
  for (auto it = journal_.upper_bound(snapshot_seq_); it != journal_.end(); ++it)
    if (it->second.result == outcome::ok) keys[it->second.key.tenant].emplace(it->second.key.warehouse, it->second.key.sku);
  out->clear();
  for (const auto& [tenant, records] : keys) out->emplace_back(tenant, records.size());
  return status::ok();
}

status memory_store::delete_tenant(std::string_view tenant, std::uint64_t* records) {
  snapshot_report folded;
  if (status st = snapshot(0, &folded); !st) return st;
  if (status st; injected_failure(&st)) return st;
  for (auto it = journal_.begin(); it != journal_.end();) {
    auto next = std::next(it);
    if (it->second.key.tenant == tenant) erase_entry(it);
    it = next;
  }
  const auto removed = std::erase_if(snapshot_, [&](const auto& kv) { return kv.first.tenant == tenant; });
  if (records != nullptr) *records = removed;
  synced_seq_ = last_seq_;
  return status::ok();
}

}  // namespace stockgrid::persistence
