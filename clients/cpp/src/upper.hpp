// The examples' service: the request upper-cased, ASCII a-z only, so that any other byte (binary) survives.
#pragma once

#include <string>

inline std::string upper_ascii(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}
