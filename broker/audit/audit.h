/* The tamper-evident audit log (API.md "Audit log format", CONFIG.md `audit`).
 *
 * One JSON object per line: {"seq","ts","event","prev", ...the event's fields}, where
 * `prev` is the lowercase hex SHA-256 of the previous line's bytes without its newline
 * (64 zeros on line 1). Every `checkpoint_every` entries, and at close, a `checkpoint`
 * line {"seq","ts","event":"checkpoint","prev","key_id","sig"} carries the base64
 * Ed25519 signature of the 64 ASCII characters of its own `prev`; `key_id` is the first
 * 16 hex characters of SHA-256 over the 32-byte raw public key. docs/audit.md has the
 * recovery rules and the limits of what verification proves.
 *
 * Threads: every fb_audit_* function on a handle must be called on the loop thread,
 * except fb_audit_append (and the auth-failure limiter), which any loop thread may call.
 * Serialising, chaining (prev), hashing, signing checkpoints, writes and fsyncs run on a
 * writer thread of the handle's own, in seq order, one write and one fsync per batch of
 * what was queued while it worked; each completion goes from the writer straight to the
 * loop that appended: the log's own through a uv_async_t, a worker's through its mailbox
 * (core/home.h).
 *
 * Errors: functions returning int give 0 or -1; open and verify give a malloc'd
 * message in *err (the caller frees it). Once any write or fsync fails the log is
 * "failed" for good: every pending and later append fails (fail closed). */
#ifndef FB_AUDIT_AUDIT_H
#define FB_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <uv.h>

#include "config/config.h"

typedef struct fb_audit fb_audit;

/* Opens (creating it, mode 0640, and missing parent directories, 0750, if needed) the
 * log at cfg->path and takes an exclusive
 * flock on it (a second writer is refused). Checks the chain of the last lines (JSON,
 * seq = line number, prev = hash of the line before); a log whose tail does not chain is
 * refused with an error naming the line: it must never be silently extended. A torn last
 * line (no newline: a crash mid-write) is cut and a `recovery` entry recording
 * `cut_bytes` is appended. `cfg->key` is an Ed25519 private key PEM for checkpoints; when
 * NULL there are no checkpoint lines (warned once). cfg->checkpoint_every 0 means 1000.
 * Returns NULL with *err set on failure. */
fb_audit *fb_audit_open(uv_loop_t *loop, const fb_audit_config *cfg, char **err);

/* `status` is 0 or a negative errno; `hash_hex` is the SHA-256 of the entry's own line
 * (64 hex chars + NUL; "" when no line was built; valid during the call only). */
typedef void (*fb_audit_done_cb)(void *data, int status, uint64_t seq, const char *hash_hex);

/* Appends one entry. `entry` is stolen (always, even on error): a JSON object with a
 * string "event" and the event's fields. The log adds seq, ts and prev and writes
 * {"seq","ts","event","prev", ...the rest in insertion order}. seq and ts are assigned
 * now, so seq order is call order; the writer thread then serialises the entry, chains
 * it (prev) and hashes it. Any loop thread may append at the same time as others (the
 * workers do, without the hub lock): seq and ts are taken under the log's own lock.
 *
 * Ownership: the entry is handed to another thread. After the call the caller must not
 * touch the top-level object, nor modify any object reachable from it. Sub-objects may
 * be shared by reference (json_pack "O") when nobody modifies them any more: jansson
 * 2.14's reference counts are atomic and its dump does not write to the values.
 *
 * `cb` (may be NULL) runs on the appending loop's thread once the line is written and fsync'd
 * (entries that arrive together share one fsync), or with a negative status if the
 * write failed. Returns -1 at once, with no callback, when the log is failed or
 * closing, or the entry is invalid (not an object, no string event, carries
 * seq/ts/prev, event "checkpoint"/"recovery" which the log reserves). A line over
 * 1 MiB is only seen on the writer: the append returns 0, `cb` gets -EMSGSIZE (-EINVAL
 * for an entry jansson cannot serialise), and a `recovery` line
 * {"reason", "dropped_event", "bytes"} takes its seq so that the chain has no gap; the
 * log stays healthy. An "auth_failure" entry gets `"suppressed": N` when N earlier ones
 * were refused by fb_audit_admit_auth_failure since the last one logged. */
int fb_audit_append(fb_audit *a, json_t *entry, fb_audit_done_cb cb, void *data);

/* fb_audit_append for an entry already written as text, for the hot events (a search's
 * entry, search/audit_entry.h): `fields` is the compact JSON object of the entry's
 * fields other than "event" (`len` bytes, malloc'd, stolen always), as core/jsonw.h
 * writes them (precision 0), so that the line is byte for byte what the object would
 * give; it must not hold seq, ts, prev or event (not checked: the caller's text is
 * trusted, only its braces are). `event` must outlive the entry (a string literal).
 * Same callback, ordering, limits and refusals as fb_audit_append; no "suppressed"
 * count is added (not for "auth_failure"). */
int fb_audit_append_text(fb_audit *a, const char *event, char *fields, size_t len, fb_audit_done_cb cb, void *data);

/* False once any write or fsync failed (then /readyz should answer 503). */
bool fb_audit_healthy(const fb_audit *a);

/* The seq of the last line appended (durable or not); 0 for an empty log. */
uint64_t fb_audit_last_seq(const fb_audit *a);

/* Durable entries with seq > `after`, oldest first, at most `limit`, as a new JSON array
 * in *entries (the caller owns it); *next = seq of the last returned (or `after` when
 * none). A sparse in-memory index (one offset per 1,024 lines, built at open by one read
 * of the file) lets it seek to the indexed line at or before `after` and scan forward
 * from there: it reads at most 1,023 lines more than it returns. Synchronous preads on
 * the calling thread: meant for the auditor API, not for hot paths. Returns -1 with errno set on a read or parse error. */
int fb_audit_read(fb_audit *a, uint64_t after, size_t limit, json_t **entries, uint64_t *next);

/* For scans off the loop (fb_audit_scan): the byte offset and seq of the indexed line
 * at or before seq after+1, and the end of the durable lines, at the time of the call.
 * Loop thread. */
void fb_audit_scan_bounds(fb_audit *a, uint64_t after, uint64_t *start_off, uint64_t *start_seq, uint64_t *end_off);

/* Filters of GET /v1/audit (FOLLOWUP.md), all optional (NULL / false / 0). */
typedef struct fb_audit_filter {
  const char *event, *state, *sub, *query_id, *request_id, *record;
  bool review;
  int64_t since_ms, until_ms; /* 0: unbounded */
} fb_audit_filter;

/* Parses an RFC 3339 timestamp ("2026-11-30T12:00:00Z", fractions and offsets allowed)
 * into epoch milliseconds. Returns 0 or -1. */
int fb_audit_parse_time(const char *s, int64_t *ms);

/* True when the parsed entry `e` passes every filter. */
bool fb_audit_filter_match(const fb_audit_filter *f, json_t *e);

/* Streams the log file at `path` from `start_off` (line `start_seq`) to `end_off` with a
 * fixed-size buffer, and calls `emit` for each entry with seq > after that passes `f`,
 * until `emit` returns false. Lines are pre-screened as text (a record id, query id or
 * request id that is not in the line skips its parse). Any thread; opens its own
 * descriptor. *last_seq = the seq of the last line looked at. Returns 0 or -1 (errno). */
int fb_audit_scan(const char *path, uint64_t start_off, uint64_t start_seq, uint64_t end_off, uint64_t after,
                  const fb_audit_filter *f, bool (*emit)(void *data, json_t *entry, uint64_t seq), void *data,
                  uint64_t *last_seq);

/* Token bucket for auth-failure events (20/s, burst 100) so a flood cannot fill the
 * disk. Returns true when the caller may append its auth_failure entry; a refusal is
 * counted and reported in the next auth_failure entry (or at close). */
bool fb_audit_admit_auth_failure(fb_audit *a);

/* The clock the auth-failure bucket reads, in ms (fb_now_ms by default): the clock is
 * passed in, as in the bucket itself, so a test can drive it. Call it right after open;
 * it refills the bucket to its burst at now_ms(ctx). */
void fb_audit_set_clock(fb_audit *a, double (*now_ms)(void *ctx), void *ctx);

/* Appends the pending suppressed-count and a final checkpoint, lets the writer drain,
 * joins it and closes the handles. Pending callbacks still run; `cb` (may be NULL) runs
 * after everything is released, when the handle is freed. Call once. */
void fb_audit_close(fb_audit *a, void (*cb)(void *data), void *data);

/* Verifies a log file: JSON of each line, the first four keys, seq continuity, the
 * chain, checkpoints (key_id and signature when `pub` is given; `pub` may be NULL: chain
 * only), a newline at the end. Returns 0, or -1 with *err = "line L (seq S): why" for the
 * first bad line (for a modified line that is the line itself or the next one). */
int fb_audit_verify_file(const char *path, EVP_PKEY *pub, char **err);

typedef struct {
  uint64_t lines;        /* lines that verified (checkpoints included) */
  uint64_t checkpoints;
  uint64_t bad_line;     /* 1-based line number of the first fault, 0 when none */
  uint64_t bad_seq;      /* that line's seq (the expected one if it had none) */
  uint64_t unsigned_entries; /* lines after the last checkpoint (all when there is none):
                                no signature covers them yet */
} fb_audit_verify_result;

/* fb_audit_verify_file with counts; `res` may be NULL. */
int fb_audit_verify_file_ex(const char *path, EVP_PKEY *pub, fb_audit_verify_result *res,
                            char **err);

/* Loads an Ed25519 key from a PEM file: a public key, or a private key whose public
 * half is taken. Returns NULL with *err set. The caller frees with EVP_PKEY_free. */
EVP_PKEY *fb_audit_load_public_key(const char *path, char **err);

/* Counters for tests, benchmarks and /metrics. */
typedef struct {
  uint64_t appended;      /* lines accepted by fb_audit_append (checkpoints included) */
  uint64_t written;       /* lines written and fsync'd */
  uint64_t failed;        /* lines whose write failed */
  uint64_t fsyncs;        /* fdatasync calls */
  uint64_t batches;       /* write groups */
  uint64_t checkpoints;   /* checkpoint lines appended */
  uint64_t suppressed;    /* auth failures refused by the rate limiter */
} fb_audit_stats;

void fb_audit_get_stats(fb_audit *a, fb_audit_stats *out);

/* Benchmarks only: turn fdatasync off (durability is lost). */
void fb_audit_set_fsync(fb_audit *a, bool enabled);

#endif
