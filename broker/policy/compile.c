/* The Lua binding of the policy language: running a policy file once in its own
 * sandbox calls `state`, `allow`, `deny`, `hit_only`, `redact`, `drop` and `limit`,
 * which check their tables and compile them into C rules (rules.h).
 *
 * Every problem is collected as "file:line: message" rather than raised, so a file
 * gets all its errors reported at once; a file with any error does not load. Tables
 * are read with raw access only, so a policy cannot run code (metamethods) from inside
 * the compiler. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/log.h"
#include "core/util.h"
#include "policy/rules.h"

typedef struct {
  fb_policy *p;
  const char *src;
  size_t srclen;
  bool is_common;
  bool loading;          /* rule functions refuse to run after load (from `when`) */
  bool saw_state;
  size_t cap;
  fb_buf errs;
  int nerrs;
  const char *pending;   /* "allow \"x\"" called without its table */
  int pending_line;
  char pending_buf[160];
} ctx;

/* ---- messages -------------------------------------------------------------- */

static void problem(ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(ctx *c, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->nerrs < 50) fb_buf_printf(&c->errs, "%s:%d: %s\n", c->p->path, line, msg);
  c->nerrs++;
}

/* The line of `key =` at or after `from` in the source: tables carry no line
 * numbers, so this points the author at the key rather than the rule's first line. */
static int key_line(const ctx *c, int from, const char *key) {
  int line = 1;
  size_t klen = strlen(key);
  const char *s = c->src, *end = c->src + c->srclen;
  for (; s < end && line < from; s++)
    if (*s == '\n') line++;
  for (; s < end; s++) {
    if (*s == '\n') {
      line++;
      if (line > from + 200) break;
      continue;
    }
    if ((size_t)(end - s) > klen && memcmp(s, key, klen) == 0 &&
        (s == c->src || !(isalnum((unsigned char)s[-1]) || s[-1] == '_'))) {
      const char *t = s + klen;
      while (t < end && (*t == ' ' || *t == '\t')) t++;
      if (t < end && *t == '=' && (t + 1 >= end || t[1] != '=')) return line;
    }
  }
  return from;
}

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 40 || lb > 40) return 99;
  size_t d[41][41];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t sub = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
        d[i][j] = d[i - 2][j - 2] + 1; /* a transposition ("nmae") counts as one edit */
    }
  return d[la][lb];
}

/* " (did you mean 'x'?)" for the closest candidate, or "" when none is close. */
static const char *did_you_mean(const char *word, const char *const *cands, char *buf, size_t n) {
  const char *best = NULL;
  size_t bestd = 99;
  for (size_t i = 0; cands[i]; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d < bestd) bestd = d, best = cands[i];
  }
  size_t wl = strlen(word);
  if (!best || bestd > (wl < 5 ? 1 : wl < 9 ? 2 : 3)) return "";
  snprintf(buf, n, " (did you mean '%s'?)", best);
  return buf;
}

static const char *candidates_list(const char *const *cands, char *buf, size_t n) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; cands[i] && off < n; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", cands[i]);
  return buf;
}

/* ---- values ---------------------------------------------------------------- */

/* Calls fn(c, str, arg) for a string or each string of a list at `idx`. Returns the
 * number of strings, or -1 after reporting a problem. */
typedef bool (*str_fn)(ctx *c, const char *s, int line, void *arg);
static int each_string(ctx *c, lua_State *L, int idx, int line, const char *what, str_fn fn,
                       void *arg) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TSTRING) return fn(c, lua_tostring(L, idx), line, arg) ? 1 : -1;
  if (lua_type(L, idx) != LUA_TTABLE) {
    problem(c, line, "%s must be a string or a list of strings, not a %s", what,
            luaL_typename(L, idx));
    return -1;
  }
  size_t n = lua_rawlen(L, idx);
  int count = 0;
  bool ok = true;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || (size_t)lua_tointeger(L, -2) > n) {
      problem(c, line, "%s must be a list like { \"a\", \"b\" }", what);
      lua_pop(L, 2);
      return -1;
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
      problem(c, line, "%s: every entry must be a string in quotes, not a %s", what,
              luaL_typename(L, -1));
      ok = false;
    } else if (!fn(c, lua_tostring(L, -1), line, arg)) {
      ok = false;
    }
    count++;
    lua_pop(L, 1);
  }
  if (ok && count == 0) {
    problem(c, line, "%s is an empty list: it could never match", what);
    return -1;
  }
  return ok ? count : -1;
}

typedef struct {
  vocab v;
  uint32_t mask;
  const char *what;
} vocab_arg;

static bool add_vocab(ctx *c, const char *s, int line, void *arg) {
  vocab_arg *va = arg;
  int i = fb_vocab_index(va->v, s);
  if (i < 0) {
    char b1[128], b2[256];
    const char *dym = did_you_mean(s, fb_vocab[va->v], b1, sizeof b1);
    problem(c, line, "unknown %s '%s'%s; expected one of: %s", va->what, s, dym,
            dym[0] ? "" : candidates_list(fb_vocab[va->v], b2, sizeof b2));
    return false;
  }
  va->mask |= 1u << i;
  return true;
}

static uint32_t parse_vocab(ctx *c, lua_State *L, int idx, int line, vocab v, const char *what) {
  vocab_arg va = {v, 0, what};
  if (each_string(c, L, idx, line, what, add_vocab, &va) < 0) return 0;
  return va.mask;
}

static const char *const roles[] = {"analyst", "legal_officer", "auditor", "admin", NULL};

typedef struct {
  strset *set;
  int check; /* 0 free text, 1 state code, 2 role */
  const char *what;
} set_arg;

static bool add_set(ctx *c, const char *s, int line, void *arg) {
  set_arg *sa = arg;
  if (sa->check == 1 &&
      !(strlen(s) == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
        isupper((unsigned char)s[2]))) {
    problem(c, line, "%s '%s' is not a state code (three capital letters, like \"MYS\")",
            sa->what, s);
    return false;
  }
  if (sa->check == 2) {
    bool known = false;
    for (size_t i = 0; roles[i]; i++) known |= strcmp(roles[i], s) == 0;
    if (!known) {
      char b1[128], b2[128];
      const char *dym = did_you_mean(s, roles, b1, sizeof b1);
      problem(c, line, "unknown role '%s'%s; expected one of: %s", s, dym,
              dym[0] ? "" : candidates_list(roles, b2, sizeof b2));
      return false;
    }
  }
  if (strset_has(sa->set, s)) return true;
  sa->set->v = fb_xrealloc(sa->set->v, (sa->set->n + 1) * sizeof(char *));
  sa->set->v[sa->set->n++] = fb_xstrdup(s);
  return true;
}

static void strset_free(strset *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

static bool parse_set(ctx *c, lua_State *L, int idx, int line, strset *out, int check,
                      const char *what) {
  set_arg sa = {out, check, what};
  if (each_string(c, L, idx, line, what, add_set, &sa) < 0) {
    strset_free(out);
    return false;
  }
  return true;
}

/* ---- conditions ------------------------------------------------------------ */

static const char *const cond_keys[] = {"purpose", "priority", "legal_basis", "from", "agency",
                                        "role", "subject", "case_ref", "when", "unless",
                                        "justification_shorter_than", NULL};

static void cond_init(cond *k) {
  memset(k, 0, sizeof *k);
  k->case_ref = -1;
  k->when_ref = LUA_NOREF;
}

static void cond_free(cond *k) {
  strset_free(&k->from);
  strset_free(&k->agency);
  strset_free(&k->role);
  if (k->unless) {
    cond_free(k->unless);
    free(k->unless);
    k->unless = NULL;
  }
}

static void parse_table_cond(ctx *c, lua_State *L, int t, int line, cond *k, bool nested);

/* Parses one condition key (value at -1). Returns false if `key` is not a condition. */
static bool parse_cond_key(ctx *c, lua_State *L, const char *key, int line, cond *k, bool nested) {
  int kl = key_line(c, line, key);
  if (strcmp(key, "purpose") == 0) k->purpose = parse_vocab(c, L, -1, kl, V_PURPOSE, "purpose");
  else if (strcmp(key, "priority") == 0) k->priority = parse_vocab(c, L, -1, kl, V_PRIORITY, "priority");
  else if (strcmp(key, "legal_basis") == 0)
    k->legal_basis = parse_vocab(c, L, -1, kl, V_LEGAL_BASIS, "legal_basis");
  else if (strcmp(key, "subject") == 0) k->subject = parse_vocab(c, L, -1, kl, V_SUBJECT, "subject field");
  else if (strcmp(key, "from") == 0) parse_set(c, L, -1, kl, &k->from, 1, "from");
  else if (strcmp(key, "agency") == 0) parse_set(c, L, -1, kl, &k->agency, 0, "agency");
  else if (strcmp(key, "role") == 0) parse_set(c, L, -1, kl, &k->role, 2, "role");
  else if (strcmp(key, "case_ref") == 0) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      problem(c, kl, "case_ref must be true or false, not a %s", luaL_typename(L, -1));
    else
      k->case_ref = lua_toboolean(L, -1);
  } else if (strcmp(key, "justification_shorter_than") == 0) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 100000)
      problem(c, kl, "justification_shorter_than must be a whole number of characters, like 20");
    else
      k->just_lt = (long)lua_tointeger(L, -1);
  } else if (strcmp(key, "when") == 0) {
    if (lua_type(L, -1) != LUA_TFUNCTION || lua_iscfunction(L, -1)) {
      problem(c, kl, "when must be a function, like when = function(q) return ... end");
    } else {
      lua_pushvalue(L, -1);
      k->when_ref = luaL_ref(L, LUA_REGISTRYINDEX);
      c->p->has_when = true;
    }
  } else if (strcmp(key, "unless") == 0) {
    if (nested) {
      problem(c, kl, "unless cannot be nested inside unless");
    } else if (lua_type(L, -1) != LUA_TTABLE) {
      problem(c, kl, "unless must be a table of conditions, like unless = { purpose = \"...\" }");
    } else {
      k->unless = fb_xmalloc(sizeof *k->unless);
      cond_init(k->unless);
      parse_table_cond(c, L, lua_gettop(L), kl, k->unless, true);
    }
  } else {
    return false;
  }
  return true;
}

/* An `unless` table: condition keys only. */
static void parse_table_cond(ctx *c, lua_State *L, int t, int line, cond *k, bool nested) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      problem(c, line, "unless: every entry must be written key = value");
    } else {
      const char *key = lua_tostring(L, -2);
      if (!parse_cond_key(c, L, key, line, k, nested)) {
        char b[128];
        problem(c, key_line(c, line, key), "unknown condition '%s' in unless%s", key,
                did_you_mean(key, cond_keys, b, sizeof b));
      }
      n++;
    }
    lua_pop(L, 1);
  }
  if (n == 0) problem(c, line, "unless is empty: it would always match");
}

/* ---- rules ----------------------------------------------------------------- */

#define record_fields (fb_vocab[V_FIELD])
static const char *const filter_keys[] = {"tags", "type", "nationality", NULL};

static const char *const kind_keys[RK_COUNT][6] = {
    [RK_ALLOW] = {"reason", "review", NULL},
    [RK_HIT_ONLY] = {"reason", "review", NULL},
    [RK_DENY] = {"reason", NULL},
    [RK_REDACT] = {"reason", "records", "fields", "action", NULL},
    [RK_DROP] = {"reason", "records", NULL},
    [RK_LIMIT] = {"reason", "max_records", NULL},
};

static void parse_filter(ctx *c, lua_State *L, int t, int line, record_filter *f) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int kl = key ? key_line(c, line, key) : line;
    if (!key) problem(c, line, "records: every entry must be written key = value");
    else if (strcmp(key, "tags") == 0) f->tags = parse_vocab(c, L, -1, kl, V_TAGS, "tag");
    else if (strcmp(key, "type") == 0) f->type = parse_vocab(c, L, -1, kl, V_TYPE, "record type");
    else if (strcmp(key, "nationality") == 0) parse_set(c, L, -1, kl, &f->nationality, 1, "nationality");
    else {
      char b1[128], b2[128];
      const char *dym = did_you_mean(key, filter_keys, b1, sizeof b1);
      problem(c, kl, "unknown record filter '%s'%s; expected one of: %s", key, dym,
              candidates_list(filter_keys, b2, sizeof b2));
    }
    lua_pop(L, 1);
  }
}

static bool add_field(ctx *c, const char *s, int line, void *arg) {
  rule *r = arg;
  bool known = false;
  for (size_t i = 0; record_fields[i]; i++) known |= strcmp(record_fields[i], s) == 0;
  if (!known) {
    char b1[128], b2[256];
    const char *dym = did_you_mean(s, record_fields, b1, sizeof b1);
    if (strcmp(s, "id") == 0 || strcmp(s, "type") == 0)
      problem(c, line, "the record field '%s' cannot be redacted (use drop to withhold a record)", s);
    else
      problem(c, line, "unknown record field '%s'%s; expected one of: %s", s, dym,
              dym[0] ? "" : candidates_list(record_fields, b2, sizeof b2));
    return false;
  }
  for (size_t i = 0; i < r->nfields; i++)
    if (strcmp(r->fields[i], s) == 0) return true;
  r->fields = fb_xrealloc(r->fields, (r->nfields + 1) * sizeof(char *));
  r->fields[r->nfields++] = fb_xstrdup(s);
  r->field_mask |= 1u << fb_vocab_index(V_FIELD, s);
  return true;
}

static bool key_allowed(rule_kind kind, const char *key) {
  for (size_t i = 0; kind_keys[kind][i]; i++)
    if (strcmp(kind_keys[kind][i], key) == 0) return true;
  return false;
}

static void all_keys(rule_kind kind, const char **out) {
  size_t n = 0;
  for (size_t i = 0; cond_keys[i]; i++) out[n++] = cond_keys[i];
  for (size_t i = 0; kind_keys[kind][i]; i++) out[n++] = kind_keys[kind][i];
  out[n] = NULL;
}

static void compile_rule(ctx *c, lua_State *L, rule *r, int t) {
  int line = r->line;
  bool has_action = false, has_fields = false, has_max = false;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      problem(c, line, "%s \"%s\": every entry must be written key = value",
              fb_rule_kind_names[r->kind], r->name);
      lua_pop(L, 1);
      continue;
    }
    const char *key = lua_tostring(L, -2);
    int kl = key_line(c, line, key);
    if (parse_cond_key(c, L, key, line, &r->c, false)) {
      /* a condition */
    } else if (!key_allowed(r->kind, key)) {
      const char *keys[24];
      char b1[128];
      all_keys(r->kind, keys);
      const char *dym = did_you_mean(key, keys, b1, sizeof b1);
      if (dym[0])
        problem(c, kl, "unknown key '%s' in %s \"%s\"%s", key, fb_rule_kind_names[r->kind],
                r->name, dym);
      else
        problem(c, kl, "'%s' cannot be used in a %s rule", key, fb_rule_kind_names[r->kind]);
    } else if (strcmp(key, "reason") == 0) {
      if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        problem(c, kl, "reason must be a sentence in quotes");
      else {
        free(r->reason);
        r->reason = fb_xstrdup(lua_tostring(L, -1));
      }
    } else if (strcmp(key, "review") == 0) {
      if (lua_type(L, -1) != LUA_TBOOLEAN) problem(c, kl, "review must be true or false");
      else r->review = lua_toboolean(L, -1);
    } else if (strcmp(key, "records") == 0) {
      if (lua_type(L, -1) != LUA_TTABLE)
        problem(c, kl, "records must be a filter like records = { tags = { \"victim\" } }");
      else parse_filter(c, L, lua_gettop(L), kl, &r->filter);
    } else if (strcmp(key, "fields") == 0) {
      has_fields = true;
      each_string(c, L, -1, kl, "fields", add_field, r);
    } else if (strcmp(key, "action") == 0) {
      has_action = true;
      int a = -1;
      if (lua_type(L, -1) == LUA_TSTRING)
        for (int i = 0; i < A_COUNT; i++)
          if (strcmp(fb_action_names[i], lua_tostring(L, -1)) == 0) a = i;
      if (a < 0) {
        char b1[128], b2[128];
        const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        const char *names[A_COUNT + 1];
        for (int i = 0; i < A_COUNT; i++) names[i] = fb_action_names[i];
        names[A_COUNT] = NULL;
        const char *dym = did_you_mean(v, names, b1, sizeof b1);
        problem(c, kl, "unknown action '%s'%s; expected one of: %s", v, dym,
                candidates_list(names, b2, sizeof b2));
      } else {
        r->action = (redact_action)a;
      }
    } else if (strcmp(key, "max_records") == 0) {
      has_max = true;
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
        problem(c, kl, "max_records must be a whole number, 0 or more");
      else r->max_records = (long)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
  }
  if (r->kind == RK_REDACT) {
    if (!has_fields) problem(c, line, "redact \"%s\" needs fields = { ... }", r->name);
    if (!has_action) problem(c, line, "redact \"%s\" needs action = \"mask\" (or remove, year, initials, hash)", r->name);
    for (size_t i = 0; has_action && i < r->nfields; i++) {
      const char *f = r->fields[i];
      if (r->action == A_YEAR && strcmp(f, "dob") != 0 && strcmp(f, "updated") != 0)
        problem(c, key_line(c, line, "action"), "action \"year\" applies to dates (dob, updated), not to '%s'", f);
      if (r->action == A_INITIALS && strcmp(f, "name") != 0 && strcmp(f, "aliases") != 0)
        problem(c, key_line(c, line, "action"), "action \"initials\" applies to names (name, aliases), not to '%s'", f);
    }
    if (has_action && r->action == A_HASH && !c->p->key)
      problem(c, key_line(c, line, "action"), "action \"hash\" needs a redaction key (redaction_key in the config)");
  }
  if (r->kind == RK_LIMIT && !has_max)
    problem(c, line, "limit \"%s\" needs max_records = N", r->name);
}

/* Upvalues of the closure returned by `allow "name"`: 1 ctx, 2 kind, 3 line, 4 name. */
static int rule_body(lua_State *L) {
  ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  rule_kind kind = (rule_kind)lua_tointeger(L, lua_upvalueindex(2));
  int line = (int)lua_tointeger(L, lua_upvalueindex(3));
  const char *name = lua_tostring(L, lua_upvalueindex(4));
  if (!c->loading) return luaL_error(L, "rules can only be declared when the policy loads");
  c->pending = NULL;
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TTABLE) {
    problem(c, line, "%s \"%s\" must be followed by a table: %s \"%s\" { ... }",
            fb_rule_kind_names[kind], name, fb_rule_kind_names[kind], name);
    return 0;
  }
  fb_policy *p = c->p;
  for (size_t i = 0; i < p->nrules; i++)
    if (strcmp(p->rules[i].name, name) == 0) {
      problem(c, line, "a rule named \"%s\" already exists (line %d); rule names must be unique",
              name, p->rules[i].line);
      return 0;
    }
  if (c->is_common && (kind == RK_ALLOW || kind == RK_HIT_ONLY)) {
    problem(c, line, "common.lua may only deny requests or change records; "
            "%s \"%s\" belongs in a state's file", fb_rule_kind_names[kind], name);
    return 0;
  }
  if (p->nrules == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    p->rules = fb_xrealloc(p->rules, c->cap * sizeof(rule));
  }
  /* Appended before compiling so that cleanup frees it whatever happens. */
  rule *r = &p->rules[p->nrules++];
  memset(r, 0, sizeof *r);
  r->kind = kind;
  r->name = fb_xstrdup(name);
  r->line = line;
  r->max_records = -1;
  cond_init(&r->c);
  compile_rule(c, L, r, 1);
  return 0;
}

/* Swallows the table after a rule head that already reported a problem. */
static int ignore_table(lua_State *L) {
  (void)L;
  return 0;
}

static int current_line(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) return ar.currentline;
  return 0;
}

static void check_pending(ctx *c) {
  if (c->pending) problem(c, c->pending_line, "%s is missing its table { ... }", c->pending);
  c->pending = NULL;
}

/* allow "name" -> a function that takes the rule's table. Upvalues: 1 ctx, 2 kind. */
static int rule_head(lua_State *L) {
  ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  rule_kind kind = (rule_kind)lua_tointeger(L, lua_upvalueindex(2));
  if (!c->loading) return luaL_error(L, "rules can only be declared when the policy loads");
  int line = current_line(L);
  check_pending(c);
  if (lua_type(L, 1) != LUA_TSTRING || lua_rawlen(L, 1) == 0) {
    problem(c, line, "%s needs a name in quotes: %s \"what this rule does\" { ... }",
            fb_rule_kind_names[kind], fb_rule_kind_names[kind]);
    lua_pushcfunction(L, ignore_table);
    return 1;
  }
  snprintf(c->pending_buf, sizeof c->pending_buf, "%s \"%.100s\"", fb_rule_kind_names[kind],
           lua_tostring(L, 1));
  c->pending = c->pending_buf;
  c->pending_line = line;
  lua_pushlightuserdata(L, c);
  lua_pushinteger(L, kind);
  lua_pushinteger(L, line);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, rule_body, 4);
  return 1;
}

/* state "MYS" -> a function taking { name = ..., contact = { unit, email, channel } }. */
static int state_body(lua_State *L) {
  ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  int line = (int)lua_tointeger(L, lua_upvalueindex(2));
  if (!c->loading) return luaL_error(L, "state can only be declared when the policy loads");
  c->pending = NULL;
  if (lua_type(L, 1) != LUA_TTABLE) {
    problem(c, line, "state must be followed by a table: state \"MYS\" { name = ..., contact = { ... } }");
    return 0;
  }
  static const char *const keys[] = {"name", "contact", NULL};
  static const char *const ckeys[] = {"unit", "email", "channel", NULL};
  fb_policy *p = c->p;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    int kl = key_line(c, line, key);
    if (strcmp(key, "name") == 0) {
      if (lua_type(L, -1) != LUA_TSTRING) problem(c, kl, "name must be a string");
      else {
        free(p->name);
        p->name = fb_xstrdup(lua_tostring(L, -1));
      }
    } else if (strcmp(key, "contact") == 0) {
      if (lua_type(L, -1) != LUA_TTABLE) {
        problem(c, kl, "contact must be a table { unit = ..., email = ..., channel = ... }");
      } else {
        json_decref(p->contact);
        p->contact = json_object();
        int ct = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, ct)) {
          const char *ck = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
          bool known = false;
          for (size_t i = 0; ckeys[i]; i++) known |= strcmp(ckeys[i], ck) == 0;
          char b[128];
          if (!known)
            problem(c, key_line(c, kl, ck), "unknown contact key '%s'%s; expected unit, email, channel",
                    ck, did_you_mean(ck, ckeys, b, sizeof b));
          else if (lua_type(L, -1) != LUA_TSTRING)
            problem(c, key_line(c, kl, ck), "contact %s must be a string", ck);
          else
            json_object_set_new(p->contact, ck, json_string(lua_tostring(L, -1)));
          lua_pop(L, 1);
        }
      }
    } else {
      char b[128];
      problem(c, kl, "unknown key '%s' in state%s", key, did_you_mean(key, keys, b, sizeof b));
    }
    lua_pop(L, 1);
  }
  return 0;
}

static int state_head(lua_State *L) {
  ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  if (!c->loading) return luaL_error(L, "state can only be declared when the policy loads");
  int line = current_line(L);
  check_pending(c);
  const char *code = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
  if (c->is_common) {
    problem(c, line, "common.lua applies to every state and cannot declare state");
  } else if (!code) {
    problem(c, line, "state needs its code in quotes: state \"%s\" { ... }", c->p->code);
  } else if (strcmp(code, c->p->code) != 0) {
    problem(c, line, "this file is %s.lua but declares state \"%s\"", c->p->code, code);
  } else if (c->saw_state) {
    problem(c, line, "state is declared twice");
  }
  c->saw_state = true;
  snprintf(c->pending_buf, sizeof c->pending_buf, "state \"%.20s\"", code ? code : "?");
  c->pending = c->pending_buf;
  c->pending_line = line;
  lua_pushlightuserdata(L, c);
  lua_pushinteger(L, line);
  lua_pushcclosure(L, state_body, 2);
  return 1;
}

/* setmetatable without __gc: a finalizer would run whenever the collector does,
 * outside any instruction budget (even while the hub frees the policy). */
static int safe_setmetatable(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int t = lua_type(L, 2);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "__gc is not allowed in policies");
    lua_pop(L, 1);
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* Lua's pattern matcher runs in C, where the instruction budget cannot stop it, and
 * backtracking makes it polynomial: ("a"):rep(2000):find(".-.-.-b") runs for minutes.
 * The wrappers estimate the worst case, len^(quantifiers, +1 unless anchored), and
 * refuse patterns that could take longer than a fraction of a second. Plain `find`
 * (4th argument true) is linear and always allowed. Upvalue 1: the original. */
#define PATTERN_MAX_STEPS 1e8
static int bounded_match(lua_State *L) {
  size_t n = 0, plen = 0;
  const char *subj = lua_tolstring(L, 1, &n);
  const char *pat = lua_tolstring(L, 2, &plen);
  bool plain = lua_toboolean(L, 4) && lua_tocfunction(L, lua_upvalueindex(2)) != NULL;
  if (subj && pat && !plain) {
    int q = 0;
    for (size_t i = 0; i < plen; i++) {
      if (pat[i] == '%') i++;
      else if (pat[i] == '*' || pat[i] == '+' || pat[i] == '-') q++;
    }
    double steps = 1, len = (double)n + 1;
    for (int i = 0; i < q + (pat[0] == '^' ? 0 : 1) && steps <= PATTERN_MAX_STEPS; i++) steps *= len;
    if (steps > PATTERN_MAX_STEPS)
      return luaL_error(L, "this pattern is too costly for a text of %d characters: use fewer "
                        "repetitions (*, +, -) or anchor it with ^", (int)n);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static void wrap_patterns(lua_State *L) {
  static const char *const fns[] = {"find", "match", "gmatch", "gsub", NULL};
  if (lua_getglobal(L, "string") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (size_t i = 0; fns[i]; i++) {
    lua_getfield(L, -1, fns[i]);
    /* upvalue 2 marks `find`, whose 4th argument means a plain search */
    if (strcmp(fns[i], "find") == 0) lua_pushvalue(L, -1);
    else lua_pushnil(L);
    lua_pushcclosure(L, bounded_match, 2);
    lua_setfield(L, -2, fns[i]);
  }
  lua_pop(L, 1);
}

static void install(lua_State *L, ctx *c) {
  wrap_patterns(L);
  for (int k = 0; k < RK_COUNT; k++) {
    lua_pushlightuserdata(L, c);
    lua_pushinteger(L, k);
    lua_pushcclosure(L, rule_head, 2);
    lua_setglobal(L, fb_rule_kind_names[k]);
  }
  lua_pushlightuserdata(L, c);
  lua_pushcclosure(L, state_head, 1);
  lua_setglobal(L, "state");
  lua_pushcfunction(L, safe_setmetatable);
  lua_setglobal(L, "setmetatable");
}

/* ---- reachability ---------------------------------------------------------- */

static bool mask_covers(uint32_t a, uint32_t b) { return a == 0 || (b != 0 && (a & b) == b); }

static bool set_covers(const strset *a, const strset *b) {
  if (a->n == 0) return true;
  if (b->n == 0) return false;
  for (size_t i = 0; i < b->n; i++)
    if (!strset_has(a, b->v[i])) return false;
  return true;
}

/* True when every request that matches `b` also matches `a` (a has no when/unless). */
static bool always_first(const cond *a, const cond *b) {
  if (a->when_ref != LUA_NOREF || a->unless) return false;
  return mask_covers(a->purpose, b->purpose) && mask_covers(a->priority, b->priority) &&
         mask_covers(a->legal_basis, b->legal_basis) && mask_covers(a->subject, b->subject) &&
         (a->case_ref < 0 || a->case_ref == b->case_ref) &&
         (a->just_lt == 0 || (b->just_lt != 0 && b->just_lt <= a->just_lt)) &&
         set_covers(&a->from, &b->from) &&
         set_covers(&a->agency, &b->agency) && set_covers(&a->role, &b->role);
}

static void find_unreachable(fb_policy *p, json_t *warnings) {
  for (size_t j = 0; j < p->nrules; j++) {
    if (!rule_is_admission(p->rules[j].kind)) continue;
    for (size_t i = 0; i < j; i++) {
      if (!rule_is_admission(p->rules[i].kind) || !always_first(&p->rules[i].c, &p->rules[j].c))
        continue;
      char msg[600];
      snprintf(msg, sizeof msg, "%s:%d: %s \"%s\" can never match: %s \"%s\" (line %d) always matches first",
               p->path, p->rules[j].line, fb_rule_kind_names[p->rules[j].kind], p->rules[j].name,
               fb_rule_kind_names[p->rules[i].kind], p->rules[i].name, p->rules[i].line);
      if (warnings) json_array_append_new(warnings, json_string(msg));
      else fb_warn("policy_unreachable_rule", "%s", msg);
      break;
    }
  }
}

/* ---- the policy object ----------------------------------------------------- */

static void policy_free(fb_policy *p) {
  for (size_t i = 0; i < p->nrules; i++) {
    rule *r = &p->rules[i];
    free(r->name);
    free(r->reason);
    cond_free(&r->c);
    strset_free(&r->filter.nationality);
    for (size_t f = 0; f < r->nfields; f++) free(r->fields[f]);
    free(r->fields);
  }
  free(p->rules);
  fb_sandbox_free(p->sb);
  json_decref(p->contact);
  free(p->name);
  free(p->code);
  free(p->path);
  free(p->default_reason);
  if (p->key) OPENSSL_cleanse(p->key, p->keylen);
  free(p->key);
  EVP_MAC_CTX_free(p->hmac);
  free(p);
}

fb_policy *fb_policy_ref(fb_policy *p) {
  if (p) p->refs++;
  return p;
}

void fb_policy_unref(fb_policy *p) {
  if (p && --p->refs == 0) policy_free(p);
}

fb_policy *fb_policy_compile(const char *code, const char *path, const char *src, size_t len,
                             const uint8_t *key, size_t keylen, json_t *warnings, char **err) {
  fb_policy *p = fb_xcalloc(1, sizeof *p);
  p->refs = 1;
  p->code = fb_xstrdup(code);
  p->path = fb_xstrdup(path);
  p->contact = json_null();
  if (key && keylen) {
    p->key = fb_xmalloc(keylen);
    memcpy(p->key, key, keylen);
    p->keylen = keylen;
    /* Keyed once here so that hashing a field costs one MAC, not a key setup. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    p->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (p->hmac && !EVP_MAC_init(p->hmac, p->key, p->keylen, params)) {
      EVP_MAC_CTX_free(p->hmac);
      p->hmac = NULL;
    }
  }
  unsigned char md[32];
  EVP_Digest(src, len, md, NULL, EVP_sha256(), NULL);
  fb_hex_encode(md, 32, p->sha256);
  fb_rfc3339_now(p->loaded_at);

  p->sb = fb_sandbox_new(FB_POLICY_MEM_MAX);
  if (!p->sb) {
    *err = fb_xstrdup("cannot create a Lua sandbox");
    policy_free(p);
    return NULL;
  }
  lua_State *L = fb_sandbox_state(p->sb);
  /* The context lives in the Lua heap, anchored in the registry: a `when` that kept a
   * rule function and calls it later must find it (and be refused), not a dead frame. */
  ctx *cp = lua_newuserdatauv(L, sizeof(ctx), 0);
  lua_setfield(L, LUA_REGISTRYINDEX, "fb.policy.ctx");
  memset(cp, 0, sizeof *cp);
  *cp = (ctx){.p = p, .src = src, .srclen = len, .is_common = strcmp(code, "common") == 0,
              .loading = true};
  install(L, cp);
  char chunk[1100];
  snprintf(chunk, sizeof chunk, "@%s", path);
  char *lerr = NULL;
  fb_sandbox_set_time_budget(p->sb, FB_POLICY_LOAD_MS);
  int rc = fb_sandbox_run(p->sb, src, len, chunk, FB_POLICY_LOAD_BUDGET, &lerr);
  fb_sandbox_set_time_budget(p->sb, FB_POLICY_WHEN_MS);
  cp->loading = false;
  if (rc != 0) {
    /* Lua's own messages already carry "path:line:"; a budget message does not. */
    if (strncmp(lerr, path, strlen(path)) == 0) fb_buf_printf(&cp->errs, "%s\n", lerr);
    else fb_buf_printf(&cp->errs, "%s: %s\n", path, lerr);
    cp->nerrs++;
    free(lerr);
  }
  if (rc == 0) check_pending(cp);
  if (!cp->is_common && !cp->saw_state && cp->nerrs == 0) {
    char msg[1200];
    snprintf(msg, sizeof msg, "%s:1: no state \"%s\" { name = ..., contact = { ... } } "
             "declaration: denied states will show no contact", path, code);
    if (warnings) json_array_append_new(warnings, json_string(msg));
  }
  if (cp->nerrs) {
    if (cp->nerrs > 50) fb_buf_printf(&cp->errs, "%s: ... and %d more problems\n", path, cp->nerrs - 50);
    if (cp->errs.len && cp->errs.data[cp->errs.len - 1] == '\n') cp->errs.data[--cp->errs.len] = '\0';
    *err = fb_buf_steal(&cp->errs);
    policy_free(p);
    return NULL;
  }
  fb_buf_free(&cp->errs);
  if (!p->name) p->name = fb_xstrdup(code);
  char reason[256];
  snprintf(reason, sizeof reason, "No rule of %s allows this request.", code);
  p->default_reason = fb_xstrdup(reason);
  cp->src = NULL;
  find_unreachable(p, warnings);
  lua_gc(L, LUA_GCCOLLECT);
  return p;
}

fb_policy *fb_policy_load_file(const char *path, const uint8_t *key, size_t keylen,
                               json_t *warnings, char **err) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t bl = strlen(base);
  if (bl < 5 || strcmp(base + bl - 4, ".lua") != 0) {
    char msg[1200];
    snprintf(msg, sizeof msg, "%s: a policy file is named common.lua or <STATE>.lua", path);
    *err = fb_xstrdup(msg);
    return NULL;
  }
  char code[64];
  snprintf(code, sizeof code, "%.*s", (int)(bl - 4 < 63 ? bl - 4 : 63), base);
  bool ok = strcmp(code, "common") == 0 ||
            (strlen(code) == 3 && isupper((unsigned char)code[0]) &&
             isupper((unsigned char)code[1]) && isupper((unsigned char)code[2]));
  if (!ok) {
    char msg[1200];
    snprintf(msg, sizeof msg, "%s: a policy file is named common.lua or <STATE>.lua (like MYS.lua)", path);
    *err = fb_xstrdup(msg);
    return NULL;
  }
  size_t len;
  char *src = fb_read_file(path, FB_POLICY_FILE_MAX, &len);
  if (!src) {
    char msg[1200];
    snprintf(msg, sizeof msg, "%s: cannot read: %s", path,
             errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    *err = fb_xstrdup(msg);
    return NULL;
  }
  fb_policy *p = fb_policy_compile(code, path, src, len, key, keylen, warnings, err);
  free(src);
  return p;
}

const char *fb_policy_state_name(const fb_policy *p) { return p->code; }
json_t *fb_policy_contact(const fb_policy *p) { return p->contact; }

json_t *fb_policy_info(const fb_policy *p) {
  return json_pack("{s:s, s:s, s:b, s:s, s:O}", "sha256", p->sha256, "loaded_at", p->loaded_at,
                   "signed", p->is_signed, "name", p->name, "contact", p->contact);
}

/* ---- Lua values as JSON (for the tools) ------------------------------------ */

json_t *fb_lua_to_json(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    return json_stringn(s, n);
  }
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    return lua_isinteger(L, idx) ? json_integer(lua_tointeger(L, idx)) : json_real(lua_tonumber(L, idx));
  case LUA_TTABLE: {
    if (depth > 32) return NULL;
    size_t n = lua_rawlen(L, idx);
    json_t *out = n > 0 ? json_array() : json_object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      json_t *v = fb_lua_to_json(L, -1, depth + 1);
      if (!v) {
        lua_pop(L, 2);
        json_decref(out);
        return NULL;
      }
      if (json_is_array(out)) {
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || (size_t)lua_tointeger(L, -2) > n) {
          json_decref(v);
          lua_pop(L, 2);
          json_decref(out);
          return NULL;
        }
        /* lua_next order is unspecified: place by index. */
        size_t i = (size_t)lua_tointeger(L, -2) - 1;
        while (json_array_size(out) <= i) json_array_append_new(out, json_null());
        json_array_set_new(out, i, v);
      } else if (lua_type(L, -2) == LUA_TSTRING) {
        json_object_set_new(out, lua_tostring(L, -2), v);
      } else {
        json_decref(v);
        lua_pop(L, 2);
        json_decref(out);
        return NULL;
      }
      lua_pop(L, 1);
    }
    return out;
  }
  default: return NULL;
  }
}
