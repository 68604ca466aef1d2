// simdjson's On-Demand API behind the small C ABI of bench/json_walk.h, for
// bench/json_parse_bench.c only (an optional benchmark target: built when Debian's
// libsimdjson-dev is installed; bench/bench.cmake). Not linked into fedbroker.
//
// On-Demand is compiled into this file for one instruction set, chosen by the compiler
// flags (SIMDJSON_BUILTIN_IMPLEMENTATION): bench.cmake builds it with -march=native,
// else it would be simdjson's scalar fallback.
#include <simdjson.h>

#include "json_walk.h"

namespace {

// One parser per thread, reused: its buffers are sized once, as a hub would keep one
// per worker.
thread_local simdjson::ondemand::parser parser;

simdjson::error_code walk(simdjson::ondemand::value v, fb_json_walk *out);

simdjson::error_code walk_object(simdjson::ondemand::object obj, fb_json_walk *out) {
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    out->string_bytes += key.size();
    simdjson::ondemand::value v;
    if (auto e = field.value().get(v)) return e;
    if (auto e = walk(v, out)) return e;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code walk(simdjson::ondemand::value v, fb_json_walk *out) {
  out->values++;
  simdjson::ondemand::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      return walk_object(obj, out);
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      for (auto item : arr) {
        simdjson::ondemand::value iv;
        if (auto e = item.get(iv)) return e;
        if (auto e = walk(iv, out)) return e;
      }
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      out->string_bytes += s.size();
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::number: {
      simdjson::ondemand::number n;
      return v.get_number().get(n);
    }
    case simdjson::ondemand::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case simdjson::ondemand::json_type::null:
      return v.is_null() ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

extern "C" size_t fb_simdjson_padding(void) { return simdjson::SIMDJSON_PADDING; }

extern "C" int fb_simdjson_walk(const char *buf, size_t len, size_t cap, fb_json_walk *out) {
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(buf, len, cap)).get(doc)) return -1;
  simdjson::ondemand::object top;
  if (doc.get_object().get(top)) return -1;
  out->values++;
  // The top-level object walked field by field, counting the records array's size.
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return -1;
    out->string_bytes += key.size();
    simdjson::ondemand::value v;
    if (field.value().get(v)) return -1;
    if (key == "records") {
      simdjson::ondemand::array arr;
      if (v.get_array().get(arr)) return -1;
      out->values++;
      for (auto item : arr) {
        simdjson::ondemand::value iv;
        if (item.get(iv) || walk(iv, out)) return -1;
        out->records++;
      }
    } else if (walk(v, out)) {
      return -1;
    }
  }
  return 0;
}

// The implementation this file's On-Demand code was compiled for (not the library's
// builtin_implementation(), which is what libsimdjson.so was compiled for).
#define FB_STR2(x) #x
#define FB_STR(x) FB_STR2(x)
extern "C" const char *fb_simdjson_kernel(void) { return FB_STR(SIMDJSON_BUILTIN_IMPLEMENTATION); }
