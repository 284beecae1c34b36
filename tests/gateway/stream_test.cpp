// Subscription streams through the gateway alone (dispatcher.hpp's
// event_stream seam): frames follow the subscribe answer in its encoding,
// unsubscribe stops them, a failed stream closes the connection with its
// code, and a connection holds a bounded number of subscriptions.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <mutex>

#include "tests/gateway/fixtures.hpp"

namespace stockgrid::gateway_test {
namespace {

// A stream the test feeds by hand.
class scripted_stream final : public gateway::event_stream {
 public:
  explicit scripted_stream(std::uint64_t id) : id_(id) {}
  std::uint64_t id() const override { return id_; }
  std::size_t take(std::size_t max, std::vector<protocol::value>& out) override {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    while (n < max && !frames_.empty()) {
      out.push_back(std::move(frames_.front()));
      frames_.pop_front();
      ++n;
    }
    return n;
  }
  std::optional<end> failure() const override {
    std::lock_guard lk(mu_);
    return failed_;
  }
  void cancel() override {
    std::lock_guard lk(mu_);
    cancelled_ = true;
  }
  bool cancelled() const {
    std::lock_guard lk(mu_);
    return cancelled_;
  }
  void push(protocol::value v) {
    std::lock_guard lk(mu_);
    frames_.push_back(std::move(v));
  }
  void fail(end e) {
    std::lock_guard lk(mu_);
    failed_ = std::move(e);
  }

 private:
  const std::uint64_t id_;
  mutable std::mutex mu_;
  std::deque<protocol::value> frames_;
  std::optional<end> failed_;
  bool cancelled_ = false;
};

// Answers subscribe with a scripted stream that already holds two frames.
class streaming_dispatcher : public gateway::dispatcher {
 public:
  void dispatch(const gateway::principal& who, protocol::op_request&& req,
                std::function<void(protocol::value)> done) override {
    stub_.dispatch(who, std::move(req), std::move(done));
  }
  void subscribe(const gateway::principal&, protocol::op_request&& req, std::function<void()> wake,
                 subscribed_fn done) override {
    auto stream = std::make_shared<scripted_stream>(next_++);
    stream->push(protocol::object{{"event", "snapshot_end"}, {"sub", stream->id()}});
    stream->push(protocol::object{{"event", "stock"}, {"sub", stream->id()}, {"seq", 1}});
    {
      std::lock_guard lk(mu_);
      streams_.push_back(stream);
      wakes_.push_back(std::move(wake));
    }
    done(protocol::ok_response(req.id, {{"sub", stream->id()}}), stream);
  }
  // The n-th stream made (0-based) and its wake.
  std::shared_ptr<scripted_stream> stream(std::size_t n) {
    std::lock_guard lk(mu_);
    return streams_.at(n);
  }
  void wake(std::size_t n) {
    std::function<void()> w;
    {
      std::lock_guard lk(mu_);
      w = wakes_.at(n);
    }
    w();
  }

 private:
  gateway::stub_dispatcher stub_;
  std::mutex mu_;
  std::uint64_t next_ = 1;
  std::vector<std::shared_ptr<scripted_stream>> streams_;
  std::vector<std::function<void()>> wakes_;
};

std::string event_of(const protocol::value& v) {
  const protocol::value* e = v.find("event");
  return e && e->as_string() ? *e->as_string() : "";
}

}  // namespace

TEST_CASE("gateway: a subscription's frames follow its answer; unsubscribe ends them", "[gateway][stream]") {
  streaming_dispatcher d;
  running_server s(test_settings(), &d);
  auto client = s.connect_as("reader-token");
  client->send(protocol::object{{"op", "subscribe"}, {"id", 2}}, protocol::encoding::msgpack);
  bool text = true;
  auto answer = client->read_value(5s, &text);
  REQUIRE(answer);
  CHECK(id_of(*answer) == 2);
  CHECK_FALSE(text);  // the subscribe's encoding
  auto first = client->read_value(5s, &text);
  REQUIRE(first);
  CHECK(event_of(*first) == "snapshot_end");
  CHECK_FALSE(text);
  auto second = client->read_value();
  REQUIRE(second);
  CHECK(event_of(*second) == "stock");

  // Frames pushed later go out when the stream wakes the connection.
  d.stream(0)->push(protocol::object{{"event", "stock"}, {"sub", 1}, {"seq", 2}});
  d.wake(0);
  auto third = client->read_value();
  REQUIRE(third);
  CHECK(*third->find("seq")->as_int() == 2);

  client->send_text(R"({"op":"unsubscribe","id":3,"sub":1})");
  auto un = client->read_value();
  REQUIRE(un);
  CHECK(is_ok(*un));
  CHECK(d.stream(0)->cancelled());
  client->send_text(R"({"op":"unsubscribe","id":4,"sub":1})");
  auto again = client->read_value();
  REQUIRE(again);
  CHECK(error_code(*again) == "NOT_FOUND");
}

TEST_CASE("gateway: a failed stream closes its connection with the stream's code", "[gateway][stream]") {
  streaming_dispatcher d;
  running_server s(test_settings(), &d);
  auto client = s.connect_as("reader-token");
  client->send_text(R"({"op":"subscribe","id":2})");
  REQUIRE(client->read_value());  // the answer
  d.stream(0)->fail({1013, "event fan-out overloaded"});
  d.wake(0);
  CHECK(client->wait_close(5s) == 1013);
  CHECK(d.stream(0)->cancelled());
}

TEST_CASE("gateway: a connection holds at most subscriptions_per_connection_max subscriptions",
          "[gateway][stream]") {
  streaming_dispatcher d;
  auto settings = test_settings();
  settings.subscriptions_per_connection_max = 2;
  running_server s(settings, &d);
  auto client = s.connect_as("reader-token");
  for (int id = 2; id <= 4; ++id)
    client->send_text(R"({"op":"subscribe","id":)" + std::to_string(id) + "}");
  std::map<std::int64_t, protocol::value> answers;
  for (int frames = 0; frames < 20 && answers.size() < 3; ++frames) {
    auto v = client->read_value();
    REQUIRE(v);
    if (auto id = id_of(*v)) answers[*id] = *v;
  }
  REQUIRE(answers.size() == 3);
  CHECK(is_ok(answers[2]));
  CHECK(is_ok(answers[3]));
  CHECK(error_code(answers[4]) == "LIMIT_EXCEEDED");
  // The stub dispatcher has no subscriptions: UNKNOWN_OP, the connection stays.
  running_server plain;
  auto other = plain.connect_as("reader-token");
  other->send_text(R"({"op":"subscribe","id":2})");
  auto refused = other->read_value();
  REQUIRE(refused);
  CHECK(error_code(*refused) == "UNKNOWN_OP");
}

}  // namespace stockgrid::gateway_test
