/* Adapter kind "broker": another fedbroker hub stands for the state (CONFIG.md
 * `BGD = { adapter = "broker", url = "https://bgd-hub:8443", token_file = ... }`).
 *
 * A leg is one POST {url}/v1/search (API.md) with the bearer token read from
 * token_file at open, asking for exactly this state: `"states": ["BGD"]`. The remote
 * hub applies that state's own policy again (defence in depth), so what comes back has
 * already been redacted there; records keep their "redacted" lists, so the local merge
 * never links through a value the remote removed.
 *
 * The answer is accepted only as 200 whose `states[]` reports this state `shared`;
 * the leg's records are then every `results[].records[]` whose "state" is this state,
 * each passing fb_record_validate. Any other outcome of the remote (denied, hit_only,
 * error, timeout, unavailable) fails the leg with FB_LEG_ERROR and a sentence such as
 * "remote hub: BGD denied (rule default_deny): ...". Transport faults (non-200,
 * invalid JSON, over max_body, timeout) are those of http_client/client.h, with "remote hub" as
 * the peer.
 *
 * Ownership: as adapters/http.c — the adapter owns its HTTP client and its legs; cancel
 * frees a leg at once; close cancels what is left and frees everything. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/error.h"
#include "http_client/client.h"
#include "core/log.h"
#include "core/util.h"
#include "records/record.h"

#define DEFAULT_LIMIT 100
#define MAX_TOKEN_FILE 65536 /* a JWT is a few hundred bytes; anything near this is not one */

/* What judge() needs, copied into each call: it runs on a worker thread, where the
 * adapter and the leg may already be gone. */
typedef struct {
  char code[16];
  size_t limit;
} judge_arg;

typedef struct {
  http_common_adapter c; /* first: the shared legs in flight (http_common.c) */
  char code[16];  /* the state this adapter stands for, as the remote hub names it */
} broker_adapter;

static int fault(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fault(char **err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fb_set_errorv(err, fmt, ap);
  va_end(ap);
  fb_prefix_error(err, "remote hub: ");
  return FB_HTTP_ERROR;
}

/* This state's entry of the remote's `states[]` must say `shared`. */
static int check_outcome(const judge_arg *a, json_t *states, char **err) {
  size_t i;
  json_t *st;
  json_array_foreach(states, i, st) {
    const char *code = json_string_value(json_object_get(st, "state"));
    if (!code || strcmp(code, a->code) != 0) continue;
    const char *outcome = json_string_value(json_object_get(st, "outcome"));
    if (!outcome) return fault(err, "states[%zu] has no outcome", i);
    if (strcmp(outcome, "shared") == 0) return 0;
    const char *rule = json_string_value(json_object_get(st, "rule"));
    const char *reason = json_string_value(json_object_get(st, "reason"));
    char rule_part[160] = "";
    if (rule) snprintf(rule_part, sizeof rule_part, " (rule %.120s)", rule);
    return fault(err, "%s %.32s%s%s%.200s", a->code, outcome, rule_part, reason ? ": " : "",
                 reason ? reason : "");
  }
  return fault(err, "the answer has no outcome for %s", a->code);
}

/* The remote's answer → this state's records, or a sentence. A fb_http_check_fn: runs
 * on a worker thread and touches only `arg` (a judge_arg) and `body`. */
static int judge(const void *arg, json_t *body, json_t **records, char **err) {
  const judge_arg *a = arg;
  size_t limit = a->limit;
  *records = NULL;
  if (!json_is_object(body)) return fault(err, "the answer is not a JSON object");
  json_t *states = json_object_get(body, "states");
  json_t *results = json_object_get(body, "results");
  if (!json_is_array(states)) return fault(err, "the answer has no \"states\" array");
  if (!json_is_array(results)) return fault(err, "the answer has no \"results\" array");
  int rc = check_outcome(a, states, err);
  if (rc != 0) return rc;
  json_t *out = json_array();
  size_t i, j;
  json_t *res, *r;
  json_array_foreach(results, i, res) {
    json_t *recs = json_object_get(res, "records");
    if (!json_is_array(recs)) {
      json_decref(out);
      return fault(err, "results[%zu] has no \"records\" array", i);
    }
    json_array_foreach(recs, j, r) {
      const char *code = json_string_value(json_object_get(r, "state"));
      if (!code) {
        json_decref(out);
        return fault(err, "results[%zu].records[%zu] has no state", i, j);
      }
      if (strcmp(code, a->code) != 0) continue; /* not ours: the remote should not send it */
      if (fb_record_validate(r, err) != 0) {
        json_decref(out);
        fb_prefix_error(err, "remote hub: results[%zu].records[%zu]: ", i, j);
        return FB_HTTP_ERROR;
      }
      /* Results come best first, so a cut keeps the strongest matches. */
      if (json_array_size(out) < limit) json_array_append(out, r);
    }
  }
  *records = out;
  return 0;
}

static int br_start(fb_adapter *base, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                    fb_leg **out) {
  broker_adapter *a = (broker_adapter *)base;
  *out = NULL;
  if (!json_is_object(req->subject)) return -1;
  /* Exactly the API.md request fields: a hub answers 400 to unknown ones. */
  json_t *body = json_pack("{s:O, s:s?, s:s?, s:s?, s:[s]}", "subject", req->subject, "purpose",
                           req->purpose, "priority", req->priority, "legal_basis", req->legal_basis,
                           "states", a->code);
  if (!body) return -1;
  if (req->justification) json_object_set_new(body, "justification", json_string(req->justification));
  if (req->case_ref) json_object_set_new(body, "case_ref", json_string(req->case_ref));
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  judge_arg arg = {.limit = req->limit ? req->limit : DEFAULT_LIMIT};
  memcpy(arg.code, a->code, sizeof arg.code);
  return http_common_post(&a->c, text, req->timeout_ms, &arg, cb, NULL, data, out);
}

/* The token from token_file, trimmed of surrounding whitespace. It goes into a
 * header line, so anything but visible ASCII inside it is refused. Returns a malloc'd
 * token, or NULL with *err. */
static char *read_token(const char *code, const char *path, char **err) {
  size_t len = 0;
  char *text = fb_read_file(path, MAX_TOKEN_FILE, &len);
  if (!text) {
    fb_set_error(err, "state %s: cannot read token_file %s: %s", code, path,
                 errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
    return NULL;
  }
  size_t start = 0, end = len;
  while (start < end && isspace((unsigned char)text[start])) start++;
  while (end > start && isspace((unsigned char)text[end - 1])) end--;
  const char *problem = start == end ? "is empty" : NULL;
  for (size_t i = start; i < end && !problem; i++)
    if (text[i] < 0x21 || text[i] > 0x7e) problem = "holds characters a bearer token cannot have";
  if (problem) {
    fb_set_error(err, "state %s: token_file %s %s", code, path, problem);
    free(text);
    return NULL;
  }
  char *token = fb_xstrndup(text + start, end - start);
  /* The secret should not linger in freed heap memory. */
  explicit_bzero(text, len);
  free(text);
  return token;
}

/* The keys of a `states` entry of this kind (CONFIG.md). */
static const adapter_option_spec br_options[] = {
    ADAPTER_HTTP_OPTIONS,
    {"token_file", ADAPTER_OPT_PATH, offsetof(fb_state_config, token_file), false},
};

static int br_configure(fb_state_config *cfg, char **err) {
  adapter_http_defaults(cfg); /* before the file's values */
  return adapter_read_options(cfg, br_options, FB_ARRAY_LEN(br_options), err);
}

static int br_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  const char *code = cfg->code ? cfg->code : "?";
  if (adapter_http_check(cfg, "broker", err) != 0) return -1;
  if (!cfg->token_file) {
    fb_set_error(err, "state %s: adapter broker needs `token_file`", code);
    return -1;
  }
  if (strlen(code) >= sizeof ((broker_adapter *)0)->code) {
    fb_set_error(err, "state %.20s...: state code too long for adapter broker", code);
    return -1;
  }
  char *token = read_token(code, cfg->token_file, err);
  if (!token) return -1;
  /* {url}/v1/search, whether or not the configured url ends in '/'. */
  size_t ulen = strlen(cfg->url);
  while (ulen > 0 && cfg->url[ulen - 1] == '/') ulen--;
  fb_buf url = {0};
  fb_buf_append(&url, cfg->url, ulen);
  fb_buf_puts(&url, "/v1/search");
  char *search_url = fb_buf_steal(&url);
  fb_http_client_options o = {.url = search_url, .ca = cfg->ca, .cert = cfg->cert, .key = cfg->key,
                            .bearer = token, .peer = "remote hub", .max_body = cfg->max_body,
                            .timeout_ms = cfg->timeout_ms, .dns_cache_ms = cfg->dns_cache_ms, .error_detail = true,
                            .check = judge, .check_arg_size = sizeof(judge_arg)};
  fb_http_client *client = fb_http_client_new(loop, &o);
  explicit_bzero(token, strlen(token));
  free(token);
  free(search_url);
  if (!client) {
    fb_set_error(err, "state %s: cannot create an HTTP client", code);
    return -1;
  }
  broker_adapter *a = fb_xcalloc(1, sizeof *a);
  a->c.client = client;
  snprintf(a->code, sizeof a->code, "%s", code);
  *out = &a->c.base;
  return 0;
}

const fb_adapter_vtable broker_adapter_vtable = {
    .kind = "broker", .configure = br_configure, .open = br_open, .start = br_start, .cancel = http_common_cancel,
    .close = http_common_close};
