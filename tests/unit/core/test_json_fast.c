/* core/jsonw.h and core/jsonr.h against jansson itself, value by value: the writer
 * gives json_dump_callback's bytes (and fails where it fails), the parser gives
 * json_loadb's value or json_loadb's error, position included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "unit_common.h"

static int dump_cb(const char *data, size_t len, void *b) {
  fb_buf_append(b, data, len);
  return 0;
}

/* jansson's text of `v` and ours at `precision`, for containers and (ENCODE_ANY) any
 * value; both fail or both give the same bytes. */
static void same_text(json_t *v, int precision) {
  size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION((size_t)precision);
  fb_buf a = {0}, b = {0};
  int ra = json_dump_callback(v, dump_cb, &a, flags | JSON_ENCODE_ANY);
  int rb = fb_jsonw_value(&b, v, precision);
  assert_int_equal(ra, rb);
  if (ra == 0) {
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
  } else {
    assert_int_equal(b.len, 0); /* a failed write leaves the buffer as it was */
  }
  fb_buf_free(&a);
  fb_buf_free(&b);
  /* without ENCODE_ANY only containers are written */
  ra = json_dump_callback(v, dump_cb, &a, flags);
  rb = fb_jsonw_dump(&b, v, precision);
  assert_int_equal(ra, rb);
  fb_buf_free(&a);
  fb_buf_free(&b);
}

static void test_every_ascii_byte_is_escaped_as_jansson_does(void **state) {
  (void)state;
  for (int c = 0; c < 128; c++) {
    char s[3] = {'a', (char)c, 'z'};
    json_t *v = json_stringn(s, 3);
    assert_non_null(v);
    same_text(v, 12);
    json_t *o = json_object();
    json_object_setn_new(o, s, 3, json_true()); /* in keys too */
    same_text(o, 12);
    json_decref(o);
    json_decref(v);
  }
}

static void test_invalid_utf8_fails_like_jansson(void **state) {
  (void)state;
  static const char *const bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\xb8", "\x80", "\xff",
                                    "ok\xc3"};
  static const char *const good[] = {"\xc3\xa9", "\xe0\xb8\xaa", "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
  for (size_t i = 0; i < FB_ARRAY_LEN(bad); i++) {
    json_t *a = json_pack("[o]", json_stringn_nocheck(bad[i], strlen(bad[i])));
    fb_buf b = {0};
    assert_int_equal(fb_jsonw_dump(&b, a, 12), -1);
    same_text(a, 12);
    fb_buf_free(&b);
    json_decref(a);
  }
  for (size_t i = 0; i < FB_ARRAY_LEN(good); i++) {
    json_t *a = json_pack("[s]", good[i]);
    same_text(a, 12);
    json_decref(a);
  }
}

/* Escapes and multi-byte characters at every distance from the start of strings long
 * enough to move the buffer, into a fresh buffer and after what a buffer held, give
 * jansson's bytes; a refused string leaves the buffer as it was. */
static void test_escapes_that_grow_the_buffer(void **state) {
  (void)state;
  static const char *const tails[] = {"\n", "\x01", "\"\\", "\xc3\xa9", "\xf0\x9f\x98\x80\x1f\x1f\x1f",
                                      "\x7f\xe0\xb8\xaa\t"};
  for (size_t lead = 0; lead < 700; lead += 37)
    for (size_t t = 0; t < FB_ARRAY_LEN(tails); t++)
      for (size_t reps = 1; reps <= 300; reps *= 7) {
        fb_buf src = {0};
        for (size_t i = 0; i < lead; i++) fb_buf_putc(&src, (char)('a' + i % 26));
        for (size_t i = 0; i < reps; i++) fb_buf_puts(&src, tails[t]);
        json_t *v = json_stringn(src.data, src.len);
        assert_non_null(v);
        json_t *a = json_pack("[s, O]", "before", v);
        same_text(a, 12); /* a fresh buffer */
        fb_buf want = {0}, got = {0};
        assert_int_equal(json_dump_callback(a, dump_cb, &want, JSON_COMPACT | JSON_REAL_PRECISION(12)), 0);
        fb_buf_puts(&got, "held:");
        assert_int_equal(fb_jsonw_dump(&got, a, 12), 0); /* after what the buffer held */
        assert_int_equal(got.len, want.len + 5);
        assert_memory_equal(got.data + 5, want.data, want.len);
        /* the same text ending in a byte that is not UTF-8: refused, the buffer as it was */
        fb_buf_putc(&src, '\xff');
        json_t *bad = json_pack("[o]", json_stringn_nocheck(src.data, src.len));
        size_t held = got.len;
        assert_int_equal(fb_jsonw_dump(&got, bad, 12), -1);
        assert_int_equal(got.len, held);
        assert_int_equal(got.data[held], '\0');
        json_decref(bad);
        json_decref(a);
        json_decref(v);
        fb_buf_free(&src);
        fb_buf_free(&want);
        fb_buf_free(&got);
      }
}

static void test_numbers_are_written_as_jansson_does(void **state) {
  (void)state;
  static const double reals[] = {0.0, -0.0, 1.0, 0.5, 0.97, 12.3, 1e21, 1e-7, 123456789012345.0, 1.5e300, -2.5e-300,
                                 5e-324, 0.1 + 0.2, 100.0, 1e100};
  static const int precisions[] = {0, 1, 12, 17};
  for (size_t p = 0; p < FB_ARRAY_LEN(precisions); p++)
    for (size_t i = 0; i < FB_ARRAY_LEN(reals); i++) {
      json_t *v = json_pack("[f]", reals[i]);
      same_text(v, precisions[p]);
      json_decref(v);
    }
  uint64_t rng = 0x1234abcd;
  for (int i = 0; i < 20000; i++) {
    uint64_t bits = fb_test_rand(&rng);
    double d;
    memcpy(&d, &bits, sizeof d);
    if (d != d || d - d != 0) continue;
    json_t *v = json_pack("[f, I]", d, (json_int_t)bits);
    same_text(v, i % 2 ? 12 : 0);
    json_decref(v);
  }
  json_t *v = json_pack("[I, I, I]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, (json_int_t)0);
  same_text(v, 12);
  json_decref(v);
}

/* The reals the hub writes most (latencies, scores: a few decimals, 1e-10 to 1e17) take
 * core/jsonw.c's printf-free path: at every precision, on decimal-looking values, on
 * the doubles next to them, on halfway cases (x.5 at the last digit) and on powers of
 * ten, the text is jansson's. */
static void test_common_reals_are_written_as_jansson_does(void **state) {
  (void)state;
  uint64_t rng = 0x5eed;
  json_t *v = json_array();
  for (int i = 0; i < 6000; i++) {
    uint64_t r = fb_test_rand(&rng);
    int scale = (int)(r % 23) - 10;          /* 1e-10 .. 1e12 */
    double x;
    switch (i % 6) {
    case 0: x = (double)(r % 100000) / 10.0; break;          /* round1 latencies */
    case 1: x = (double)(r % 1000) / 1000.0; break;          /* scores */
    case 2: x = pow(10.0, scale) * (double)(r % 1000 + 1); break;
    case 3: x = ((double)(r % 200000) + 0.5) * pow(10.0, scale); break; /* halfway at some digit */
    case 4: x = nextafter(pow(10.0, scale), (r & 1) ? 0.0 : 1e300); break;
    default: x = ldexp((double)(r >> 11), (int)(r % 90) - 100); break; /* any 53-bit mantissa */
    }
    if (r & (1ull << 40)) x = -x;
    json_array_append_new(v, json_real(x));
    json_array_append_new(v, json_real(nextafter(x, 0.0)));
  }
  for (int p = 1; p <= 17; p++) same_text(v, p);
  same_text(v, 0);
  json_decref(v);
}

static void test_containers_keep_jansson_order(void **state) {
  (void)state;
  json_t *o = json_loads("{\"z\":1,\"a\":[],\"m\":{},\"b\":[null,true,false,{\"x\":[[]]}],\"\":\"\"}", 0, NULL);
  json_object_set_new(o, "z", json_string("replaced, same place"));
  json_object_del(o, "m");
  json_object_set_new(o, "m", json_integer(2));
  same_text(o, 12);
  json_decref(o);
  o = json_object();
  same_text(o, 12);
  json_decref(o);
}

/* ---- the parser ----------------------------------------------------------- */

static void same_load_flags(const char *text, size_t len, size_t flags) {
  json_error_t ea, eb;
  json_t *a = json_loadb(text, len, flags, &ea);
  json_t *b = flags ? fb_jsonr_loadb_flags(text, len, flags, &eb) : fb_jsonr_loadb(text, len, &eb);
  assert_int_equal(a == NULL, b == NULL);
  if (!a) {
    assert_string_equal(ea.text, eb.text);
    assert_int_equal(ea.position, eb.position);
    return;
  }
  assert_true(json_equal(a, b));
  char *ta = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY), *tb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
  assert_string_equal(ta, tb); /* the same key order and number types, not just equal values */
  free(ta);
  free(tb);
  json_decref(a);
  json_decref(b);
}

/* Both modes the hub uses: node answers (0) and request bodies (JSON_REJECT_DUPLICATES). */
static void same_load(const char *text, size_t len) {
  same_load_flags(text, len, 0);
  same_load_flags(text, len, JSON_REJECT_DUPLICATES);
}

static void test_parser_agrees_with_json_loadb(void **state) {
  (void)state;
  static const char *const cases[] = {
      "{}", "[]", " \t\r\n{ \"a\" : [ 1 , -2 , 3.5 , -0 , 0.0 , 1e2 , 1E-2 , 2.5e+3 ] } \n", "{\"a\":1,\"a\":2,\"b\":3}",
      "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u0041\\ud83d\\ude00\\u001f\"}", "{\"k\\u00e9y\":\"v\"}",
      "[true,false,null]", "[\"\xc3\xa9\xe0\xb8\xaa\xf0\x9f\x98\x80\"]", "[9223372036854775807,-9223372036854775808]",
      /* everything below is json_loadb's to judge */
      "", " ", "1", "\"s\"", "null", "{", "[", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{1:2}", "[01]",
      "[1.]", "[.5]", "[-]", "[1e]", "[1e+]", "[+1]", "[9223372036854775808]", "[-9223372036854775809]", "[1e400]",
      "[-1e400]", "[1e-400]", "[truex]", "[tru]", "[nul]", "[True]", "[\"\\u0000\"]", "[\"\\udc00\"]", "[\"\\ud800\"]",
      "[\"\\ud800\\u0041\"]", "[\"\\uZZZZ\"]", "[\"\\q\"]", "[\"\x01\"]", "[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]",
      "[\"\xf4\x90\x80\x80\"]", "[\"\xe0\xb8\"]", "[\"abc", "[\"abc\\", "{} x", "{}{}", "[] \x80", "\xef\xbb\xbf{}",
      "[1true]", "{\"a\":1 \"b\":2}", "/* c */ {}",
      /* repeated keys: kept last by one mode, an error naming the key in the other */
      "{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", "[{\"x\":1},{\"x\":2,\"y\":[{\"z\":0,\"z\":0}]}]",
      "{\"k\\u00e9y\":1,\"k\u00e9y\":2}", "{\"\":1,\"\":2}"};
  for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) same_load(cases[i], strlen(cases[i]));
  same_load("[\"a\0b\"]", 7);     /* a raw NUL inside a string */
  same_load("{}\0", 3);           /* after the value */
  /* nesting: within the fast path's depth, past it, past jansson's */
  static const size_t depths[] = {200, 300, 2047, 2048, 2049, 3000};
  for (size_t d = 0; d < FB_ARRAY_LEN(depths); d++) {
    fb_buf b = {0};
    for (size_t i = 0; i < depths[d]; i++) fb_buf_putc(&b, '[');
    fb_buf_putc(&b, '1');
    for (size_t i = 0; i < depths[d]; i++) fb_buf_putc(&b, ']');
    same_load(b.data, b.len);
    fb_buf_free(&b);
  }
}

static void test_parser_takes_the_common_shape_itself(void **state) {
  (void)state;
  static const char *const fast[] = {"{\"records\":[{\"id\":\"IDN-P-1\",\"type\":\"person\",\"name\":\"Wati\",\"tags\":[\"victim\"]}]}",
                                     "{\"s\":\"\\u00e9\\n\"}", "[1,2.5,-3e2,true,false,null,{},[]]"};
  for (size_t i = 0; i < FB_ARRAY_LEN(fast); i++) {
    json_t *v = fb_jsonr_fast(fast[i], strlen(fast[i]));
    assert_non_null(v);
    json_decref(v);
  }
  static const char *const slow[] = {"[\"\\u0000\"]", "{", "[1e400]", "1"};
  for (size_t i = 0; i < FB_ARRAY_LEN(slow); i++) assert_null(fb_jsonr_fast(slow[i], strlen(slow[i])));
}

/* Random byte strings near JSON: whatever json_loadb says, so do we. */
static void test_parser_agrees_on_random_text(void **state) {
  (void)state;
  static const char alphabet[] = "{}[]\",:0123456789-+.eEtrufalsn \\u\n\xc3\xa9\x01\x80";
  uint64_t rng = 77;
  char buf[64];
  for (int i = 0; i < 200000; i++) {
    size_t n = fb_test_rand(&rng) % sizeof buf;
    buf[0] = fb_test_rand(&rng) % 2 ? '{' : '[';
    for (size_t k = 1; k < n; k++) buf[k] = alphabet[fb_test_rand(&rng) % (sizeof alphabet - 1)];
    same_load(buf, n);
  }
}

int main(void) {
  fb_json_use_xalloc();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_ascii_byte_is_escaped_as_jansson_does),
      cmocka_unit_test(test_invalid_utf8_fails_like_jansson),
      cmocka_unit_test(test_escapes_that_grow_the_buffer),
      cmocka_unit_test(test_numbers_are_written_as_jansson_does),
      cmocka_unit_test(test_common_reals_are_written_as_jansson_does),
      cmocka_unit_test(test_containers_keep_jansson_order),
      cmocka_unit_test(test_parser_agrees_with_json_loadb),
      cmocka_unit_test(test_parser_takes_the_common_shape_itself),
      cmocka_unit_test(test_parser_agrees_on_random_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
