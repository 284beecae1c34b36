#include "client/script_runner.hpp"

#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "client/commands.hpp"
#include "client/csv_import.hpp"
#include "client/response.hpp"

namespace stockgrid::stockctl {

namespace {

using steady = std::chrono::steady_clock;

// The response without its id, which means nothing to a person.
protocol::value without_id(const protocol::value& response) {
  protocol::value copy = response;
  if (auto* members = copy.as_object()) {
    std::erase_if(*members, [](const auto& m) { return m.first == "id"; });
  }
  return copy;
}

// A saved field as text: strings as they are, anything else as JSON.
std::string as_text(const protocol::value& v) {
  if (const auto* s = v.as_string()) return *s;
  return client::to_json(v);
}

std::string random_word() {
  std::random_device device;
  static constexpr char digits[] = "0123456789abcdef";
  std::string word;
  const auto bits = device();
  for (int i = 0; i < 8; ++i) word.push_back(digits[(bits >> (4 * i)) & 0xf]);
  return word;
}

const char* interactive_help =
    "\nAt the prompt (and in `stockctl run` scripts) also:\n"
    "  COMMAND -> $var [= PATH]         save the response's main field (or PATH) in $var\n"
    "  expect ok | expect error CODE    check the previous response\n"
    "  expect PATH OP VALUE             OP: == != < <= > >=; PATH like record.available, records.#\n"
    "  expect PATH exists|absent\n"
    "  let $var = PATH                  save a field of the previous response\n"
    "  repeat N [concurrently]: COMMAND then: expect count ok|CODE|total OP N\n"
    "  sleep DURATION | echo TEXT | login TOKEN\n"
    "  help | quit\n";

}  // namespace

script_runner::script_runner(runner_settings settings, std::ostream& out)
    : settings_(std::move(settings)), out_(out) {
  vars_["run"] = random_word();
}

script_runner::~script_runner() = default;

bool script_runner::connect(const std::string& token) {
  // The new connection replaces the current one only once it is up, so a
  // failed `login` leaves the prompt connected as before.
  auto fresh = std::make_unique<client::client>(settings_.client);
  const std::string& use = token.empty() ? settings_.token : token;
  const protocol::value answer = fresh->connect(settings_.url, use).get();
  if (client::is_ok(answer)) {
    client_ = std::move(fresh);
    return true;
  }
  {
    if (client::error_code(answer) == client::disconnected_code) {
      out_ << "stockctl: " << client::error_message(answer) << "\n";
    } else {
      out_ << "stockctl: cannot connect to " << settings_.url << ": " << client::error_code(answer)
           << ": " << client::error_message(answer) << "\n";
    }
    return false;
  }
}

bool connect_or_explain(client::client& c, const runner_settings& settings, std::ostream& err) {
  const client::value auth = c.connect(settings.url, settings.token).get();
  if (client::is_ok(auth)) return true;
  err << "stockctl: cannot connect to " << settings.url << ": " << client::error_code(auth) << " "
      << client::error_message(auth) << "\n";
  return false;
}

protocol::value script_runner::send(protocol::op_request request) {
  if (!client_) return client::local_error(client::disconnected_code, "not connected");
  return client_->call(std::move(request)).get();
}

void script_runner::print_response(const protocol::value& response, mode m) {
  if (m == mode::interactive) {
    out_ << client::to_json(without_id(response), !settings_.raw) << "\n";
  } else if (!settings_.quiet) {
    out_ << "  => " << client::to_json(without_id(response)) << "\n";
  }
}

int script_runner::run_command(const std::vector<std::string>& words) {
  auto built = build_request(words);
  if (auto* error = std::get_if<std::string>(&built)) {
    out_ << "stockctl: " << *error << "\n";
    return exit_usage;
  }
  if (!client_ && !connect()) return exit_connection;
  const protocol::value response = send(std::move(std::get<protocol::op_request>(built)));
  out_ << client::to_json(without_id(response), !settings_.raw) << "\n";
  return client::is_ok(response) ? exit_ok : exit_failed;
}

void script_runner::fail(const script_line& line, const std::string& message) {
  ++failures_;
  out_ << "FAIL line " << line.number << ": " << line.text << "\n     " << message << "\n";
}

bool script_runner::settle_unchecked_error() {
  if (!unchecked_error_) return true;
  ++failures_;
  out_ << "FAIL " << *unchecked_error_ << "\n";
  unchecked_error_.reset();
  return false;
}

bool script_runner::expand_words(const std::vector<word>& words, std::vector<std::string>* out,
                                 const script_line& line) {
  out->clear();
  for (const auto& w : words) {
    std::string text, error;
    if (!expand(w, vars_, &text, &error)) {
      fail(line, error);
      return false;
    }
    out->push_back(std::move(text));
  }
  return true;
}

int script_runner::run_script(std::string_view text, std::string_view name) {
  std::vector<script_error> errors;
  const auto lines = parse_script(text, &errors);
  if (!errors.empty()) {
    for (const auto& e : errors) out_ << name << ":" << e.number << ": " << e.message << "\n";
    out_ << "FAIL " << name << ": " << errors.size() << " syntax error(s); nothing was run\n";
    return exit_usage;
  }
  if (!client_ && !connect()) return exit_connection;
  const auto started = steady::now();
  for (const auto& line : lines) execute(line, mode::script);
  settle_unchecked_error();
  const double seconds = std::chrono::duration<double>(steady::now() - started).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.2f", seconds);
  if (failures_ == 0) {
    out_ << "PASS " << name << ": " << commands_ << " requests, " << expects_passed_
         << " expectations met (" << took << " s)\n";
    return exit_ok;
  }
  out_ << "FAIL " << name << ": " << failures_ << " failure(s); " << commands_ << " requests, "
       << expects_passed_ << " expectations met (" << took << " s)\n";
  return exit_failed;
}

int script_runner::run_interactive(std::istream& in, bool show_prompt) {
  std::string text;
  int number = 0;
  for (;;) {
    if (show_prompt) out_ << "stockctl> " << std::flush;
    if (!std::getline(in, text)) break;
    ++number;
    auto parsed = parse_line(text);
    if (!parsed.error.empty()) {
      out_ << "error: " << parsed.error << "\n";
      continue;
    }
    if (!parsed.parsed) continue;
    if (const auto* c = std::get_if<command_step>(&*parsed.parsed); c && c->words.size() == 1) {
      const std::string& w = c->words[0].text;
      if (w == "quit" || w == "exit") break;
      if (w == "help") {
        out_ << command_help() << interactive_help;
        continue;
      }
    }
    execute({number, text, std::move(*parsed.parsed)}, mode::interactive);
    unchecked_error_.reset();
  }
  if (show_prompt) out_ << "\n";
  return exit_ok;
}

bool script_runner::execute(const script_line& line, mode m) {
  // An error response must be looked at by the expect lines right after it.
  if (!std::holds_alternative<expect_step>(line.what) && m == mode::script) settle_unchecked_error();
  return std::visit([&](const auto& s) { return run_step(s, line, m); }, line.what);
}

bool script_runner::run_step(const command_step& c, const script_line& line, mode m) {
  std::vector<std::string> words;
  if (!expand_words(c.words, &words, line)) return false;
  auto built = build_request(words);
  if (auto* error = std::get_if<std::string>(&built)) {
    fail(line, *error);
    return false;
  }
  auto& request = std::get<protocol::op_request>(built);
  const std::string op = request.op;
  if (m == mode::script && !settings_.quiet) out_ << "line " << line.number << ": " << line.text << "\n";
  ++commands_;
  protocol::value response = send(std::move(request));
  print_response(response, m);
  last_response_ = response;
  if (!client::is_ok(response)) {
    unchecked_error_ = "line " + std::to_string(line.number) + ": " + line.text + "\n     failed: " +
                       client::error_code(response) + ": " + client::error_message(response) +
                       " (write `expect error " + client::error_code(response) +
                       "` after it if that is intended)";
  }
  if (c.save_var.empty()) return true;
  std::string path = c.save_path;
  if (path.empty()) {
    auto main_field = default_save_path(op);
    if (!main_field) {
      fail(line, op + " has no main field to save; write -> $" + c.save_var + " = PATH");
      return false;
    }
    path = *main_field;
  }
  auto field = field_at(response, path);
  if (!field) {
    fail(line, "cannot save $" + c.save_var + ": the response has no " + path);
    return false;
  }
  vars_[c.save_var] = as_text(*field);
  return true;
}

bool script_runner::run_step(const repeat_step& r, const script_line& line, mode m) {
  std::vector<std::string> words;
  if (!expand_words(r.words, &words, line)) return false;
  auto built = build_request(words);
  if (auto* error = std::get_if<std::string>(&built)) {
    fail(line, *error);
    return false;
  }
  if (!client_) {
    fail(line, "not connected");
    return false;
  }
  const auto& request = std::get<protocol::op_request>(built);
  if (m == mode::script && !settings_.quiet) out_ << "line " << line.number << ": " << line.text << "\n";
  commands_ += static_cast<int>(r.count);

  struct tally {
    std::mutex mutex;
    repeat_summary summary;
    protocol::value last;
    std::size_t left = 0;
    std::promise<void> done;
  };
  auto t = std::make_shared<tally>();
  t->left = r.count;
  auto count = [t](protocol::value response) {
    std::lock_guard lock(t->mutex);
    const std::string code = client::is_ok(response) ? "ok" : client::error_code(response);
    ++t->summary.by_code[code];
    ++t->summary.total;
    t->last = std::move(response);
    if (--t->left == 0) t->done.set_value();
  };
  const auto started = steady::now();
  if (r.concurrent) {
    // Every copy is sent at once, pipelined; each mutation gets its own
    // idempotency key unless the command names one.
    auto finished = t->done.get_future();
    for (std::uint32_t i = 0; i < r.count; ++i) client_->call(request, count);
    finished.wait();
  } else {
    for (std::uint32_t i = 0; i < r.count; ++i) count(client_->call(request).get());
  }
  t->summary.seconds = std::chrono::duration<double>(steady::now() - started).count();
  last_repeat_ = t->summary;
  last_response_ = t->last;
  out_ << "  repeat: " << describe(t->summary) << "\n";
  return true;
}

bool script_runner::run_step(const expect_step& e, const script_line& line, mode m) {
  const auto result = evaluate(e, last_response_ ? &*last_response_ : nullptr,
                               last_repeat_ ? &*last_repeat_ : nullptr, vars_);
  // Any expect looks at the previous response: its error is accounted for.
  unchecked_error_.reset();
  if (!result.passed) {
    fail(line, result.detail);
    return false;
  }
  ++expects_passed_;
  if (m == mode::interactive || !settings_.quiet) {
    out_ << (m == mode::script ? "line " + std::to_string(line.number) + ": " : std::string())
         << line.text << "  ok\n";
  }
  return true;
}

bool script_runner::run_step(const let_step& l, const script_line& line, mode) {
  if (!last_response_) {
    fail(line, "no response to take " + l.path + " from");
    return false;
  }
  auto field = field_at(*last_response_, l.path);
  if (!field) {
    fail(line, "the previous response has no " + l.path);
    return false;
  }
  vars_[l.var] = as_text(*field);
  return true;
}

bool script_runner::run_step(const sleep_step& s, const script_line& line, mode m) {
  if (m == mode::script && !settings_.quiet) out_ << "line " << line.number << ": " << line.text << "\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(s.ms));
  return true;
}

bool script_runner::run_step(const echo_step& e, const script_line& line, mode) {
  std::vector<std::string> words;
  if (!expand_words(e.words, &words, line)) return false;
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
  out_ << text << "\n";
  return true;
}

bool script_runner::run_step(const login_step& l, const script_line& line, mode m) {
  std::string token, error;
  if (!expand(l.token, vars_, &token, &error)) {
    fail(line, error);
    return false;
  }
  if (m == mode::script && !settings_.quiet) out_ << "line " << line.number << ": login\n";
  if (!connect(token)) {
    fail(line, "login failed");
    return false;
  }
  if (m == mode::interactive) {
    out_ << client::to_json(without_id(client_->session()), !settings_.raw) << "\n";
  }
  return true;
}

int script_runner::run_import(std::string_view csv_text, std::string_view name) {
  std::vector<csv_problem> problems;
  const auto rows = parse_stock_csv(csv_text, &problems);
  for (const auto& p : problems) out_ << name << ":" << p.line << ": skipped: " << p.message << "\n";
  if (rows.empty()) {
    out_ << "import " << name << ": no rows to import\n";
    return problems.empty() ? exit_ok : exit_failed;
  }
  if (!client_ && !connect()) return exit_connection;

  const protocol::value session = client_->session();
  const auto items_max = static_cast<std::size_t>(
      std::min<std::int64_t>(client::lookup_int(session, "limits.bulk_items_max").value_or(1000),
                             static_cast<std::int64_t>(protocol::bulk_items_max)));
  const auto frame_max = static_cast<std::size_t>(
      client::lookup_int(session, "limits.frame_bytes_max").value_or(64 * 1024));
  std::vector<std::vector<int>> chunk_lines;
  auto chunks = bulk_chunks(rows, items_max, frame_max, settings_.client.encoding, &chunk_lines);

  // All chunks at once (pipelined); each carries its own idempotency key, so
  // the client's retries after a reconnect apply no row twice.
  std::vector<std::future<protocol::value>> answers;
  answers.reserve(chunks.size());
  for (auto& chunk : chunks) answers.push_back(client_->call(std::move(chunk)));

  std::size_t applied = 0, failed = 0;
  std::map<int, const csv_row*> by_line;
  for (const auto& row : rows) by_line[row.line] = &row;
  auto report = [&](int line, const std::string& code, const std::string& message) {
    ++failed;
    const csv_row* row = by_line[line];
    out_ << name << ":" << line << ": " << row->warehouse << "," << row->sku << "," << row->on_hand
         << ": " << code << ": " << message << "\n";
  };
  for (std::size_t c = 0; c < answers.size(); ++c) {
    const protocol::value response = answers[c].get();
    const auto& lines = chunk_lines[c];
    const protocol::value* results = client::lookup(response, "results");
    if (!client::is_ok(response) || results == nullptr || results->as_array() == nullptr ||
        results->as_array()->size() != lines.size()) {
      const std::string code = client::is_ok(response) ? "INTERNAL" : client::error_code(response);
      const std::string message =
          client::is_ok(response) ? "the answer has no result per row" : client::error_message(response);
      for (int line : lines) report(line, code, message);
      continue;
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const protocol::value& item = (*results->as_array())[i];
      if (client::is_ok(item)) {
        ++applied;
      } else {
        report(lines[i], client::error_code(item), client::error_message(item));
      }
    }
  }
  out_ << "import " << name << ": " << rows.size() << " rows in " << chunks.size()
       << " bulk request(s): " << applied << " applied, " << failed << " failed, " << problems.size()
       << " skipped\n";
  return failed == 0 && problems.empty() ? exit_ok : exit_failed;
}

}  // namespace stockgrid::stockctl
