#include "gateway/detail/websocket_session.hpp"

#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <spdlog/spdlog.h>

#include "protocol/codec.hpp"

namespace stockgrid::gateway::detail {

namespace {

std::chrono::milliseconds ms(std::uint64_t n) { return std::chrono::milliseconds(n); }

// The subprotocol that lets frames carry arrays of requests and of answers
// (docs/protocol.md, "Batch frames").
constexpr const char* batch_subprotocol = "stockgrid.batch";
// Most answers merged into one frame; a client's parser takes arrays of up to
// 1,000 items (protocol::parse_limits).
constexpr std::size_t answers_per_frame_max = 256;
// Subscription frames in the write queue at once: enough to keep the socket
// busy; the rest waits in the subscription's own bounded queue, which
// coalesces for a slow reader instead of growing this one.
constexpr std::size_t stream_frames_queued_max = 64;

// Whether a Sec-WebSocket-Protocol header (a comma-separated list) offers `name`.
bool offers_subprotocol(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view token = header.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token == name) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

template <class Stream>
websocket_session<Stream>::websocket_session(Stream&& stream, const context& ctx,
                                             std::optional<principal> who)
    : ws_(std::move(stream)),
      executor_(ws_.get_executor()),
      ctx_(ctx),
      conversation_(ctx.settings, ctx.auth,
                    [this](const principal& p) { return ctx_.connections.admit(id_, p); }),
      header_principal_(std::move(who)),
      auth_timer_(executor_),
      close_timer_(executor_) {}

template <class Stream>
void websocket_session<Stream>::run(http::request<http::string_body> upgrade) {
  id_ = ctx_.connections.join(this->shared_from_this());

  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = ms(ctx_.settings.handshake_timeout_ms);
  timeouts.idle_timeout = ms(ctx_.settings.idle_timeout_ms);
  timeouts.keep_alive_pings = true;  // ping at half the idle time; a live client pongs
  ws_.set_option(timeouts);
  const auto offered = upgrade[http::field::sec_websocket_protocol];
  batch_ = offers_subprotocol({offered.data(), offered.size()}, batch_subprotocol);
  ws_.set_option(websocket::stream_base::decorator([batch = batch_](websocket::response_type& res) {
    res.set(http::field::server, "stockgrid/" + std::string(server_version()));
    if (batch) res.set(http::field::sec_websocket_protocol, batch_subprotocol);
  }));
  // Beast fails a bigger message itself, closing with 1009.
  ws_.read_message_max(ctx_.settings.frame_bytes_max);
  ws_.async_accept(upgrade,
                   beast::bind_front_handler(&websocket_session::on_accept, this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::revoke(std::string reason) {
  net::post(executor_, [self = this->shared_from_this(), reason = std::move(reason)] {
    self->begin_close({close_code::policy_violation, reason},
                      close_mode::discard_queued);
  });
}

template <class Stream>
void websocket_session<Stream>::shut_down() {
  net::post(executor_, [self = this->shared_from_this()] {
    self->begin_close({close_code::going_away, "server shutting down"}, close_mode::after_answers);
  });
}

template <class Stream>
void websocket_session<Stream>::on_accept(beast::error_code ec) {
  if (ec) {
    fail(ec, "accept");
    return finish();
  }
  if (stage_ != stage::accepting) return;  // closed meanwhile
  stage_ = stage::open;
  if (header_principal_) {
    auto refused = conversation_.on_header_auth(std::move(*header_principal_));
    header_principal_.reset();
    if (refused) return begin_close(std::move(*refused), close_mode::after_queued);
  } else {
    auth_timer_.expires_after(ms(ctx_.settings.auth_timeout_ms));
    auth_timer_.async_wait(
        beast::bind_front_handler(&websocket_session::on_auth_timeout, this->shared_from_this()));
  }
  do_read();
}

template <class Stream>
void websocket_session<Stream>::do_read() {
  if (stage_ != stage::open || reading_) return;
  // Back-pressure: a connection with its budget spent (requests in flight
  // plus answers not yet written) is not read until an answer is written
  // (on_write calls back here). A client that stops reading its answers thus
  // stops being read, instead of growing the queue.
  if (conversation_.in_flight() + queue_.size() >= ctx_.settings.in_flight_per_connection_max) {
    return;
  }
  reading_ = true;
  ws_.async_read(buffer_,
                 beast::bind_front_handler(&websocket_session::on_read, this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::on_read(beast::error_code ec, std::size_t) {
  reading_ = false;
  if (ec) {
    // Includes the frames Beast refuses itself (too big: 1009, text not
    // UTF-8: 1007, protocol errors), after which it has closed already.
    fail(ec, "read");
    return finish();
  }
  if (stage_ == stage::open) handle_frame();  // else closing: drop it
  buffer_.consume(buffer_.size());
  do_read();
}

template <class Stream>
void websocket_session<Stream>::handle_frame() {
  const bool text = ws_.got_text();
  const auto data = buffer_.cdata();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  // Beast already checks text frames; this keeps the documented 1007 even if
  // that ever changes.
  if (text && !protocol::valid_utf8(bytes)) {
    return begin_close({close_code::invalid_payload, "text frame is not valid UTF-8"},
                       close_mode::after_queued);
  }
  const auto enc = text ? protocol::encoding::json : protocol::encoding::msgpack;
  if (!batch_) return apply(conversation_.on_frame(bytes, enc), enc);
  for (auto& verdict : conversation_.on_batch_frame(bytes, enc)) apply(std::move(verdict), enc);
}

template <class Stream>
void websocket_session<Stream>::apply(conversation::verdict verdict, protocol::encoding enc) {
  if (verdict.reply) {
    if (verdict.reply->find("error")) refused(*verdict.reply);
    send(std::move(*verdict.reply), enc);
  }
  if (verdict.dispatch && stage_ == stage::open) dispatch(std::move(*verdict.dispatch), enc);
  if (verdict.close) begin_close(std::move(*verdict.close), close_mode::after_queued);
}

template <class Stream>
void websocket_session<Stream>::refused(protocol::value& answer) {
  ctx_.dispatch.refused(conversation_.authenticated() ? &conversation_.who() : nullptr, answer);
}

template <class Stream>
void websocket_session<Stream>::dispatch(protocol::op_request&& req, protocol::encoding enc) {
  if (req.op == "subscribe") return subscribe(std::move(req), enc);
  if (req.op == "unsubscribe") return unsubscribe(req, enc);
  const std::int64_t id = *req.id;
  // The registry keeps the session alive while it is open; an answer for a
  // session that is gone, or after the server stopped, is dropped.
  std::weak_ptr<websocket_session> weak = this->shared_from_this();
  ctx_.dispatch.dispatch(
      conversation_.who(), std::move(req),
      [weak = std::move(weak), gate = ctx_.gate, id, enc](protocol::value answer) {
        std::shared_lock lock(gate->mutex);
        if (!gate->open) return;
        auto self = weak.lock();
        if (!self) return;
        net::post(self->executor_, [self, id, enc, answer = std::move(answer)]() mutable {
          self->on_answer(id, enc, std::move(answer));
        });
      });
}

template <class Stream>
void websocket_session<Stream>::on_answer(std::int64_t id, protocol::encoding enc,
                                          protocol::value answer) {
  conversation_.finished(id);
  if (stage_ == stage::open || stage_ == stage::draining) send(std::move(answer), enc);
  if (stage_ == stage::draining && conversation_.in_flight() == 0) {
    stage_ = stage::flushing;
    do_write();
  }
}

template <class Stream>
void websocket_session<Stream>::subscribe(protocol::op_request&& req, protocol::encoding enc) {
  const std::int64_t id = *req.id;
  if (streams_.size() + subscribing_ >= ctx_.settings.subscriptions_per_connection_max) {
    conversation_.finished(id);
    auto answer = protocol::error_response(
        id, outcome::limit_exceeded,
        "at most " + std::to_string(ctx_.settings.subscriptions_per_connection_max) +
            " subscriptions per connection",
        {{"limit", std::int64_t{ctx_.settings.subscriptions_per_connection_max}}});
    refused(answer);
    return send(std::move(answer), enc);
  }
  ++subscribing_;
  std::weak_ptr<websocket_session> weak = this->shared_from_this();
  auto wake = [weak, gate = ctx_.gate] {
    std::shared_lock lock(gate->mutex);
    if (!gate->open) return;
    if (auto self = weak.lock()) net::post(self->executor_, [self] { self->pump(); });
  };
  ctx_.dispatch.subscribe(
      conversation_.who(), std::move(req), std::move(wake),
      [weak, gate = ctx_.gate, id, enc](protocol::value answer, std::shared_ptr<event_stream> stream) {
        std::shared_lock lock(gate->mutex);
        auto self = gate->open ? weak.lock() : nullptr;
        if (!self) {
          if (stream) stream->cancel();
          return;
        }
        net::post(self->executor_, [self, id, enc, answer = std::move(answer),
                                    stream = std::move(stream)]() mutable {
          self->on_subscribed(id, enc, std::move(answer), std::move(stream));
        });
      });
}

template <class Stream>
void websocket_session<Stream>::on_subscribed(std::int64_t id, protocol::encoding enc, protocol::value answer,
                                              std::shared_ptr<event_stream> stream) {
  --subscribing_;
  conversation_.finished(id);
  const bool open = stage_ == stage::open || stage_ == stage::draining;
  if (open) send(std::move(answer), enc);
  if (stream) {
    if (stage_ == stage::open) {  // closing (draining included): no new stream
      const auto sub = stream->id();
      streams_[sub] = {std::move(stream), enc};
      pump();
    } else {
      stream->cancel();
    }
  }
  if (stage_ == stage::draining && conversation_.in_flight() == 0) {
    stage_ = stage::flushing;
    do_write();
  }
}

template <class Stream>
void websocket_session<Stream>::unsubscribe(const protocol::op_request& req, protocol::encoding enc) {
  const std::int64_t id = *req.id;
  conversation_.finished(id);
  const protocol::value* sub = req.params.find("sub");
  const std::int64_t* n = sub != nullptr ? sub->as_int() : nullptr;
  auto refuse = [&](outcome code, std::string message) {
    auto answer = protocol::error_response(id, code, message);
    refused(answer);
    send(std::move(answer), enc);
  };
  if (n == nullptr || *n <= 0) return refuse(outcome::bad_request, "sub: must be a subscription id (> 0)");
  auto it = streams_.find(static_cast<std::uint64_t>(*n));
  if (it == streams_.end())
    return refuse(outcome::not_found, "sub: no subscription " + std::to_string(*n) + " on this connection");
  it->second.stream->cancel();
  streams_.erase(it);
  send(protocol::ok_response(id, {{"sub", *n}}), enc);
}

// Takes frames from the streams, round robin, while the write queue has
// room; a failed stream closes the connection with its code and reason.
template <class Stream>
void websocket_session<Stream>::pump() {
  if (streams_.empty() || (stage_ != stage::open && stage_ != stage::draining)) return;
  std::optional<event_stream::end> failed;
  for (auto& [sub, live] : streams_)
    if (!failed) failed = live.stream->failure();
  if (failed) {
    return begin_close({static_cast<close_code>(failed->close_code), std::move(failed->reason)},
                       close_mode::after_queued);
  }
  // Within the write queue's bound even when it is configured small (it
  // must exceed the in-flight limit, so this is at least 1).
  const std::size_t cap = std::min<std::size_t>(
      stream_frames_queued_max, ctx_.settings.write_queue_max - ctx_.settings.in_flight_per_connection_max);
  std::vector<std::string> frames;
  bool more = true;
  while (more && queue_.size() < cap) {
    more = false;
    for (auto& [sub, live] : streams_) {
      const auto room = cap - std::min(queue_.size(), cap);
      if (room == 0) break;
      frames.clear();
      // A fair share of the room, so one busy stream cannot starve the
      // connection's other streams.
      const auto want = std::max<std::size_t>(1, std::min<std::size_t>(room / streams_.size(), 16));
      const auto enc = live.enc;  // a close below clears streams_
      const auto got = live.stream->take(want, enc, frames);
      for (auto& f : frames) {
        send_encoded(std::move(f), enc);
        if (stage_ != stage::open && stage_ != stage::draining) return;  // it closed
      }
      more = more || got == want;
    }
  }
}

template <class Stream>
void websocket_session<Stream>::cancel_streams() {
  for (auto& [sub, live] : streams_) live.stream->cancel();
  streams_.clear();
}

template <class Stream>
void websocket_session<Stream>::send(protocol::value frame, protocol::encoding enc) {
  send_encoded(protocol::serialize(frame, enc), enc);
}

template <class Stream>
void websocket_session<Stream>::send_encoded(std::string bytes, protocol::encoding enc) {
  if (queue_.size() >= ctx_.settings.write_queue_max) {
    return begin_close({close_code::policy_violation, "write queue full: answers are not read"},
                       close_mode::discard_queued);
  }
  queue_.push_back({std::move(bytes), enc == protocol::encoding::json});
  do_write();
}

template <class Stream>
void websocket_session<Stream>::do_write() {
  if (writing_ || stage_ == stage::closing || stage_ == stage::done) return;
  if (queue_.empty()) {
    if (stage_ == stage::flushing) do_close();
    return;
  }
  if (batch_) merge_queued_answers();
  writing_ = true;
  ws_.text(queue_.front().text);
  ws_.async_write(net::buffer(queue_.front().bytes),
                  beast::bind_front_handler(&websocket_session::on_write, this->shared_from_this()));
}

// With batch frames, the answers waiting at the head of the queue in one
// encoding go out as one array frame: one write instead of one per answer.
template <class Stream>
void websocket_session<Stream>::merge_queued_answers() {
  const bool text = queue_.front().text;
  std::size_t count = 0;
  std::size_t bytes = 3;  // array header or brackets
  for (const outgoing& o : queue_) {
    if (o.text != text || count == answers_per_frame_max ||
        bytes + o.bytes.size() + 1 > ctx_.settings.frame_bytes_max)
      break;
    bytes += o.bytes.size() + 1;
    ++count;
  }
  if (count < 2) return;
  std::string merged;
  merged.reserve(bytes);
  protocol::append_array_frame(merged, text ? protocol::encoding::json : protocol::encoding::msgpack,
                               count, [&](std::size_t i) -> const std::string& { return queue_[i].bytes; });
  queue_.erase(queue_.begin() + 1, queue_.begin() + static_cast<std::ptrdiff_t>(count));
  queue_.front().bytes = std::move(merged);
}

template <class Stream>
void websocket_session<Stream>::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) {
    fail(ec, "write");
    return finish();
  }
  queue_.pop_front();
  do_write();
  do_read();  // resumes a connection paused by back-pressure
  if (queue_.size() < stream_frames_queued_max / 2) pump();
}

template <class Stream>
void websocket_session<Stream>::begin_close(close_request request, close_mode mode) {
  if (stage_ == stage::closing || stage_ == stage::done) return;
  if (stage_ == stage::accepting) {
    // Nothing to flush yet: drop the socket; on_accept sees the error.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    return;
  }
  const bool first = stage_ == stage::open;
  if (first || mode == close_mode::discard_queued) close_ = std::move(request);
  if (mode == close_mode::discard_queued) {
    // The frame being written stays: a WebSocket message cannot be cut.
    queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
    stage_ = stage::flushing;
  } else if (first) {
    const bool wait = mode == close_mode::after_answers && conversation_.in_flight() > 0;
    stage_ = wait ? stage::draining : stage::flushing;
  }
  if (first) {
    cancel_streams();
    auth_timer_.cancel();
    close_timer_.expires_after(ms(ctx_.settings.close_timeout_ms));
    close_timer_.async_wait(
        beast::bind_front_handler(&websocket_session::on_close_timeout, this->shared_from_this()));
  }
  do_write();  // closes at once when nothing is queued
}

template <class Stream>
void websocket_session<Stream>::do_close() {
  stage_ = stage::closing;
  ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_.code),
                                          close_.reason),
                  beast::bind_front_handler(&websocket_session::on_close, this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::on_close(beast::error_code ec) {
  if (ec) fail(ec, "close");
  finish();
}

template <class Stream>
void websocket_session<Stream>::on_auth_timeout(beast::error_code ec) {
  if (ec || stage_ != stage::open || conversation_.authenticated()) return;
  begin_close({close_code::policy_violation, "authentication timeout"}, close_mode::after_queued);
}

template <class Stream>
void websocket_session<Stream>::on_close_timeout(beast::error_code ec) {
  if (ec || stage_ == stage::done) return;
  // The client neither takes our last frames nor answers the close: drop it.
  // Pending operations complete with operation_aborted.
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  finish();
}

template <class Stream>
void websocket_session<Stream>::finish() {
  if (stage_ == stage::done) return;
  stage_ = stage::done;
  cancel_streams();
  auth_timer_.cancel();
  close_timer_.cancel();
  ctx_.connections.leave(id_);
}

template <class Stream>
void websocket_session<Stream>::fail(beast::error_code ec, const char* what) {
  if (benign(ec)) return;
  // Debug only: a misbehaving client must not be able to flood the log.
  spdlog::debug("gateway: connection {} {}: {}", id_, what, ec.message());
}

template class websocket_session<plain_stream>;
template class websocket_session<tls_stream>;

}  // namespace stockgrid::gateway::detail
