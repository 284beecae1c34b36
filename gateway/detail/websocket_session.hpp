// One WebSocket connection on `/v1/ws`, plain or TLS (the stream type is the
// template parameter, so both share this code). It moves bytes: frames in go
// to its conversation (gateway/conversation.hpp), which says what to answer,
// what to dispatch and when to close; answers come back from the dispatcher on
// any thread and are posted to the connection's strand.
//
// One writer: every outgoing frame goes through a bounded queue written one
// at a time. A close is queued behind the frames before it, so an answer is
// never cut off by the close that follows it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "gateway/connection_registry.hpp"
#include "gateway/conversation.hpp"
#include "gateway/detail/context.hpp"
#include "gateway/detail/net.hpp"

namespace stockgrid::gateway::detail {

template <class Stream>
class websocket_session final
    : public live_connection,
      public std::enable_shared_from_this<websocket_session<Stream>> {
 public:
  // `stream` has no timeout set; its connection slot is already reserved.
  // `who` is the principal of a valid `Authorization: Bearer` header, if any.
  websocket_session(Stream&& stream, const context& ctx, std::optional<principal> who);

  // Registers the connection and accepts the upgrade request.
  void run(http::request<http::string_body> upgrade);

  void revoke(std::string reason) override;
  void shut_down() override;

 private:
  // How a close treats what is pending.
  enum class close_mode {
    after_answers,   // wait for in-flight answers, write them, then close
    after_queued,    // write what is queued, then close
    discard_queued,  // drop what is not yet being written, close now
  };
  // Where the connection is in its life. Reads happen only while open.
  enum class stage {
    accepting,  // upgrade handshake in progress
    open,       // reading frames
    draining,   // closing after_answers: waiting for in-flight answers
    flushing,   // closing: writing the queue, then the close frame
    closing,    // close frame sent, waiting for the handshake to finish
    done,       // socket finished; left the registry
  };
  struct outgoing {
    std::string bytes;
    bool text = false;
  };

  void on_accept(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec, std::size_t bytes);
  void handle_frame();
  void apply(conversation::verdict verdict, protocol::encoding enc);
  // An error answer the gateway makes itself: the dispatcher counts and names it.
  void refused(protocol::value& answer);
  void dispatch(protocol::op_request&& req, protocol::encoding enc);
  void on_answer(std::int64_t id, protocol::encoding enc, protocol::value answer);
  // Subscriptions: subscribe goes to the dispatcher, unsubscribe is ours.
  void subscribe(protocol::op_request&& req, protocol::encoding enc);
  void on_subscribed(std::int64_t id, protocol::encoding enc, protocol::value answer,
                     std::shared_ptr<event_stream> stream);
  void unsubscribe(const protocol::op_request& req, protocol::encoding enc);
  // Moves frames of the streams into the write queue while it has room.
  void pump();
  void cancel_streams();
  void send(protocol::value frame, protocol::encoding enc);
  void send_encoded(std::string bytes, protocol::encoding enc);
  void do_write();
  void merge_queued_answers();
  void on_write(beast::error_code ec, std::size_t bytes);
  void begin_close(close_request request, close_mode mode);
  void do_close();
  void on_close(beast::error_code ec);
  void on_auth_timeout(beast::error_code ec);
  void on_close_timeout(beast::error_code ec);
  void finish();
  void fail(beast::error_code ec, const char* what);

  websocket::stream<Stream> ws_;
  const net::any_io_executor executor_;  // the connection's strand
  const context& ctx_;
  conversation conversation_;
  std::optional<principal> header_principal_;
  beast::flat_buffer buffer_;
  net::steady_timer auth_timer_;
  net::steady_timer close_timer_;
  std::deque<outgoing> queue_;
  close_request close_;
  stage stage_ = stage::accepting;
  bool reading_ = false;  // an async_read is pending
  bool writing_ = false;  // an async_write is pending (of queue_.front())
  bool batch_ = false;    // subprotocol stockgrid.batch: array frames both ways
  struct live_stream {
    std::shared_ptr<event_stream> stream;
    protocol::encoding enc;
  };
  std::unordered_map<std::uint64_t, live_stream> streams_;
  std::size_t subscribing_ = 0;  // subscribe requests not yet answered
  std::uint64_t id_ = 0;  // in the registry
};

extern template class websocket_session<plain_stream>;
extern template class websocket_session<tls_stream>;

}  // namespace stockgrid::gateway::detail
