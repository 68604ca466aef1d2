/* Admission decisions: conditions are compared as bitmasks and small string sets;
 * Lua runs only for a rule with `when`. The "why" texts of the trace are written
 * only when a trace is asked for, so the plain decision allocates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/match.h"

static bool single(uint32_t m) { return m && !(m & (m - 1)); }

/* ---- the query as bits ------------------------------------------------------ */

void fb_query_bits_init(fb_query_bits *b, const fb_query *q) {
  int i;
  b->from[0] = q->purpose;
  b->from[1] = q->priority;
  b->from[2] = q->legal_basis;
  b->from[3] = q->subject;
  b->purpose = (i = fb_vocab_index(V_PURPOSE, q->purpose)) >= 0 ? 1u << i : 0;
  b->priority = (i = fb_vocab_index(V_PRIORITY, q->priority)) >= 0 ? 1u << i : 0;
  b->legal_basis = (i = fb_vocab_index(V_LEGAL_BASIS, q->legal_basis)) >= 0 ? 1u << i : 0;
  b->subject = 0;
  if (json_is_object(q->subject)) {
    const char *k;
    json_t *v;
    json_object_foreach(q->subject, k, v) {
      if (json_is_null(v)) continue;
      if ((i = fb_vocab_index(V_SUBJECT, k)) >= 0) b->subject |= 1u << i;
    }
  }
}

void fb_qbits_init(qbits *b, const fb_query *q) {
  const fb_query_bits *c = q->bits;
  if (c && c->from[0] == q->purpose && c->from[1] == q->priority && c->from[2] == q->legal_basis &&
      c->from[3] == q->subject)
    *b = *c;
  else
    fb_query_bits_init(b, q);
}

/* ---- the read-only view for `when` ------------------------------------------ */

/* A view is a userdata whose user value is the real table; the shared metatable
 * forwards reads and refuses writes, so `when` cannot change what later rules see. */
static int ro_index(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}
static int ro_newindex(lua_State *L) { return luaL_error(L, "the request is read-only"); }
static int ro_len(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
  return 1;
}
static int ro_next(lua_State *L) {
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);
  lua_insert(L, 2);
  if (lua_next(L, 2)) return 2;
  lua_pushnil(L);
  return 1;
}
static int ro_pairs(lua_State *L) {
  lua_pushcfunction(L, ro_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static void wrap_ro(lua_State *L) { /* table at -1 -> view at -1 */
  lua_newuserdatauv(L, 0, 1);
  lua_insert(L, -2);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, "fb.readonly")) {
    lua_pushcfunction(L, ro_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "read-only");
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static int build_view(lua_State *L) {
  const when_ctx *w = lua_touserdata(L, 1);
  const fb_query *q = w->q;
  lua_createtable(L, 0, 10);
  set_str(L, "purpose", q->purpose);
  set_str(L, "priority", q->priority);
  set_str(L, "legal_basis", q->legal_basis);
  set_str(L, "justification", q->justification);
  set_str(L, "case_ref", q->case_ref);
  set_str(L, "query_id", q->query_id);
  lua_pushboolean(L, q->formal); /* `when` functions can tell a formal request (FOLLOWUP.md) */
  lua_setfield(L, -2, "formal");
  lua_createtable(L, 0, 3);
  set_str(L, "state", q->from_state);
  set_str(L, "agency", q->agency);
  lua_createtable(L, (int)q->nroles, 0);
  for (size_t i = 0; i < q->nroles; i++) {
    lua_pushstring(L, q->roles[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  wrap_ro(L);
  lua_setfield(L, -2, "roles");
  wrap_ro(L);
  lua_setfield(L, -2, "requester");
  lua_createtable(L, 0, 6);
  if (json_is_object(q->subject)) {
    const char *k;
    json_t *v;
    json_object_foreach(q->subject, k, v) {
      if (json_is_string(v)) set_str(L, k, json_string_value(v));
    }
  }
  wrap_ro(L);
  lua_setfield(L, -2, "subject");
  wrap_ro(L);
  return 1;
}

/* Calls a rule's `when`. Returns 1/0, or -1 with *err. */
static int call_when(fb_policy *p, when_ctx *w, const rule *r, int ref, char **err) {
  lua_State *L = fb_sandbox_state(p->sb);
  if (!w->locked) {
    pthread_mutex_lock(p->lua_mu); /* until fb_when_ctx_end: the view stays on this stack */
    w->locked = true;
  }
  if (!w->view) {
    w->top = lua_gettop(L);
    lua_pushcfunction(L, build_view);
    lua_pushlightuserdata(L, w);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      lua_settop(L, w->top);
      fb_set_error(err, "cannot build the request view (out of memory)");
      return -1;
    }
    w->view = lua_gettop(L);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushvalue(L, w->view);
  char *lerr = NULL;
  if (fb_sandbox_call(p->sb, 1, 1, FB_POLICY_WHEN_BUDGET, &lerr) != 0) {
    fb_set_error(err, "%s: %s \"%s\": when failed: %s", p->path, fb_rule_kind_names[r->kind], r->name, lerr);
    free(lerr);
    return -1;
  }
  int res = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return res;
}

void fb_when_ctx_end(fb_policy *p, when_ctx *w) {
  if (w->view) lua_settop(fb_sandbox_state(p->sb), w->top);
  w->view = 0;
  if (w->locked) pthread_mutex_unlock(p->lua_mu);
  w->locked = false;
}

/* ---- matching ------------------------------------------------------------- */

/* One name bare, several as "[a, b]". */
static void list_vocab(fb_buf *b, vocab v, uint32_t mask) {
  bool first = true, one = single(mask);
  if (!one) fb_buf_putc(b, '[');
  for (int i = 0; fb_vocab[v][i]; i++)
    if (mask & (1u << i)) {
      fb_buf_printf(b, "%s%s", first ? "" : ", ", fb_vocab[v][i]);
      first = false;
    }
  if (!one) fb_buf_putc(b, ']');
}

static void list_set(fb_buf *b, const strset *s) {
  fb_buf_putc(b, '[');
  for (size_t i = 0; i < s->n; i++) fb_buf_printf(b, "%s%s", i ? ", " : "", s->v[i]);
  fb_buf_putc(b, ']');
}

static void why_vocab(fb_buf *b, const char *key, vocab v, uint32_t want, const char *value,
                      bool ok) {
  if (b->len) fb_buf_puts(b, "; ");
  if (!value) value = "(none)";
  if (single(want)) {
    fb_buf_printf(b, ok ? "%s is %s" : "%s is %s, not ", key, value);
    if (!ok) list_vocab(b, v, want);
  } else {
    fb_buf_printf(b, "%s %s is %s", key, value, ok ? "in " : "not in ");
    list_vocab(b, v, want);
  }
}

static void why_set(fb_buf *b, const char *key, const strset *s, const char *value, bool ok) {
  if (b->len) fb_buf_puts(b, "; ");
  if (s->n == 1) fb_buf_printf(b, ok ? "%s is %s" : "%s is %s, not %s", key,
                               value ? value : "(none)", s->v[0]);
  else {
    fb_buf_printf(b, "%s %s is %s", key, value ? value : "(none)", ok ? "in " : "not in ");
    list_set(b, s);
  }
}

int fb_cond_match(fb_policy *p, const rule *r, const cond *k, const qbits *b, when_ctx *w,
                  fb_buf *why, char **err) {
  const fb_query *q = w->q;
  /* Cheapest tests first; on a failure with no trace, stop at once. */
#define VOCAB(field, key, v, qv)                                                     \
  if (k->field) {                                                                    \
    bool ok = (k->field & b->field) != 0;                                            \
    if (why) why_vocab(why, key, v, k->field, qv, ok);                               \
    if (!ok) return 0;                                                               \
  }
  VOCAB(purpose, "purpose", V_PURPOSE, q->purpose)
  VOCAB(priority, "priority", V_PRIORITY, q->priority)
  VOCAB(legal_basis, "legal_basis", V_LEGAL_BASIS, q->legal_basis)
#undef VOCAB
  if (k->subject) {
    bool ok = (k->subject & b->subject) != 0;
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      fb_buf_puts(why, ok ? "the request searches by " : "the request does not search by ");
      if (!single(k->subject)) fb_buf_puts(why, ok ? "one of " : "any of ");
      list_vocab(why, V_SUBJECT, k->subject);
    }
    if (!ok) return 0;
  }
  if (k->case_ref >= 0) {
    bool has = q->case_ref && q->case_ref[0];
    bool ok = has == (k->case_ref == 1);
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      fb_buf_puts(why, has ? "a case reference is given" : "no case reference is given");
    }
    if (!ok) return 0;
  }
  if (k->formal >= 0) {
    bool ok = q->formal == (k->formal == 1);
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      fb_buf_puts(why, q->formal ? "it is a formal follow-up request" : "it is a search, not a formal request");
    }
    if (!ok) return 0;
  }
  if (k->to.n) {
    bool ok = strset_has(&k->to, q->to_state);
    if (why) why_set(why, "responding state", &k->to, q->to_state, ok);
    if (!ok) return 0;
  }
  if (k->just_lt) {
    long n = 0; /* characters, not bytes: count UTF-8 lead bytes */
    for (const unsigned char *u = (const unsigned char *)(q->justification ? q->justification : "");
         *u && n < k->just_lt; u++)
      n += (*u & 0xC0) != 0x80;
    bool ok = n < k->just_lt;
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      if (ok) fb_buf_printf(why, "the justification has %ld characters, fewer than %ld", n, k->just_lt);
      else fb_buf_printf(why, "the justification has at least %ld characters", k->just_lt);
    }
    if (!ok) return 0;
  }
  if (k->from.n) {
    bool ok = strset_has(&k->from, q->from_state);
    if (why) why_set(why, "requesting state", &k->from, q->from_state, ok);
    if (!ok) return 0;
  }
  if (k->agency.n) {
    bool ok = strset_has(&k->agency, q->agency);
    if (why) why_set(why, "agency", &k->agency, q->agency, ok);
    if (!ok) return 0;
  }
  if (k->role.n) {
    const char *hit = NULL;
    for (size_t i = 0; i < q->nroles && !hit; i++)
      if (strset_has(&k->role, q->roles[i])) hit = q->roles[i];
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      if (hit) fb_buf_printf(why, "the requester has the role %s", hit);
      else {
        fb_buf_puts(why, "the requester has none of the roles ");
        list_set(why, &k->role);
      }
    }
    if (!hit) return 0;
  }
  if (k->unless) {
    fb_buf sub = {0};
    int m = fb_cond_match(p, r, k->unless, b, w, why ? &sub : NULL, err);
    if (m < 0) {
      fb_buf_free(&sub);
      return -1;
    }
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      fb_buf_printf(why, m ? "unless applies (%s)" : "unless does not apply (%s)", sub.data ? sub.data : "");
    }
    fb_buf_free(&sub);
    if (m) return 0;
  }
  if (k->when_ref != LUA_NOREF) {
    int m = call_when(p, w, r, k->when_ref, err);
    if (m < 0) return -1;
    if (why) {
      if (why->len) fb_buf_puts(why, "; ");
      fb_buf_puts(why, m ? "its when test returned true" : "its when test returned false");
    }
    if (!m) return 0;
  }
  if (why && why->len == 0) fb_buf_puts(why, "no conditions: it applies to every request");
  return 1;
}

/* ---- decisions ------------------------------------------------------------ */

static void trace_add(json_t *trace, const fb_policy *p, const rule *r, bool matched, fb_buf *why) {
  json_array_append_new(trace, json_pack("{s:s, s:s, s:s, s:b, s:s}", "rule", r->name, "kind",
                                         fb_rule_kind_names[r->kind], "policy", p->code,
                                         "matched", matched, "why", why->data ? why->data : ""));
}

static void policy_error(fb_decision *out, char *err) {
  out->effect = FB_EFFECT_DENY;
  out->rule = "policy_error";
  out->reason = "The policy could not be evaluated; nothing is shared.";
  out->review = false;
  out->error = err;
  fb_error("policy_error", "%s", err);
}

/* Runs `p`'s admission rules (only its deny rules when `deny_only`). Returns 1 when a
 * rule decided, 0 when none matched, -1 on a policy error (out filled). */
static int run_rules(fb_policy *p, bool deny_only, const fb_query *q, const qbits *b,
                     fb_decision *out, json_t *trace) {
  when_ctx w = {.q = q};
  fb_buf why = {0};
  int decided = 0;
  for (size_t i = 0; i < p->nrules && !decided; i++) {
    const rule *r = &p->rules[i];
    if (!rule_is_admission(r->kind) || (deny_only && r->kind != RK_DENY)) continue;
    char *err = NULL;
    fb_buf_reset(&why);
    int m = fb_cond_match(p, r, &r->c, b, &w, trace ? &why : NULL, &err);
    if (m < 0) {
      policy_error(out, err);
      if (trace)
        json_array_append_new(trace, json_pack("{s:s, s:s, s:s, s:b, s:s}", "rule", r->name,
                                               "kind", fb_rule_kind_names[r->kind], "policy",
                                               p->code, "matched", 0, "why", out->error));
      decided = -1;
      break;
    }
    if (trace) trace_add(trace, p, r, m == 1, &why);
    if (m == 1) {
      out->effect = r->kind == RK_ALLOW ? FB_EFFECT_ALLOW
                    : r->kind == RK_HIT_ONLY ? FB_EFFECT_HIT_ONLY : FB_EFFECT_DENY;
      out->rule = r->name;
      out->reason = r->reason ? r->reason : r->name;
      out->review = r->review;
      decided = 1;
    }
  }
  fb_buf_free(&why);
  fb_when_ctx_end(p, &w);
  return decided;
}

void fb_policy_decide_named(fb_policy *common, fb_policy *state, const char *state_code,
                            const fb_query *q, fb_decision *out, json_t *trace) {
  memset(out, 0, sizeof *out);
  qbits b;
  fb_qbits_init(&b, q);
  if (common && run_rules(common, true, q, &b, out, trace) != 0) return;
  if (state && run_rules(state, false, q, &b, out, trace) != 0) return;
  out->effect = FB_EFFECT_DENY;
  out->rule = "default_deny";
  if (state) {
    out->reason = state->default_reason;
  } else if (state_code) {
    /* No file for this state: the decision owns its reason text. */
    size_t n = strlen(state_code) + 40;
    out->reason_buf = fb_xmalloc(n);
    snprintf(out->reason_buf, n, "No rule of %s allows this request.", state_code);
    out->reason = out->reason_buf;
  } else {
    out->reason = "No rule of this state allows this request.";
  }
  if (trace)
    json_array_append_new(trace, json_pack("{s:s, s:s, s:s, s:b, s:s}", "rule", "default_deny",
                                           "kind", "deny", "policy", state ? state->code : "",
                                           "matched", 1, "why",
                                           state ? "no rule matched: everything not allowed is denied"
                                                 : "this state has no policy file: everything is denied"));
}

void fb_policy_decide(fb_policy *common, fb_policy *state, const fb_query *q, fb_decision *out,
                      json_t *trace) {
  fb_policy_decide_named(common, state, NULL, q, out, trace);
}

void fb_decision_clear(fb_decision *d) {
  free(d->error);
  free(d->reason_buf);
  d->error = d->reason_buf = NULL;
}
