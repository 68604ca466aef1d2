/* Structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-27T22:49:00.123Z","level":"info","event":"listen","msg":"..."}
 *
 * `event` is a short machine-readable name; `msg` a human sentence. */
#ifndef FB_CORE_LOG_H
#define FB_CORE_LOG_H

#include <stdbool.h>

typedef enum { FB_LOG_DEBUG = 0, FB_LOG_INFO, FB_LOG_WARN, FB_LOG_ERROR } fb_log_level;

void fb_log_set_level(fb_log_level level);
fb_log_level fb_log_get_level(void);
/* Parses "debug", "info", "warn", "error". Returns 0 or -1 on an unknown name. */
int fb_log_parse_level(const char *name, fb_log_level *out);

/* Silences every message logged by the calling thread while `mute` is set (a replay
 * of a million requests must not log a million policy errors); returns the previous
 * setting, to restore it. */
bool fb_log_mute_thread(bool mute);

void fb_log(fb_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define fb_debug(event, ...) fb_log(FB_LOG_DEBUG, event, __VA_ARGS__)
#define fb_info(event, ...)  fb_log(FB_LOG_INFO, event, __VA_ARGS__)
#define fb_warn(event, ...)  fb_log(FB_LOG_WARN, event, __VA_ARGS__)
#define fb_error(event, ...) fb_log(FB_LOG_ERROR, event, __VA_ARGS__)

#endif
