#include "records/sqlite_db.h"

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/error.h"
#include "core/jsonr.h"
#include "core/util.h"
#include "match/normalize.h"
#include "records/name_trigrams.h"
#include "records/record.h"

/* KEY_SKEL_*: the consonant skeleton of a name word (match/names.h), then '\x01',
 * then the whole name key: found by a range scan on the skeleton, re-ranked on the
 * key without touching the record. Words transliterated from another script and
 * Latin words are kept apart, so that a Latin query looks only at the few
 * transliterated ones. */
enum { KEY_DOCUMENT = 1, KEY_PHONE = 2, KEY_VESSEL = 3, KEY_IMO = 4, KEY_SKEL_NATIVE = 5, KEY_SKEL_LATIN = 6 };
#define SKELETON_CANDIDATES 2000 /* per word and kind */

/* Trigram matches re-ranked in C by name similarity. No ORDER BY rank: bm25 over every
 * match cost 3x the query and the C similarity is the ranking that counts; the cap
 * bounds the work on a large database (beyond it, candidates are taken in rowid order). */
#define NAME_CANDIDATES 4000
#define NAME_THRESHOLD 0.8
#define DEFAULT_LIMIT 100
/* A connection keeps the name index's keys in memory when there are at most this many
 * (~30 bytes each, so at most ~0.5 MiB per connection): reading a candidate's keys from
 * the content table was the largest part of a name search (docs/benchmarks.md). Larger
 * databases read them per candidate. */
#define NAME_CACHE_ROWS 16384

static const char schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES('schema','fedbroker-records'),('version','1');"
    "CREATE TABLE records(rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " type TEXT NOT NULL, dob_year INTEGER NOT NULL DEFAULT 0, json TEXT NOT NULL);"
    "CREATE VIRTUAL TABLE name_fts USING fts5(keys, rid UNINDEXED, tokenize='trigram');"
    "CREATE TABLE keys(kind INTEGER NOT NULL, key TEXT NOT NULL, rid INTEGER NOT NULL,"
    " PRIMARY KEY(kind, key, rid)) WITHOUT ROWID;";

/* name_fts's rows, by rowid (dense: rowid = base + index), as read at data_version
 * `version`. loaded: -1 not usable (too many rows, not dense, or a read failed), 0
 * not read yet, 1 read. */
typedef struct {
  int loaded;
  sqlite3_int64 version, base;
  size_t n;
  sqlite3_int64 *rid;
  uint32_t *off, *len; /* the keys in text */
  char *text;
  /* Equal key texts share a number (many people hold a common name): a search scores
   * each distinct key once, remembered in sim[] while stamp[] holds its search's `gen`. */
  uint32_t *kid, nkeys, gen;
  uint32_t *stamp;
  double *sim;
  /* Each distinct key's tokens as fb_name_key_parse finds them (first: its row), so a
   * search copies them instead of parsing again; parsed marks a key whose parse gives
   * back its text byte for byte (what the writer stores), the others are parsed per
   * search. */
  struct key_tokens {
    bool parsed;
    uint8_t n, native, off[FB_NAME_MAX_TOKENS], len[FB_NAME_MAX_TOKENS];
    uint32_t word[FB_NAME_MAX_TOKENS]; /* each token's number among the distinct words */
  } *tokens;
  /* The distinct words of the parsed keys (their text at word_at / word_len), and per
   * search each one's Jaro-Winkler against each query token, made once (word_stamp =
   * gen) for the bound in key_may_match. */
  uint32_t *word_at, nwords, *word_stamp;
  uint8_t *word_len;
  float *word_jw; /* nwords x FB_NAME_MAX_TOKENS */
  fb_name_trigrams *trigrams; /* the candidates of a query without FTS5 */
} name_cache;

static void name_cache_free(name_cache *c) {
  free(c->rid);
  free(c->off);
  free(c->len);
  free(c->text);
  free(c->kid);
  free(c->stamp);
  free(c->sim);
  free(c->tokens);
  free(c->word_at);
  free(c->word_len);
  free(c->word_stamp);
  free(c->word_jw);
  fb_name_trigrams_free(c->trigrams);
  *c = (name_cache){0};
}

static uint64_t fnv1a(const char *s, size_t n);

/* Numbers the distinct words of the parsed keys (an open-addressing table of word
 * numbers + 1, thrown away afterwards). */
static void name_cache_words(name_cache *c) {
  size_t most = 0;
  for (uint32_t k = 0; k < c->nkeys; k++) most += c->tokens[k].parsed ? c->tokens[k].n : 0;
  size_t cap = 16;
  while (cap < most * 2) cap *= 2;
  uint32_t *table = fb_xcalloc(cap, sizeof *table);
  c->word_at = fb_xcalloc(most ? most : 1, sizeof *c->word_at);
  c->word_len = fb_xcalloc(most ? most : 1, sizeof *c->word_len);
  for (uint32_t i = 0, next = 0; i < c->n; i++) { /* each key at its first row, as above */
    if (c->kid[i] != next) continue;
    struct key_tokens *t = &c->tokens[next++];
    for (int j = 0; t->parsed && j < t->n; j++) {
      uint32_t at = c->off[i] + t->off[j];
      const char *w = c->text + at;
      size_t slot = (size_t)fnv1a(w, t->len[j]) & (cap - 1);
      for (;; slot = (slot + 1) & (cap - 1)) {
        uint32_t v = table[slot];
        if (v == 0) {
          c->word_at[c->nwords] = at;
          c->word_len[c->nwords] = t->len[j];
          table[slot] = ++c->nwords;
          t->word[j] = c->nwords - 1;
          break;
        }
        if (c->word_len[v - 1] == t->len[j] && memcmp(c->text + c->word_at[v - 1], w, t->len[j]) == 0) {
          t->word[j] = v - 1;
          break;
        }
      }
    }
  }
  free(table);
  c->word_stamp = fb_xcalloc(c->nwords ? c->nwords : 1, sizeof *c->word_stamp);
  c->word_jw = fb_xcalloc((c->nwords ? c->nwords : 1) * FB_NAME_MAX_TOKENS, sizeof *c->word_jw);
}

/* Numbers the distinct key texts of a loaded cache (an open-addressing table of the
 * first row holding each text, thrown away afterwards). */
static void name_cache_number(name_cache *c) {
  size_t cap = 16;
  while (cap < c->n * 2) cap *= 2;
  uint32_t *first = fb_xmalloc(cap * sizeof *first); /* row + 1, 0 = empty */
  memset(first, 0, cap * sizeof *first);
  c->kid = fb_xcalloc(c->n, sizeof *c->kid);
  for (size_t i = 0; i < c->n; i++) {
    const char *t = c->text + c->off[i];
    size_t slot = (size_t)fnv1a(t, c->len[i]) & (cap - 1);
    for (;; slot = (slot + 1) & (cap - 1)) {
      if (first[slot] == 0) {
        first[slot] = (uint32_t)i + 1;
        c->kid[i] = c->nkeys++;
        break;
      }
      size_t j = first[slot] - 1;
      if (c->len[j] == c->len[i] && memcmp(c->text + c->off[j], t, c->len[i]) == 0) {
        c->kid[i] = c->kid[j];
        break;
      }
    }
  }
  free(first);
  c->stamp = fb_xcalloc(c->nkeys, sizeof *c->stamp);
  c->sim = fb_xcalloc(c->nkeys, sizeof *c->sim);
  c->tokens = fb_xcalloc(c->nkeys, sizeof *c->tokens);
  /* numbers were given in row order: key k's first row is where k appears first */
  for (uint32_t i = 0, next = 0; i < c->n; i++) {
    if (c->kid[i] != next) continue;
    struct key_tokens *t = &c->tokens[next++];
    fb_name_key k;
    fb_name_key_parse(c->text + c->off[i], &k);
    t->parsed = strlen(k.buf) == c->len[i] && memcmp(k.buf, c->text + c->off[i], c->len[i]) == 0;
    t->n = k.n;
    t->native = k.native;
    memcpy(t->off, k.off, sizeof t->off);
    memcpy(t->len, k.len, sizeof t->len);
  }
  name_cache_words(c);
}

struct fb_sqlite_db {
  sqlite3 *db;
  char *path;
  bool writable;
  sqlite3_stmt *st_key;    /* rid by exact key */
  sqlite3_stmt *st_skel;   /* rid, key by skeleton range */
  sqlite3_stmt *st_fts;    /* name candidates */
  sqlite3_stmt *st_rec;    /* json, dob_year by rid */
  sqlite3_stmt *st_keyrec; /* json of the records under one exact key, by rid */
  sqlite3_stmt *st_begin;  /* a search's one read transaction (see read_begin) */
  sqlite3_stmt *st_commit;
  sqlite3_stmt *st_version;  /* PRAGMA data_version: another connection wrote */
  sqlite3_stmt *st_fts_rows; /* name candidates' rowids only (with the cache) */
  sqlite3_stmt *st_fts_count;
  sqlite3_stmt *st_fts_all;
  name_cache names;
  fb_sqlite_names_mode names_mode;
  sqlite3_stmt *st_ins;    /* writer: records */
  sqlite3_stmt *st_insfts; /* writer: name_fts */
  sqlite3_stmt *st_inskey; /* writer: keys */
};

/* fb_set_error with the database's path and SQLite's text for its last failure. */
static void set_db_error(char **err, fb_sqlite_db *db, const char *what) {
  fb_set_error(err, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
}

void fb_sqlite_db_close(fb_sqlite_db *db) {
  if (!db) return;
  sqlite3_finalize(db->st_key);
  sqlite3_finalize(db->st_skel);
  sqlite3_finalize(db->st_fts);
  sqlite3_finalize(db->st_rec);
  sqlite3_finalize(db->st_keyrec);
  sqlite3_finalize(db->st_begin);
  sqlite3_finalize(db->st_commit);
  sqlite3_finalize(db->st_version);
  sqlite3_finalize(db->st_fts_rows);
  sqlite3_finalize(db->st_fts_count);
  sqlite3_finalize(db->st_fts_all);
  name_cache_free(&db->names);
  sqlite3_finalize(db->st_ins);
  sqlite3_finalize(db->st_insfts);
  sqlite3_finalize(db->st_inskey);
  sqlite3_close_v2(db->db);
  free(db->path);
  free(db);
}

static int prepare(fb_sqlite_db *db, const char *sql, sqlite3_stmt **st) {
  return sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK ? 0 : -1;
}

static int prepare_read(fb_sqlite_db *db) {
  if (prepare(db, "SELECT rid FROM keys WHERE kind = ?1 AND key = ?2", &db->st_key) ||
      prepare(db, "SELECT rid, key FROM keys WHERE kind = ?1 AND key >= ?2 AND key < ?3 LIMIT ?4", &db->st_skel) ||
      prepare(db,
              "SELECT c.c1, c.c0 FROM name_fts f CROSS JOIN name_fts_content c ON c.id = f.rowid"
              " WHERE name_fts MATCH ?1 ORDER BY f.rowid LIMIT ?2",
              &db->st_fts) ||
      prepare(db, "SELECT json, dob_year FROM records WHERE rid = ?1", &db->st_rec) ||
      prepare(db, "SELECT r.json FROM keys k JOIN records r ON r.rid = k.rid WHERE k.kind = ?1 AND k.key = ?2"
                  " ORDER BY k.rid", &db->st_keyrec) ||
      prepare(db, "BEGIN", &db->st_begin) || prepare(db, "COMMIT", &db->st_commit) ||
      prepare(db, "PRAGMA data_version", &db->st_version) ||
      prepare(db, "SELECT rowid FROM name_fts WHERE name_fts MATCH ?1 ORDER BY rowid LIMIT ?2", &db->st_fts_rows) ||
      prepare(db, "SELECT count(*), min(id), max(id), sum(length(CAST(c0 AS BLOB))) FROM name_fts_content", &db->st_fts_count) ||
      prepare(db, "SELECT id, c1, c0 FROM name_fts_content ORDER BY id", &db->st_fts_all))
    return -1;
  return 0;
}

/* SQLite's memory statistics take a global mutex on every allocation, which the
 * worker threads then fight over; nobody reads the statistics. Must run before
 * SQLite initialises, so it is done once before the first connection opens. */
static void disable_memstatus(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int fb_sqlite_db_open(const char *path, fb_sqlite_db **out, char **err) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, disable_memstatus);
  *out = NULL;
  fb_sqlite_db *db = fb_xcalloc(1, sizeof *db);
  db->path = fb_xstrdup(path);
  if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    fb_set_error(err, "cannot open %s: %s", path, db->db ? sqlite3_errmsg(db->db) : "out of memory");
    fb_sqlite_db_close(db);
    return -1;
  }
  sqlite3_stmt *st = NULL;
  bool ok = sqlite3_prepare_v2(db->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW &&
            strcmp((const char *)sqlite3_column_text(st, 0), "fedbroker-records") == 0;
  sqlite3_finalize(st);
  if (!ok || prepare_read(db) != 0) {
    fb_set_error(err, "%s is not a fedbroker records database", path);
    fb_sqlite_db_close(db);
    return -1;
  }
  *out = db;
  return 0;
}

void fb_sqlite_db_set_names_mode(fb_sqlite_db *db, fb_sqlite_names_mode mode) { db->names_mode = mode; }

/* ---- search ---- */

typedef struct {
  sqlite3_int64 rid;
  double score;
  bool name_only; /* found by name alone: subject dob may still reject it */
} hit;

typedef struct {
  hit *v;
  size_t n, cap;
} hits;

static void hits_add(hits *h, sqlite3_int64 rid, double score, bool name_only) {
  for (size_t i = 0; i < h->n; i++) {
    if (h->v[i].rid == rid) {
      if (score > h->v[i].score) h->v[i].score = score;
      h->v[i].name_only = h->v[i].name_only && name_only;
      return;
    }
  }
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 32;
    h->v = fb_xrealloc(h->v, h->cap * sizeof *h->v);
  }
  h->v[h->n++] = (hit){rid, score, name_only};
}

static int hit_cmp(const void *a, const void *b) {
  const hit *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->rid < y->rid ? -1 : x->rid > y->rid;
}

static int lookup_key(fb_sqlite_db *db, int kind, const char *key, double score, hits *h) {
  sqlite3_stmt *st = db->st_key;
  sqlite3_bind_int(st, 1, kind);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) hits_add(h, sqlite3_column_int64(st, 0), score, false);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* FTS5 query: every distinct trigram of every key token, OR-ed. Tokens are
 * [a-z0-9] or bytes of another script without quotes, so quoting each is safe. */
bool fb_sqlite_fts_query(const fb_name_key *k, fb_buf *q) {
  bool any = false;
  for (int t = 0; t < k->n; t++) {
    const char *s = k->buf + k->off[t];
    size_t n = k->len[t];
    if (n < 3) continue;
    bool ascii = true;
    for (size_t i = 0; i < n; i++) ascii = ascii && (unsigned char)s[i] < 0x80;
    if (!ascii) { /* another script: the token as one phrase */
      fb_buf_printf(q, "%s\"%.*s\"", any ? " OR " : "", (int)n, s);
      any = true;
      continue;
    }
    for (size_t i = 0; i + 3 <= n; i++) {
      char quoted[6] = {'"', s[i], s[i + 1], s[i + 2], '"', 0};
      if (q->data && strstr(q->data, quoted)) continue;
      fb_buf_printf(q, "%s%s", any ? " OR " : "", quoted);
      any = true;
    }
  }
  return any;
}

/* Candidates sharing a word's consonant skeleton (another script writes other vowels,
 * Arabic script hardly any, so trigrams miss them), re-ranked like the others. */
static int search_skeletons(fb_sqlite_db *db, const fb_name_key *qk, int kind, hits *h) {
  sqlite3_stmt *st = db->st_skel;
  for (int t = 0; t < qk->n; t++) {
    char lo[72], hi[72];
    size_t n = fb_name_skeleton(qk->buf + qk->off[t], qk->len[t], lo, 64);
    if (n < 2 || (unsigned char)lo[0] >= 0x80) continue;
    memcpy(hi, lo, n);
    lo[n] = '\x01', hi[n] = '\x02';
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_text(st, 2, lo, (int)n + 1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hi, (int)n + 1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, SKELETON_CANDIDATES);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const char *key = strchr((const char *)sqlite3_column_text(st, 1), '\x01');
      if (!key) continue;
      fb_name_key rk;
      fb_name_key_parse(key + 1, &rk);
      double sim = fb_name_similarity_min(qk, &rk, NAME_THRESHOLD);
      if (sim >= NAME_THRESHOLD) hits_add(h, sqlite3_column_int64(st, 0), sim * 0.9, true);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return -1;
  }
  return 0;
}

/* Candidates repeat the same few keys (a common name is held many times), so their
 * similarity is remembered per search: a direct-mapped cache of key text -> score.
 * Only for queries of two words or more: one word costs less to compare than to look
 * up. */
#define MEMO_SLOTS 256
typedef struct {
  uint64_t hash;
  size_t off, len; /* the key's text in the arena */
  double sim;
  bool used;
} memo_slot;

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h;
}

static double memo_similarity(memo_slot *memo, fb_buf *arena, const fb_name_key *qk, const char *key, size_t len) {
  if (!memo) {
    fb_name_key rk;
    fb_name_key_parse(key, &rk);
    return fb_name_similarity_min(qk, &rk, NAME_THRESHOLD);
  }
  uint64_t hash = fnv1a(key, len);
  memo_slot *m = &memo[hash & (MEMO_SLOTS - 1)];
  if (m->used && m->hash == hash && m->len == len && memcmp(arena->data + m->off, key, len) == 0) return m->sim;
  fb_name_key rk;
  fb_name_key_parse(key, &rk);
  double sim = fb_name_similarity_min(qk, &rk, NAME_THRESHOLD);
  *m = (memo_slot){hash, arena->len, len, sim, true};
  fb_buf_append(arena, key, len);
  return sim;
}

/* Reads name_fts's rows into the cache, if they are few and dense enough; else marks
 * it unusable until the file changes. */
static void name_cache_load(fb_sqlite_db *db, sqlite3_int64 version) {
  name_cache *c = &db->names;
  name_cache_free(c);
  c->loaded = -1;
  c->version = version;
  sqlite3_stmt *st = db->st_fts_count;
  bool ok = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_int64 n = ok ? sqlite3_column_int64(st, 0) : 0, lo = ok ? sqlite3_column_int64(st, 1) : 0,
                hi = ok ? sqlite3_column_int64(st, 2) : 0, bytes = ok ? sqlite3_column_int64(st, 3) : 0;
  sqlite3_reset(st);
  if (!ok || n <= 0 || n > NAME_CACHE_ROWS || hi - lo + 1 != n || bytes < 0 || bytes > (sqlite3_int64)UINT32_MAX / 2)
    return;
  size_t count = (size_t)n, room = (size_t)bytes + count;
  c->rid = fb_xcalloc(count, sizeof *c->rid);
  c->off = fb_xcalloc(count, sizeof *c->off);
  c->len = fb_xcalloc(count, sizeof *c->len);
  c->text = fb_xmalloc(room);
  st = db->st_fts_all;
  size_t i = 0, used = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(st, 2);
    size_t len = key ? (size_t)sqlite3_column_bytes(st, 2) : 0;
    if (i == count || sqlite3_column_int64(st, 0) != lo + (sqlite3_int64)i || used + len + 1 > room) break;
    c->rid[i] = sqlite3_column_int64(st, 1);
    c->off[i] = (uint32_t)used;
    c->len[i] = (uint32_t)len;
    if (len) memcpy(c->text + used, key, len);
    c->text[used + len] = '\0';
    used += len + 1;
    i++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE || i != count) {
    name_cache_free(c);
    c->loaded = -1;
    c->version = version;
    return;
  }
  c->n = count;
  c->base = lo;
  name_cache_number(c);
  c->trigrams = fb_name_trigrams_build(c->text, c->off, c->len, c->n);
  c->loaded = 1;
}

/* The cache as of this search (inside its read transaction), read again when another
 * connection has written since; NULL: read the keys per candidate instead. */
static name_cache *names_now(fb_sqlite_db *db) {
  sqlite3_stmt *st = db->st_version;
  bool ok = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_int64 version = ok ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (!ok) return NULL;
  if (db->names.loaded == 0 || db->names.version != version) name_cache_load(db, version);
  return db->names.loaded == 1 ? &db->names : NULL;
}

static void consider(const fb_name_key *qk, memo_slot *memo, fb_buf *arena, sqlite3_int64 rid, const char *key,
                     size_t len, hits *h) {
  double sim = memo_similarity(memo, arena, qk, key ? key : "", key ? len : 0);
  if (sim >= NAME_THRESHOLD) hits_add(h, rid, sim * 0.9, true);
}

/* Whether parsed key t may reach the threshold, from an upper bound of its similarity
 * to the query taken from word scores made once per search: fb_name_similarity (match/
 * names.h) aligns token pairs scoring at least 0.8 (Jaro-Winkler, or 0.9 for equal
 * skeletons when either token came from another script), at most as many as the
 * smaller side has tokens, and scores 2 * sum / (n_a + n_b); the sum is at most the
 * sum over query tokens of each one's best pair. Most candidates share a trigram with
 * the query and little else: they are refused here with one Jaro-Winkler per distinct
 * word and query token instead of per key. Floats carry the word scores, each raised
 * by 1e-6 (more than a float's rounding) so that the bound is never under the truth.
 * tests/unit/records/test_sqlite_names.c compares with the path without it. */
static bool key_may_match(name_cache *c, const fb_name_key *qk, const struct key_tokens *t) {
  double sum = 0.0;
  for (int i = 0; i < qk->n; i++) {
    double best = 0.0;
    bool q_native = (qk->native >> i) & 1;
    for (int j = 0; j < t->n; j++) {
      uint32_t w = t->word[j];
      if (c->word_stamp[w] != c->gen) {
        for (int x = 0; x < qk->n; x++)
          c->word_jw[(size_t)w * FB_NAME_MAX_TOKENS + (size_t)x] =
              (float)fb_jaro_winkler(qk->buf + qk->off[x], qk->len[x], c->text + c->word_at[w], c->word_len[w]);
        c->word_stamp[w] = c->gen;
      }
      double s = (double)c->word_jw[(size_t)w * FB_NAME_MAX_TOKENS + (size_t)i] + 1e-6;
      if ((q_native || ((t->native >> j) & 1)) && s < 0.9 + 1e-6) s = 0.9 + 1e-6;
      if (s >= 0.8 && s > best) best = s;
    }
    sum += best;
  }
  int pairs = qk->n < t->n ? qk->n : t->n;
  if (sum > (double)pairs) sum = (double)pairs;
  return 2.0 * sum / (double)(qk->n + t->n) >= NAME_THRESHOLD - 1e-9;
}

/* Scores row i of the kept keys once per distinct key text and search. */
static void consider_kept(name_cache *cache, const fb_name_key *qk, size_t i, hits *h) {
  uint32_t k = cache->kid[i];
  if (cache->stamp[k] != cache->gen) {
    const struct key_tokens *t = &cache->tokens[k];
    fb_name_key rk;
    if (!t->parsed) {
      fb_name_key_parse(cache->text + cache->off[i], &rk);
      cache->sim[k] = fb_name_similarity_min(qk, &rk, NAME_THRESHOLD);
    } else if (!key_may_match(cache, qk, t)) {
      cache->sim[k] = 0.0; /* what fb_name_similarity_min gives under the threshold */
    } else { /* what fb_name_key_parse would make, without the parse */
      memcpy(rk.buf, cache->text + cache->off[i], cache->len[i] + 1);
      rk.n = t->n;
      rk.native = t->native;
      memcpy(rk.off, t->off, sizeof rk.off);
      memcpy(rk.len, t->len, sizeof rk.len);
      cache->sim[k] = fb_name_similarity_min(qk, &rk, NAME_THRESHOLD);
    }
    cache->stamp[k] = cache->gen;
  }
  if (cache->sim[k] >= NAME_THRESHOLD) hits_add(h, cache->rid[i], cache->sim[k] * 0.9, true);
}

/* The trigram candidates by FTS5: with the kept keys, rowids only; without, the keys
 * from the content table. */
static int search_fts(fb_sqlite_db *db, const fb_name_key *qk, name_cache *cache, hits *h) {
  fb_buf q = {0};
  fb_sqlite_fts_query(qk, &q);
  sqlite3_stmt *st = cache ? db->st_fts_rows : db->st_fts;
  sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, NAME_CANDIDATES);
  int rc;
  memo_slot *memo = !cache && qk->n >= 2 ? fb_xcalloc(MEMO_SLOTS, sizeof *memo) : NULL;
  fb_buf arena = {0};
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cache) {
      sqlite3_int64 i = sqlite3_column_int64(st, 0) - cache->base;
      if (i < 0 || (size_t)i >= cache->n) { /* not at this data_version: fail, do not guess */
        rc = SQLITE_CORRUPT;
        break;
      }
      consider_kept(cache, qk, (size_t)i, h);
    } else {
      consider(qk, memo, &arena, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (size_t)sqlite3_column_bytes(st, 1), h);
    }
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  free(memo);
  fb_buf_free(&arena);
  fb_buf_free(&q);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* A token of three bytes or more: the FTS5 query has a term. */
static bool has_trigram(const fb_name_key *k) {
  for (int t = 0; t < k->n; t++)
    if (k->len[t] >= 3) return true;
  return false;
}

/* in_txn: the search holds a read transaction, so the kept keys may be used. The
 * trigram candidates come from the kept keys' own trigram index when it can answer the
 * query (name_trigrams.h), else from FTS5; then the skeletons. */
static int search_name(fb_sqlite_db *db, const char *name, bool in_txn, hits *h) {
  fb_name_key qk;
  fb_name_key_make(name, &qk);
  if (qk.n == 0) return 0;
  if (has_trigram(&qk)) {
    name_cache *cache = in_txn && db->names_mode != FB_SQLITE_NAMES_FTS ? names_now(db) : NULL;
    if (cache && ++cache->gen == 0) { /* stamps of 2^32 searches ago would look current */
      memset(cache->stamp, 0, cache->nkeys * sizeof *cache->stamp);
      memset(cache->word_stamp, 0, cache->nwords * sizeof *cache->word_stamp);
      cache->gen = 1;
    }
    const uint32_t *rows = NULL;
    long nrows = cache && cache->trigrams && db->names_mode == FB_SQLITE_NAMES_AUTO
                     ? fb_name_trigrams_match(cache->trigrams, &qk, NAME_CANDIDATES, &rows)
                     : -1;
    if (nrows >= 0) {
      for (long r = 0; r < nrows; r++) consider_kept(cache, &qk, rows[r], h);
    } else if (search_fts(db, &qk, cache, h) != 0) {
      return -1;
    }
  }
  /* records written in another script, for any query; Latin records too for a query
   * written in another script */
  if (search_skeletons(db, &qk, KEY_SKEL_NATIVE, h) != 0) return -1;
  return qk.native ? search_skeletons(db, &qk, KEY_SKEL_LATIN, h) : 0;
}

/* Every statement outside a transaction takes and drops the file's read lock (fcntl
 * twice, a stat for a hot journal, and a read of page 1 to see whether the file
 * changed). A search with one exact key and no name (the common federated search by
 * document) is therefore one statement (search_one_key); other searches, which run
 * two or more (each key, the name's candidates and skeletons, then each record), run
 * them in one read transaction, which is also one consistent view of the file: a
 * search by name needs that, its kept keys (names_now) and the FTS5 index must be read
 * at the same data_version. (Measured alone for names: 0.8-0.9x the CPU of a search
 * without it, docs/benchmarks.md.) BEGIN is deferred: no lock until the first read. */
static bool read_begin(fb_sqlite_db *db) {
  if (!db->st_begin) return false; /* the writer's connection */
  int rc = sqlite3_step(db->st_begin);
  sqlite3_reset(db->st_begin);
  return rc == SQLITE_DONE;
}

/* Ends it, whatever happened in between: a lock kept would stall every writer. */
static void read_end(fb_sqlite_db *db) {
  int rc = sqlite3_step(db->st_commit);
  sqlite3_reset(db->st_commit);
  if (rc != SQLITE_DONE) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Where a search's records go, in order: `take` is given each stored record text and
 * says whether it counted (a text jansson cannot read is skipped, as always), until
 * `limit` counted. */
typedef struct row_sink {
  bool (*take)(struct row_sink *, const char *text, size_t len);
  size_t taken, limit;
} row_sink;

static void sink_row(row_sink *k, sqlite3_stmt *st, int col) {
  if (k->take(k, (const char *)sqlite3_column_text(st, col), (size_t)sqlite3_column_bytes(st, col))) k->taken++;
}

/* The records under one exact key, as lookup_key and the record loop below would give
 * them (one score, so by rid; no name-only hits for the dob to drop), in one statement. */
static int search_one_key(fb_sqlite_db *db, int kind, const char *key, row_sink *out, char **err) {
  sqlite3_stmt *st = db->st_keyrec;
  sqlite3_bind_int(st, 1, kind);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  int rc = SQLITE_DONE;
  while (out->taken < out->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) sink_row(out, st, 0);
  int ret = 0;
  if (out->taken < out->limit && rc != SQLITE_DONE) {
    set_db_error(err, db, "search failed");
    ret = -1;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return ret;
}

/* The search of fb_sqlite_db_search, its records' stored texts handed to `out`. */
static int search_rows(fb_sqlite_db *db, json_t *subject, row_sink *out, char **err) {
  hits h = {0};
  /* the exact keys of the subject, in the order they were always looked up */
  struct {
    int kind;
    double score;
    char key[256];
  } keys[3];
  size_t nkeys = 0;
  int rc = 0;
  const char *s;
  if ((s = json_string_value(json_object_get(subject, "document"))) &&
      fb_norm_document(s, keys[nkeys].key, sizeof keys[nkeys].key)) {
    keys[nkeys].kind = KEY_DOCUMENT;
    keys[nkeys++].score = 1.0;
  }
  if ((s = json_string_value(json_object_get(subject, "phone"))) &&
      fb_norm_phone(s, keys[nkeys].key, sizeof keys[nkeys].key)) {
    keys[nkeys].kind = KEY_PHONE;
    keys[nkeys++].score = 1.0;
  }
  if ((s = json_string_value(json_object_get(subject, "vessel")))) {
    char imo[8];
    if (fb_norm_imo(s, imo)) {
      memcpy(keys[nkeys].key, imo, sizeof imo);
      keys[nkeys].kind = KEY_IMO;
      keys[nkeys++].score = 1.0;
    } else if (fb_norm_vessel(s, keys[nkeys].key, sizeof keys[nkeys].key)) {
      keys[nkeys].kind = KEY_VESSEL;
      keys[nkeys++].score = 0.95;
    }
  }
  bool by_name = json_object_get(subject, "name") != NULL;
  if (!by_name && nkeys == 1) return search_one_key(db, keys[0].kind, keys[0].key, out, err);
  bool txn = (by_name || nkeys > 1) && read_begin(db);
  for (size_t i = 0; i < nkeys; i++) rc |= lookup_key(db, keys[i].kind, keys[i].key, keys[i].score, &h);
  if ((s = json_string_value(json_object_get(subject, "name")))) rc |= search_name(db, s, txn, &h);
  if (rc != 0) {
    set_db_error(err, db, "search failed");
    if (txn) read_end(db);
    free(h.v);
    return -1;
  }
  int want_year = fb_dob_year(json_string_value(json_object_get(subject, "dob")));
  if (h.n > 1) qsort(h.v, h.n, sizeof *h.v, hit_cmp);
  sqlite3_stmt *st = db->st_rec;
  for (size_t i = 0; i < h.n && out->taken < out->limit; i++) {
    sqlite3_bind_int64(st, 1, h.v[i].rid);
    if (sqlite3_step(st) == SQLITE_ROW) {
      int year = sqlite3_column_int(st, 1);
      if (!(h.v[i].name_only && want_year && year && year != want_year)) sink_row(out, st, 0);
    }
    sqlite3_reset(st);
  }
  if (txn) read_end(db);
  free(h.v);
  return 0;
}

/* Records as jansson values. */
typedef struct {
  row_sink base;
  json_t *array;
} json_sink;

static bool take_json(row_sink *k, const char *text, size_t len) {
  json_t *rec = fb_jsonr_loadb(text, len, NULL);
  if (!rec) return false;
  json_array_append_new(((json_sink *)k)->array, rec);
  return true;
}

json_t *fb_sqlite_db_search(fb_sqlite_db *db, json_t *subject, size_t limit, char **err) {
  json_sink k = {{take_json, 0, limit ? limit : DEFAULT_LIMIT}, json_array()};
  if (search_rows(db, subject, &k.base, err) != 0) {
    json_decref(k.array);
    return NULL;
  }
  return k.array;
}

#define RECORDS_OPEN "{\"records\":["

/* Records as text: {"records":[` each stored text, comma-separated `]}, and where each
 * one stands in it. */
typedef struct {
  row_sink base;
  fb_buf text;
  uint32_t *off, *len;
  size_t n, cap;
} text_sink;

static bool take_text(row_sink *k, const char *text, size_t len) {
  text_sink *t = (text_sink *)k;
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->off = fb_xrealloc(t->off, t->cap * sizeof *t->off);
    t->len = fb_xrealloc(t->len, t->cap * sizeof *t->len);
  }
  if (t->n) fb_buf_append(&t->text, ",", 1);
  else fb_buf_append(&t->text, RECORDS_OPEN, sizeof RECORDS_OPEN - 1); /* not before: none is common */
  t->off[t->n] = (uint32_t)t->text.len;
  t->len[t->n++] = (uint32_t)len;
  fb_buf_append(&t->text, text ? text : "", len);
  return true;
}

/* The set scanned the text as it stands, record i being exactly stored text i, an
 * object that passes the schema: what the jansson path would have read and shared. */
static bool set_is_the_rows(const fb_crecs *set, const text_sink *t) {
  if (!set->fast || !set->has_records || set->nrecs != t->n) return false;
  for (size_t i = 0; i < t->n; i++)
    if (set->recs[i].off != t->off[i] || set->recs[i].len != t->len[i])
      return false;
  return fb_crecs_judge(set, NULL) == 0;
}

int fb_sqlite_db_search_set(fb_sqlite_db *db, json_t *subject, size_t limit, fb_crecs **set, json_t **records,
                            char **err) {
  *set = NULL;
  *records = NULL;
  text_sink k = {.base = {take_text, 0, limit ? limit : DEFAULT_LIMIT}};
  int rc = search_rows(db, subject, &k.base, err);
  if (rc == 0 && k.n == 0) { /* no record: an empty array costs the engine less than a set */
    fb_buf_free(&k.text);
    *records = json_array();
    return 0;
  }
  if (rc == 0 && k.text.len < UINT32_MAX / 4) {
    fb_buf_append(&k.text, "]}", 2);
    size_t len = k.text.len;
    fb_crecs *s = fb_crecs_load(fb_buf_steal(&k.text), len, NULL);
    if (s && set_is_the_rows(s, &k)) *set = s;
    else fb_crecs_free(s);
  }
  fb_buf_free(&k.text);
  free(k.off);
  free(k.len);
  if (rc != 0) return -1;
  if (*set) return 0;
  /* stored texts the writer would not have written: the jansson path decides */
  *records = fb_sqlite_db_search(db, subject, limit, err);
  return *records ? 0 : -1;
}

/* ---- writing ---- */

int fb_sqlite_db_create(const char *path, fb_sqlite_db **out, char **err) {
  *out = NULL;
  unlink(path);
  fb_sqlite_db *db = fb_xcalloc(1, sizeof *db);
  db->path = fb_xstrdup(path);
  db->writable = true;
  if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    fb_set_error(err, "cannot create %s: %s", path, db->db ? sqlite3_errmsg(db->db) : "out of memory");
    fb_sqlite_db_close(db);
    return -1;
  }
  char *msg = NULL;
  if (sqlite3_exec(db->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(db->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(db->db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK ||
      prepare(db, "INSERT INTO records(id, type, dob_year, json) VALUES(?1, ?2, ?3, ?4)", &db->st_ins) ||
      prepare(db, "INSERT INTO name_fts(keys, rid) VALUES(?1, ?2)", &db->st_insfts) ||
      prepare(db, "INSERT OR IGNORE INTO keys(kind, key, rid) VALUES(?1, ?2, ?3)", &db->st_inskey)) {
    fb_set_error(err, "cannot create %s: %s", path, msg ? msg : sqlite3_errmsg(db->db));
    sqlite3_free(msg);
    fb_sqlite_db_close(db);
    return -1;
  }
  *out = db;
  return 0;
}

static int step_reset(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

static int add_key(fb_sqlite_db *db, int kind, const char *key, sqlite3_int64 rid) {
  sqlite3_bind_int(db->st_inskey, 1, kind);
  sqlite3_bind_text(db->st_inskey, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(db->st_inskey, 3, rid);
  return step_reset(db->st_inskey);
}

static int add_name(fb_sqlite_db *db, const char *name, sqlite3_int64 rid) {
  fb_name_key k;
  fb_name_key_make(name, &k);
  if (k.n == 0) return 0;
  sqlite3_bind_text(db->st_insfts, 1, k.buf, -1, SQLITE_STATIC);
  sqlite3_bind_int64(db->st_insfts, 2, rid);
  int rc = step_reset(db->st_insfts);
  for (int t = 0; t < k.n && rc == 0; t++) {
    char key[FB_NAME_KEY_BYTES + 72];
    size_t n = fb_name_skeleton(k.buf + k.off[t], k.len[t], key, 64);
    if (n < 2 || (unsigned char)key[0] >= 0x80) continue;
    key[n] = '\x01';
    memcpy(key + n + 1, k.buf, strlen(k.buf) + 1);
    rc = add_key(db, (k.native >> t) & 1 ? KEY_SKEL_NATIVE : KEY_SKEL_LATIN, key, rid);
  }
  return rc;
}

int fb_sqlite_db_add(fb_sqlite_db *db, json_t *record, char **err) {
  if (!db->writable) {
    fb_set_error(err, "%s is open read-only", db->path);
    return -1;
  }
  if (fb_record_validate(record, err) != 0) return fb_prefix_error(err, "invalid record: ");
  const char *id = json_string_value(json_object_get(record, "id"));
  const char *type = json_string_value(json_object_get(record, "type"));
  char *text = json_dumps(record, JSON_COMPACT);
  sqlite3_bind_text(db->st_ins, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(db->st_ins, 2, type, -1, SQLITE_STATIC);
  sqlite3_bind_int(db->st_ins, 3, fb_dob_year(json_string_value(json_object_get(record, "dob"))));
  sqlite3_bind_text(db->st_ins, 4, text, -1, SQLITE_STATIC);
  int rc = step_reset(db->st_ins);
  free(text);
  if (rc != 0) {
    set_db_error(err, db, id);
    return -1;
  }
  sqlite3_int64 rid = sqlite3_last_insert_rowid(db->db);
  bool vessel = strcmp(type, "vessel") == 0;
  char key[256], imo[8];
  size_t i;
  json_t *v;
  const char *name = json_string_value(json_object_get(record, "name"));
  if (name && !vessel) rc |= add_name(db, name, rid);
  if (name && vessel && fb_norm_vessel(name, key, sizeof key)) rc |= add_key(db, KEY_VESSEL, key, rid);
  json_array_foreach(json_object_get(record, "aliases"), i, v) rc |= add_name(db, json_string_value(v), rid);
  json_array_foreach(json_object_get(record, "documents"), i, v) {
    if (fb_norm_document(json_string_value(json_object_get(v, "number")), key, sizeof key))
      rc |= add_key(db, KEY_DOCUMENT, key, rid);
  }
  json_array_foreach(json_object_get(record, "phones"), i, v) {
    if (fb_norm_phone(json_string_value(v), key, sizeof key)) rc |= add_key(db, KEY_PHONE, key, rid);
  }
  json_t *ves = json_object_get(record, "vessel");
  if (ves) {
    if (fb_norm_vessel(json_string_value(json_object_get(ves, "name")), key, sizeof key))
      rc |= add_key(db, KEY_VESSEL, key, rid);
    if (fb_norm_imo(json_string_value(json_object_get(ves, "imo")), imo)) rc |= add_key(db, KEY_IMO, imo, rid);
  }
  if (rc != 0) {
    set_db_error(err, db, id);
    return -1;
  }
  return 0;
}

int fb_sqlite_db_commit(fb_sqlite_db *db, char **err) {
  char *msg = NULL;
  if (sqlite3_exec(db->db, "INSERT INTO name_fts(name_fts) VALUES('optimize'); COMMIT", NULL, NULL, &msg) !=
      SQLITE_OK) {
    fb_set_error(err, "%s: commit failed: %s", db->path, msg ? msg : "unknown error");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}
