/* The line checker: one call per line, in file order. Shared by open-time recovery (the
 * last lines, chain only) and by verify (the whole file, signatures too), so that what
 * the writer refuses to extend and what the verifier rejects are the same thing. */
#include <ctype.h>
#include <string.h>

#include "audit/internal.h"
#include "core/error.h"
#include "core/util.h"

static const char zeros[65] = "0000000000000000000000000000000000000000000000000000000000000000";

static bool is_lower_hex(const char *s, size_t n) {
  if (strlen(s) != n) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* "2026-11-27T22:49:00.123Z" */
static bool is_rfc3339_ms(const char *s) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (strlen(s) != sizeof shape - 1) return false;
  for (size_t i = 0; i < sizeof shape - 1; i++) {
    if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i]) return false;
  }
  return true;
}

static int fail(audit_chain *c, uint64_t seq, char **why, const char *reason) {
  fb_set_error(why, "line %llu (seq %llu): %s", (unsigned long long)(c->lineno + 1),
               (unsigned long long)seq, reason);
  return -1;
}

int audit_chain_line(audit_chain *c, const char *line, size_t len, char **why) {
  uint64_t want = c->next_seq ? c->next_seq : 1;
  json_error_t jerr;
  if (len == 0) return fail(c, want, why, "empty line");
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!o) {
    char msg[300];
    snprintf(msg, sizeof msg, "invalid JSON: %s", jerr.text);
    return fail(c, want, why, msg);
  }
  int rc = -1;
  char msg[200];
  if (!json_is_object(o)) {
    fail(c, want, why, "not a JSON object");
    goto out;
  }
  /* The first four keys, in this order: the format readers rely on. */
  static const char *const head[] = {"seq", "ts", "event", "prev"};
  void *it = json_object_iter(o);
  for (size_t i = 0; i < 4; i++, it = json_object_iter_next(o, it)) {
    if (!it || strcmp(json_object_iter_key(it), head[i]) != 0) {
      snprintf(msg, sizeof msg, "key %zu must be \"%s\"", i + 1, head[i]);
      fail(c, want, why, msg);
      goto out;
    }
  }
  json_t *jseq = json_object_get(o, "seq");
  if (!json_is_integer(jseq) || json_integer_value(jseq) < 1) {
    fail(c, want, why, "seq is not a positive integer");
    goto out;
  }
  uint64_t seq = (uint64_t)json_integer_value(jseq);
  if (seq != want) {
    snprintf(msg, sizeof msg, "seq %llu out of order (expected %llu)", (unsigned long long)seq,
             (unsigned long long)want);
    fail(c, want, why, msg); /* report the position, not the line's claim */
    goto out;
  }
  const char *ts = json_string_value(json_object_get(o, "ts"));
  if (!ts || !is_rfc3339_ms(ts)) {
    fail(c, seq, why, "ts is not RFC 3339 UTC with milliseconds");
    goto out;
  }
  const char *event = json_string_value(json_object_get(o, "event"));
  if (!event || !*event) {
    fail(c, seq, why, "event is not a non-empty string");
    goto out;
  }
  const char *prev = json_string_value(json_object_get(o, "prev"));
  if (!prev || !is_lower_hex(prev, 64)) {
    fail(c, seq, why, "prev is not 64 lowercase hex characters");
    goto out;
  }
  if (c->prev_known) {
    char hex[65];
    fb_hex_encode(c->prev, 32, hex);
    if (strcmp(hex, prev) != 0) {
      fail(c, seq, why, "prev does not match the SHA-256 of the line before (a line was changed, removed or inserted)");
      goto out;
    }
  } else if (seq == 1 && strcmp(prev, zeros) != 0) {
    fail(c, seq, why, "the first line's prev must be 64 zeros");
    goto out;
  }
  bool is_cp = strcmp(event, "checkpoint") == 0;
  if (is_cp) {
    const char *kid = json_string_value(json_object_get(o, "key_id"));
    const char *sig = json_string_value(json_object_get(o, "sig"));
    if (json_object_size(o) != 6 || !kid || !sig || !is_lower_hex(kid, 16)) {
      fail(c, seq, why, "checkpoint must be {seq, ts, event, prev, key_id (16 hex), sig}");
      goto out;
    }
    if (c->pub) {
      if (!c->key_id[0] && audit_key_id(c->pub, c->key_id) != 0) {
        fail(c, seq, why, "cannot compute the key id of the public key");
        goto out;
      }
      if (strcmp(kid, c->key_id) != 0) {
        snprintf(msg, sizeof msg, "checkpoint key_id %s is not the given key's (%s)", kid, c->key_id);
        fail(c, seq, why, msg);
        goto out;
      }
      if (!audit_sig_ok(c->pub, prev, 64, sig)) {
        fail(c, seq, why, "checkpoint signature does not verify");
        goto out;
      }
    }
    c->checkpoints++;
  }
  c->last_is_checkpoint = is_cp;
  audit_sha256(line, len, c->prev);
  c->prev_known = true;
  c->next_seq = seq + 1;
  c->lineno++;
  if (is_cp) c->covered = c->lineno;
  rc = 0;
out:
  json_decref(o);
  return rc;
}
