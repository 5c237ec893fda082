// Helpers shared by the doctest files.
#pragma once
#include <doctest/doctest.h>

#include <lasergrad/lasergrad.h>
#include <string>

// CHECK_ERROR(expr, "part", ...): expr throws lg::Error and its message
// contains every part (the op's name, shapes, dtypes, ...).
#define CHECK_ERROR(expr, ...)                                    \
  do {                                                            \
    try {                                                         \
      (void)(expr);                                               \
      FAIL_CHECK("no lg::Error from: " #expr);                    \
    } catch (const ::lg::Error& e) {                              \
      std::string msg = e.what();                                 \
      for (const char* part : {__VA_ARGS__}) {                    \
        INFO("message: " << msg);                                 \
        CHECK_MESSAGE(msg.find(part) != std::string::npos, part); \
      }                                                           \
    }                                                             \
  } while (false)
