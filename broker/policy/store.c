/* The policy store: common.lua plus one compiled policy per configured state, each
 * swapped atomically on reload. A reload builds the new version completely before
 * replacing the store's reference, so a failing file changes nothing and queries in
 * flight keep the version they hold a reference to. The building (reading, checking
 * signatures, running the files) may happen on a worker thread; only the swap runs
 * on the loop (fb_policy_reload_*). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/hublock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "policy/rules.h"

typedef struct {
  char *code;
  fb_policy *p;    /* NULL: no file */
  EVP_PKEY *pub;   /* policy_keys: the file must carry a valid signature */
  json_t *last_error; /* the last failed reload while `p` stays in force; NULL after a good one */
} slot;

/* What reading and compiling one slot's file gave, off the loop (fb_policy_reload_*). */
typedef struct {
  int status;      /* as load_slot: 1 loaded (np), 0 no file, -1 error (err) */
  fb_policy *np;
  char *err;
} slot_load;

struct fb_policy_store {
  char *dir;
  slot_load *pre;  /* while a compiled reload is swapped in: load_slot of pre_slot takes it */
  const void *pre_slot;
  uint8_t *key;
  size_t keylen;
  slot common;
  slot *states;
  size_t nstates;
  const char **codes;  /* the states' codes: what `from` may name */
  bool any_iso;        /* the tools: any ISO 3166-1 code too */
};

static char *file_path(const fb_policy_store *s, const char *code) {
  size_t n = strlen(s->dir) + strlen(code) + 8;
  char *path = fb_xmalloc(n);
  snprintf(path, n, "%s/%s.lua", s->dir, code);
  return path;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Checks DIR/<STATE>.lua.sig: base64 of an Ed25519 signature over the file bytes. */
static int verify_signature(const char *path, EVP_PKEY *pub, const char *src, size_t len, char **err) {
  size_t n = strlen(path) + 5;
  char *sigpath = fb_xmalloc(n);
  snprintf(sigpath, n, "%s.sig", path);
  size_t b64len;
  char *b64 = fb_read_file(sigpath, 4096, &b64len);
  free(sigpath);
  if (!b64) {
    fb_set_error(err, "%s: a signed policy is required, but %s.sig cannot be read", path, path);
    return -1;
  }
  while (b64len && (b64[b64len - 1] == '\n' || b64[b64len - 1] == '\r' || b64[b64len - 1] == ' '))
    b64[--b64len] = '\0';
  bool ok = fb_ed25519_verify_base64(pub, src, len, b64, b64len);
  free(b64);
  if (!ok) {
    fb_set_error(err, "%s: the signature in %s.sig does not match the file and the configured policy key", path, path);
    return -1;
  }
  return 0;
}

/* Loads `code`'s file. 1 loaded, 0 no file, -1 error (*err). Touches only what never
 * changes after the store opened (dir, key, code, pub), so it may run on a worker. */
static int load_slot(fb_policy_store *s, slot *sl, fb_policy **out, char **err) {
  if (s->pre && s->pre_slot == sl) { /* compiled off the loop already */
    slot_load *ld = s->pre;
    s->pre = NULL;
    *out = ld->np;
    *err = ld->err;
    ld->np = NULL;
    ld->err = NULL;
    return ld->status;
  }
  char *path = file_path(s, sl->code);
  *out = NULL;
  if (!file_exists(path)) {
    free(path);
    return 0;
  }
  size_t len;
  char *src = fb_read_file(path, FB_POLICY_FILE_MAX, &len);
  if (!src) {
    fb_set_error(err, "%s: cannot read: %s", path, errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    free(path);
    return -1;
  }
  if (sl->pub && verify_signature(path, sl->pub, src, len, err) != 0) {
    free(src);
    free(path);
    return -1;
  }
  json_t *warnings = json_array();
  *out = fb_policy_compile_ex(sl->code, path, src, len, s->key, s->keylen, s->codes, s->nstates,
                              s->any_iso, warnings, err);
  if (*out) (*out)->is_signed = sl->pub != NULL;
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w) fb_warn("policy_warning", "%s", json_string_value(w));
  json_decref(warnings);
  free(src);
  free(path);
  return *out ? 1 : -1;
}

static fb_series *reload_failures(const slot *sl) {
  char labels[64];
  snprintf(labels, sizeof labels, "state=\"%.20s\"", sl->code);
  return fb_metric(FB_METRIC_COUNTER, "fedbroker_policy_reload_failures_total",
                   "Policy reloads that failed (the previous version stayed in force), per file", labels);
}

static slot *find_slot(fb_policy_store *s, const char *code) {
  if (strcmp(code, "common") == 0) return &s->common;
  for (size_t i = 0; i < s->nstates; i++)
    if (strcmp(s->states[i].code, code) == 0) return &s->states[i];
  return NULL;
}

fb_policy_store *fb_policy_store_open(const char *dir, const char *const *states, size_t nstates,
                                      const uint8_t *key, size_t keylen, char **err) {
  return fb_policy_store_open_signed(dir, states, nstates, key, keylen, NULL, NULL, 0, err);
}

fb_policy_store *fb_policy_store_open_signed(const char *dir, const char *const *states,
                                             size_t nstates, const uint8_t *key, size_t keylen,
                                             const char *const *key_states,
                                             const char *const *key_paths, size_t nkeys,
                                             char **err) {
  return fb_policy_store_open_ex(dir, states, nstates, key, keylen, key_states, key_paths, nkeys,
                                 false, err);
}

fb_policy_store *fb_policy_store_open_ex(const char *dir, const char *const *states, size_t nstates,
                                         const uint8_t *key, size_t keylen,
                                         const char *const *key_states, const char *const *key_paths,
                                         size_t nkeys, bool any_iso, char **err) {
  fb_policy_store *s = fb_xcalloc(1, sizeof *s);
  s->any_iso = any_iso;
  s->dir = fb_xstrdup(dir);
  if (key && keylen) {
    s->key = fb_xmalloc(keylen);
    memcpy(s->key, key, keylen);
    s->keylen = keylen;
  }
  s->common.code = fb_xstrdup("common");
  s->states = fb_xcalloc(nstates ? nstates : 1, sizeof(slot));
  s->nstates = nstates;
  s->codes = fb_xcalloc(nstates + 1, sizeof *s->codes);
  for (size_t i = 0; i < nstates; i++) s->codes[i] = s->states[i].code = fb_xstrdup(states[i]);

  /* Every file's failure counter exists from the start, at 0. */
  reload_failures(&s->common);
  for (size_t i = 0; i < nstates; i++) reload_failures(&s->states[i]);
  fb_buf errs = {0};
  char *e = NULL;
  for (size_t k = 0; k < nkeys; k++) {
    slot *sl = find_slot(s, key_states[k]);
    char *kerr = NULL;
    EVP_PKEY *pub = sl ? fb_ed25519_load_public_key(key_paths[k], &kerr) : NULL;
    if (!sl) fb_buf_printf(&errs, "policy_keys: %s is not a configured state\n", key_states[k]);
    else if (!pub) fb_buf_printf(&errs, "policy_keys: %s\n", kerr);
    else {
      EVP_PKEY_free(sl->pub);
      sl->pub = pub;
      pub = NULL;
    }
    EVP_PKEY_free(pub);
    free(kerr);
  }
  if (errs.len) goto fail; /* bad policy_keys: nothing loads unchecked */
  if (load_slot(s, &s->common, &s->common.p, &e) < 0) {
    fb_buf_printf(&errs, "%s\n", e);
    free(e);
  }
  if (!s->common.p && !errs.len) {
    /* No common.lua: an empty baseline keeps every caller's code path the same. */
    s->common.p = fb_policy_compile("common", "(no common.lua)", "", 0, s->key, s->keylen, NULL, &e);
  }
  for (size_t i = 0; i < nstates; i++) {
    int rc = load_slot(s, &s->states[i], &s->states[i].p, &e);
    if (rc < 0) {
      fb_buf_printf(&errs, "%s\n", e);
      free(e);
    } else if (rc == 0) {
      fb_warn("policy_missing", "no policy file %s/%s.lua: every request to %s is denied", dir,
              s->states[i].code, s->states[i].code);
    }
  }
fail:
  if (errs.len) {
    errs.data[--errs.len] = '\0';
    *err = fb_buf_steal(&errs);
    fb_policy_store_free(s);
    return NULL;
  }
  return s;
}

void fb_policy_store_free(fb_policy_store *s) {
  if (!s) return;
  fb_policy_unref(s->common.p);
  json_decref(s->common.last_error);
  free(s->common.code);
  EVP_PKEY_free(s->common.pub);
  for (size_t i = 0; i < s->nstates; i++) {
    fb_policy_unref(s->states[i].p);
    json_decref(s->states[i].last_error);
    EVP_PKEY_free(s->states[i].pub);
    free(s->states[i].code);
  }
  free(s->states);
  free(s->codes);
  if (s->key) OPENSSL_cleanse(s->key, s->keylen);
  free(s->key);
  free(s->dir);
  free(s);
}

/* Remembers a failed reload for /v1/states: {file, line, message, at} from the first
 * "path:line: message" of `err` (line null when the problem has none, e.g. a bad
 * signature), and counts it in fedbroker_policy_reload_failures_total. */
static void set_last_error(slot *sl, const char *path, const char *err) {
  /* The same failure seen again (the file watch and an admin reload both read the
   * same broken file) is one failure: keep its first `at`, count it once. */
  const char *prev = sl->last_error ? json_string_value(json_object_get(sl->last_error, "problems")) : NULL;
  if (prev && strcmp(prev, err) == 0) return;
  const char *nl = strchr(err, '\n');
  size_t first = nl ? (size_t)(nl - err) : strlen(err);
  size_t pl = strlen(path);
  json_t *line = json_null();
  const char *msg = err;
  if (strncmp(err, path, pl) == 0 && err[pl] == ':') {
    char *end;
    long l = strtol(err + pl + 1, &end, 10);
    if (end > err + pl + 1 && *end == ':') {
      json_decref(line);
      line = json_integer(l);
      msg = end + 1;
    } else {
      msg = err + pl + 1;
    }
    while (*msg == ' ') msg++;
  }
  char at[FB_RFC3339_LEN];
  fb_rfc3339_now(at);
  json_decref(sl->last_error);
  sl->last_error = json_pack("{s:s, s:o, s:s%, s:s, s:s}", "file", path, "line", line, "message", msg,
                             first - (size_t)(msg - err), "at", at, "problems", err);
  fb_series_add(reload_failures(sl), 1);
}

/* Reloads one slot; fills `entry` (may be NULL). 0 ok/unchanged/absent, -1 error. */
static int reload_slot(fb_policy_store *s, slot *sl, json_t *entry, char **err) {
  char *path = file_path(s, sl->code);
  if (entry) {
    json_object_set_new(entry, "file", json_string(path));
    json_object_set_new(entry, "policy", json_string(sl->code));
  }
  if (!file_exists(path)) {
    if (!sl->p || strcmp(sl->p->path, "(no common.lua)") == 0) {
      free(path);
      json_decref(sl->last_error);
      sl->last_error = NULL;
      if (entry) json_object_set_new(entry, "status", json_string("missing"));
      return 0;
    }
    /* A file that disappeared keeps its last version, like any failed load. */
    set_last_error(sl, path, "the file disappeared; the previous version stays in force");
    free(path);
    fb_set_error(err, "the file disappeared; the previous version stays in force");
    if (entry) {
      json_object_set_new(entry, "status", json_string("error"));
      json_object_set_new(entry, "error", json_string("the file disappeared; the previous version stays in force"));
    }
    return -1;
  }
  fb_policy *np = NULL;
  char *e = NULL;
  if (load_slot(s, sl, &np, &e) < 0) {
    set_last_error(sl, path, e);
    free(path);
    fb_error("policy_reload_failed", "%s", e);
    if (entry) {
      json_object_set_new(entry, "status", json_string("error"));
      json_object_set_new(entry, "error", json_string(e));
    }
    if (err) *err = e;
    else free(e);
    return -1;
  }
  free(path);
  json_decref(sl->last_error);
  sl->last_error = NULL;
  bool same = sl->p && strcmp(sl->p->sha256, np->sha256) == 0;
  if (same) {
    fb_policy_unref(np); /* keep loaded_at of the version in force */
  } else {
    fb_policy_unref(sl->p);
    sl->p = np;
    fb_info("policy_reloaded", "%s loaded (sha256 %s)", np->path, np->sha256);
  }
  if (entry) {
    json_object_set_new(entry, "status", json_string(same ? "unchanged" : "ok"));
    json_object_set_new(entry, "sha256", json_string(sl->p->sha256));
  }
  return 0;
}

int fb_policy_store_reload(fb_policy_store *s, json_t **report) {
  json_t *files = json_array();
  int rc = 0;
  for (size_t i = 0; i <= s->nstates; i++) {
    slot *sl = i == 0 ? &s->common : &s->states[i - 1];
    json_t *entry = json_object();
    if (reload_slot(s, sl, entry, NULL) < 0) rc = -1;
    json_array_append_new(files, entry);
  }
  if (report) *report = json_pack("{s:o}", "files", files);
  else json_decref(files);
  return rc;
}

int fb_policy_store_reload_file(fb_policy_store *s, const char *code, char **err) {
  slot *sl = find_slot(s, code);
  if (!sl) {
    fb_set_error(err, "%.64s is not a configured state", code);
    return -1;
  }
  return reload_slot(s, sl, NULL, err);
}

/* ---- reloading off the loop ------------------------------------------------ */

struct fb_policy_reload {
  fb_policy_store *store;
  slot_load *loads;   /* [0] common, [i] states[i - 1] */
  size_t n;
  bool compiled;
};

static slot *nth_slot(fb_policy_store *s, size_t i) { return i == 0 ? &s->common : &s->states[i - 1]; }

fb_policy_reload *fb_policy_reload_begin(fb_policy_store *s) {
  fb_policy_reload *r = fb_xcalloc(1, sizeof *r);
  r->store = s;
  r->n = s->nstates + 1;
  r->loads = fb_xcalloc(r->n, sizeof *r->loads);
  return r;
}

void fb_policy_reload_compile(fb_policy_reload *r) {
  for (size_t i = 0; i < r->n; i++) {
    slot_load *ld = &r->loads[i];
    ld->status = load_slot(r->store, nth_slot(r->store, i), &ld->np, &ld->err);
  }
  r->compiled = true;
}

/* As fb_policy_store_reload, with each slot's load already done. */
int fb_policy_reload_finish(fb_policy_reload *r, json_t **report) {
  fb_policy_store *s = r->store;
  if (!r->compiled) fb_policy_reload_compile(r);
  json_t *files = json_array();
  int rc = 0;
  for (size_t i = 0; i < r->n; i++) {
    json_t *entry = json_object();
    s->pre = &r->loads[i];
    s->pre_slot = nth_slot(s, i);
    if (reload_slot(s, nth_slot(s, i), entry, NULL) < 0) rc = -1;
    s->pre = NULL; /* not taken when the file is gone by now: _discard frees it */
    json_array_append_new(files, entry);
  }
  if (report) *report = json_pack("{s:o}", "files", files);
  else json_decref(files);
  fb_policy_reload_discard(r);
  return rc;
}

void fb_policy_reload_discard(fb_policy_reload *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    fb_policy_unref(r->loads[i].np);
    free(r->loads[i].err);
  }
  free(r->loads);
  free(r);
}

fb_policy *fb_policy_store_get(fb_policy_store *s, const char *state) {
  fb_hublock_assert_held(); /* a reload swaps the slots on the main loop */
  slot *sl = find_slot(s, state);
  return sl ? fb_policy_ref(sl->p) : NULL;
}

fb_policy *fb_policy_store_common(fb_policy_store *s) {
  fb_hublock_assert_held();
  return fb_policy_ref(s->common.p);
}

json_t *fb_policy_store_last_error(fb_policy_store *s, const char *state_or_common) {
  slot *sl = find_slot(s, state_or_common);
  return sl ? sl->last_error : NULL;
}
size_t fb_policy_store_nstates(const fb_policy_store *s) { return s->nstates; }
const char *fb_policy_store_state(const fb_policy_store *s, size_t i) {
  return i < s->nstates ? s->states[i].code : NULL;
}
const char *fb_policy_store_dir(const fb_policy_store *s) { return s->dir; }
bool fb_policy_store_any_iso(const fb_policy_store *s) { return s->any_iso; }
