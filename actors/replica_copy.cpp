// The cluster actor's third part: rebuilding a replica from a copy of its
// leader's partition file (Raft's InstallSnapshot, done with whole files).
//
// A follower whose journal ends below what its leader compacted (down for
// longer than `retention-ms`, or started on an empty data dir) cannot catch
// up from the leader's journal, and the leader cannot check whether what it
// holds agrees (replication_actor.cpp marks it `needs_rebuild`). So:
//
//   leader                                    follower
//   copy_sqlite_store (own thread) ─┐
//   chunk 0 ─────────────────────────────────> write data/copies/in-p-NNNN.db
//                          <────────────────── next offset
//   ... one chunk in flight, each answered within copy_answer_timeout_ms
//   last chunk ──────────────────────────────> CRC check; on a thread of
//                                              its own: fsync, open and
//                                              recover (check); on the writer
//                                              thread: close its own store,
//                                              rename, open, recover
//                          <────────────────── installed, journal ends at E
//   ships its journal after E, as to any follower
//
// The copy is the leader's journal and snapshot at one committed state, in
// its epoch: what a follower would hold had it received every entry, so
// taking it whole is safe (entries of the follower's own that the copy
// lacks were never on a majority). The follower keeps its epoch and seq
// lease at least where they were (journal_writer::replace_store). While it
// installs it neither appends, votes nor stands.
//
// Bounds: one outgoing copy per node at a time (a leader rebuilds its
// followers one after another), one incoming per partition; chunks of
// copy_chunk_bytes; a copy stalled past its timeout is dropped (files
// deleted) and started again later from the beginning. A node deletes
// data/copies at start.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

#include "actors/cluster_state.hpp"
#include "persistence/crc32c.hpp"
#include "persistence/files.hpp"
#include "persistence/sqlite_store.hpp"

namespace stockgrid::actors {

using persistence::status;

namespace {

constexpr std::size_t copy_chunk_bytes = 512 * 1024;
// A chunk, or the last answer before the install, not answered by then: the
// copy is dropped.
constexpr std::int64_t copy_answer_timeout_ms = 10'000;
// Making the copy (VACUUM INTO), and the follower's check and install of
// it before its last answer: 300 s, and 1 s more per MiB (bench/rebuild
// measured 0.05–0.11 s per MiB end to end), so a large partition is not
// dropped and copied again forever.
constexpr std::int64_t copy_install_timeout_ms = 300'000;
constexpr std::int64_t copy_install_ms_per_mib = 1'000;
std::int64_t install_timeout_ms(std::uint64_t bytes) {
  return copy_install_timeout_ms + static_cast<std::int64_t>(bytes >> 20) * copy_install_ms_per_mib;
}
// A follower drops a copy its leader has not sent a chunk of for this long.
constexpr std::int64_t copy_idle_ms = 30'000;
// Longest wait before a copy is tried again after failures.
constexpr std::int64_t copy_retry_max_ms = 60'000;
// Largest copy a follower takes (a partition file is far smaller).
constexpr std::uint64_t copy_bytes_max = std::uint64_t{1} << 40;

std::filesystem::path copies_dir(cluster_ptr self) {
  return std::filesystem::path(self->state.ctx->settings.node.data_dir) / "copies";
}

std::string copy_path(cluster_ptr self, const char* prefix, std::uint32_t p) {
  char name[32];
  std::snprintf(name, sizeof name, "%s-p-%04u.db", prefix, p);
  return (copies_dir(self) / name).string();
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// ---- leader ------------------------------------------------------------------

void drop_outgoing(cluster_ptr self, const std::string& why) {
  auto& st = self->state;
  if (!st.copy_out) return;
  auto& c = *st.copy_out;
  spdlog::warn("cluster: partition {}: copy for {} dropped after {} of {} bytes: {}; tried again later",
               c.partition, c.to, c.offset, c.size, why);
  if (c.fd >= 0) ::close(c.fd);
  remove_file(c.path);  // or, while the copy thread still writes it, its result is dropped
  st.copy_out.reset();
  // Two failure timeouts, doubled after each failure in a row, at most a minute.
  const auto base = 2 * static_cast<std::int64_t>(st.settings.cluster.failure_timeout_ms);
  st.copy_retry_ms = monotonic_ms() + std::min<std::int64_t>(base << std::min(st.copy_failures, 10u), copy_retry_max_ms);
  ++st.copy_failures;
}

bool still_leads(cluster_ptr self, const outgoing_copy& c) {
  const auto& r = self->state.parts[c.partition];
  return r.r == role::leader && r.epoch == c.epoch && connected(self, c.to);
}

void send_chunk(cluster_ptr self) {
  auto& c = *self->state.copy_out;
  if (!connected(self, c.to)) return drop_outgoing(self, "not connected");
  std::string data(std::min<std::uint64_t>(copy_chunk_bytes, c.size - c.offset), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const auto n = ::pread(c.fd, data.data() + got, data.size() - got, static_cast<off_t>(c.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return drop_outgoing(self, n < 0 ? errno_text("cannot read " + c.path) : c.path + " shrank");
    got += static_cast<std::size_t>(n);
  }
  self->send(self->state.peers.at(c.to).handle, copy_atom::value, self->state.members->self(), c.partition,
             c.epoch, c.id, c.offset, c.size, c.crc, std::move(data));
  c.deadline_ms = monotonic_ms() + copy_answer_timeout_ms;
}

// On the copy thread: the copy, its size and CRC.
status make_copy(const std::string& from, const std::string& vfs, const std::string& to, std::uint64_t* size,
                 std::uint32_t* crc) {
  remove_file(to);
  if (auto st = persistence::copy_sqlite_store(from, vfs, to); !st) return st;
  const int fd = ::open(to.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return status::io_error(errno_text("cannot open " + to));
  std::string buf(1 << 20, '\0');
  *size = 0;
  *crc = 0;
  for (;;) {
    const auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return status::io_error(errno_text("cannot read " + to));
    }
    if (n == 0) break;
    *crc = persistence::crc32c(buf.data(), static_cast<std::size_t>(n), *crc);
    *size += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return status::ok();
}

void start_copy(cluster_ptr self, std::uint32_t p, const std::string& to, std::int64_t now) {
  auto& st = self->state;
  // Not busy (copy_tick): the last one posted its result, so it has ended or is about to.
  if (st.copy_thread.joinable()) st.copy_thread.join();
  std::error_code ec;
  std::filesystem::create_directories(copies_dir(self), ec);
  outgoing_copy c;
  c.partition = p;
  c.epoch = st.parts[p].epoch;
  c.to = to;
  c.id = st.next_copy_id++;
  c.path = copy_path(self, "out", p);
  c.started_ms = now;
  std::error_code size_ec;
  const auto source_bytes = std::filesystem::file_size(partition_path(st.ctx->settings.node.data_dir, p), size_ec);
  c.deadline_ms = now + install_timeout_ms(size_ec ? 0 : source_bytes);  // making the copy
  spdlog::info("cluster: partition {}: {} needs a copy of this leader's file; making it", p, to);
  // `self` is used only in the continuation, which runs in this actor.
  st.copy_thread = std::thread([self, me = caf::actor_cast<caf::actor>(self), id = c.id, path = c.path,
                                from = partition_path(st.ctx->settings.node.data_dir, p), vfs = st.ctx->sqlite_vfs] {
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    auto made = make_copy(from, vfs, path, &size, &crc);
    caf::anon_send(me, continuation{[self, id, path, made, size, crc] {
      self->state.copy_thread_busy = false;
      auto& c = self->state.copy_out;
      if (!c || c->id != id) {  // dropped meanwhile; a newer copy of the partition may use the path now
        if (!c || c->path != path) remove_file(path);
        return;
      }
      if (!made) return drop_outgoing(self, "cannot copy: " + made.message());
      if (!still_leads(self, *c)) return drop_outgoing(self, "no longer its leader, or not connected");
      c->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (c->fd < 0) return drop_outgoing(self, errno_text("cannot open " + path));
      c->size = size;
      c->crc = crc;
      send_chunk(self);
    }});
  });
  st.copy_thread_busy = true;
  st.copy_out = std::move(c);
}

// ---- follower ----------------------------------------------------------------

void drop_incoming(cluster_ptr self, std::uint32_t p) {
  auto& st = self->state;
  auto it = st.copies_in.find(p);
  if (it == st.copies_in.end()) return;
  if (it->second.fd >= 0) ::close(it->second.fd);
  remove_file(it->second.path);
  remove_file(it->second.path + "-wal");  // left by a check that could not close it cleanly
  remove_file(it->second.path + "-shm");
  st.copies_in.erase(it);
}

void answer_copy(cluster_ptr self, const std::string& to, std::uint32_t p, std::uint64_t epoch, std::uint64_t id,
                 std::uint64_t next, bool installed, cluster::log_position end, std::string error) {
  auto it = self->state.peers.find(to);
  if (it == self->state.peers.end() || !it->second.handle) return;
  self->send(it->second.handle, copied_atom::value, self->state.members->self(), p, epoch, id, next, installed,
             end.seq, end.epoch, std::move(error));
}

// On a check thread (check_copy): makes the received copy durable and
// checks it where it is: it opens and recovers (every row's CRC and chain
// checked). Only such a copy replaces a store.
status check_received(const std::string& incoming, const std::string& vfs) {
  if (status st = persistence::sync_path(incoming); !st) return st;
  status st;
  auto copy = persistence::open_sqlite_store({incoming, vfs}, &st);
  if (!copy) return st;
  persistence::recovery_report ignored;
  if (st = copy->recover(&ignored, false); !st) return st;
  copy.reset();  // closed: its WAL checkpointed into the file and deleted
  std::error_code ec;
  if (std::filesystem::exists(incoming + "-wal", ec) && std::filesystem::file_size(incoming + "-wal", ec) > 0)
    return status::io_error(incoming + "-wal still holds frames after closing");
  return status::ok();
}

// On p's writer thread (journal_writer::replace_store): `incoming`, checked,
// replaces the store at `path`.
status swap_in(const std::string& incoming, const std::string& path, const std::string& vfs,
               std::unique_ptr<persistence::partition_store>& store) {
  store.reset();
  std::error_code ec;
  auto reopen_old = [&](status why) {
    status st;
    store = persistence::open_sqlite_store({path, vfs}, &st);
    if (!store) {
      spdlog::critical("cluster: {}: cannot reopen after a failed replacement ({}): {}; stopping", path,
                       why.message(), st.message());
      std::abort();  // fail-stop: the node's copy is recovered at its restart
    }
    return why;
  };
  if (std::filesystem::exists(path + "-wal", ec) && std::filesystem::file_size(path + "-wal", ec) > 0)
    return reopen_old(status::io_error(path + "-wal still holds frames after closing"));
  std::filesystem::remove(path + "-wal", ec);
  std::filesystem::remove(path + "-shm", ec);
  if (::rename(incoming.c_str(), path.c_str()) != 0)
    return reopen_old(status::io_error(errno_text("cannot rename " + incoming + " to " + path)));
  // Until the rename is durable this copy must not answer "installed": a
  // power cut could bring the old file back after the leader counted on the
  // new one.
  if (status st = persistence::sync_path(std::filesystem::path(path).parent_path().string()); !st) {
    spdlog::critical("cluster: {}: the installed copy's rename is not durable: {}; stopping", path, st.message());
    std::abort();  // fail-stop: the restart recovers whichever file the disk holds
  }
  status st;
  store = persistence::open_sqlite_store({path, vfs}, &st);
  if (!store) {
    spdlog::critical("cluster: {}: cannot open the installed copy: {}; stopping", path, st.message());
    std::abort();  // fail-stop, as above
  }
  return status::ok();
}

// The copy of p from `from` failed its check or its install: dropped (its
// store unchanged), and the leader told why.
void not_installed(cluster_ptr self, std::uint32_t p, const std::string& from, std::uint64_t epoch,
                   std::uint64_t id, std::uint64_t size, const status& why) {
  auto& r = self->state.parts[p];
  r.installing = false;
  drop_incoming(self, p);
  spdlog::error("cluster: partition {}: the copy from {} was not installed: {}", p, from, why.message());
  answer_copy(self, from, p, epoch, id, size, false, r.last, "not installed: " + why.message());
}

void install(cluster_ptr self, std::uint32_t p, std::int64_t checked_ms) {
  auto& in = self->state.copies_in.at(p);
  const auto started = monotonic_ms();
  auto swap = [incoming = in.path, path = partition_path(self->state.ctx->settings.node.data_dir, p),
               vfs = self->state.ctx->sqlite_vfs](std::unique_ptr<persistence::partition_store>& store) {
    return swap_in(incoming, path, vfs, store);
  };
  // `done` runs on the writer thread: it hands over to this actor, which
  // then reads where the journal ends (after the swap, in queue order).
  auto finished = [self, p, started, checked_ms, from = in.from, epoch = in.epoch, id = in.id,
                   size = in.size](const status& st, cluster::log_position end) {
    if (!st) return not_installed(self, p, from, epoch, id, size, st);
    auto& r = self->state.parts[p];
    r.installing = false;
    drop_incoming(self, p);
    r.last = r.queued = end;
    spdlog::info("cluster: partition {}: copy from {} installed ({} bytes; checked in {} ms, swapped and "
                 "recovered in {} ms on its journal thread); its journal ends at seq {} (epoch {})",
                 p, from, size, checked_ms, monotonic_ms() - started, end.seq, end.epoch);
    answer_copy(self, from, p, epoch, id, size, true, r.last, {});
  };
  auto done = [self, me = caf::actor_cast<caf::actor>(self), ctx = self->state.ctx, p, finished](
                  const status& st, const persistence::recovery_report& report) {
    for (const auto& [tenant, warehouse] : report.warehouses) ctx->warehouses.add(tenant, warehouse);
    caf::anon_send(me, continuation{[self, ctx, p, st, finished] {
      if (!st) return finished(st, {});
      ctx->journal->run(p, [me = caf::actor_cast<caf::actor>(self), finished](persistence::partition_store& store) {
        persistence::journal_position end;
        auto read = store.journal_end(&end);
        caf::anon_send(me, continuation{[read, end, finished] { finished(read, {end.epoch, end.seq}); }});
      });
    }});
  };
  self->state.ctx->journal->replace_store(p, std::move(swap), std::move(done));
}

// The whole copy is here: it is checked on a thread of its own, so the
// partition's journal thread (shared with other partitions) waits only for
// the swap; then installed. The copy stays `installing` meanwhile: no chunk,
// drop or idle timeout touches it.
void check_copy(cluster_ptr self, std::uint32_t p) {
  auto& st = self->state;
  const auto in = st.copies_in.at(p);
  auto fail = [self, p, in](const status& why) { not_installed(self, p, in.from, in.epoch, in.id, in.size, why); };
  // One copy per partition at a time, so no check of p is running; and a
  // joinable thread must never be dropped.
  if (st.check_threads.count(p)) return fail(status::io_error("a check of this partition's last copy still runs"));
  st.parts[p].installing = true;
  // `self` is used only in the continuation, which runs in this actor.
  auto check = [self, me = caf::actor_cast<caf::actor>(self), p, id = in.id, from = in.from, path = in.path,
                vfs = st.ctx->sqlite_vfs, fail] {
    const auto started = monotonic_ms();
    const auto checked = check_received(path, vfs);
    caf::anon_send(me, continuation{[self, p, id, from, checked, ms = monotonic_ms() - started, fail] {
      auto& st = self->state;
      if (auto t = st.check_threads.find(p); t != st.check_threads.end()) {
        t->second.join();  // it has posted this: it is ending
        st.check_threads.erase(t);
      }
      auto it = st.copies_in.find(p);
      if (it == st.copies_in.end() || it->second.id != id || it->second.from != from) {
        // Not reached while `installing` holds the copy; should it be, the
        // partition must not stay frozen.
        if (it == st.copies_in.end() || !it->second.installing) st.parts[p].installing = false;
        return;
      }
      if (checked) return install(self, p, ms);
      fail(checked);
    }});
  };
  try {
    st.check_threads.emplace(p, std::thread(std::move(check)));
  } catch (const std::system_error& e) {
    fail(status::io_error(std::string("cannot start a thread to check it: ") + e.what()));
  }
}

}  // namespace

cluster_state::~cluster_state() {
  // The copy thread holds a handle to this actor until it ends, so the
  // actor may be destroyed on that very thread, which cannot join itself.
  auto end = [](std::thread& t) {
    if (!t.joinable()) return;
    if (t.get_id() == std::this_thread::get_id())
      t.detach();
    else
      t.join();
  };
  end(copy_thread);
  for (auto& [p, t] : check_threads) end(t);
  if (copy_out && copy_out->fd >= 0) ::close(copy_out->fd);
  for (auto& [p, in] : copies_in)
    if (in.fd >= 0) ::close(in.fd);
}

void copy_tick(cluster_ptr self, std::int64_t now) {
  auto& st = self->state;
  for (auto it = st.copies_in.begin(); it != st.copies_in.end();) {
    const auto p = (it++)->first;
    const auto& in = st.copies_in.at(p);
    if (!in.installing && now - in.last_ms > copy_idle_ms) {
      spdlog::warn("cluster: partition {}: the copy from {} stalled at {} of {} bytes; dropped", p, in.from,
                   in.received, in.size);
      drop_incoming(self, p);
    }
  }
  if (st.copy_out) {
    if (!still_leads(self, *st.copy_out)) return drop_outgoing(self, "no longer its leader, or not connected");
    if (now > st.copy_out->deadline_ms) drop_outgoing(self, "no answer in time");
    return;
  }
  if (now < st.copy_retry_ms || st.leaving || st.copy_thread_busy) return;
  for (std::uint32_t p = 0; p < st.partitions; ++p) {
    const auto& r = st.parts[p];
    // Not only once serving: a new leader serves once its epoch marker is
    // on a majority, which may need a follower rebuilt first.
    if (r.r != role::leader) continue;
    for (const auto& f : r.followers)
      if (f.needs_rebuild && connected(self, f.id)) return start_copy(self, p, f.id, now);
  }
}

void copy_peer_lost(cluster_ptr self, const std::string& id) {
  auto& st = self->state;
  for (auto it = st.copies_in.begin(); it != st.copies_in.end();) {
    const auto p = (it++)->first;
    const auto& in = st.copies_in.at(p);
    if (in.from == id && !in.installing) drop_incoming(self, p);
  }
}

void on_copy_chunk(cluster_ptr self, const std::string& from, std::uint32_t p, std::uint64_t epoch,
                   std::uint64_t id, std::uint64_t offset, std::uint64_t size, std::uint32_t crc,
                   const std::string& data) {
  auto& st = self->state;
  auto refuse = [&](const std::string& why) {
    spdlog::warn("cluster: partition {}: a copy chunk from {} refused: {}", p, from, why);
    answer_copy(self, from, p, epoch, id, 0, false, {}, why);
  };
  if (p >= st.partitions) return refuse("no such partition");
  auto& r = st.parts[p];
  if (r.r != role::follower || r.leader != from || r.epoch != epoch)
    return refuse("this node does not follow " + from + " in epoch " + std::to_string(epoch));
  if (r.disk_degraded) return refuse("this node's disk refuses writes");
  if (data.size() > copy_chunk_bytes || size > copy_bytes_max || offset > size || data.size() > size - offset)
    return refuse("a chunk of " + std::to_string(data.size()) + " bytes at " + std::to_string(offset) +
                  " does not fit a copy of " + std::to_string(size));
  auto it = st.copies_in.find(p);
  if (it != st.copies_in.end() && it->second.installing) return refuse("a copy is being installed");
  if (it == st.copies_in.end() || it->second.id != id || it->second.from != from || it->second.epoch != epoch) {
    if (offset != 0) return refuse("a chunk at " + std::to_string(offset) + " of a copy not started here");
    drop_incoming(self, p);
    std::error_code ec;
    std::filesystem::create_directories(copies_dir(self), ec);
    struct statvfs fs {};
    // The copy, and room for it to be opened (its WAL) and for the journal
    // to go on growing: twice its size free.
    if (::statvfs(copies_dir(self).c_str(), &fs) == 0 &&
        static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize < 2 * size)
      return refuse("not enough free disk for a copy of " + std::to_string(size) + " bytes");
    incoming_copy in;
    in.from = from;
    in.epoch = epoch;
    in.id = id;
    in.size = size;
    in.path = copy_path(self, "in", p);
    in.fd = ::open(in.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in.fd < 0) return refuse(errno_text("cannot create " + in.path));
    spdlog::info("cluster: partition {}: receiving a copy of {}'s file ({} bytes)", p, from, size);
    it = st.copies_in.emplace(p, std::move(in)).first;
  }
  auto& in = it->second;
  if (offset != in.received || size != in.size) {
    drop_incoming(self, p);
    return refuse("a chunk at " + std::to_string(offset) + " where " + std::to_string(in.received) + " was next");
  }
  std::size_t put = 0;
  while (put < data.size()) {
    const auto n = ::pwrite(in.fd, data.data() + put, data.size() - put, static_cast<off_t>(offset + put));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const auto why = errno_text("cannot write " + in.path);
      drop_incoming(self, p);
      return refuse(why);
    }
    put += static_cast<std::size_t>(n);
  }
  in.crc = persistence::crc32c(data.data(), data.size(), in.crc);
  in.received += data.size();
  in.last_ms = monotonic_ms();
  if (in.received < in.size) return answer_copy(self, from, p, epoch, id, in.received, false, {}, {});
  ::close(in.fd);
  in.fd = -1;
  if (in.crc != crc) {
    drop_incoming(self, p);
    return refuse("the copy's CRC-32C does not match");
  }
  in.installing = true;
  answer_copy(self, from, p, epoch, id, in.received, false, {}, {});
  check_copy(self, p);
}

void on_copy_answer(cluster_ptr self, const std::string& from, std::uint32_t p, std::uint64_t epoch,
                    std::uint64_t id, std::uint64_t next, bool installed, cluster::log_position end,
                    const std::string& error) {
  auto& st = self->state;
  if (!st.copy_out) return;
  auto& c = *st.copy_out;
  if (c.id != id || c.to != from || c.partition != p || c.epoch != epoch || c.fd < 0) return;
  if (!error.empty()) return drop_outgoing(self, from + " refused it: " + error);
  if (installed) {
    spdlog::info("cluster: partition {}: {} installed this leader's copy ({} bytes in {} ms)", p, from, c.size,
                 monotonic_ms() - c.started_ms);
    ::close(c.fd);
    remove_file(c.path);
    st.copy_out.reset();
    st.copy_retry_ms = 0;
    st.copy_failures = 0;
    if (st.parts[p].r == role::leader && st.parts[p].epoch == epoch) copy_installed(self, p, from, end);
    return;
  }
  if (next == c.size) {
    c.offset = next;
    c.deadline_ms = monotonic_ms() + install_timeout_ms(c.size);  // it checks and installs
    return;
  }
  if (next <= c.offset || next > c.size) return drop_outgoing(self, "an answer for offset " + std::to_string(next));
  c.offset = next;
  send_chunk(self);
}

}  // namespace stockgrid::actors
