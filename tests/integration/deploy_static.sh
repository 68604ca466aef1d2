#!/usr/bin/env bash
# The static part of the pilot (no container engine needed): docker/compose.yaml is
# accepted by Debian's docker-compose 1.29 and keeps the properties docs/pilot.md relies
# on; deploy/kubernetes renders with kustomize and every workload is non-root, has a
# read-only root file system, resources and probes; the hub is a StatefulSet with a
# volume per replica, a PodDisruptionBudget and an autoscaler; the Dockerfile has two
# stages, a HEALTHCHECK and no VOLUME. scripts/pilot-check.sh runs the real thing.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
cd "$FB_SOURCE_DIR"

command -v docker-compose >/dev/null || fail "docker-compose missing (scripts/setup.sh installs it)"
docker-compose -f docker/compose.yaml config >"$TMP/compose.yaml" 2>"$TMP/compose.err" ||
  { cat "$TMP/compose.err" >&2; fail "docker-compose 1.29 rejects docker/compose.yaml"; }
$PY - "$TMP/compose.yaml" docker/compose.yaml <<'PY' || fail "compose properties"
import sys, yaml
rendered = yaml.safe_load(open(sys.argv[1]))
raw = yaml.safe_load(open(sys.argv[2]))
assert "name" not in raw, "top-level name: (docker-compose 1.29 rejects it)"
svcs = rendered["services"]
built = [s for s, d in svcs.items() if "build" in d]
images = {d.get("image") for s, d in svcs.items() if "build" in d}
assert len(built) == len(images), f"an image is built by more than one service: {built}"
assert svcs["hub"]["stop_grace_period"] in ("15s", 15), "hub grace period"
for s, d in svcs.items():
    for v in d.get("volumes", []):
        src = v["source"] if isinstance(v, dict) else v.split(":")[0]
        assert src in rendered.get("volumes", {}), f"{s}: volume {src} is not a named volume"
assert any(d.get("image") == "fedbroker-postgres:pilot" for d in svcs.values()), "a PostgreSQL service"
print("compose ok")
PY
pass "docker-compose 1.29 accepts docker/compose.yaml: no name:, each image built once, named volumes, grace period, PostgreSQL"

grep -c '^FROM ' docker/Dockerfile | grep -qx 2 || fail "the Dockerfile has two stages"
grep -q '^HEALTHCHECK ' docker/Dockerfile || fail "the Dockerfile has a HEALTHCHECK"
grep -q '^VOLUME' docker/Dockerfile && fail "the Dockerfile declares a VOLUME (anonymous volumes pile up)"
grep -q '^USER 10001' docker/Dockerfile || fail "the image runs as uid 10001"
[ -f .dockerignore ] && grep -qx '.git' .dockerignore || fail "a root .dockerignore keeps .git out"
pass "Dockerfile: two stages, non-root, HEALTHCHECK, no VOLUME; root .dockerignore"

if ! grep -q -- --load-restrictor <<<"$(kubectl kustomize --help 2>/dev/null)"; then
  echo "skip: this kubectl has no kustomize with --load-restrictor"
  exit 77
fi
kubectl kustomize --load-restrictor LoadRestrictionsNone deploy/kubernetes >"$TMP/k8s.yaml" 2>"$TMP/k8s.err" ||
  { cat "$TMP/k8s.err" >&2; fail "kustomize cannot render deploy/kubernetes"; }
$PY - "$TMP/k8s.yaml" <<'PY' || fail "kubernetes properties"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {}
for d in docs:
    by.setdefault(d["kind"], []).append(d)
def one(kind, name):
    m = [d for d in by.get(kind, []) if d["metadata"]["name"] == name]
    assert len(m) == 1, f"{kind}/{name}"
    return m[0]
hub = one("StatefulSet", "hub")
spec = hub["spec"]["template"]["spec"]
assert hub["spec"]["replicas"] >= 2, "at least two hub replicas"
assert [t["metadata"]["name"] for t in hub["spec"]["volumeClaimTemplates"]] == ["audit"], "a volume per replica"
c = spec["containers"][0]
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert any(m["name"] == "audit" and m["mountPath"] == "/var/lib/fedbroker" for m in c["volumeMounts"])
assert spec["terminationGracePeriodSeconds"] >= 12, "grace period covers the 10 s drain"
workloads = [(d["kind"], d["metadata"]["name"], d["spec"]["template"]["spec"])
             for k in ("StatefulSet", "Deployment", "Job") for d in by.get(k, [])]
assert len(workloads) == 5, workloads
for kind, name, ps in workloads:
    assert ps["securityContext"]["runAsNonRoot"] is True, f"{kind}/{name}: runAsNonRoot"
    for ct in ps.get("initContainers", []) + ps["containers"]:
        sc = ct["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, f"{name}/{ct['name']}: read-only root"
        assert sc["allowPrivilegeEscalation"] is False, f"{name}/{ct['name']}: no privilege escalation"
        assert sc["capabilities"]["drop"] == ["ALL"], f"{name}/{ct['name']}: capabilities"
        assert ct["resources"]["limits"] and ct["resources"]["requests"], f"{name}/{ct['name']}: resources"
        assert ct["image"] == "fedbroker:pilot", f"{name}/{ct['name']}: image {ct['image']}"
    if kind == "Deployment":
        assert "readinessProbe" in ps["containers"][0] and "livenessProbe" in ps["containers"][0], name
pdb = one("PodDisruptionBudget", "hub")
assert pdb["spec"]["selector"]["matchLabels"] == hub["spec"]["selector"]["matchLabels"]
hpa = one("HorizontalPodAutoscaler", "hub")
assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "hub"}
assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
for s in ("hub", "hub-replicas", "idn-node", "mys-node", "bgd-node"):
    one("Service", s)
cms = {d["metadata"]["name"].rsplit("-", 1)[0]: d for d in by["ConfigMap"]}
assert "hub.lua" in cms["fedbroker-config"]["data"]
assert set(cms["fedbroker-policies"]["data"]) == {"common.lua", "IDN.lua", "MYS.lua", "THA.lua", "BGD.lua"}
assert open("policies/MYS.lua").read() == cms["fedbroker-policies"]["data"]["MYS.lua"], "policies are the repository's"
one("Job", "pilot-pki")
print("kubernetes ok")
PY
pass "deploy/kubernetes renders: hub StatefulSet (volume per replica, probes, PDB, HPA), nodes, PKI Job, all non-root with read-only roots and resources"

# The Kubernetes hub config loads (paths aside): `serve` stops on a config error first.
sed -e "s|/etc/fedbroker/policies|$FB_SOURCE_DIR/policies|" deploy/kubernetes/hub.lua >"$TMP/k8s-hub.lua"
status=0
"$FEDBROKER" serve --config "$TMP/k8s-hub.lua" >"$TMP/serve.out" 2>&1 || status=$?
grep -q "unknown key\|expected\|is not" "$TMP/serve.out" && { cat "$TMP/serve.out" >&2; fail "deploy/kubernetes/hub.lua has a config error"; }
pass "deploy/kubernetes/hub.lua has no config error (it stops only at the missing pilot files: status $status)"
