#include "switch_client.hpp"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <locale>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

namespace switchbus {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace detail {

struct Request {
  std::string method = "GET";
  std::string path;  // with its query
  std::string body;
  const char* content_type = nullptr;
  std::string idempotency_key;
  long timeout_ms = 30000;
  const std::atomic<bool>* stop = nullptr;  // aborts the exchange once set
  bool retry = true;                        // retried while the switch is unreachable
};

struct Response {
  long status = 0;
  std::string body;
  CURLcode curl = CURLE_OK;  // not CURLE_OK: no answer came
};

}  // namespace detail

Error::Error(int status, std::string code, const std::string& message)
    : std::runtime_error(message), status_(status), code_(std::move(code)) {}

namespace {

using detail::Request;
using detail::Response;

// How long the switch may stay unreachable (a restart) before a request fails.
constexpr auto kUnreachableFor = std::chrono::seconds(10);
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// The most seconds one long-poll of rpc and serve waits; the loops just poll again.
constexpr double kPollSeconds = 30;
// Re-logins tolerated while one operation sets itself up, before giving up.
constexpr int kSessionAttempts = 3;

// curl_global_init is not thread-safe: once, before the first handle.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error(0, "unavailable", "curl_global_init failed");
  });
}

// A curl handle must not be used by two threads at once: each thread has its own, which keeps its connections
// to the switch open from one request to the next. It runs in a multi handle, so that a wait can be cut short.
class Handles {
 public:
  Handles() : multi_(curl_multi_init()), easy_(curl_easy_init()) {
    if (multi_ == nullptr || easy_ == nullptr) {
      release();
      throw Error(0, "unavailable", "curl could not make a handle");
    }
  }
  ~Handles() { release(); }
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
  CURLM* multi() const { return multi_; }
  CURL* easy() const { return easy_; }

 private:
  void release() {
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }
  CURLM* multi_;
  CURL* easy_;
};

Handles& thread_handles() {
  thread_local Handles handles;
  return handles;
}

class Headers {
 public:
  Headers() = default;
  Headers(const Headers&) = delete;
  Headers& operator=(const Headers&) = delete;
  ~Headers() { curl_slist_free_all(list_); }
  void add(const std::string& header) {
    curl_slist* list = curl_slist_append(list_, header.c_str());
    if (list == nullptr) throw std::bad_alloc();
    list_ = list;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Names in paths and values in queries: every byte but A-Z a-z 0-9 - . _ ~ escaped (a topic's `/` too).
std::string escape(const std::string& text) {
  char* escaped = curl_easy_escape(thread_handles().easy(), text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) throw std::bad_alloc();
  std::string result(escaped);
  curl_free(escaped);
  return result;
}

std::string query(std::initializer_list<std::pair<const char*, std::string>> parameters) {
  std::string result;
  for (const auto& [name, value] : parameters) {
    if (value.empty()) continue;
    result += (result.empty() ? "?" : "&") + std::string(name) + "=" + escape(value);
  }
  return result;
}

std::string seconds(double value) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::fixed << std::setprecision(3) << std::max(value, 0.0);
  return out.str();
}

std::string random_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::ostringstream out;
  out << std::hex << std::setfill('0') << std::setw(16) << random() << std::setw(16) << random();
  return out.str();
}

std::string base64_decode(const std::string& text) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto value = alphabet.find(c);
    if (value == std::string::npos) throw Error(0, "invalid_response", "the switch sent a payload that is not base64");
    bits = ((bits << 6) | static_cast<std::uint32_t>(value)) & 0xFFFFFF;
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return bytes;
}

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

// How often a waiting exchange looks at its stop flag.
constexpr int kStopCheckMs = 100;

bool stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

// Runs the easy handle's exchange to its end, or until `stop` is set (which closes its connection).
CURLcode run(const Handles& handles, const std::atomic<bool>* stop) {
  if (curl_multi_add_handle(handles.multi(), handles.easy()) != CURLM_OK) return CURLE_FAILED_INIT;
  CURLcode result = CURLE_FAILED_INIT;
  for (bool done = false; !done;) {
    int running = 0;
    if (curl_multi_perform(handles.multi(), &running) != CURLM_OK) break;
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(handles.multi(), &left)) {
      if (message->msg == CURLMSG_DONE) {
        result = message->data.result;
        done = true;
      }
    }
    if (done || running == 0) break;
    if (stopped(stop)) {
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    if (curl_multi_poll(handles.multi(), nullptr, 0, kStopCheckMs, nullptr) != CURLM_OK) break;
  }
  curl_multi_remove_handle(handles.multi(), handles.easy());
  return result;
}

// One exchange on this thread's handle; `curl` in the response says when no answer came.
Response perform(const std::string& url, const Request& request, const std::string& token) {
  const Handles& handles = thread_handles();
  CURL* curl = handles.easy();
  // Resets the options, keeps the open connections.
  curl_easy_reset(curl);
  Headers headers;
  headers.add("Expect:");
  // An empty value keeps curl from adding its form content type to a POST.
  headers.add(std::string("Content-Type:") + (request.content_type != nullptr ? std::string(" ") + request.content_type : ""));
  if (!token.empty()) headers.add("Authorization: Bearer " + token);
  if (!request.idempotency_key.empty()) headers.add("Idempotency-Key: " + request.idempotency_key);
  Response response;
  const std::string target = url + request.path;
  curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  response.curl = run(handles, request.stop);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Error error_of(const Response& response) {
  const int status = static_cast<int>(response.status);
  try {
    const json body = json::parse(response.body);
    const json& error = body.at("error");
    const std::string code = error.at("code").get<std::string>();
    return Error(status, code, code + ": " + error.value("message", std::string()) + " (HTTP " + std::to_string(status) + ")");
  } catch (const json::exception&) {
    return Error(status, "http_" + std::to_string(status), "HTTP " + std::to_string(status) + ": " + response.body.substr(0, 200));
  }
}

json parse(const Response& response) {
  try {
    return json::parse(response.body);
  } catch (const json::exception& e) {
    throw Error(static_cast<int>(response.status), "invalid_response", std::string("the switch's answer is not JSON: ") + e.what());
  }
}

// Worth trying again: the switch is restarting (refused, reset, or shutting down).
bool unreachable(const Response& response) {
  switch (response.curl) {
    case CURLE_OK: return response.status == 503 && error_of(response).code() == "shutting_down";
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE: return true;
    default: return false;
  }
}

// Waits, in short slices so that a stop is noticed.
void pause(std::chrono::milliseconds wait, const std::atomic<bool>* stop) {
  const auto until = Clock::now() + wait;
  while (!stopped(stop) && Clock::now() < until) std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(50)));
}

// An exchange, tried again with a growing pause while the switch is unreachable, for up to kUnreachableFor.
Response exchange(const std::string& url, const Request& request, const std::string& token) {
  const auto deadline = Clock::now() + kUnreachableFor;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstBackoff);
  for (;;) {
    Response response = perform(url, request, token);
    if (request.retry && unreachable(response) && !stopped(request.stop) && Clock::now() + wait < deadline) {
      pause(wait, request.stop);
      wait = std::min(wait * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
      continue;
    }
    if (response.curl != CURLE_OK && stopped(request.stop)) throw Error(0, "stopped", "stopped");
    switch (response.curl) {
      case CURLE_OK: return response;
      case CURLE_OPERATION_TIMEDOUT: throw Error(0, "timeout", "no answer from " + url + " in time");
      default: throw Error(0, "unavailable", "cannot reach " + url + ": " + curl_easy_strerror(response.curl));
    }
  }
}

bool success(const Response& response) { return response.status / 100 == 2; }

// The session is gone (expired, or the switch restarted) or is not the one a pinned request belongs to.
bool session_lost(const Error& error) { return error.code() == "session_not_found" || error.code() == "session_changed"; }

Request route(const char* method, std::string path) {
  Request request;
  request.method = method;
  request.path = std::move(path);
  return request;
}

std::string queue_path(const std::string& queue) { return "/v1/queues/" + escape(queue); }

Message message_of(const json& item) {
  Message message;
  message.id = item.at("id").get<std::uint64_t>();
  message.queue = item.at("queue").get<std::string>();
  message.payload = item.at("payload").get<std::string>();
  if (item.value("encoding", std::string()) == "base64") message.payload = base64_decode(message.payload);
  message.correlation_id = item.value("correlationId", std::string());
  message.reply_to = item.value("replyTo", std::string());
  message.origin = item.value("origin", std::string());
  message.topic = item.value("topic", std::string());
  message.time = item.value("time", std::int64_t{0});
  message.error = item.value("error", false);
  message.retained = item.value("retained", false);
  return message;
}

QueueInfo queue_of(const json& item) {
  QueueInfo queue;
  queue.name = item.at("name").get<std::string>();
  queue.kind = item.at("kind").get<std::string>();
  queue.length = item.at("length").get<std::uint64_t>();
  queue.alive = item.at("alive").get<bool>();
  queue.bindings = item.value("bindings", std::vector<std::string>());
  return queue;
}

}  // namespace

Client::Client(std::string url, std::string name, Credentials credentials)
    : url_(url.substr(0, url.find_last_not_of('/') + 1)), name_(std::move(name)), credentials_(std::move(credentials)) {
  global_init();
}

Client::Session Client::session(const std::atomic<bool>* stop) {
  std::lock_guard<std::mutex> lock(session_mutex_);
  if (!session_.token.empty()) return session_;
  json login = {{"client", name_}};
  if (!credentials_.principal.empty()) login["principal"] = credentials_.principal;
  if (!credentials_.secret.empty()) login["secret"] = credentials_.secret;
  if (!credentials_.api_key.empty()) login["apiKey"] = credentials_.api_key;
  Request request = route("POST", "/v1/sessions");
  request.body = login.dump();
  request.content_type = "application/json";
  request.stop = stop;
  const Response response = exchange(url_, request, "");
  if (!success(response)) throw error_of(response);
  const std::string token = parse(response).at("token").get<std::string>();
  // A new session has no subscriptions: restore ours. A queue that is gone (a switch restarted in memory) is
  // forgotten; whoever owns it creates it again.
  for (auto queue = subscriptions_.begin(); queue != subscriptions_.end();) {
    Request subscribe = route("PUT", "/v1/session/subscriptions/" + escape(*queue));
    subscribe.stop = stop;
    const Response subscribed = exchange(url_, subscribe, token);
    if (subscribed.status == 404) {
      queue = subscriptions_.erase(queue);
      continue;
    }
    if (!success(subscribed)) throw error_of(subscribed);
    ++queue;
  }
  session_ = Session{token, ++logins_};
  return session_;
}

void Client::drop(const Session& lost) {
  std::lock_guard<std::mutex> lock(session_mutex_);
  // Only the first to notice drops it; the next session() logs in again.
  if (session_.epoch == lost.epoch) session_.token.clear();
}

Client::Response Client::request(const std::function<Request(std::uint64_t epoch)>& make, Pin pin) {
  for (bool repeated = false;; repeated = true) {
    const Session current = session();
    if (pin.epoch != 0 && pin.epoch != current.epoch) throw Error(0, "session_changed", "the session changed");
    const Response response = exchange(url_, make(current.epoch), current.token);
    if (response.status == 401) {
      Error error = error_of(response);
      if (error.code() == "session_not_found") {
        drop(current);
        if (!repeated && pin.epoch == 0 && !pin.once) continue;
      }
      throw error;
    }
    if (!success(response)) throw error_of(response);
    return response;
  }
}

Client::Response Client::request(const Request& request, Pin pin) {
  return this->request([&request](std::uint64_t) { return request; }, pin);
}

SessionInfo Client::session_info() {
  const json info = parse(request(route("GET", "/v1/session")));
  return SessionInfo{info.at("client").get<std::string>(), info.at("subscriptions").get<std::vector<std::string>>(),
                     info.at("queues").get<std::vector<std::string>>()};
}

bool Client::create_queue(const std::string& name) {
  return parse(request(route("PUT", queue_path(name)))).at("created").get<bool>();
}

std::string Client::create_temporary_queue() {
  return parse(request(route("POST", "/v1/queues"))).at("name").get<std::string>();
}

void Client::destroy_queue(const std::string& name) { request(route("DELETE", queue_path(name))); }

std::vector<QueueInfo> Client::list_queues(const std::string& prefix) {
  const json answer = parse(request(route("GET", "/v1/queues" + query({{"prefix", prefix}}))));
  std::vector<QueueInfo> queues;
  for (const json& item : answer.at("queues")) queues.push_back(queue_of(item));
  return queues;
}

QueueInfo Client::get_queue(const std::string& name) { return queue_of(parse(request(route("GET", queue_path(name))))); }

std::uint64_t Client::send(const std::string& queue, const std::string& body, const SendOptions& options) {
  return send_in(queue, body, options, Pin{0, options.ack != 0});
}

std::uint64_t Client::send_in(const std::string& queue, const std::string& body, const SendOptions& options, Pin pin) {
  Request request = route("POST", queue_path(queue) + "/messages" +
                                      query({{"correlationId", options.correlation_id},
                                             {"replyTo", options.reply_to},
                                             {"ack", options.ack != 0 ? std::to_string(options.ack) : ""},
                                             {"error", options.error ? "true" : ""}}));
  request.body = body;
  request.content_type = "application/octet-stream";
  // Kept over retries: a send repeated after a lost answer is enqueued once.
  request.idempotency_key = random_id();
  const json answer = parse(this->request(request, pin));
  // A reply-and-ack whose caller is gone was dropped: no id.
  return answer.contains("id") ? answer.at("id").get<std::uint64_t>() : 0;
}

void Client::subscribe(const std::string& queue) {
  subscribe_in(queue, Pin{});
  std::lock_guard<std::mutex> lock(session_mutex_);
  subscriptions_.insert(queue);
}

void Client::subscribe_in(const std::string& queue, Pin pin) {
  request(route("PUT", "/v1/session/subscriptions/" + escape(queue)), pin);
}

void Client::unsubscribe(const std::string& queue) {
  {
    std::lock_guard<std::mutex> lock(session_mutex_);
    subscriptions_.erase(queue);
  }
  request(route("DELETE", "/v1/session/subscriptions/" + escape(queue)));
}

std::vector<Message> Client::transfer(Cursor& cursor, double timeout, const std::atomic<bool>* stop) {
  return transfer_in(cursor, timeout, stop, Pin{});
}

std::vector<Message> Client::transfer_in(Cursor& cursor, double timeout, const std::atomic<bool>* stop, Pin pin) {
  const auto make = [&cursor, timeout, stop](std::uint64_t epoch) {
    if (cursor.session != epoch) cursor = Cursor{0, epoch};
    Request request = route("GET", "/v1/transfer" + query({{"after", std::to_string(cursor.after)}, {"timeout", seconds(timeout)}}));
    request.timeout_ms = static_cast<long>(std::max(timeout, 0.0) * 1000) + 10000;
    request.stop = stop;
    return request;
  };
  json answer;
  try {
    answer = parse(request(make, pin));
  } catch (const Error& error) {
    if (error.code() == "stopped") return {};
    throw;
  }
  std::vector<Message> messages;
  for (const json& item : answer.at("messages")) messages.push_back(message_of(item));
  cursor.after = answer.at("next").get<std::uint64_t>();
  return messages;
}

void Client::ack(std::uint64_t id) { ack_in(id, Pin{0, true}); }

void Client::ack_in(std::uint64_t id, Pin pin) { request(route("DELETE", "/v1/messages/" + std::to_string(id)), pin); }

std::vector<std::uint64_t> Client::publish(const std::string& topic, const std::string& body) {
  Request request = route("POST", "/v1/topics/" + escape(topic) + "/messages");
  request.body = body;
  request.content_type = "application/octet-stream";
  request.idempotency_key = random_id();
  return parse(this->request(request)).at("ids").get<std::vector<std::uint64_t>>();
}

void Client::bind(const std::string& queue, const std::string& filter) {
  request(route("PUT", queue_path(queue) + "/bindings/" + escape(filter)));
}

void Client::unbind(const std::string& queue, const std::string& filter) {
  request(route("DELETE", queue_path(queue) + "/bindings/" + escape(filter)));
}

Client::ReplyQueue Client::reply_queue() {
  std::lock_guard<std::mutex> lock(reply_mutex_);
  for (int attempt = 1;; ++attempt) {
    const std::uint64_t epoch = session().epoch;
    if (reply_.epoch == epoch) return reply_;
    try {
      const std::string name = parse(request(route("POST", "/v1/queues"), Pin{epoch})).at("name").get<std::string>();
      // Not among the subscriptions restored after a re-login: the queue goes with the session.
      subscribe_in(name, Pin{epoch});
      reply_ = ReplyQueue{name, epoch};
      return reply_;
    } catch (const Error& error) {
      if (!session_lost(error) || attempt >= kSessionAttempts) throw;
    }
  }
}

std::string Client::rpc(const std::string& queue, const std::string& body, double timeout) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  const std::string id = random_id();
  {
    std::lock_guard<std::mutex> lock(calls_mutex_);
    calls_.insert(id);
  }
  struct Waiting {
    Client& client;
    const std::string& id;
    ~Waiting() {
      std::lock_guard<std::mutex> lock(client.calls_mutex_);
      client.calls_.erase(id);
    }
  } waiting{*this, id};
  ReplyQueue reply;
  Cursor cursor;
  for (int sent = 0;;) {
    if (reply.epoch == 0) {
      // First, or the session changed: the reply queue went with the old one, so the request goes again with a
      // new one (if the first is answered too, that reply is dropped with its queue).
      if (++sent > kSessionAttempts) throw Error(0, "unavailable", "the session kept changing during an rpc to " + queue);
      reply = reply_queue();
      try {
        SendOptions options;
        options.correlation_id = id;
        options.reply_to = reply.name;
        send_in(queue, body, options, Pin{reply.epoch});
      } catch (const Error& error) {
        if (!session_lost(error)) throw;
        reply = ReplyQueue{};
        continue;
      }
      cursor = Cursor{0, reply.epoch};
    }
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0) throw Error(0, "timeout", "no reply from " + queue + " within " + seconds(timeout) + " s");
    std::vector<Message> messages;
    try {
      // Pinned: in a new session the reply queue is gone, so waiting on would be in vain.
      messages = transfer_in(cursor, std::min(left, kPollSeconds), nullptr, Pin{reply.epoch});
    } catch (const Error& error) {
      if (!session_lost(error)) throw;
      reply = ReplyQueue{};
      continue;
    }
    for (const Message& message : messages) {
      if (message.queue != reply.name) continue;
      bool mine = message.correlation_id == id;
      if (!mine) {
        // A late reply to a call that gave up is acked away; another call's is left to it.
        std::lock_guard<std::mutex> lock(calls_mutex_);
        if (calls_.count(message.correlation_id) != 0) continue;
      }
      try {
        ack_in(message.id, Pin{cursor.session, true});
      } catch (const Error& error) {
        // Gone with its session, or acked already: either way it will not come again.
        if (!session_lost(error) && error.code() != "message_not_found") throw;
      }
      if (!mine) continue;
      if (message.error) throw Error(0, "remote_error", queue + " replied with an error: " + message.payload);
      return message.payload;
    }
  }
}

std::uint64_t Client::setup_service(const std::string& queue, const std::atomic<bool>& stop) {
  Request create = route("PUT", queue_path(queue));
  Request subscribe = route("PUT", "/v1/session/subscriptions/" + escape(queue));
  create.stop = subscribe.stop = &stop;
  for (int attempt = 1;; ++attempt) {
    const std::uint64_t epoch = session(&stop).epoch;
    try {
      request(create, Pin{epoch});
      request(subscribe, Pin{epoch});
      std::lock_guard<std::mutex> lock(session_mutex_);
      subscriptions_.insert(queue);
      return epoch;
    } catch (const Error& error) {
      if (!session_lost(error) || attempt >= kSessionAttempts) throw;
    }
  }
}

void Client::serve(const std::string& queue, const Handler& handler, const std::atomic<bool>& stop,
                   const std::function<void()>& ready) {
  std::uint64_t ready_in = 0;  // the session in which the queue is set up
  bool announced = false;
  Cursor cursor;
  while (!stop) {
    if (ready_in == 0) {
      // First, or a new session: it has no subscription, and the queue may be gone (a switch restarted in memory).
      try {
        ready_in = setup_service(queue, stop);
      } catch (const Error& error) {
        if (error.code() == "stopped") break;
        throw;
      }
      if (!announced && ready) ready();
      announced = true;
    }
    std::vector<Message> messages;
    try {
      // Pinned: a new session needs the set-up again before a wait is worth anything.
      messages = transfer_in(cursor, kPollSeconds, &stop, Pin{ready_in});
    } catch (const Error& error) {
      if (!session_lost(error)) throw;
      ready_in = 0;
      continue;
    }
    for (const Message& message : messages) {
      // Requests not taken before a stop stay unacked, for the next server.
      if (stop) break;
      if (message.queue == queue) answer(message, handler, cursor.session);
    }
  }
  std::string token;
  {
    std::lock_guard<std::mutex> lock(session_mutex_);
    subscriptions_.erase(queue);
    token = session_.token;
  }
  if (token.empty()) return;
  // Best effort and at once, in the session as it is (the subscription ends with it anyway): a stopping server
  // neither logs in nor waits for an unreachable switch.
  Request leave = route("DELETE", "/v1/session/subscriptions/" + escape(queue));
  leave.retry = false;
  try {
    exchange(url_, leave, token);
  } catch (const Error&) {
  }
}

void Client::answer(const Message& call, const Handler& handler, std::uint64_t epoch) {
  SendOptions reply;
  reply.correlation_id = call.correlation_id;
  reply.ack = call.id;
  std::string body;
  try {
    body = handler(call);
  } catch (const std::exception& failure) {
    body = failure.what();
    reply.error = true;
  }
  try {
    // Reply and ack in one step: the request is done exactly when its reply is durable.
    if (call.reply_to.empty()) ack_in(call.id, Pin{epoch, true});
    else send_in(call.reply_to, body, reply, Pin{epoch, true});
  } catch (const Error& error) {
    if (error.code() == "message_not_found") return;  // another server answered it
    if (!session_lost(error)) throw;
    // The session that delivered the request is gone, and with it the proof that its id still names it (a
    // switch restarted in memory counts from 1 again): reply without the ack. A request that survived comes
    // again and is answered again; the caller drops the second reply.
    if (call.reply_to.empty()) return;
    reply.ack = 0;
    try {
      send_in(call.reply_to, body, reply, Pin{});
    } catch (const Error& again) {
      if (again.code() != "queue_not_found") throw;
    }
  }
}

void Client::logout() {
  std::string token;
  {
    std::lock_guard<std::mutex> lock(session_mutex_);
    token.swap(session_.token);
    subscriptions_.clear();
  }
  if (token.empty()) return;
  Request request = route("DELETE", "/v1/session");
  request.retry = false;
  const Response response = exchange(url_, request, token);
  if (!success(response) && response.status != 401) throw error_of(response);
}

}  // namespace switchbus
