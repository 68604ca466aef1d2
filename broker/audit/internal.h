/* Internals of the audit module shared between its files (not a public interface):
 * the handle, the line checker used by both open-time recovery and verify, the
 * checkpoint signer, and the token bucket. */
#ifndef FB_AUDIT_INTERNAL_H
#define FB_AUDIT_INTERNAL_H

#include <stdatomic.h>

#include "audit/audit.h"
#include "core/util.h"

#define FB_AUDIT_HASH_HEX 65            /* 64 hex chars + NUL */
#define FB_AUDIT_MAX_LINE (1u << 20)    /* longest line append accepts */
#define FB_AUDIT_TAIL_CHECK 256         /* lines whose chain open checks */
#define FB_AUDIT_INDEX_STRIDE 1024      /* lines per entry of the sparse read index */

/* ---- chain.c: checking lines one after another ---- */

/* State of a walk along the chain. Zero it, set `pub` (may be NULL) and, to start in
 * the middle of a log, `next_seq` and `lineno` (prev is then taken from the first line
 * checked). */
typedef struct {
  uint64_t lineno;          /* lines checked so far */
  uint64_t next_seq;        /* 0 = expect 1 */
  bool prev_known;
  uint8_t prev[32];         /* SHA-256 of the last line checked */
  uint64_t checkpoints;
  uint64_t covered;         /* lines up to and including the last checkpoint */
  bool last_is_checkpoint;
  EVP_PKEY *pub;            /* borrowed */
  char key_id[17];          /* of `pub`, filled by audit_chain_line on first use */
} audit_chain;

/* Checks one line (without its newline) against the state and advances it. Returns 0,
 * or -1 with *why (malloc'd) = "line L (seq S): reason". */
int audit_chain_line(audit_chain *c, const char *line, size_t len, char **why);

/* ---- sign.c: hashing, key ids, checkpoint signatures ---- */

void audit_sha256(const void *data, size_t len, uint8_t out[32]);
/* First 16 hex chars of SHA-256 of the raw Ed25519 public key. Returns 0 or -1. */
int audit_key_id(EVP_PKEY *key, char out[17]);
/* Base64 Ed25519 signature of `msg`; `out` holds at least 89 bytes. Returns 0 or -1. */
int audit_sign(EVP_PKEY *key, const char *msg, size_t len, char out[89]);
/* Returns true when `sig_b64` is a valid signature of `msg` by `pub`. */
bool audit_sig_ok(EVP_PKEY *pub, const char *msg, size_t len, const char *sig_b64);
/* Loads an Ed25519 private key. Returns NULL with *err set. */
EVP_PKEY *audit_load_private_key(const char *path, char **err);

/* ---- ratelimit.c: token bucket ---- */

typedef struct {
  double tokens, rate_per_ms, burst, last_ms;
} audit_bucket;

void audit_bucket_init(audit_bucket *b, double rate_per_s, double burst, double now_ms);
bool audit_bucket_take(audit_bucket *b, double now_ms);

/* ---- the handle (audit.c, writer.c, recover.c) ---- */

/* One entry on its way to disk. Owned by the queue it is on. The loop thread fills
 * seq, ts, entry (or event and text, or checkpoint), cb, data; the writer thread builds line/len/hash and
 * sets status/written before handing it back. */
typedef struct audit_pending {
  struct audit_pending *next;
  uint64_t seq;
  char ts[FB_RFC3339_LEN];    /* taken at append */
  json_t *entry;              /* the caller's fields; NULL for a checkpoint or a text entry */
  const char *event;          /* a text entry (fb_audit_append_text): its event, */
  char *text;                 /* and its fields as a JSON object (malloc'd) */
  size_t text_len;
  bool checkpoint;
  char hash[FB_AUDIT_HASH_HEX];
  char *line;                 /* with its trailing newline */
  size_t len;
  fb_audit_done_cb cb;
  void *data;
  struct fb_home *home;       /* the appending worker's loop, when not the log's own: the
                                 writer posts the completion straight there */
  int status;                 /* for the callback */
  bool written;               /* the line is durable (even when status != 0: a placeholder) */
} audit_pending;

struct fb_audit {
  uv_loop_t *loop;
  struct fb_home *home;       /* the mailbox of the log's loop thread (NULL: one loop) */
  uv_async_t async;           /* writer -> the log's loop: its own completions, and the exit */
  uv_prepare_t kick;          /* wakes the writer once per loop iteration of the log's loop */
  bool kick_armed;
  int open_handles;           /* freed when the last one's close callback ran */
  uv_thread_t thread;
  int fd;
  char *path;

  /* Set at open, read-only after (the key is used for signing by the writer only). */
  EVP_PKEY *key;              /* NULL: no checkpoints */
  char key_id[17];

  /* The appender: any loop thread appends (workers do without the hub lock), so what
   * assigns seq and decides checkpoints is under `append_mu`, taken before `mu`. */
  uv_mutex_t append_mu;
  uint32_t checkpoint_every;  /* set at open */
  uint32_t since_checkpoint;
  _Atomic uint64_t seq;       /* last assigned; read without the mutex by fb_audit_last_seq */
  bool last_is_checkpoint;
  atomic_bool closing;        /* set under append_mu; read by the log's loop too */
  uint64_t suppressed_pending;
  audit_bucket bucket;        /* auth failures admitted (fb_audit_admit_auth_failure) */

  /* The log's loop thread only. */
  void (*close_cb)(void *);
  void *close_data;
  double (*now_ms)(void *ctx); /* the bucket's clock (fb_audit_set_clock, before use) */
  void *clock_ctx;

  /* Shared with the writer, under `mu`. */
  uv_mutex_t mu;
  uv_cond_t cv;
  audit_pending *todo, **todo_tail;
  audit_pending *done, **done_tail;
  bool stop, exited;
  bool writer_waiting;        /* the writer sleeps on `cv` and nobody signalled it yet */
  fb_audit_stats stats;
  /* Sparse read index over the durable lines: index[k] = byte offset where line
   * k * FB_AUDIT_INDEX_STRIDE + 1 starts (index[0] = 0). 8 bytes per 1,024 lines.
   * The writer extends it right after each fsync (the completions of a worker's entries
   * never pass through the log's loop); readers on the loop copy what they need. */
  uint64_t *index;
  size_t index_len, index_cap;
  uint64_t durable_seq;       /* last line written and fsync'd */
  uint64_t durable_end;       /* file offset just after that line */

  /* Writer thread only (set at open, before it starts). */
  uint64_t good_size;         /* file size after the last good batch */
  uint8_t prev[32];           /* SHA-256 of the last line built */
  fb_buf line_buf;            /* scratch for building a line */

  atomic_bool fsync_enabled;
  atomic_int fail_status;     /* 0, or the -errno of the first failed write/fsync */
};

/* recover.c: scans the open file, builds the sparse index, cuts a torn tail, checks the
 * chain of the last lines and sets seq/prev/durable_seq/durable_end. Returns the bytes
 * cut (>= 0) or -1 with *err. */
int64_t audit_recover(fb_audit *a, char **err);

/* writer.c */
void audit_writer_main(void *arg);
/* Wakes the writer if it sleeps and nobody did yet: under `mu`. Entries queued while it
 * works are taken together at its next round, so a busy writer is never signalled. */
void audit_wake_writer(fb_audit *a);

/* Records that line `seq` is durable and ends at file offset `end` (lines arrive in seq
 * order): extends durable_seq/durable_end and adds an index entry every
 * FB_AUDIT_INDEX_STRIDE lines. The writer, under `mu` (or open, before it starts). */
void audit_index_note(fb_audit *a, uint64_t seq, uint64_t end);

#endif
