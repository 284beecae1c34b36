// Operating errors of the storage layer, returned rather than thrown (like
// LevelDB's Status). Outcomes a client can see are not statuses: they are
// domain `outcome`s. Programmer errors are assertions.
#pragma once

#include <string>
#include <utility>

namespace stockgrid::persistence {

class status {
 public:
  enum class code : unsigned char { ok = 0, io_error, corruption, fenced, invalid, unavailable, sync_failed };

  status() = default;
  static status ok() { return {}; }
  static status io_error(std::string m) { return {code::io_error, std::move(m)}; }
  // The data on disk is not what was written: names the file and the row.
  static status corruption(std::string m) { return {code::corruption, std::move(m)}; }
  // An append from a writer whose epoch is older than the journal's.
  static status fenced(std::string m) { return {code::fenced, std::move(m)}; }
  static status invalid(std::string m) { return {code::invalid, std::move(m)}; }
  // Not done now, and worth retrying later: a journal writer's partition is
  // degraded (its disk refused a write) until a probe write succeeds.
  static status unavailable(std::string m) { return {code::unavailable, std::move(m)}; }
  // An fsync (or syncfs) failed: what was written since the last good one
  // may or may not be on stable storage, and the kernel may have dropped it
  // from its cache, so no later sync can vouch for it. Only a restart, which
  // recovers from what the disk holds, makes the store trustworthy again.
  static status sync_failed(std::string m) { return {code::sync_failed, std::move(m)}; }

  bool is_ok() const { return code_ == code::ok; }
  explicit operator bool() const { return is_ok(); }
  code kind() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  status(code c, std::string m) : code_(c), message_(std::move(m)) {}
  code code_ = code::ok;
  std::string message_;
};

}  // namespace stockgrid::persistence
