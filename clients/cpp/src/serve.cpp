// serve URL QUEUE: answers each request on QUEUE with its body upper-cased until SIGTERM or SIGINT.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <string>

#include "switch_client.hpp"
#include "upper.hpp"

namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
std::atomic<bool> stop{false};

void on_signal(int) { stop = true; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: serve URL QUEUE\n";
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  const std::string queue = argv[2];
  try {
    switchbus::Client client(argv[1], "cpp-serve");
    client.serve(
        queue, [](const switchbus::Message& request) { return upper_ascii(request.payload); }, stop,
        [&queue] { std::cout << "serving " << queue << '\n' << std::flush; });
    try {
      client.logout();
    } catch (const switchbus::Error&) {
      // Stopping anyway; the session ends by itself.
    }
    return 0;
  } catch (const std::exception& failure) {
    std::cerr << "serve: " << failure.what() << '\n';
    return 1;
  }
}
