#!/usr/bin/env python3
"""Checks docs/openapi.yaml against a running hub (tests/integration/openapi.sh).

- Every route the hub registers (fb_router_add in broker/hub/*.c) is documented, and
  every documented path is a route.
- Every operation answers its documented success status with a documented content type
  and, for JSON, every required field (recursively, with enums) of its schema.
- Where documented: 401 without a token (error body, WWW-Authenticate), 403 for the
  `forbidden_token`, 400 with `error.field` for the `bad_body`/`bad_query`, 404 for
  a `missing_path`, 304 on If-None-Match, the NDJSON stream's lines.
Operations run in the order of the file; `save` keeps values of an answer (a Python
expression over its JSON `d`) for `${name}` in later operations' test values; `before`
lists calls that set the stage; `again` is the status of the same call made twice.
Usage: openapi_check.py SPEC SOURCE_DIR BASE_URL (tokens in the environment)."""
import glob
import json
import os
import re
import sys
import urllib.error
import urllib.request

import yaml

spec_path, src, base = sys.argv[1:4]
spec = yaml.safe_load(open(spec_path))
failures = []
checked = 0


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def resolve(schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    if isinstance(schema, dict) and "allOf" in schema:
        merged = {"type": "object", "required": [], "properties": {}}
        for s in schema["allOf"]:
            s = resolve(s)
            merged["required"] += s.get("required", [])
            merged["properties"].update(s.get("properties", {}))
        return merged
    return schema


def conforms(value, schema, where):
    """Required fields, enums and consts, recursively; returns a list of problems."""
    schema = resolve(schema)
    problems = []
    if not isinstance(schema, dict):
        return problems
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                problems.append(f"{where}: required field '{k}' missing")
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                problems += conforms(value[k], sub, f"{where}.{k}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value[:20]):
            problems += conforms(item, schema["items"], f"{where}[{i}]")
    elif schema.get("type") == "object" and not isinstance(value, dict):
        problems.append(f"{where}: not an object")
    return problems


def call(method, path, token=None, body=None, query=None, headers=None):
    url = base + path
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    h = dict(headers or {})
    data = None
    if token:
        h["Authorization"] = "Bearer " + os.environ[token]
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method.upper(), headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def error_body(status, raw, what):
    try:
        b = json.loads(raw)
    except ValueError:
        fail(f"{what}: {status} body is not JSON")
        return None
    probs = conforms(b, {"$ref": "#/components/schemas/Error"}, what)
    for p in probs:
        fail(p)
    return b


# -- every route documented, every documented path a route. A route ending in '*'
# matches by prefix, so it covers documented paths such as /v1/requests/{id}/decision.
routes = set()
for f in glob.glob(os.path.join(src, "broker/hub/*.c")):
    for m, p in re.findall(r'fb_router_add\(\s*hub->router,\s*"([A-Z]+)",\s*"([^"]+)"', open(f).read()):
        routes.add((m.lower(), p))
documented = set()
for p, ops in spec["paths"].items():
    for m in ops:
        if m in ("get", "post", "put", "delete", "patch"):
            documented.add((m, p))


def covers(route, doc):
    (rm, rp), (dm, dp) = route, doc
    if rm != dm:
        return False
    if rp.endswith("*"):
        return dp.startswith(rp[:-1]) and dp[len(rp) - 1:].startswith("{")
    return rp == dp


for r in sorted(routes):
    if not any(covers(r, d) for d in documented):
        fail(f"route {r[0].upper()} {r[1]} is not in {spec_path}")

def feature(method, path):
    return spec["paths"][path][method].get("x-fedbroker-feature")


absent = set()  # operations of a feature this hub was built without
for d in sorted(documented):
    if not any(covers(r, d) for r in routes):
        if feature(*d):
            absent.add(d)
            print(f"# skip: {d[0].upper()} {d[1]} (feature {feature(*d)}) is not in this hub")
        else:
            fail(f"{spec_path} documents {d[0].upper()} {d[1]}, which the hub does not route")

saved = {}  # values that x-fedbroker-test `save` took from earlier answers


def subst(v):
    """${name} in any string of a test value becomes a saved value."""
    if isinstance(v, str):
        return re.sub(r"\$\{(\w+)\}", lambda m: str(saved[m.group(1)]), v)
    if isinstance(v, list):
        return [subst(x) for x in v]
    if isinstance(v, dict):
        return {k: subst(x) for k, x in v.items()}
    return v


index_js = None
for path, ops in spec["paths"].items():
    for method, op in ops.items():
        if method not in ("get", "post", "put", "delete", "patch"):
            continue
        if (method, path) in absent:
            continue
        t = op.get("x-fedbroker-test")
        name = f"{method.upper()} {path}"
        if t is None:
            fail(f"{name}: no x-fedbroker-test")
            continue
        for b in t.get("before", []):  # calls that set the stage (e.g. a search to follow up)
            b = subst(b)
            s_, _, raw_ = call(b["method"], b["path"], b.get("token"), b.get("body"), b.get("query"))
            if s_ >= 300:
                fail(f"{name}: preparing call {b['method']} {b['path']} answered {s_}: {raw_[:200]!r}")
                continue
            d = json.loads(raw_)
            for key, expr in b.get("save", {}).items():
                saved[key] = eval(expr, {}, {"d": d})
        t = subst(t)
        token = None if t.get("token") == "none" else t.get("token")
        params = dict(t.get("path", {}))
        for k, v in params.items():
            if v == "FROM_INDEX_JS":
                if index_js is None:
                    _, _, html = call("get", "/")
                    index_js = re.search(rb"/assets/(app-[A-Za-z0-9]+\.js)", html).group(1).decode()
                params[k] = index_js
        real = path
        for k, v in params.items():
            real = real.replace("{" + k + "}", v)
        responses = op["responses"]
        ok = min(c for c in responses if c.startswith("2"))
        status, hdrs, raw = call(method, real, token, t.get("body"), t.get("query"))
        checked += 1
        if str(status) != ok:
            fail(f"{name}: status {status}, documented {ok}: {raw[:200]!r}")
            continue
        content = resolve(responses[ok]).get("content", {})
        ctype = (hdrs.get("Content-Type") or "").split(";")[0].strip()
        if content and ctype not in content:
            fail(f"{name}: content type {ctype}, documented {sorted(content)}")
        elif ctype == "application/json":
            d = json.loads(raw)
            for p in conforms(d, content[ctype]["schema"], name):
                fail(p)
            for key, expr in t.get("save", {}).items():  # a Python expression over d
                saved[key] = eval(expr, {}, {"d": d})
        if "application/x-ndjson" in content:
            s, h, raw = call(method, real, token, t.get("body"), t.get("query"), {"Accept": "application/x-ndjson"})
            lines = [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
            if s != 200 or not h.get("Content-Type", "").startswith("application/x-ndjson") or not lines:
                fail(f"{name} (NDJSON): status {s}, type {h.get('Content-Type')}")
            else:
                schema = resolve(content["application/x-ndjson"]["schema"])
                for i, line in enumerate(lines):
                    if len(line) != 1 or next(iter(line)) not in schema["properties"]:
                        fail(f"{name} (NDJSON) line {i}: keys {sorted(line)}")
                    for p in conforms(line, schema, f"{name} (NDJSON) line {i}"):
                        fail(p)
                if "done" not in lines[-1]:
                    fail(f"{name} (NDJSON): the last line is not done")
        if "again" in t:  # the same call a second time (a second decision: 409)
            s, _, raw = call(method, real, token, t.get("body"), t.get("query"))
            if s != t["again"] or str(s) not in responses:
                fail(f"{name}: called again, {s}; documented {t['again']}")
            else:
                error_body(s, raw, f"{name} {s}")
        if "304" in responses:
            s, _, _ = call(method, real, headers={"If-None-Match": hdrs.get("ETag", "")})
            if s != 304:
                fail(f"{name}: If-None-Match answered {s}, documented 304")
        if "401" in responses:
            s, h, raw = call(method, real, None, t.get("body"), t.get("query"))
            if s != 401 or "Bearer" not in (h.get("WWW-Authenticate") or ""):
                fail(f"{name}: without a token {s} (WWW-Authenticate {h.get('WWW-Authenticate')!r}), documented 401")
            else:
                error_body(s, raw, name + " 401")
        if "403" in responses:
            if "forbidden_token" not in t:
                fail(f"{name}: documents 403 but names no forbidden_token")
            else:
                s, _, raw = call(method, real, t["forbidden_token"], t.get("body"), t.get("query"))
                if s != 403:
                    fail(f"{name}: with {t['forbidden_token']} {s}, documented 403")
                else:
                    error_body(s, raw, name + " 403")
        if "bad_body" in t or "bad_query" in t:
            s, _, raw = call(method, real, token, t.get("bad_body", t.get("body")), t.get("bad_query", t.get("query")))
            b = error_body(s, raw, name + " 400") if s == 400 else None
            if s != 400 or "400" not in responses:
                fail(f"{name}: bad request answered {s} (400 documented: {'400' in responses})")
            elif b and b["error"].get("field") != t.get("bad_field"):
                fail(f"{name}: bad request names field {b['error'].get('field')!r}, expected {t.get('bad_field')!r}")
        if "404" in responses and params:
            missing = path
            for k in params:
                missing = missing.replace("{" + k + "}", "nope-0.lua" if real.endswith(".lua") else "app-000000000000.js")
            s, _, raw = call(method, missing, token)
            if s != 404:
                fail(f"{name}: {missing} answered {s}, documented 404")
            else:
                error_body(s, raw, name + " 404")

print(f"openapi: {checked} operations checked against {len(routes)} routes ({len(absent)} skipped); {len(failures)} problem(s)")
sys.exit(1 if failures else 0)
