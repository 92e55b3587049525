// call URL QUEUE BODY: one rpc to QUEUE; prints the reply and a newline.
#include <algorithm>
#include <iostream>
#include <string>

#include "switch_client.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: call URL QUEUE BODY\n";
    return 1;
  }
  try {
    switchbus::Client client(argv[1], "cpp-call");
    const std::string reply = client.rpc(argv[2], argv[3]);
    std::cout.write(reply.data(), static_cast<std::streamsize>(reply.size()));
    std::cout << '\n' << std::flush;
    try {
      client.logout();
    } catch (const switchbus::Error&) {
      // The reply is in; the session ends by itself.
    }
    return 0;
  } catch (const std::exception& failure) {
    std::string message = failure.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "call: " << message << '\n';
    return 1;
  }
}
