#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

static fb_log_level current_level = FB_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};
static _Thread_local bool thread_muted;

bool fb_log_mute_thread(bool mute) {
  bool was = thread_muted;
  thread_muted = mute;
  return was;
}

void fb_log_set_level(fb_log_level level) { current_level = level; }
fb_log_level fb_log_get_level(void) { return current_level; }

int fb_log_parse_level(const char *name, fb_log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (fb_log_level)i;
      return 0;
    }
  }
  if (strcmp(name, "warning") == 0) {
    *out = FB_LOG_WARN;
    return 0;
  }
  return -1;
}

void fb_log(fb_log_level level, const char *event, const char *fmt, ...) {
  if (level < current_level || thread_muted) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);

  char ts[FB_RFC3339_LEN];
  fb_rfc3339_now(ts);
  fb_buf line = {0};
  fb_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
  fb_buf_json_string(&line, event);
  fb_buf_puts(&line, ",\"msg\":");
  fb_buf_json_string(&line, msg);
  fb_buf_puts(&line, "}\n");
  /* One fwrite per line so that lines from different threads do not interleave. */
  if (line.data) fwrite(line.data, 1, line.len, stderr);
  fb_buf_free(&line);
}
