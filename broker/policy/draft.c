/* Policy sets: the live policies, or copies of their texts with some replaced by
 * drafts, compiled exactly as the store compiles files (fb_policy_compile_ex: same
 * sandbox, memory and instruction limits, same redaction key, same strict checks
 * against the states the hub serves). */
#include "policy/draft.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/util.h"
#include "policy/outbound.h"
#include "policy/rules.h"

typedef struct {
  char *code;      /* "common" or a state code */
  fb_policy *p;    /* NULL: not compiled yet, or no file */
  char *path;      /* the name problems are reported under */
  char *src;       /* detached or drafted text; NULL: use p */
  size_t len;
  bool draft;
} entry;

struct fb_policy_set {
  entry common;
  entry *states;
  size_t n;
  const char **codes; /* the states' codes (borrowed from `states`): what `from` and `to` may name */
  bool any_iso;       /* the tools, without a config: any ISO 3166-1 code too (the store's setting) */
  uint8_t *key;
  size_t keylen;
};

static void entry_init(entry *e, const char *code, fb_policy *p) {
  memset(e, 0, sizeof *e);
  e->code = fb_xstrdup(code);
  e->p = p;
  e->path = fb_xstrdup(p ? p->path : code);
}

static void entry_free(entry *e) {
  fb_policy_unref(e->p);
  free(e->code);
  free(e->path);
  free(e->src);
}

static void set_key(fb_policy_set *set, const uint8_t *key, size_t keylen) {
  if (!key || !keylen) return;
  set->key = fb_xmalloc(keylen);
  memcpy(set->key, key, keylen);
  set->keylen = keylen;
}

fb_policy_set *fb_policy_set_from_store(fb_policy_store *store) {
  fb_policy_set *set = fb_xcalloc(1, sizeof *set);
  fb_policy *common = fb_policy_store_common(store);
  entry_init(&set->common, "common", common);
  /* Every compiled policy carries the store's key: common always exists. */
  set_key(set, common->key, common->keylen);
  set->n = fb_policy_store_nstates(store);
  set->any_iso = fb_policy_store_any_iso(store);
  set->states = fb_xcalloc(set->n ? set->n : 1, sizeof(entry));
  set->codes = fb_xcalloc(set->n + 1, sizeof *set->codes);
  for (size_t i = 0; i < set->n; i++) {
    const char *code = fb_policy_store_state(store, i);
    entry_init(&set->states[i], code, fb_policy_store_get(store, code));
    set->codes[i] = set->states[i].code;
  }
  return set;
}

static void entry_detach(entry *dst, const entry *src) {
  memset(dst, 0, sizeof *dst);
  dst->code = fb_xstrdup(src->code);
  dst->path = fb_xstrdup(src->path);
  dst->draft = src->draft;
  const char *text = src->src ? src->src : src->p ? src->p->src : NULL;
  size_t len = src->src ? src->len : src->p ? src->p->srclen : 0;
  if (!text) return;
  dst->src = fb_xmalloc(len + 1);
  memcpy(dst->src, text, len);
  dst->src[len] = '\0';
  dst->len = len;
}

fb_policy_set *fb_policy_set_detach(const fb_policy_set *set) {
  fb_policy_set *d = fb_xcalloc(1, sizeof *d);
  entry_detach(&d->common, &set->common);
  d->n = set->n;
  d->any_iso = set->any_iso;
  d->states = fb_xcalloc(d->n ? d->n : 1, sizeof(entry));
  d->codes = fb_xcalloc(d->n + 1, sizeof *d->codes);
  for (size_t i = 0; i < d->n; i++) {
    entry_detach(&d->states[i], &set->states[i]);
    d->codes[i] = d->states[i].code;
  }
  set_key(d, set->key, set->keylen);
  return d;
}

void fb_policy_set_free(fb_policy_set *set) {
  if (!set) return;
  entry_free(&set->common);
  for (size_t i = 0; i < set->n; i++) entry_free(&set->states[i]);
  free(set->states);
  free(set->codes);
  if (set->key) OPENSSL_cleanse(set->key, set->keylen);
  free(set->key);
  free(set);
}

static const entry *find(const fb_policy_set *set, const char *code) {
  if (strcmp(code, "common") == 0) return &set->common;
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->states[i].code, code) == 0) return &set->states[i];
  return NULL;
}

/* find() for a caller that may change the entry (it holds the set writable). */
static entry *find_writable(fb_policy_set *set, const char *code) {
  if (strcmp(code, "common") == 0) return &set->common;
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->states[i].code, code) == 0) return &set->states[i];
  return NULL;
}

static void add_problem(json_t *problems, const char *file, int line, const char *msg) {
  json_array_append_new(problems, json_pack("{s:s, s:i, s:s}", "file", file, "line", line, "message", msg));
}

int fb_policy_set_put_draft(fb_policy_set *set, json_t *draft, json_t *problems) {
  int n = 0;
  if (!json_is_object(draft)) {
    add_problem(problems, "", 0, "draft must be an object: {\"MYS.lua\": \"<the file's text>\", ...}");
    return 1;
  }
  if (json_object_size(draft) > FB_DRAFT_FILES_MAX || json_object_size(draft) > set->n + 1) {
    add_problem(problems, "", 0, "draft names more files than there are policies (common.lua and one per state)");
    return 1;
  }
  const char *name;
  json_t *text;
  json_object_foreach(draft, name, text) {
    size_t nl = strlen(name);
    char code[8] = "";
    if (nl > 4 && nl < 12 && strcmp(name + nl - 4, ".lua") == 0) snprintf(code, sizeof code, "%.*s", (int)(nl - 4), name);
    entry *e = code[0] ? find_writable(set, code) : NULL;
    if (!e) {
      char msg[300];
      snprintf(msg, sizeof msg, "'%.100s' is not a policy file of this hub: drafts are named common.lua or "
               "<STATE>.lua for a state the hub serves", name);
      add_problem(problems, name, 0, msg);
      n++;
      continue;
    }
    if (!json_is_string(text)) {
      add_problem(problems, name, 0, "a draft must be the file's text, as a string");
      n++;
      continue;
    }
    if (json_string_length(text) > FB_POLICY_FILE_MAX) {
      add_problem(problems, name, 0, "the draft is larger than 1 MiB, the limit for a policy file");
      n++;
      continue;
    }
    fb_policy_unref(e->p);
    e->p = NULL;
    free(e->src);
    free(e->path);
    e->path = fb_xstrdup(name);
    e->len = json_string_length(text);
    e->src = fb_xmalloc(e->len + 1);
    memcpy(e->src, json_string_value(text), e->len);
    e->src[e->len] = '\0';
    e->draft = true;
  }
  return n;
}

void fb_policy_problems_from_error(const char *err, const char *file, json_t *problems) {
  const char *s = err;
  while (s && *s) {
    const char *eol = strchr(s, '\n');
    size_t len = eol ? (size_t)(eol - s) : strlen(s);
    char *line = fb_xstrndup(s, len);
    /* "path:LINE: message"; the path may itself contain ':' only before the line. */
    int ln = 0;
    const char *msg = line;
    size_t fl = strlen(file);
    if (strncmp(line, file, fl) == 0 && line[fl] == ':') {
      char *end = NULL;
      long v = strtol(line + fl + 1, &end, 10);
      if (end && end != line + fl + 1 && *end == ':') {
        ln = (int)v;
        msg = end + 1;
      } else {
        msg = line + fl + 1;
      }
      while (*msg == ' ') msg++;
    }
    add_problem(problems, file, ln, msg);
    free(line);
    s = eol ? eol + 1 : NULL;
  }
}

static int compile_entry(fb_policy_set *set, entry *e, json_t *problems) {
  if (e->p || !e->src) return 0;
  char *err = NULL;
  json_t *warnings = json_array(); /* kept quiet: a draft's warnings are not the hub's */
  e->p = fb_policy_compile_ex(e->code, e->path, e->src, e->len, set->key, set->keylen, set->codes, set->n,
                              set->any_iso, warnings, &err);
  json_decref(warnings);
  if (e->p) return 0;
  fb_policy_problems_from_error(err, e->path, problems);
  free(err);
  return 1;
}

int fb_policy_set_compile(fb_policy_set *set, json_t *problems) {
  int failed = compile_entry(set, &set->common, problems);
  if (!set->common.p && !set->common.src) {
    /* No common.lua: the same empty baseline as the store. */
    char *err = NULL;
    set->common.p = fb_policy_compile("common", "(no common.lua)", "", 0, set->key, set->keylen, NULL, &err);
    free(err);
  }
  for (size_t i = 0; i < set->n; i++) failed += compile_entry(set, &set->states[i], problems);
  return failed;
}

fb_policy *fb_policy_set_common(const fb_policy_set *set) { return set->common.p; }
fb_policy *fb_policy_set_get(const fb_policy_set *set, const char *code) {
  const entry *e = code ? find(set, code) : NULL;
  return e && strcmp(code, "common") != 0 ? e->p : NULL;
}
size_t fb_policy_set_nstates(const fb_policy_set *set) { return set->n; }
const char *fb_policy_set_state(const fb_policy_set *set, size_t i) {
  return i < set->n ? set->states[i].code : NULL;
}
bool fb_policy_set_is_draft(const fb_policy_set *set, const char *code) {
  const entry *e = find(set, code);
  return e && e->draft;
}

void fb_policy_set_decide(const fb_policy_set *set, const fb_query *q, const char *state,
                          fb_decision *out, json_t *trace) {
  fb_policy_decide_outbound(set->common.p, fb_policy_set_get(set, q->from_state),
                            fb_policy_set_get(set, state), state, q, out, trace);
}

json_t *fb_policy_draft_hashes(json_t *draft) {
  json_t *out = json_object();
  const char *name;
  json_t *text;
  json_object_foreach(draft, name, text) {
    unsigned char md[32];
    char hex[65];
    const char *s = json_string_value(text);
    EVP_Digest(s ? s : "", s ? json_string_length(text) : 0, md, NULL, EVP_sha256(), NULL);
    fb_hex_encode(md, 32, hex);
    json_object_set_new(out, name, json_string(hex));
  }
  return out;
}
