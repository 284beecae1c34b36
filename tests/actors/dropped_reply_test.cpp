// A request whose message or job is dropped while the node stops still gets
// one answer and returns its in-flight credit (messages.hpp's
// answered_even_if_dropped): a job a stopped journal writer no longer runs
// (a follower read, grid.cpp read_copy) and a message to an actor that has
// exited (a forwarded request to the cluster actor).
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/actors.hpp"
#include "persistence/memory_store.hpp"

using namespace stockgrid;
using namespace stockgrid::actors;

namespace {

// Replies as they arrived, and the credit the test took for the request.
struct caller {
  std::shared_ptr<std::vector<reply>> replies = std::make_shared<std::vector<reply>>();
  std::atomic<std::int64_t> in_flight{1};
  reply_sink sink() {
    return reply_sink{[r = replies](reply&& rep) { r->push_back(std::move(rep)); }, &in_flight};
  }
};

struct carries_sink {
  reply_sink done;
};

}  // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(carries_sink)

TEST_CASE("a reply dropped with its job or message is answered UNAVAILABLE once, and its credit returned",
          "[grid][stop]") {
  SECTION("a job given to a stopped journal writer") {
    std::vector<std::unique_ptr<persistence::partition_store>> stores;
    stores.push_back(persistence::make_memory_store());
    persistence::status st;
    persistence::journal_writer writer(std::move(stores), {}, &st, nullptr);
    REQUIRE(st);
    writer.stop();
    caller c;
    writer.run(0, [done = answered_even_if_dropped(c.sink(), "node is stopping")](persistence::partition_store&) {
      done(reply::error(outcome::ok, "read"));
    });
    REQUIRE(c.replies->size() == 1);
    CHECK(c.replies->front().code == outcome::unavailable);
    CHECK(c.in_flight.load() == 0);
  }
  SECTION("a message to an actor that has exited") {
    caller c;
    {
      caf::actor_system_config cfg;
      caf::actor_system system(cfg);
      // One argument, unused: CAF 0.17.6 spawns a function of `self` alone
      // through a null argument tuple (init_fun_factory.hpp), which UBSan
      // reports as a reference bound to null.
      auto gone = system.spawn(
          [](caf::event_based_actor* self, int) -> caf::behavior {
            self->quit();
            return {[](carries_sink&) {}};
          },
          0);
      caf::scoped_actor wait(system);
      wait->wait_for(gone);
      caf::anon_send(gone, carries_sink{answered_even_if_dropped(c.sink(), "node is stopping")});
    }
    REQUIRE(c.replies->size() == 1);
    CHECK(c.replies->front().code == outcome::unavailable);
    CHECK(c.in_flight.load() == 0);
  }
  SECTION("answered first, it answers nothing more") {
    caller c;
    {
      auto done = answered_even_if_dropped(c.sink(), "node is stopping");
      done(reply::error(outcome::not_found, "record never stocked"));
      done(reply::error(outcome::internal, "a second answer"));
    }
    REQUIRE(c.replies->size() == 1);
    CHECK(c.replies->front().code == outcome::not_found);
    CHECK(c.in_flight.load() == 0);
  }
}
