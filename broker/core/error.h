/* The project's one error shape (docs/architecture.md, "Conventions"): a function that
 * can fail returns -1 (or NULL, or false) and, when its caller passed `char **err`,
 * stores a malloc'd message there that the caller frees. Messages are one line,
 * without a trailing period, and name the thing that failed ("keys/a.pem: not a PEM
 * public key"); callers add their own context in front when they pass it on. */
#ifndef FB_CORE_ERROR_H
#define FB_CORE_ERROR_H

#include <stdarg.h>

/* Formats the message into a new string at *err (when err is not NULL) and returns -1,
 * so that `return fb_set_error(err, "...", ...);` ends a failing int function.
 * *err is overwritten: it must not hold a message yet. Out of memory aborts. */
int fb_set_error(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fb_set_errorv(char **err, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Puts `prefix` in front of the message at *err ("policy_keys: " + "a.pem: ..."); does
 * nothing when err or *err is NULL. Returns -1 like fb_set_error. */
int fb_prefix_error(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
