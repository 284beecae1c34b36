#include "persistence/testing/powercut_vfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace stockgrid::persistence::powercut {
namespace {

struct undo_record {
  sqlite3_int64 offset = 0;
  std::string old_bytes;
};

// What a file holds on "disk": its content at the last sync, reachable from
// the current content by undoing `undo` newest first and truncating.
struct file_log {
  bool synced_ever = false;
  bool main_db = false;
  sqlite3_int64 synced_size = 0;
  std::vector<undo_record> undo;
};

struct vfs_state {
  std::mutex mu;
  std::map<std::string, file_log> files;
  bool cut = false;
  bool full = false;  // fail_writes()
  std::string full_only;
  std::uint64_t refused = 0;
  bool syncs_fail = false;  // fail_syncs()
  std::uint64_t failed_syncs = 0;
  std::chrono::milliseconds sync_delay{0};  // slow_syncs()
  std::uint64_t delayed_syncs = 0;
  sqlite3_vfs* real = nullptr;
  sqlite3_vfs vfs{};
};

vfs_state& g() {
  static vfs_state s;
  return s;
}

// Our file object; the real VFS's object follows it in the same allocation.
struct pc_file {
  sqlite3_file base;
  sqlite3_file* real;
  file_log* log;  // null for files SQLite opens without a name (temp files)
  std::string path;
};

// Under g().mu: whether fail_writes() refuses this file's writes.
bool refused(const pc_file* p) {
  if (!g().full || (!g().full_only.empty() && p->path.find(g().full_only) == std::string::npos)) return false;
  ++g().refused;
  return true;
}

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<pc_file*>(f)->real; }
const sqlite3_io_methods* rm(sqlite3_file* f) { return real_of(f)->pMethods; }

sqlite3_int64 current_size(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  return real->pMethods->xFileSize(real, &size) == SQLITE_OK ? size : 0;
}

// Remembers the old bytes of [offset, offset+n) that matter after a cut:
// those below both the current size and the synced size (anything past the
// synced size is cut off by the final truncate anyway).
int remember(pc_file* p, sqlite3_int64 offset, sqlite3_int64 n) {
  const sqlite3_int64 end = std::min({offset + n, current_size(p->real), p->log->synced_size});
  if (end <= offset) return SQLITE_OK;
  undo_record u;
  u.offset = offset;
  u.old_bytes.resize(static_cast<std::size_t>(end - offset));
  const int rc = p->real->pMethods->xRead(p->real, u.old_bytes.data(), static_cast<int>(end - offset), offset);
  if (rc != SQLITE_OK) return rc;
  p->log->undo.push_back(std::move(u));
  return SQLITE_OK;
}

int pc_close(sqlite3_file* f) {
  const int rc = rm(f)->xClose(real_of(f));
  reinterpret_cast<pc_file*>(f)->path.~basic_string();
  return rc;
}

int pc_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return rm(f)->xRead(real_of(f), buf, n, off);
}

int pc_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  auto* p = reinterpret_cast<pc_file*>(f);
  std::lock_guard lock(g().mu);
  if (g().cut) return SQLITE_OK;
  if (refused(p)) return SQLITE_FULL;
  if (p->log)
    if (int rc = remember(p, off, n); rc != SQLITE_OK) return rc;
  return rm(f)->xWrite(p->real, buf, n, off);
}

int pc_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* p = reinterpret_cast<pc_file*>(f);
  std::lock_guard lock(g().mu);
  if (g().cut) return SQLITE_OK;
  if (refused(p)) return SQLITE_FULL;
  if (p->log)
    if (int rc = remember(p, size, current_size(p->real) - size); rc != SQLITE_OK) return rc;
  return rm(f)->xTruncate(p->real, size);
}

// slow_syncs(): waits the delay set, without holding the VFS's lock (other
// connections' reads and writes go on meanwhile).
void wait_if_slow() {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(g().mu);
    if (g().cut || g().sync_delay.count() <= 0) return;
    delay = g().sync_delay;
    ++g().delayed_syncs;
  }
  std::this_thread::sleep_for(delay);
}

int pc_sync(sqlite3_file* f, int flags) {
  auto* p = reinterpret_cast<pc_file*>(f);
  wait_if_slow();
  std::lock_guard lock(g().mu);
  if (g().cut) return SQLITE_OK;
  if (g().syncs_fail) {
    // Like a failing disk: the written bytes stay wherever they are (the
    // page cache), nothing is made durable, and the caller hears EIO.
    ++g().failed_syncs;
    return SQLITE_IOERR_FSYNC;
  }
  const int rc = rm(f)->xSync(p->real, flags);
  if (rc == SQLITE_OK && p->log) {
    p->log->undo.clear();
    p->log->synced_size = current_size(p->real);
    p->log->synced_ever = true;
  }
  return rc;
}

int pc_file_size(sqlite3_file* f, sqlite3_int64* size) { return rm(f)->xFileSize(real_of(f), size); }
int pc_lock(sqlite3_file* f, int level) { return rm(f)->xLock(real_of(f), level); }
int pc_unlock(sqlite3_file* f, int level) { return rm(f)->xUnlock(real_of(f), level); }
int pc_check_reserved(sqlite3_file* f, int* out) { return rm(f)->xCheckReservedLock(real_of(f), out); }
int pc_file_control(sqlite3_file* f, int op, void* arg) { return rm(f)->xFileControl(real_of(f), op, arg); }
int pc_sector_size(sqlite3_file* f) { return rm(f)->xSectorSize(real_of(f)); }
int pc_device(sqlite3_file* f) { return rm(f)->xDeviceCharacteristics(real_of(f)); }

// Shared memory (the -shm file) is delegated: it is not persisted anyway.
int pc_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return rm(f)->xShmMap(real_of(f), page, size, extend, out);
}
int pc_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return rm(f)->xShmLock(real_of(f), offset, n, flags);
}
void pc_shm_barrier(sqlite3_file* f) { rm(f)->xShmBarrier(real_of(f)); }
int pc_shm_unmap(sqlite3_file* f, int delete_flag) { return rm(f)->xShmUnmap(real_of(f), delete_flag); }
// No memory-mapped reads: every read goes through xRead.
int pc_fetch(sqlite3_file*, sqlite3_int64, int, void** pp) {
  *pp = nullptr;
  return SQLITE_OK;
}
int pc_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods io_methods = {
    3,           pc_close,      pc_read,         pc_write,       pc_truncate,    pc_sync,
    pc_file_size, pc_lock,      pc_unlock,       pc_check_reserved, pc_file_control, pc_sector_size,
    pc_device,   pc_shm_map,    pc_shm_lock,     pc_shm_barrier, pc_shm_unmap,   pc_fetch,
    pc_unfetch,
};

int pc_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* p = reinterpret_cast<pc_file*>(f);
  p->real = reinterpret_cast<sqlite3_file*>(p + 1);
  p->log = nullptr;
  new (&p->path) std::string(name ? name : "");
  const bool existed = name && ::access(name, F_OK) == 0;
  const int rc = g().real->xOpen(g().real, name, p->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    p->base.pMethods = nullptr;
    p->path.~basic_string();
    return rc;
  }
  p->base.pMethods = &io_methods;
  if (!name) return SQLITE_OK;
  std::lock_guard lock(g().mu);
  auto [it, inserted] = g().files.try_emplace(name);
  if (inserted) {
    it->second.synced_ever = existed;
    it->second.synced_size = existed ? current_size(p->real) : 0;
  }
  it->second.main_db = it->second.main_db || (flags & SQLITE_OPEN_MAIN_DB);
  p->log = &it->second;
  return SQLITE_OK;
}

int pc_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  std::lock_guard lock(g().mu);
  if (g().cut) return SQLITE_OK;
  g().files.erase(name);
  return g().real->xDelete(g().real, name, sync_dir);
}

int pc_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g().real->xAccess(g().real, name, flags, out);
}
int pc_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g().real->xFullPathname(g().real, name, n, out);
}
void* pc_dl_open(sqlite3_vfs*, const char* name) { return g().real->xDlOpen(g().real, name); }
void pc_dl_error(sqlite3_vfs*, int n, char* out) { g().real->xDlError(g().real, n, out); }
void (*pc_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) { return g().real->xDlSym(g().real, h, sym); }
void pc_dl_close(sqlite3_vfs*, void* h) { g().real->xDlClose(g().real, h); }
int pc_randomness(sqlite3_vfs*, int n, char* out) { return g().real->xRandomness(g().real, n, out); }
int pc_sleep(sqlite3_vfs*, int us) { return g().real->xSleep(g().real, us); }
int pc_current_time(sqlite3_vfs*, double* out) { return g().real->xCurrentTime(g().real, out); }
int pc_last_error(sqlite3_vfs*, int n, char* out) { return g().real->xGetLastError(g().real, n, out); }
int pc_current_time64(sqlite3_vfs*, sqlite3_int64* out) {
  return g().real->xCurrentTimeInt64(g().real, out);
}

// Puts one file back as the disk would hold it after the cut; adds the bytes
// it undid (rewritten, cut off or, for a file never synced, removed) to `undone`.
status restore_file(const std::string& path, const file_log& log, std::uint64_t* undone) {
  struct stat sb;
  const bool exists = ::stat(path.c_str(), &sb) == 0;
  const auto size = exists ? static_cast<sqlite3_int64>(sb.st_size) : 0;
  if (!log.synced_ever) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return status::io_error(path + ": unlink: " + std::strerror(errno));
    *undone += static_cast<std::uint64_t>(size);
    return status::ok();
  }
  const int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0 && errno == ENOENT) return status::ok();  // removed outside SQLite (a test's temp dir)
  if (fd < 0) return status::io_error(path + ": open: " + std::strerror(errno));
  bool ok = true;
  for (auto u = log.undo.rbegin(); u != log.undo.rend() && ok; ++u) {
    ok = ::pwrite(fd, u->old_bytes.data(), u->old_bytes.size(), u->offset) ==
         static_cast<ssize_t>(u->old_bytes.size());
    *undone += u->old_bytes.size();
  }
  ok = ok && ::ftruncate(fd, log.synced_size) == 0;
  if (size > log.synced_size) *undone += static_cast<std::uint64_t>(size - log.synced_size);
  const int saved = errno;
  ::close(fd);
  if (!ok) return status::io_error(path + ": restore: " + std::strerror(saved));
  return status::ok();
}

// Under g().mu: every tracked file rolled back to its last sync, and the
// -shm files deleted; the first failure. `undone` counts the bytes undone.
status restore_all(std::uint64_t* undone) {
  status result;
  for (const auto& [path, log] : g().files) {
    status st = restore_file(path, log, undone);
    if (log.main_db) ::unlink((path + "-shm").c_str());
    if (!st && result) result = st;
  }
  return result;
}

}  // namespace

void install() {
  std::lock_guard lock(g().mu);
  if (g().real) return;
  sqlite3_initialize();
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  sqlite3_vfs& v = g().vfs;
  v.iVersion = 3;
  v.szOsFile = static_cast<int>(sizeof(pc_file)) + real->szOsFile;
  v.mxPathname = real->mxPathname;
  v.zName = vfs_name;
  v.xOpen = pc_open;
  v.xDelete = pc_delete;
  v.xAccess = pc_access;
  v.xFullPathname = pc_full_pathname;
  v.xDlOpen = pc_dl_open;
  v.xDlError = pc_dl_error;
  v.xDlSym = pc_dl_sym;
  v.xDlClose = pc_dl_close;
  v.xRandomness = pc_randomness;
  v.xSleep = pc_sleep;
  v.xCurrentTime = pc_current_time;
  v.xGetLastError = pc_last_error;
  v.xCurrentTimeInt64 = pc_current_time64;
  g().real = real;
  sqlite3_vfs_register(&v, 0);
}

void cut() {
  std::lock_guard lock(g().mu);
  g().cut = true;
}

bool is_cut() {
  std::lock_guard lock(g().mu);
  return g().cut;
}

status restore_unsynced() {
  std::lock_guard lock(g().mu);
  std::uint64_t undone = 0;
  status result = restore_all(&undone);
  g().files.clear();
  g().cut = false;
  return result;
}

void power_off(int exit_code) {
  g().mu.lock();  // never unlocked: the process ends holding it
  g().cut = true;
  const std::size_t files = g().files.size();
  std::uint64_t undone = 0;
  const status st = restore_all(&undone);
  char text[160];
  const int n = std::snprintf(text, sizeof text, "power cut: %zu files rolled back, %llu bytes undone\n", files,
                              static_cast<unsigned long long>(undone));
  (void)!::write(2, text, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof text) - 1)));
  if (!st) {
    const std::string error = "power_off: " + st.to_string() + "\n";
    (void)!::write(2, error.data(), error.size());
    ::_exit(1);
  }
  ::_exit(files == 0 ? exit_nothing_tracked : exit_code);
}

void reset() {
  std::lock_guard lock(g().mu);
  // Entries are kept (open files point at them); their content now counts as synced.
  for (auto& [path, log] : g().files) {
    struct stat sb;
    log.undo.clear();
    log.synced_ever = ::stat(path.c_str(), &sb) == 0;
    log.synced_size = log.synced_ever ? static_cast<sqlite3_int64>(sb.st_size) : 0;
  }
  g().cut = false;
}

void fail_writes(bool on, std::string only) {
  std::lock_guard lock(g().mu);
  g().full = on;
  g().full_only = std::move(only);
}

std::uint64_t refused_writes() {
  std::lock_guard lock(g().mu);
  return g().refused;
}

void fail_syncs(bool on) {
  std::lock_guard lock(g().mu);
  g().syncs_fail = on;
}

std::uint64_t failed_syncs() {
  std::lock_guard lock(g().mu);
  return g().failed_syncs;
}

void slow_syncs(std::chrono::milliseconds delay) {
  std::lock_guard lock(g().mu);
  g().sync_delay = delay;
}

std::uint64_t delayed_syncs() {
  std::lock_guard lock(g().mu);
  return g().delayed_syncs;
}

}  // namespace stockgrid::persistence::powercut
