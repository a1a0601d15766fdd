#!/usr/bin/env bash
# Runs the upstream Gateway API conformance suite (sigs.k8s.io/gateway-api/conformance
# v1.6.3, profiles GATEWAY-HTTP, GATEWAY-TLS, GATEWAY-GRPC and GATEWAY-TCP in one run)
# against portcullis on the project's control plane with nodes (up.sh --with-nodes), keeps
# the suite's report (one entry per profile), prints each profile's result, and fails only
# when a test listed in docs/conformance/known-passing.txt no longer passes (design 0024;
# test names are unique across profiles, so the one list checks every profile).
#
#   hack/kube/conformance.sh [--update]     # as root; CI: hack/test.sh runs it
#
# --update rewrites docs/conformance/known-passing.txt with the tests that passed and copies
# the report to docs/conformance/ (commit both when the result is a real improvement).
#
# Steps: build (cached) the API server and node binaries; start a fresh control plane with
# nodes in a temporary state dir; build portcullis and run it against that API server
# (Kubernetes mode, one replica, one loopback address per Gateway); create GatewayClass
# "portcullis"; run hack/kube/node/conformance (go test -v); compare; stop everything.
#
# Environment: PORTCULLIS_CONFORMANCE_MAX_WAIT (default 30s, see the runner's doc),
# PORTCULLIS_CONFORMANCE_RUN_TEST / _SKIP_TESTS / _PROFILES / _EXTRA_FEATURES (passed on;
# with _RUN_TEST or _PROFILES only the listed tests that ran are compared),
# PORTCULLIS_CONFORMANCE_OUT
# (where the report and logs are kept; default /tmp/portcullis-conformance),
# PORTCULLIS_CONFORMANCE_ADDRESS_POOL (the Gateways' address pool; default a random
# 127.x.y.0/24).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
update=0
[[ ${1:-} == --update ]] && update=1

known="$root/docs/conformance/known-passing.txt"
out="${PORTCULLIS_CONFORMANCE_OUT:-/tmp/portcullis-conformance}"
mkdir -p "$out"
log() { echo "[conformance $(date -u +%H:%M:%S)] $*" >&2; }

t0=$SECONDS
PORTCULLIS_KUBE_BIN="$(hack/kube/build.sh | tail -n1)"
PORTCULLIS_KUBE_NODE_BIN="$(hack/kube/build.sh --nodes | tail -n1)"
export PORTCULLIS_KUBE_BIN PORTCULLIS_KUBE_NODE_BIN
log "control-plane binaries ready in $((SECONDS - t0))s"

state="$(mktemp -d /tmp/portcullis-conformance-kube.XXXXXX)"
gw_pid=""
cleanup() {
  if [[ -n $gw_pid ]] && kill -0 "$gw_pid" 2>/dev/null; then
    kill "$gw_pid" 2>/dev/null || true
    wait "$gw_pid" 2>/dev/null || true
  fi
  hack/kube/down.sh "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT
t1=$SECONDS
hack/kube/up.sh --with-nodes "$state" >/dev/null
export KUBECONFIG="$state/kubeconfig"
kubectl() { "$PORTCULLIS_KUBE_BIN/kubectl" "$@"; }
log "control plane with nodes up in $((SECONDS - t1))s"

# The Gateway API CRDs of the version the suite pins (it refuses others), before portcullis
# starts watching them.
crds="$(cd hack/kube/node && GOWORK=off go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/standard"
kubectl apply --server-side -f "$crds" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd --all >/dev/null

go build -o "$state/portcullis" ./cmd/portcullis
admin_port=$(shuf -i 20000-39999 -n1)
# One replica (no Lease needed). The suite's Gateways all listen on 80/443 without
# hostnames: each gets an address of its own from a loopback pool (--gateway-address-pool,
# design 0026), reported in its status.addresses, where the suite sends its traffic. The
# pool's /24 is picked at random so that it does not meet other gateways or tests on the
# machine (two conformance runs cannot overlap anyway: the test node owns bridge pcbr0).
# Secrets are read from the suite's infra namespace.
pool="${PORTCULLIS_CONFORMANCE_ADDRESS_POOL:-127.$((RANDOM % 50 + 200)).$((RANDOM % 250)).0/24}"
log "Gateway address pool $pool"
"$state/portcullis" run --kubeconfig "$KUBECONFIG" --namespace gateway-conformance-infra \
  --listen-host 127.0.0.1 --gateway-address-pool "$pool" \
  --admin "127.0.0.1:$admin_port" --leader-elect=false \
  >"$out/portcullis.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$admin_port/healthz/ready" >/dev/null 2>&1 && break
  kill -0 "$gw_pid" 2>/dev/null || { tail -n 50 "$out/portcullis.log" >&2; log "portcullis exited"; exit 1; }
  sleep 0.5
done
log "portcullis ready (log: $out/portcullis.log)"

kubectl apply -f - >/dev/null <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: portcullis
spec:
  controllerName: portcullis.io/gateway-controller
EOF

report="$out/portcullis-report.yaml"
rm -f "$report"
t2=$SECONDS
set +e
(cd hack/kube/node && GOWORK=off PORTCULLIS_GATEWAY_CONFORMANCE=1 \
  PORTCULLIS_CONFORMANCE_REPORT="$report" \
  PORTCULLIS_CONFORMANCE_MAX_WAIT="${PORTCULLIS_CONFORMANCE_MAX_WAIT:-30s}" \
  go test -count=1 -v -timeout 45m ./conformance/ >"$out/suite.log" 2>&1)
suite_rc=$?
set -e
log "suite ran in $((SECONDS - t2))s (exit $suite_rc; log: $out/suite.log)"

# Tests that passed, by short name: "--- PASS: TestGatewayAPIConformance/<name> (1.2s)" (a
# test's own line, not one of its subtests': a test with a failed subtest has passing ones).
grep -oE -- '--- PASS: TestGatewayAPIConformance/[A-Za-z0-9]+ \(' "$out/suite.log" | sed 's|.*/||; s| (||' | sort -u >"$out/passed.txt" || true
grep -oE -- '--- FAIL: TestGatewayAPIConformance/[A-Za-z0-9]+ \(' "$out/suite.log" | sed 's|.*/||; s| (||' | sort -u >"$out/failed.txt" || true
log "passed $(wc -l <"$out/passed.txt"), failed $(wc -l <"$out/failed.txt")"
# Each profile's result as the report states it ("GATEWAY-TLS: Core tests failed with ...").
if [[ -s $report ]]; then
  awk '/^  name: /{ n = $2 } /^  summary: /{ sub(/^  summary: /, ""); print n ": " $0 }' "$report" |
    while IFS= read -r l; do log "$l"; done
fi
if [[ ! -s $out/passed.txt ]]; then
  log "no test passed; the suite's errors:"
  grep -E 'Error:|Messages:' "$out/suite.log" | sort | uniq -c | sort -rn | head -n 20 >&2 || true
fi

if ((update)); then
  { echo "# Gateway API conformance tests (v1.6.3; GATEWAY-HTTP, -TLS, -GRPC, -TCP) portcullis passes;"
    echo "# CI fails when one of these stops passing. Rewritten by hack/kube/conformance.sh --update."
    cat "$out/passed.txt"; } >"$known"
  if [[ -s $report ]]; then cp "$report" "$root/docs/conformance/"; fi
  log "updated $known (and the report when the suite wrote one)"
fi

# With PORTCULLIS_CONFORMANCE_RUN_TEST or _PROFILES only some tests ran: compare those.
sort -u "$out/passed.txt" "$out/failed.txt" >"$out/ran.txt"
known_tests() {
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$known" | sort -u |
    { if [[ -n ${PORTCULLIS_CONFORMANCE_RUN_TEST:-}${PORTCULLIS_CONFORMANCE_PROFILES:-} ]]; then comm -12 - "$out/ran.txt"; else cat; fi; }
}
regressions=$(known_tests | comm -23 - "$out/passed.txt")
if [[ -n $regressions ]]; then
  log "REGRESSION: listed in docs/conformance/known-passing.txt but did not pass:"
  echo "$regressions" >&2
  exit 1
fi
new=$(known_tests | comm -13 - "$out/passed.txt")
if [[ -n $new ]]; then
  log "passing now but not listed (hack/kube/conformance.sh --update records them): $(echo $new)"
fi
log "no regression against the $(known_tests | wc -l) known-passing tests; total $((SECONDS - t0))s"
