#include "persistence/fold.hpp"

namespace stockgrid::persistence {
namespace {

status broken(const journal_entry& e, const std::string& file, const std::string& what) {
  return status::corruption(file + ": journal row seq=" + std::to_string(e.seq) + ": " + what);
}

std::string values(std::int64_t on_hand, std::int64_t reserved, std::int64_t version) {
  return "on_hand=" + std::to_string(on_hand) + " reserved=" + std::to_string(reserved) +
         " version=" + std::to_string(version);
}

std::string extras(std::int64_t backordered, std::int64_t incoming) {
  return "backordered=" + std::to_string(backordered) + " incoming=" + std::to_string(incoming);
}

bool names_existing_hold(change_kind k) {
  return k == change_kind::commit || k == change_kind::release || k == change_kind::extend ||
         k == change_kind::expire;
}

// The hold conditions under which stock_record::apply is defined.
std::string hold_problem(const journal_entry& e, const stock_record& rec) {
  const change& c = e.c;
  if (c.kind == change_kind::reserve) {
    if (c.hold_seq != e.seq) return "reserve names hold " + std::to_string(c.hold_seq);
    if (rec.find_hold(c.hold_seq)) return "reserve of an existing hold";
    return {};
  }
  if (!names_existing_hold(c.kind)) return {};
  const hold* h = rec.find_hold(c.hold_seq);
  if (!h) return "names hold " + std::to_string(c.hold_seq) + ", which is not active";
  if (c.kind != change_kind::extend && (c.qty < 0 || c.qty > h->qty))
    return "qty " + std::to_string(c.qty) + " outside hold of " + std::to_string(h->qty);
  return {};
}

}  // namespace

status fold_entry(const journal_entry& e, const std::string& file, folded_record* r) {
  stock_record& rec = r->rec;
  const change& c = e.c;
  if (c.kind == change_kind::refusal) {
    if (c.version != rec.version())
      return broken(e, file, "refusal carries version " + std::to_string(c.version) +
                                 ", record is at " + std::to_string(rec.version()));
    return status::ok();
  }
  if (c.version != rec.version() + 1 || c.on_hand_before != rec.on_hand() ||
      c.reserved_before != rec.reserved())
    return broken(e, file, "does not follow the record's state: entry has before " +
                               values(c.on_hand_before, c.reserved_before, c.version - 1) +
                               ", record has " +
                               values(rec.on_hand(), rec.reserved(), rec.version()));
  if (c.backordered_before != rec.backordered() || c.incoming_before != rec.incoming())
    return broken(e, file, "does not follow the record's state: entry has before " +
                               extras(c.backordered_before, c.incoming_before) + ", record has " +
                               extras(rec.backordered(), rec.incoming()));
  // Only a policy change alters the policy; every other change carries it.
  if (c.kind != change_kind::policy && !(c.policy == rec.policy()))
    return broken(e, file, "a " + std::string(to_string(c.kind)) +
                               " change carries a policy other than the record's");
  if (std::string p = hold_problem(e, rec); !p.empty()) return broken(e, file, p);
  rec.apply(c);
  if (rec.on_hand() != c.on_hand_after || rec.reserved() != c.reserved_after ||
      rec.version() != c.version)
    return broken(e, file, "replays to " + values(rec.on_hand(), rec.reserved(), rec.version()) +
                               ", entry says " +
                               values(c.on_hand_after, c.reserved_after, c.version));
  r->last_seq = e.seq;
  return status::ok();
}

status check_append_batch(const std::vector<journal_entry>& entries, std::uint64_t last_seq,
                          std::uint64_t seq_lease, const std::string& file) {
  std::uint64_t previous = last_seq;
  const auto refuse = [&](const journal_entry& e, const std::string& why) {
    return status::invalid(file + ": append of seq=" + std::to_string(e.seq) + ": " + why);
  };
  for (const journal_entry& e : entries) {
    if (e.seq <= previous) return refuse(e, "not above seq " + std::to_string(previous));
    if (e.seq >= seq_lease) return refuse(e, "not below the seq lease " + std::to_string(seq_lease));
    if (e.c.kind == change_kind::reserve && e.c.hold_seq != e.seq)
      return refuse(e, "a reserve must name its own seq as hold_seq");
    previous = e.seq;
  }
  return status::ok();
}

status check_fencing(const std::vector<journal_entry>& entries, std::uint64_t writer_epoch, std::uint64_t epoch,
                     const std::string& file) {
  if (entries.empty() || writer_epoch >= epoch) return status::ok();
  return status::fenced(file + ": entries from seq=" + std::to_string(entries.front().seq) + " come from epoch " +
                        std::to_string(writer_epoch) + ", the journal is at epoch " + std::to_string(epoch));
}

record_image make_image(const record_key& key, const folded_record& r) {
  record_image image;
  image.key = key;
  image.on_hand = r.rec.on_hand();
  image.reserved = r.rec.reserved();
  image.version = r.rec.version();
  image.holds = r.rec.holds();
  image.last_seq = r.last_seq;
  image.policy = r.rec.policy();
  image.backordered = r.rec.backordered();
  image.incoming = r.rec.incoming();
  return image;
}

folded_record restore_image(const record_image& image) {
  folded_record r;
  r.rec.restore(image.on_hand, image.reserved, image.version, image.holds);
  r.rec.restore_policy(image.policy, image.backordered, image.incoming);
  r.last_seq = image.last_seq;
  return r;
}

}  // namespace stockgrid::persistence
