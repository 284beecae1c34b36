// Starting and stopping child processes in tests: every process a test starts
// is killed and reaped by the object that started it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace stockgrid::testing {

// Path of a program built in this build tree ("app/stockgrid").
inline std::string built_program(const std::string& relative) {
  const char* dir = std::getenv("STOCKGRID_BIN_DIR");
  return std::string(dir ? dir : ".") + "/" + relative;
}

class child_process {
 public:
  // Starts argv[0] with its stdout on a pipe (read with read_line) and its
  // stderr in `stderr_path` (or inherited when empty).
  child_process(std::vector<std::string> argv, const std::string& stderr_path = {}) {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      // The child starts with no signal blocked, whatever the test blocked
      // for its own threads (a node blocks what it waits for itself).
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      if (!stderr_path.empty()) {
        int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) ::dup2(fd, 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~child_process() {
    kill(SIGKILL);
    wait_exit(std::chrono::seconds(10));
    if (out_ >= 0) ::close(out_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void kill(int sig) {
    if (pid_ > 0 && !exited_) ::kill(pid_, sig);
  }

  // One line of the child's stdout without the newline; nullopt at EOF.
  std::optional<std::string> read_line() {
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The exit code (128 + signal when killed), or nullopt if still running
  // after `limit`.
  std::optional<int> wait_exit(std::chrono::milliseconds limit) {
    if (exited_) return code_;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return code_;
      }
      if (r < 0 || std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // The process id (env execs the program, so it is the program's too).
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool exited_ = false;
  int code_ = -1;
  std::string buffer_;
};

// What a finished command printed and how it ended.
struct command_result {
  int exit_code = -1;  // 128 + signal when killed; 124 when `timeout` stopped it
  std::string output;  // stdout and stderr
};

// Runs a shell command line to its end, bounded by `timeout_s` (coreutils'
// timeout, then SIGKILL 5 s later), collecting its output.
inline command_result run_command(const std::string& command, int timeout_s = 120) {
  const std::string line = "timeout -k 5 " + std::to_string(timeout_s) + " " + command + " 2>&1";
  command_result r;
  FILE* pipe = ::popen(line.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace stockgrid::testing
