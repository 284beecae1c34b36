// A transfer's document: statuses, what is received and in transit, and the
// body encoding.
#include <catch2/catch.hpp>

#include <string>

#include "config/limits.hpp"
#include "orders/transfer.hpp"

using namespace stockgrid::orders;

namespace {

// Every field set to something other than its default.
transfer sample_transfer() {
  transfer t;
  t.tenant = "acme";
  t.id = "T7";
  t.sku = "A";
  t.from = "w1";
  t.to = "w2";
  t.idem = "k-9";
  t.key_id = "key-3";
  t.fingerprint = 0x8000000000000001ull;
  t.qty = 10;
  t.status = transfer_status::cancelling;
  t.out_done = true;
  t.in_done = true;
  t.receipts = {{"r1", 3, true, 1'700'000'000'100}, {"r2", 2, false, 1'700'000'000'200}};
  t.cancel_in_done = true;
  t.cancel_out_done = false;
  t.failure = "insufficient stock in w1";
  t.failure_available = 7;
  t.created_ms = 1'700'000'000'000;
  t.updated_ms = 1'700'000'000'300;
  return t;
}

}  // namespace

TEST_CASE("transfer statuses have wire names, and three are final", "[transfer]") {
  CHECK(wire_status(transfer_status::creating) == "creating");
  CHECK(wire_status(transfer_status::in_transit) == "in_transit");
  CHECK(wire_status(transfer_status::received) == "received");
  CHECK(wire_status(transfer_status::cancelling) == "cancelling");
  CHECK(wire_status(transfer_status::cancelled) == "cancelled");
  CHECK(wire_status(transfer_status::failed) == "failed");
  CHECK(is_final(transfer_status::received));
  CHECK(is_final(transfer_status::cancelled));
  CHECK(is_final(transfer_status::failed));
  CHECK_FALSE(is_final(transfer_status::creating));
  CHECK_FALSE(is_final(transfer_status::in_transit));
  CHECK_FALSE(is_final(transfer_status::cancelling));
}

TEST_CASE("received counts applied receipts; remaining is the rest in transit",
          "[transfer]") {
  transfer t;
  t.qty = 10;
  CHECK(t.received() == 0);
  CHECK(t.remaining() == 10);
  t.receipts.push_back({"r1", 3, true, 1});
  t.receipts.push_back({"r2", 4, false, 2});  // not applied yet
  CHECK(t.received() == 3);
  CHECK(t.remaining() == 7);
  t.receipts[1].applied = true;
  t.receipts.push_back({"r3", 3, true, 3});
  CHECK(t.received() == 10);
  CHECK(t.remaining() == 0);
}

TEST_CASE("a transfer round-trips through encode and decode, every field", "[transfer]") {
  const auto t = sample_transfer();
  transfer back;
  REQUIRE(decode(encode(t), &back));
  CHECK(back == t);
  CHECK(back.received() == 3);

  REQUIRE(decode(encode(transfer{}), &back));
  CHECK(back == transfer{});
}

TEST_CASE("a transfer with the most receipts round-trips; one more is refused",
          "[transfer]") {
  auto t = sample_transfer();
  t.receipts.assign(stockgrid::limits::transfer_receipts_max,
                    receipt{std::string(128, 'k'), 1, true, 1'700'000'000'000});
  transfer back;
  REQUIRE(decode(encode(t), &back));
  CHECK(back == t);
  t.receipts.push_back({"one-more", 1, false, 0});
  CHECK_FALSE(decode(encode(t), &back));
}

TEST_CASE("decoding a truncated or garbage transfer body fails", "[transfer]") {
  const auto bytes = encode(sample_transfer());
  const transfer before = sample_transfer();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    transfer out = before;
    CHECK_FALSE(decode(std::string_view(bytes).substr(0, n), &out));
    CHECK(out == before);
  }
  transfer out;
  CHECK_FALSE(decode("\x81\xa1v\x01", &out));  // a map with only the version
  CHECK_FALSE(decode("not msgpack at all", &out));
  // Every seventh byte flipped.
  std::string flipped = bytes;
  for (std::size_t i = 0; i < flipped.size(); i += 7) flipped[i] = static_cast<char>(~flipped[i]);
  CHECK_FALSE(decode(flipped, &out));
}
