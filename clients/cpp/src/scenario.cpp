// scenario URL: the shared client scenario (clients/scenario.md); one `ok STEP` or `not ok STEP: why` per step.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "switch_client.hpp"
#include "upper.hpp"

using switchbus::Client;
using switchbus::Cursor;
using switchbus::Message;

namespace {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(bool condition, const std::string& what) {
  if (!condition) throw Failure(what);
}

// Transfers until `count` messages of `queue` came (others are skipped), or fails after 10 s.
std::vector<Message> receive(Client& client, Cursor& cursor, const std::string& queue, std::size_t count) {
  std::vector<Message> received;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received.size() < count) {
    check(std::chrono::steady_clock::now() < deadline,
          "received " + std::to_string(received.size()) + " of " + std::to_string(count) + " messages in 10 s");
    for (const Message& message : client.transfer(cursor, 2)) {
      if (message.queue == queue) received.push_back(message);
    }
  }
  check(received.size() == count, "received " + std::to_string(received.size()) + " messages, not " + std::to_string(count));
  return received;
}

// The upper-casing service on a queue, in a thread of its own, with a client of its own, until destroyed.
class Service {
 public:
  Service(Client& client, const std::string& queue) {
    std::promise<void> ready;
    std::future<void> subscribed = ready.get_future();
    thread_ = std::thread([this, &client, queue, ready = std::move(ready)]() mutable {
      try {
        client.serve(
            queue, [](const Message& request) { return upper_ascii(request.payload); }, stop_,
            [&ready] { ready.set_value(); });
      } catch (...) {
        try {
          ready.set_exception(std::current_exception());
        } catch (const std::future_error&) {
          // Failed after it was ready: the rpc fails and says so.
        }
      }
    });
    if (subscribed.wait_for(std::chrono::seconds(15)) != std::future_status::ready) {
      stop();
      throw Failure("the service was not ready in 15 s");
    }
    try {
      subscribed.get();
    } catch (...) {
      stop();
      throw;
    }
  }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  ~Service() { stop(); }

 private:
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool step(const std::string& name, const std::function<void()>& body) {
  try {
    body();
    std::cout << "ok " << name << std::endl;
    return true;
  } catch (const switchbus::Error& error) {
    std::cout << "not ok " << name << ": " << error.what() << " (status " << error.status() << ", code " << error.code()
              << ")" << std::endl;
  } catch (const std::exception& error) {
    std::cout << "not ok " << name << ": " << error.what() << std::endl;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: scenario URL\n";
    return 1;
  }
  const std::string url = argv[1];
  const std::string tag = "cpp-" + std::to_string(getpid());
  const std::string queue = "scn-" + tag + "-q";
  const std::string service = "scn-" + tag + "-rpc";
  Client client(url, "scn-" + tag);
  // The service is another participant: a session of its own.
  Client server(url, "scn-" + tag + "-service");
  Cursor cursor;
  bool passed = true;

  passed &= step("login", [&] { check(client.session_info().client == "scn-" + tag, "the session has another client name"); });

  passed &= step("queues", [&] {
    check(client.create_queue(queue), "PUT answered created: false for a new queue");
    bool listed = false;
    for (const auto& info : client.list_queues("scn-" + tag)) listed |= info.name == queue;
    check(listed, "the list does not show " + queue);
    const auto info = client.get_queue(queue);
    check(info.name == queue && info.kind == "persistent", "get answered " + info.name + " of kind " + info.kind);
  });

  passed &= step("send-transfer-ack", [&] {
    client.subscribe(queue);
    const std::vector<std::string> bodies = {"one", "two", "three"};
    for (const auto& body : bodies) client.send(queue, body);
    const auto messages = receive(client, cursor, queue, bodies.size());
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      check(messages[i].payload == bodies[i], "message " + std::to_string(i) + " is " + messages[i].payload);
      check(i == 0 || messages[i].id > messages[i - 1].id, "ids do not increase");
    }
    for (const auto& message : messages) client.ack(message.id);
    const auto rest = client.transfer(cursor, 0.1);
    check(rest.empty(), "a transfer from the cursor returned " + std::to_string(rest.size()) + " messages");
  });

  passed &= step("binary", [&] {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
    client.send(queue, bytes);
    const auto message = receive(client, cursor, queue, 1).front();
    check(message.payload == bytes, "received " + std::to_string(message.payload.size()) + " other bytes");
    client.ack(message.id);
  });

  passed &= step("missing-queue", [&] {
    try {
      client.send("scn-" + tag + "-missing", "lost");
    } catch (const switchbus::Error& error) {
      check(error.status() == 404 && error.code() == "queue_not_found", std::string("failed otherwise: ") + error.what());
      return;
    }
    throw Failure("the send succeeded");
  });

  passed &= step("publish-bind", [&] {
    const std::string bound = "scn-" + tag + "-bound";
    const std::string topic = "scn/" + tag + "/x";
    client.create_queue(bound);
    client.bind(bound, "scn/" + tag + "/+");
    client.subscribe(bound);
    check(client.publish(topic, "hi").size() == 1, "the publish reached no queue or several");
    const auto message = receive(client, cursor, bound, 1).front();
    check(message.payload == "hi" && message.topic == topic, "received " + message.payload + " on topic " + message.topic);
    client.ack(message.id);
  });

  passed &= step("rpc", [&] {
    Service serving(server, service);
    const std::string reply = client.rpc(service, "hello", 10);
    check(reply == "HELLO", "the reply is " + reply);
  });

  passed &= step("session-expiry", [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    client.send(queue, "after-expiry");
    Service serving(server, service);
    const std::string reply = client.rpc(service, "again", 10);
    check(reply == "AGAIN", "the reply is " + reply);
  });

  std::cout << "ready-for-restart" << std::endl;
  std::string go;
  std::getline(std::cin, go);
  passed &= step("restart", [&] {
    const std::string after = "scn-" + tag + "-after";
    client.create_queue(after);
    client.subscribe(after);
    client.send(after, "back");
    // The cursor of the first session: the new one starts it over (the switch numbers messages from 1 again).
    const auto message = receive(client, cursor, after, 1).front();
    check(message.payload == "back", "received " + message.payload);
    client.ack(message.id);
  });

  for (Client* participant : {&client, &server}) {
    try {
      participant->logout();
    } catch (const switchbus::Error&) {
      // Over anyway; the sessions end by themselves.
    }
  }
  return passed ? 0 : 1;
}
