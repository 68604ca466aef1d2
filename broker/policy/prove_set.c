/* The two versions a proof compares (common plus one policy per state, from a
 * directory, the store in force or a draft), the proof over every state, and its
 * printed form. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "policy/prove_space.h"
#include "policy/tools.h"

struct fb_prove_set {
  fb_policy *common;
  char **codes;
  fb_policy **policies; /* NULL: no file for that state */
  size_t n;
};

static void set_add(fb_prove_set *s, const char *code, fb_policy *p) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->codes[i], code) == 0) {
      fb_policy_unref(s->policies[i]);
      s->policies[i] = p;
      return;
    }
  s->codes = fb_xrealloc(s->codes, (s->n + 1) * sizeof(char *));
  s->policies = fb_xrealloc(s->policies, (s->n + 1) * sizeof(fb_policy *));
  s->codes[s->n] = fb_xstrdup(code);
  s->policies[s->n++] = p;
}

fb_prove_set *fb_prove_set_from_store(fb_policy_store *store) {
  fb_prove_set *s = fb_xcalloc(1, sizeof *s);
  s->common = fb_policy_store_common(store);
  for (size_t i = 0; i < fb_policy_store_nstates(store); i++) {
    const char *code = fb_policy_store_state(store, i);
    set_add(s, code, fb_policy_store_get(store, code));
  }
  return s;
}

fb_prove_set *fb_prove_set_from_dir(const char *dir, char **err) {
  fb_policy_store *store = fb_policy_store_open_dir(dir, err);
  if (!store) return NULL;
  fb_prove_set *s = fb_prove_set_from_store(store);
  fb_policy_store_free(store);
  return s;
}

int fb_prove_set_put_source(fb_prove_set *s, const char *code, const char *src, size_t len, char **err) {
  bool ok = strcmp(code, "common") == 0 ||
            (strlen(code) == 3 && isupper((unsigned char)code[0]) && isupper((unsigned char)code[1]) &&
             isupper((unsigned char)code[2]));
  if (!ok) {
    fb_set_error(err, "a draft names \"common\" or a state code such as \"MYS\"");
    return -1;
  }
  if (len > FB_POLICY_FILE_MAX) {
    fb_set_error(err, "a draft policy is larger than 1 MiB");
    return -1;
  }
  char path[64];
  snprintf(path, sizeof path, "%s.lua", code); /* problems name the file as the draft does */
  fb_policy *p = fb_policy_compile(code, path, src, len, s->common->key, s->common->keylen, NULL, err);
  if (!p) return -1;
  if (strcmp(code, "common") == 0) {
    fb_policy_unref(s->common);
    s->common = p;
  } else {
    set_add(s, code, p);
  }
  return 0;
}

void fb_prove_set_free(fb_prove_set *s) {
  if (!s) return;
  fb_policy_unref(s->common);
  for (size_t i = 0; i < s->n; i++) {
    free(s->codes[i]);
    fb_policy_unref(s->policies[i]);
  }
  free(s->codes);
  free(s->policies);
  free(s);
}

static fb_policy *set_get(const fb_prove_set *s, const char *code, bool *known) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->codes[i], code) == 0) {
      *known = true;
      return s->policies[i];
    }
  return NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *fb_policy_prove_json(fb_prove_set *old, fb_prove_set *new, const char *state, char **err) {
  /* Every state either version knows, sorted: the requesting states, and (without
   * `state`) the states proved. */
  const char **known = fb_xcalloc(old->n + new->n + 1, sizeof(char *));
  size_t nknown = 0;
  for (int side = 0; side < 2; side++) {
    const fb_prove_set *s = side ? new : old;
    for (size_t i = 0; i < s->n; i++) {
      bool dup = false;
      for (size_t j = 0; j < nknown; j++) dup |= strcmp(known[j], s->codes[i]) == 0;
      if (!dup) known[nknown++] = s->codes[i];
    }
  }
  if (nknown) qsort(known, nknown, sizeof(char *), cmp_str);
  bool in_old = false, in_new = false;
  if (state) {
    set_get(old, state, &in_old);
    set_get(new, state, &in_new);
    if (!in_old && !in_new) {
      fb_set_error(err, "%.16s is a state of neither version", state);
      free(known);
      return NULL;
    }
  }
  json_t *regions = json_array(), *unknown = json_array(), *states = json_array();
  json_int_t space = 0, evaluated = 0, record_classes = 0;
  bool widens = false, narrows = false;
  for (size_t i = 0; i < nknown; i++) {
    if (state && strcmp(state, known[i]) != 0) continue;
    bool k;
    fb_policy *op = set_get(old, known[i], &k), *np = set_get(new, known[i], &k);
    json_t *r = fb_prove_state(old->common, op, new->common, np, known[i], known, nknown, err);
    if (!r) {
      json_decref(regions);
      json_decref(unknown);
      json_decref(states);
      free(known);
      return NULL;
    }
    const char *v = json_string_value(json_object_get(r, "verdict"));
    widens |= strcmp(v, "widens") == 0 || strcmp(v, "both") == 0;
    narrows |= strcmp(v, "narrows") == 0 || strcmp(v, "both") == 0;
    json_array_extend(regions, json_object_get(r, "regions"));
    json_array_extend(unknown, json_object_get(r, "unknown"));
    space += json_integer_value(json_object_get(r, "space"));
    evaluated += json_integer_value(json_object_get(r, "evaluated"));
    if (json_integer_value(json_object_get(r, "record_classes")) > record_classes)
      record_classes = json_integer_value(json_object_get(r, "record_classes"));
    json_array_append_new(states, json_pack("{s:s, s:s, s:O, s:O, s:I}", "state", known[i], "verdict", v,
                                            "space", json_object_get(r, "space"), "evaluated",
                                            json_object_get(r, "evaluated"), "regions",
                                            (json_int_t)json_array_size(json_object_get(r, "regions"))));
    json_decref(r);
  }
  free(known);
  const char *verdict = widens && narrows ? "both" : widens ? "widens" : narrows ? "narrows" : "equivalent";
  return json_pack("{s:s, s:o, s:I, s:I, s:I, s:o, s:o}", "verdict", verdict, "regions", regions,
                   "space", space, "record_classes", record_classes, "evaluated", evaluated,
                   "unknown", unknown, "states", states);
}

void fb_prove_print(json_t *proof, FILE *out) {
  json_t *regions = json_object_get(proof, "regions");
  fprintf(out, "verdict: %s\n", json_string_value(json_object_get(proof, "verdict")));
  fprintf(out, "space: %lld requests x %lld kinds of record (%lld points decided per version)\n",
          (long long)json_integer_value(json_object_get(proof, "space")),
          (long long)json_integer_value(json_object_get(proof, "record_classes")),
          (long long)json_integer_value(json_object_get(proof, "evaluated")));
  size_t i;
  json_t *r;
  json_array_foreach(regions, i, r) fprintf(out, "%s %s\n",
                                            strcmp(json_string_value(json_object_get(r, "change")), "widens") == 0 ? "+" : "-",
                                            json_string_value(json_object_get(r, "text")));
  json_array_foreach(json_object_get(proof, "unknown"), i, r) {
    if (strcmp(json_string_value(json_object_get(r, "in")), "outbound") == 0) {
      fprintf(out, "not proved: outbound rule '%s' (%s, %s version%s) decides what %s's officers may send, "
              "not what %s answers\n",
              json_string_value(json_object_get(r, "rule")), json_string_value(json_object_get(r, "policy")),
              json_string_value(json_object_get(r, "version")),
              strcmp(json_string_value(json_object_get(r, "version")), "both") == 0 ? "s" : "",
              json_string_value(json_object_get(r, "state")), json_string_value(json_object_get(r, "state")));
      continue;
    }
    fprintf(out, "unknown: %s in rule '%s' (%s, %s version%s) cannot be enumerated; "
            "differences that depend on it say so\n",
            json_string_value(json_object_get(r, "in")), json_string_value(json_object_get(r, "rule")),
            json_string_value(json_object_get(r, "policy")), json_string_value(json_object_get(r, "version")),
            strcmp(json_string_value(json_object_get(r, "version")), "both") == 0 ? "s" : "");
  }
}
