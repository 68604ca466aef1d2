/* The policy loader: the input is the source of MYS.lua. A file that loads is then
 * asked for a decision and a redaction plan on a fixed query and two records, so the
 * rules it compiled and any `when` run as they would in a search. */
#include <stdlib.h>

#include "common.h"
#include "policy/policy.h"
#include "policy/rules.h"

static const uint8_t KEY[] = "fuzz-redaction-key-0123456789";
static const char *const roles[] = {"analyst"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  char *err = NULL;
  json_t *warnings = json_array();
  fb_policy *p = fb_policy_compile("MYS", "MYS.lua", (const char *)data, len, KEY, sizeof KEY - 1, warnings, &err);
  json_decref(warnings);
  if (!p) {
    if (!err) abort(); /* a file that does not load says why */
    free(err);
    return 0;
  }
  json_t *subject = json_pack("{s:s, s:s}", "name", "Ahmad bin Ismail", "document", "A12345678");
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "Suspected facilitator of boat arrivals", .from_state = "IDN",
                .agency = "POLRI", .roles = roles, .nroles = 1, .subject = subject, .query_id = "q-1"};
  fb_decision d;
  json_t *trace = json_array();
  fb_policy_decide(NULL, p, &q, &d, trace);
  fb_decision_clear(&d);
  json_decref(trace);
  fb_plan *plan = fb_plan_new(NULL, p, &q);
  json_t *recs = json_loads("[{\"id\":\"r1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-02\","
                            "\"nationality\":\"IDN\",\"tags\":[\"suspect\"],\"documents\":[{\"type\":\"passport\","
                            "\"number\":\"A12345678\",\"country\":\"IDN\"}]},"
                            "{\"id\":\"v1\",\"type\":\"vessel\",\"vessel\":{\"name\":\"KM Sinar\",\"imo\":\"1234567\"}}]",
                            0, NULL);
  size_t redacted = 0;
  fb_plan_apply(plan, recs, &redacted);
  json_t *desc = fb_plan_describe(plan);
  json_decref(desc);
  json_decref(recs);
  fb_plan_free(plan);
  json_decref(subject);
  fb_policy_unref(p);
  return 0;
}
