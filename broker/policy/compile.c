/* The Lua binding of the policy language: running a policy file once in its own
 * sandbox calls `state`, `allow`, `deny`, `hit_only`, `redact`, `drop` and `limit`,
 * which check their tables and compile them into C rules (rules.h).
 *
 * Every problem is collected as "file:line: message" rather than raised, so a file
 * gets all its errors reported at once; a file with any error does not load. Tables
 * are read with raw access only, so a policy cannot run code (metamethods) from inside
 * the compiler. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/error.h"
#include "core/log.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/internal.h"
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
  const char *const *states; /* the states `from` may name (NULL: any ISO 3166-1 code) */
  size_t nstates;
  bool any_iso;          /* also any ISO 3166-1 code (the tools, without a config) */
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

/* The candidate closest to `word`, or NULL when none is close enough to be a typo. */
static const char *nearest(const char *word, const char *const *cands, size_t ncands) {
  const char *best = NULL;
  size_t bestd = 99;
  for (size_t i = 0; i < ncands && cands[i]; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d < bestd) bestd = d, best = cands[i];
  }
  size_t wl = strlen(word);
  if (!best || bestd > (wl < 5 ? 1 : wl < 9 ? 2 : 3)) return NULL;
  return best;
}

/* "; did you mean \"x\"?" for the closest candidate, or "" when none is close. */
static const char *did_you_mean(const char *word, const char *const *cands, char *buf, size_t n) {
  const char *best = nearest(word, cands, SIZE_MAX);
  if (!best) return "";
  snprintf(buf, n, "; did you mean \"%s\"?", best);
  return buf;
}

static const char *candidates_list(const char *const *cands, char *buf, size_t n) {
  return fb_list_text(cands, buf, n);
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
    problem(c, line, "unknown %s '%s'%s (expected one of: %s)", va->what, s, dym,
            candidates_list(fb_vocab[va->v], b2, sizeof b2));
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

#define roles fb_role_names

enum { SET_TEXT, SET_STATE, SET_COUNTRY, SET_ROLE };
typedef struct {
  strset *set;
  int check; /* SET_*: free text, a state the hub knows, any ISO 3166-1 code, a role */
  const char *what;
} set_arg;


/* A state in `from`: one the hub knows (its configured states), or, for the tools
 * without a config, any ISO 3166-1 alpha-3 code. A nationality: any ISO code. */
static bool state_known(const ctx *c, const char *s, bool hub_states) {
  if (hub_states && c->states) {
    for (size_t i = 0; i < c->nstates; i++)
      if (strcmp(c->states[i], s) == 0) return true;
    if (!c->any_iso) return false;
  }
  return fb_iso3166_alpha3(s);
}

static void unknown_state(ctx *c, int line, const char *what, const char *s, bool hub_states) {
  char b1[128], b2[512];
  bool hub = hub_states && c->states && !c->any_iso;
  const char *const *cands = hub ? c->states : fb_iso3166_codes;
  char up[8] = "";
  if (strlen(s) < sizeof up) /* "bgd" is a state code in the wrong case */
    for (size_t i = 0; i <= strlen(s); i++) up[i] = (char)toupper((unsigned char)s[i]);
  const char *best = c->states ? nearest(up[0] ? up : s, c->states, c->nstates) : NULL;
  if (!best && !hub) best = nearest(up[0] ? up : s, cands, SIZE_MAX);
  if (best) snprintf(b1, sizeof b1, "; did you mean \"%s\"?", best);
  else b1[0] = '\0';
  if (!policy_is_state_code(s)) {
    problem(c, line, "%s '%s' is not a state code (three capital letters, ISO 3166-1 alpha-3, like \"MYS\")%s",
            what, s, b1);
  } else if (hub) {
    size_t off = 0;
    b2[0] = '\0';
    for (size_t i = 0; i < c->nstates && off < sizeof b2; i++)
      off += (size_t)snprintf(b2 + off, sizeof b2 - off, "%s%s", i ? ", " : "", c->states[i]);
    problem(c, line, "%s '%s' is not a state this hub knows%s (expected one of: %s)", what, s, b1, b2);
  } else {
    problem(c, line, "%s '%s' is not an ISO 3166-1 alpha-3 country code%s", what, s, b1);
  }
}

static bool add_set(ctx *c, const char *s, int line, void *arg) {
  set_arg *sa = arg;
  if ((sa->check == SET_STATE || sa->check == SET_COUNTRY) &&
      (!policy_is_state_code(s) || !state_known(c, s, sa->check == SET_STATE))) {
    unknown_state(c, line, sa->what, s, sa->check == SET_STATE);
    return false;
  }
  if (sa->check == SET_ROLE && fb_list_index(roles, s) < 0) {
    char b1[128], b2[256];
    const char *dym = did_you_mean(s, roles, b1, sizeof b1);
    problem(c, line, "unknown role '%s'%s (expected one of: %s)", s, dym,
            candidates_list(roles, b2, sizeof b2));
    return false;
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
                                        "justification_shorter_than", "formal", "to", NULL};

static void cond_init(cond *k) {
  memset(k, 0, sizeof *k);
  k->case_ref = -1;
  k->formal = -1;
  k->when_ref = LUA_NOREF;
}

static void cond_free(cond *k) {
  strset_free(&k->from);
  strset_free(&k->agency);
  strset_free(&k->role);
  strset_free(&k->to);
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
  else if (strcmp(key, "from") == 0) parse_set(c, L, -1, kl, &k->from, SET_STATE, "from");
  else if (strcmp(key, "agency") == 0) parse_set(c, L, -1, kl, &k->agency, SET_TEXT, "agency");
  else if (strcmp(key, "role") == 0) parse_set(c, L, -1, kl, &k->role, SET_ROLE, "role");
  else if (strcmp(key, "to") == 0) parse_set(c, L, -1, kl, &k->to, SET_STATE, "to");
  else if (strcmp(key, "formal") == 0) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      problem(c, kl, "formal must be true (a released follow-up request) or false (a search), not a %s",
              luaL_typename(L, -1));
    else
      k->formal = lua_toboolean(L, -1);
  } else if (strcmp(key, "case_ref") == 0) {
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
        char b[128], b2[512];
        problem(c, key_line(c, line, key), "unknown condition '%s' in unless%s (expected one of: %s)",
                key, did_you_mean(key, cond_keys, b, sizeof b), candidates_list(cond_keys, b2, sizeof b2));
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

#define kind_keys fb_rule_kind_keys

static void parse_filter(ctx *c, lua_State *L, int t, int line, record_filter *f) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int kl = key ? key_line(c, line, key) : line;
    if (!key) problem(c, line, "records: every entry must be written key = value");
    else if (strcmp(key, "tags") == 0) f->tags = parse_vocab(c, L, -1, kl, V_TAGS, "tag");
    else if (strcmp(key, "type") == 0) f->type = parse_vocab(c, L, -1, kl, V_TYPE, "record type");
    else if (strcmp(key, "nationality") == 0) parse_set(c, L, -1, kl, &f->nationality, SET_COUNTRY, "nationality");
    else {
      char b1[128], b2[128];
      const char *dym = did_you_mean(key, filter_keys, b1, sizeof b1);
      problem(c, kl, "unknown record filter '%s'%s (expected one of: %s)", key, dym,
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
      problem(c, line, "unknown record field '%s'%s (expected one of: %s)", s, dym,
              candidates_list(record_fields, b2, sizeof b2));
    return false;
  }
  for (size_t i = 0; i < r->nfields; i++)
    if (strcmp(r->fields[i], s) == 0) return true;
  r->fields = fb_xrealloc(r->fields, (r->nfields + 1) * sizeof(char *));
  r->fields[r->nfields++] = fb_xstrdup(s);
  r->field_mask |= 1u << fb_vocab_index(V_FIELD, s);
  return true;
}

/* outbound_require fields: what the requesting state's officers must fill in. */
static bool add_require(ctx *c, const char *s, int line, void *arg) {
  rule *r = arg;
  for (size_t i = 0; fb_require_fields[i]; i++)
    if (strcmp(fb_require_fields[i], s) == 0) {
      r->require_mask |= 1u << i;
      return true;
    }
  char b1[128], b2[256];
  const char *dym = did_you_mean(s, fb_require_fields, b1, sizeof b1);
  problem(c, line, "unknown request field '%s'%s (expected one of: %s)", s, dym,
          candidates_list(fb_require_fields, b2, sizeof b2));
  return false;
}

static bool key_allowed(rule_kind kind, const char *key) {
  for (size_t i = 0; kind_keys[kind][i]; i++)
    if (strcmp(kind_keys[kind][i], key) == 0) return true;
  return false;
}

static void all_keys(rule_kind kind, const char **out) {
  size_t n = 0;
  for (size_t i = 0; cond_keys[i]; i++)
    if (rule_is_outbound(kind) || strcmp(cond_keys[i], "to") != 0) out[n++] = cond_keys[i];
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
      const char *keys[40];
      char b1[128], b2[600];
      all_keys(r->kind, keys);
      const char *dym = did_you_mean(key, keys, b1, sizeof b1);
      candidates_list(keys, b2, sizeof b2);
      if (dym[0])
        problem(c, kl, "unknown key '%s' in %s \"%s\"%s (expected one of: %s)", key,
                fb_rule_kind_names[r->kind], r->name, dym, b2);
      else
        problem(c, kl, "'%s' cannot be used in %s rules (expected one of: %s)", key,
                fb_rule_kind_names[r->kind], b2);
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
      each_string(c, L, -1, kl, "fields", r->kind == RK_OUTBOUND_REQUIRE ? add_require : add_field, r);
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
        problem(c, kl, "unknown action '%s'%s (expected one of: %s)", v, dym,
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
  if (r->kind == RK_OUTBOUND_REQUIRE && !has_fields)
    problem(c, line, "outbound_require \"%s\" needs fields = { \"case_ref\" } (the request fields that must be filled in)",
            r->name);
  if (!rule_is_outbound(r->kind) && (r->c.to.n || (r->c.unless && r->c.unless->to.n)))
    problem(c, key_line(c, line, "to"), "to (the responding state) belongs in outbound rules only; "
            "%s \"%s\" is a rule of the responding state, use from for the requesting state",
            fb_rule_kind_names[r->kind], r->name);
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
  if (c->is_common && rule_is_outbound(kind)) {
    problem(c, line, "%s \"%s\" is a state's own rule about what its officers send; "
            "it belongs in that state's file, not in common.lua", fb_rule_kind_names[kind], name);
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
  fb_buf name_json = {0};
  if (fb_jsonw_string(&name_json, name, strlen(name)) == 0) {
    r->name_json_len = name_json.len;
    r->name_json = fb_buf_steal(&name_json);
  }
  fb_buf_free(&name_json);
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
            problem(c, key_line(c, kl, ck), "unknown contact key '%s'%s (expected one of: unit, email, channel)",
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
      problem(c, kl, "unknown key '%s' in state%s (expected one of: name, contact)", key,
              did_you_mean(key, keys, b, sizeof b));
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

/* ---- strict globals -------------------------------------------------------- */

/* A name the policy never defined is a mistake, never "nothing": `from = BGD` without
 * quotes would read nil, the condition would vanish and the rule would match every
 * state. Reading an undefined global therefore raises, at load and inside `when`
 * alike (there it is a policy error: the state is denied). The message names the
 * nearest word the policy could have meant. */

/* The text of line `line` of the source ([*start, *end)), or false. */
static bool source_line(const ctx *c, int line, const char **start, const char **end) {
  if (!c->src || line < 1) return false;
  const char *s = c->src, *e = c->src + c->srclen;
  for (int l = 1; l < line && s < e; s++)
    if (*s == '\n') l++;
  if (s >= e) return false;
  const char *t = memchr(s, '\n', (size_t)(e - s));
  *start = s;
  *end = t ? t : e;
  return true;
}

/* True when `name` begins its line and is followed by a string or a table, as a rule
 * head is: `alow "x" { ... }`. */
static bool begins_rule(const ctx *c, int line, const char *name) {
  const char *s, *e;
  if (!source_line(c, line, &s, &e)) return false;
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  size_t n = strlen(name);
  if ((size_t)(e - s) <= n || memcmp(s, name, n) != 0) return false;
  s += n;
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  return s < e && (*s == '"' || *s == '\'' || *s == '{' || *s == '(' || *s == '[');
}

/* Every word the author might have meant by a bare name: the closed vocabularies, the
 * states, and the globals that exist (rule kinds, `string`, `tostring`, helpers). */
static const char *nearest_word(lua_State *L, const ctx *c, const char *name) {
  const char *best = NULL;
  size_t bestd = 99;
  const char *const *lists[V_COUNT + 4];
  size_t nl = 0;
  for (int v = 0; v < V_COUNT; v++) lists[nl++] = fb_vocab[v];
  lists[nl++] = fb_role_names;
  if (strlen(name) == 3) { /* "BGD": the hub's states first, then any country code */
    if (c->states) lists[nl++] = c->states;
    lists[nl++] = fb_iso3166_codes;
  }
  for (size_t l = 0; l < nl; l++)
    for (size_t i = 0; !(lists[l] == c->states && i >= c->nstates) && lists[l][i]; i++) {
      size_t d = edit_distance(name, lists[l][i]);
      if (d < bestd) bestd = d, best = lists[l][i];
    }
  lua_pushglobaltable(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t d = edit_distance(name, lua_tostring(L, -1));
      if (d < bestd) bestd = d, best = lua_tostring(L, -1); /* anchored in _G */
    }
  }
  lua_pop(L, 1);
  size_t wl = strlen(name);
  return best && bestd <= (wl < 5 ? 1 : wl < 9 ? 2 : 3) ? best : NULL;
}

/* The sandbox's strict globals (lua/sandbox.c) ask this first: raises with the
 * policy's own explanation of `name`, or returns for the sandbox's default. */
static void explain_undefined(lua_State *L, const char *name, void *ud) {
  ctx *c = ud;
  lua_Debug ar;
  bool top = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && strcmp(ar.what, "main") == 0;
  /* `purpose "prosecution"` is a key that lost its = (Lua reads it as a call). */
  bool is_key = fb_list_index(cond_keys, name) >= 0;
  for (int k = 0; k < RK_COUNT && !is_key; k++) is_key = fb_list_index(fb_rule_kind_keys[k], name) >= 0;
  if (is_key && c->loading && top)
    luaL_error(L, "%s is missing its =: write %s = \"...\"", name, name);
  if (c->loading && top && begins_rule(c, ar.currentline, name)) {
    const char *kinds[RK_COUNT + 2];
    for (int k = 0; k < RK_COUNT; k++) kinds[k] = fb_rule_kind_names[k];
    kinds[RK_COUNT] = "state";
    kinds[RK_COUNT + 1] = NULL;
    char b1[128], b2[256];
    luaL_error(L, "unknown rule kind '%s'%s (expected one of: %s)", name,
                      did_you_mean(name, kinds, b1, sizeof b1), candidates_list(kinds, b2, sizeof b2));
  }
  static const char *const literals[] = {"true", "false", NULL};
  const char *lit = islower((unsigned char)name[0]) ? nearest(name, literals, SIZE_MAX) : NULL;
  if (lit) luaL_error(L, "%s is not defined; did you mean %s (without quotes)?", name, lit);
  const char *best = nearest_word(L, c, name);
  if (best) luaL_error(L, "%s is not defined; did you mean \"%s\"?", name, best);
}

static void make_strict(fb_sandbox *sb, ctx *c) {
  fb_sandbox_strict_globals(sb, "policies (they run in a sandbox)", explain_undefined, c);
  lua_State *L = fb_sandbox_state(sb);
  lua_pushglobaltable(L);
  lua_getmetatable(L, -1);
  lua_pushliteral(L, "protected"); /* a policy cannot take the guard off */
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
}

/* ---- syntax errors in plain words ------------------------------------------ */

/* The last line before `line` that holds more than blanks or a comment. */
static int previous_code_line(const ctx *c, int line) {
  for (int l = line - 1; l >= 1; l--) {
    const char *s, *e;
    if (!source_line(c, l, &s, &e)) return line;
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
    if (s < e && !(e - s >= 2 && s[0] == '-' && s[1] == '-')) return l;
  }
  return line;
}

/* True when `tok` (Lua's quoted token, like 'legal_basis') is the first on `line`. */
static bool token_begins_line(const ctx *c, int line, const char *tok) {
  const char *s, *e;
  if (!source_line(c, line, &s, &e)) return false;
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  size_t n = strlen(tok);
  if (n >= 2 && tok[0] == '\'' && tok[n - 1] == '\'') tok++, n -= 2;
  return n && (size_t)(e - s) >= n && memcmp(s, tok, n) == 0;
}

/* The line of the last { that is never closed (strings and comments skipped), or 0. */
static int unclosed_brace_line(const ctx *c) {
  int stack[64], depth = 0, line = 1;
  const char *s = c->src, *e = c->src + c->srclen;
  for (; s && s < e; s++) {
    if (*s == '\n') line++;
    else if (*s == '-' && s + 1 < e && s[1] == '-') {
      while (s + 1 < e && s[1] != '\n') s++;
    } else if (*s == '"' || *s == '\'') {
      char q = *s;
      for (s++; s < e && *s != q && *s != '\n'; s++)
        if (*s == '\\') s++;
      if (s < e && *s == '\n') line++;
    } else if (*s == '{') {
      if (depth < 64) stack[depth] = line;
      depth++;
    } else if (*s == '}' && depth > 0) {
      depth--;
    }
  }
  return depth > 0 && depth <= 64 ? stack[depth - 1] : 0;
}

/* Rewrites Lua's parser message ("path:12: '}' expected (to close '{' at line 9) near
 * 'legal_basis'") as a sentence for a legal officer, on the line to fix. Returns
 * false when `lerr` is not a syntax error. */
static bool plain_syntax(ctx *c, const char *lerr) {
  size_t pl = strlen(c->p->path);
  if (strncmp(lerr, c->p->path, pl) != 0 || lerr[pl] != ':') return false;
  char *endp;
  long line = strtol(lerr + pl + 1, &endp, 10);
  if (endp == lerr + pl + 1 || *endp != ':') return false;
  const char *msg = endp + 1;
  while (*msg == ' ') msg++;
  const char *near = strstr(msg, " near ");
  if (!near) return false;
  const char *tok = near + 6;
  int l = (int)line;
  long open = 0;
  const char *o = strstr(msg, "(to close '{' at line ");
  if (o) open = strtol(o + 22, NULL, 10);
  if (strcmp(tok, "<eof>") == 0 && !open) open = unclosed_brace_line(c);
  if (strncmp(msg, "unfinished string", 17) == 0) {
    problem(c, l, "a text in quotes is not closed on this line: add the closing quote");
  } else if (strcmp(tok, "<eof>") == 0 && open) {
    problem(c, open ? (int)open : l, "the { opened on this line is never closed: add a closing }");
  } else if (strncmp(msg, "'}' expected", 12) == 0) {
    if (token_begins_line(c, l, tok)) {
      int prev = previous_code_line(c, l);
      problem(c, prev, "missing comma or closing brace at the end of this line "
              "(line %d goes on with %s)", l, tok);
    } else {
      problem(c, l, "missing comma or closing brace before %s", tok);
    }
  } else if (strncmp(msg, "'=' expected", 12) == 0) {
    problem(c, l, "expected = after a name near %s: write key = \"value\", with text in quotes", tok);
  } else if (strncmp(msg, "<eof> expected", 14) == 0) {
    problem(c, l, "%s here closes nothing: an extra } or ) or a missing {?", tok);
  } else if (strncmp(msg, "unexpected symbol", 17) == 0) {
    problem(c, l, "unexpected %s here: a missing quote, comma or brace nearby?", tok);
  } else if (strncmp(msg, "')' expected", 12) == 0) {
    problem(c, l, "missing closing ) before %s", tok);
  } else {
    problem(c, l, "syntax error: %s", msg);
  }
  return true;
}

/* The sandbox (lua/sandbox.c) bounds patterns, refuses __gc metatables and makes
 * globals strict; this adds the rule functions and the policy's explanations of an
 * undefined name. */
static void install(lua_State *L, ctx *c) {
  for (int k = 0; k < RK_COUNT; k++) {
    lua_pushlightuserdata(L, c);
    lua_pushinteger(L, k);
    lua_pushcclosure(L, rule_head, 2);
    lua_setglobal(L, fb_rule_kind_names[k]);
  }
  lua_pushlightuserdata(L, c);
  lua_pushcclosure(L, state_head, 1);
  lua_setglobal(L, "state");
  make_strict(c->p->sb, c);
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
         (a->formal < 0 || a->formal == b->formal) &&
         (a->just_lt == 0 || (b->just_lt != 0 && b->just_lt <= a->just_lt)) &&
         set_covers(&a->from, &b->from) && set_covers(&a->to, &b->to) &&
         set_covers(&a->agency, &b->agency) && set_covers(&a->role, &b->role);
}

/* Rules that decide in order: admission rules, and outbound_deny rules among themselves. */
static bool ordered_peers(rule_kind a, rule_kind b) {
  return (rule_is_admission(a) && rule_is_admission(b)) || (a == RK_OUTBOUND_DENY && b == RK_OUTBOUND_DENY);
}

static void find_unreachable(fb_policy *p, json_t *warnings) {
  for (size_t j = 0; j < p->nrules; j++) {
    if (!rule_is_admission(p->rules[j].kind) && p->rules[j].kind != RK_OUTBOUND_DENY) continue;
    for (size_t i = 0; i < j; i++) {
      if (!ordered_peers(p->rules[i].kind, p->rules[j].kind) || !always_first(&p->rules[i].c, &p->rules[j].c))
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

/* ---- compiling --------------------------------------------------------------- */

void policy_rules_free(fb_policy *p) {
  for (size_t i = 0; i < p->nrules; i++) {
    rule *r = &p->rules[i];
    free(r->name);
    free(r->name_json);
    free(r->reason);
    cond_free(&r->c);
    strset_free(&r->filter.nationality);
    for (size_t f = 0; f < r->nfields; f++) free(r->fields[f]);
    free(r->fields);
  }
  free(p->rules);
  p->rules = NULL;
  p->nrules = 0;
}

static long problem_line(const char *s, size_t pathlen) { return strtol(s + pathlen + 1, NULL, 10); }

static int cmp_problem(const void *a, const void *b, void *pathlen) {
  size_t pl = *(const size_t *)pathlen;
  long la = problem_line(*(char *const *)a, pl), lb = problem_line(*(char *const *)b, pl);
  if (la != lb) return la < lb ? -1 : 1;
  return *(char *const *)a < *(char *const *)b ? -1 : 1; /* stable: by position */
}

/* Table entries are visited in hash order: report a file's problems top to bottom. */
static void sort_problems(fb_buf *errs, size_t pathlen) {
  size_t n = 0;
  for (size_t i = 0; i < errs->len; i++) n += errs->data[i] == '\n';
  if (n < 2) return;
  char **lines = fb_xcalloc(n, sizeof *lines);
  char *s = errs->data;
  for (size_t i = 0; i < n; i++) {
    lines[i] = s;
    s = strchr(s, '\n') + 1;
  }
  qsort_r(lines, n, sizeof *lines, cmp_problem, &pathlen);
  fb_buf out = {0};
  for (size_t i = 0; i < n; i++) fb_buf_append(&out, lines[i], (size_t)(strchr(lines[i], '\n') - lines[i] + 1));
  free(lines);
  fb_buf_free(errs);
  *errs = out;
}

fb_policy *fb_policy_compile(const char *code, const char *path, const char *src, size_t len,
                             const uint8_t *key, size_t keylen, json_t *warnings, char **err) {
  return fb_policy_compile_ex(code, path, src, len, key, keylen, NULL, 0, true, warnings, err);
}

fb_policy *fb_policy_compile_ex(const char *code, const char *path, const char *src, size_t len,
                                const uint8_t *key, size_t keylen, const char *const *states,
                                size_t nstates, bool any_iso, json_t *warnings, char **err) {
  fb_policy *p = policy_new(code, path, src, len, key, keylen);
  p->sb = fb_sandbox_new(FB_POLICY_MEM_MAX);
  if (!p->sb) {
    fb_set_error(err, "cannot create a Lua sandbox");
    policy_destroy(p);
    return NULL;
  }
  lua_State *L = fb_sandbox_state(p->sb);
  /* The context lives in the Lua heap, anchored in the registry: a `when` that kept a
   * rule function and calls it later must find it (and be refused), not a dead frame. */
  ctx *cp = lua_newuserdatauv(L, sizeof(ctx), 0);
  lua_setfield(L, LUA_REGISTRYINDEX, "fb.policy.ctx");
  memset(cp, 0, sizeof *cp);
  *cp = (ctx){.p = p, .src = src, .srclen = len, .is_common = strcmp(code, "common") == 0,
              .loading = true, .states = states, .nstates = nstates,
              .any_iso = any_iso || !states};
  install(L, cp);
  char chunk[1100];
  snprintf(chunk, sizeof chunk, "@%s", path);
  char *lerr = NULL;
  fb_sandbox_set_time_budget(p->sb, FB_POLICY_LOAD_MS);
  int rc = fb_sandbox_run(p->sb, src, len, chunk, FB_POLICY_LOAD_BUDGET, &lerr);
  fb_sandbox_set_time_budget(p->sb, FB_POLICY_WHEN_MS);
  cp->loading = false;
  cp->states = NULL; /* the caller's array; `when` errors use the ISO list */
  cp->nstates = 0;
  if (rc != 0) {
    /* Lua's own messages already carry "path:line:"; a budget message does not. */
    if (plain_syntax(cp, lerr)) {
      /* reported as a sentence */
    } else if (strncmp(lerr, path, strlen(path)) == 0) {
      fb_buf_printf(&cp->errs, "%s\n", lerr);
      cp->nerrs++;
    } else {
      fb_buf_printf(&cp->errs, "%s: %s\n", path, lerr);
      cp->nerrs++;
    }
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
    sort_problems(&cp->errs, strlen(path));
    if (cp->nerrs > 50) fb_buf_printf(&cp->errs, "%s: ... and %d more problems\n", path, cp->nerrs - 50);
    if (cp->errs.len && cp->errs.data[cp->errs.len - 1] == '\n') cp->errs.data[--cp->errs.len] = '\0';
    *err = fb_buf_steal(&cp->errs);
    policy_destroy(p);
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
