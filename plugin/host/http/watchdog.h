#pragma once
// Watchdog: the deadline of whatever a connection is waiting for (a request header, the Agent's
// answer, the next chunk of a streamed body). When the deadline passes it runs the action armed
// with it, usually closing a socket so the pending operation fails. Used by the HTTP sessions and
// the Agent client; it lives on the connection's strand, so the action never races the I/O.

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace llmobs_edge::http {

class Watchdog : public std::enable_shared_from_this<Watchdog> {
 public:
  // A watchdog whose loop runs on `ex` (the connection's strand) until Stop(); the loop holds
  // its own reference, so the owner may drop its pointer right after Stop().
  static std::shared_ptr<Watchdog> Start(boost::asio::any_io_executor ex) {
    auto dog = std::shared_ptr<Watchdog>(new Watchdog(ex));
    boost::asio::co_spawn(
        ex, [dog]() -> boost::asio::awaitable<void> { co_await dog->Run(); },
        boost::asio::detached);
    return dog;
  }

  // Runs `on_expire` once, `timeout` from now, unless re-armed or disarmed first. Arming and
  // disarming only move a deadline: the timer is touched only when the new deadline is earlier
  // than the one it waits for (when it fires early it waits again for the current deadline), so a
  // request's several Arm/Disarm pairs cost no timer cancellation and no coroutine resume.
  void Arm(std::chrono::steady_clock::duration timeout, std::function<void()> on_expire) {
    on_expire_ = std::move(on_expire);
    expired_ = false;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    if (deadline_ < timer_.expiry()) timer_.expires_at(deadline_);
  }
  void Disarm() {
    on_expire_ = nullptr;
    deadline_ = kNever;
  }
  // Whether the last armed deadline fired (tells a timeout from other failures).
  bool expired() const { return expired_; }
  void Stop() {
    stopped_ = true;
    on_expire_ = nullptr;
    timer_.cancel();
  }

  ~Watchdog() = default;

 private:
  static constexpr std::chrono::steady_clock::time_point kNever =
      std::chrono::steady_clock::time_point::max();

  explicit Watchdog(boost::asio::any_io_executor ex) : timer_(std::move(ex)) {
    timer_.expires_at(kNever);
  }

  boost::asio::awaitable<void> Run() {
    while (!stopped_) {
      boost::system::error_code ec;
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (stopped_) break;
      const auto now = std::chrono::steady_clock::now();
      if (deadline_ <= now && on_expire_) {
        expired_ = true;
        deadline_ = kNever;
        auto action = std::move(on_expire_);
        on_expire_ = nullptr;
        action();
      }
      // Fired (or cancelled by an earlier deadline, which set the expiry already): wait for
      // whatever deadline is current now.
      if (timer_.expiry() <= now) timer_.expires_at(deadline_);
    }
  }

  boost::asio::steady_timer timer_;
  std::function<void()> on_expire_;
  std::chrono::steady_clock::time_point deadline_ = kNever;
  bool expired_ = false;
  bool stopped_ = false;
};

}  // namespace llmobs_edge::http
