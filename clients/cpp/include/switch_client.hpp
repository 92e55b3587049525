// A client for the switch's /v1 HTTP API (see openapi.yaml), with libcurl and nlohmann/json.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchbus {

namespace detail {
struct Request;
struct Response;
// How a request behaves when the session turns out to be gone.
struct Pin {
  std::uint64_t epoch = 0;  // run only in this session (else Error `session_changed`); 0: any session
  bool once = false;        // not repeated after a re-login (it names a message id, which may now name another)
};
}  // namespace detail

// The switch answered with an error (status and the stable `code` of its JSON error body), or no answer came:
// status 0 with a client-side code (`unavailable`, `timeout`, `remote_error`, ...).
class Error : public std::runtime_error {
 public:
  Error(int status, std::string code, const std::string& message);
  int status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }

 private:
  int status_;
  std::string code_;
};

// A received message. `payload` holds its bytes, whichever way the switch encoded them on the wire.
struct Message {
  std::uint64_t id = 0;
  std::string queue;
  std::string payload;
  std::string correlation_id;  // empty when absent
  std::string reply_to;        // empty when absent
  std::string origin;
  std::string topic;           // set on a copy a publish delivered
  std::int64_t time = 0;       // ms since the epoch
  bool error = false;          // a reply reporting a failure
  bool retained = false;
};

struct SendOptions {
  std::string correlation_id;
  std::string reply_to;
  std::uint64_t ack = 0;  // reply-and-ack: acknowledge this message id in the same step
  bool error = false;     // the reply reports a failure
};

struct QueueInfo {
  std::string name;
  std::string kind;  // "persistent" or "temporary"
  std::uint64_t length = 0;
  bool alive = false;
  std::vector<std::string> bindings;
};

struct SessionInfo {
  std::string client;
  std::vector<std::string> subscriptions;
  std::vector<std::string> queues;  // temporary queues the session owns
};

// Where a transfer loop stands: ids above `after`, valid in the session `session` counts. A new session (the
// switch may have restarted and numbers messages afresh) starts the cursor over at 0.
struct Cursor {
  std::uint64_t after = 0;
  std::uint64_t session = 0;
};

// With an auth file: a principal and its secret, or an API key. Empty members are not sent.
struct Credentials {
  std::string principal;
  std::string secret;
  std::string api_key;
};

// Answers one request with the reply's payload; an exception becomes an error reply carrying its what().
using Handler = std::function<std::string(const Message&)>;

// Thread-safe: threads may share a Client (each uses its own curl handle). Logs in lazily, logs in again once
// when the session is gone (restoring its subscriptions), and retries for ~10 s while the switch is unreachable.
class Client {
 public:
  Client(std::string url, std::string name, Credentials credentials = {});
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  SessionInfo session_info();
  bool create_queue(const std::string& name);  // persistent; false if it existed
  std::string create_temporary_queue();        // owned by this session
  void destroy_queue(const std::string& name);
  std::vector<QueueInfo> list_queues(const std::string& prefix = "");
  QueueInfo get_queue(const std::string& name);

  // The id of the new message; 0 for a reply-and-ack whose caller's queue is gone (the reply was dropped).
  std::uint64_t send(const std::string& queue, const std::string& body, const SendOptions& options = {});
  void subscribe(const std::string& queue);
  void unsubscribe(const std::string& queue);
  // Long-polls up to `timeout` seconds for messages of the subscribed queues above the cursor, and moves it on.
  // Returns nothing once `*stop` is set (checked while waiting).
  std::vector<Message> transfer(Cursor& cursor, double timeout, const std::atomic<bool>* stop = nullptr);
  void ack(std::uint64_t id);

  // The ids of the copies (one per bound queue).
  std::vector<std::uint64_t> publish(const std::string& topic, const std::string& body);
  void bind(const std::string& queue, const std::string& filter);
  void unbind(const std::string& queue, const std::string& filter);

  // Sends `body` to `queue` with this client's temporary reply queue and a fresh correlation id, and returns the
  // reply's payload. Throws Error `remote_error` for an error reply, `timeout` after `timeout` seconds.
  std::string rpc(const std::string& queue, const std::string& body, double timeout = 30);
  // Creates and subscribes `queue`, then answers each request with handler's result (reply-and-ack) until `stop`
  // is set; `ready` is called once, when first subscribed.
  void serve(const std::string& queue, const Handler& handler, const std::atomic<bool>& stop,
             const std::function<void()>& ready = {});

  void logout();  // ends the session, if any; the next request logs in again

 private:
  using Request = detail::Request;
  using Response = detail::Response;
  using Pin = detail::Pin;

  struct Session {
    std::string token;
    std::uint64_t epoch = 0;  // counts logins: a new epoch is a new session
  };
  struct ReplyQueue {
    std::string name;
    std::uint64_t epoch = 0;
  };

  Session session(const std::atomic<bool>* stop = nullptr);  // logs in if there is no session
  void drop(const Session& lost);
  Response request(const std::function<Request(std::uint64_t epoch)>& make, Pin pin = {});
  Response request(const Request& request, Pin pin = {});
  std::uint64_t send_in(const std::string& queue, const std::string& body, const SendOptions& options, Pin pin);
  void subscribe_in(const std::string& queue, Pin pin);
  void ack_in(std::uint64_t id, Pin pin);
  std::vector<Message> transfer_in(Cursor& cursor, double timeout, const std::atomic<bool>* stop, Pin pin);
  ReplyQueue reply_queue();
  std::uint64_t setup_service(const std::string& queue, const std::atomic<bool>& stop);
  void answer(const Message& request, const Handler& handler, std::uint64_t epoch);

  const std::string url_;
  const std::string name_;
  const Credentials credentials_;

  std::mutex session_mutex_;  // held while logging in, so one thread logs in for all
  Session session_;
  std::uint64_t logins_ = 0;
  std::set<std::string> subscriptions_;  // restored after every re-login

  std::mutex reply_mutex_;  // held while creating the reply queue, so there is one per session
  ReplyQueue reply_;

  std::mutex calls_mutex_;
  std::set<std::string> calls_;  // correlation ids of the rpc calls waiting
};

}  // namespace switchbus
