#!/usr/bin/env bash
# CI check of the deployment artifacts against a real Kubernetes API server.
#
#   KUBECONFIG=... [PORTCULLIS_KUBE_BIN=dir-with-kubectl] deploy/check.sh
#
# 1. Renders the Helm chart (deploy/helm/render.sh) with the default values and with
#    deploy/helm/ci/watch-namespaces.yaml, gateway-api.yaml, publish-service.yaml and
#    addresses-proxy-protocol.yaml (whose values must become exactly their run flags), and
#    checks that values which would break graceful shutdown, run as root, or name no
#    address or duration are refused at render time.
# 2. `kubectl apply --dry-run=server --validate=strict` of both renderings: the API server
#    runs defaulting, validation and admission on every object and rejects unknown fields.
# 3. RBAC semantics (CHECK_RBAC=0 skips): installs each rendering for real into a fresh
#    namespace pc-check-XXXXXX and asks the API server (`kubectl auth can-i --as` the
#    gateway's ServiceAccount) what the gateway may do: read Secrets in its own namespace
#    only, read Istio networking resources/Services/EndpointSlices, create Events, and
#    nothing else; with gatewayAPI.enabled (deploy/helm/ci/gateway-api.yaml) also read the
#    Gateway API kinds it translates and update their /status, read Secrets/ConfigMaps of
#    the watched namespaces and Namespaces, get/update its status Lease (create Leases) in
#    its own namespace, and nothing else. Everything created is deleted again (on the project's test API server,
#    which runs no namespace controller, the namespace stays Terminating: harmless, the
#    name is fresh each run).
#
# kubectl is $PORTCULLIS_KUBE_BIN/kubectl when set (hack/kube/build.sh | tail -n1), else
# kubectl on PATH. KUBECONFIG must be set explicitly: this script writes to the cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

: "${KUBECONFIG:?set KUBECONFIG to the API server to check against (hack/kube/up.sh prints it)}"
export KUBECONFIG
if [ -n "${PORTCULLIS_KUBE_BIN:-}" ]; then
  kubectl_bin="$PORTCULLIS_KUBE_BIN/kubectl"
else
  kubectl_bin="$(command -v kubectl || true)"
fi
[ -x "$kubectl_bin" ] || { echo "check.sh: no kubectl (set PORTCULLIS_KUBE_BIN or put kubectl on PATH)" >&2; exit 2; }
kubectl() { "$kubectl_bin" "$@"; }

tmp="$(mktemp -d /tmp/portcullis-deploy-check.XXXXXX)"
ns=""
cleanup() {
  if [ -n "$ns" ]; then
    for f in "$tmp"/rbac-*.yaml; do
      [ -e "$f" ] && kubectl delete --ignore-not-found --wait=false -f "$f" >/dev/null 2>&1 || true
    done
    kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*" >&2; fails=$((fails + 1)); }

render() { "$here/helm/render.sh" "$@"; }

# ---- 1. render ---------------------------------------------------------------
render >"$tmp/default.yaml"
render "$here/helm/ci/watch-namespaces.yaml" >"$tmp/watch.yaml"
render "$here/helm/ci/gateway-api.yaml" >"$tmp/gwapi.yaml"
render "$here/helm/ci/addresses-proxy-protocol.yaml" >"$tmp/addrpp.yaml"
render "$here/helm/ci/publish-service.yaml" >"$tmp/publish.yaml"
ok "rendered default ($(grep -c '^kind:' "$tmp/default.yaml") objects), watch-namespaces ($(grep -c '^kind:' "$tmp/watch.yaml") objects) and gateway-api ($(grep -c '^kind:' "$tmp/gwapi.yaml") objects)"
render --lint "$here/helm/ci/watch-namespaces.yaml" 2>"$tmp/lint.log" && render --lint 2>>"$tmp/lint.log" &&
  render --lint "$here/helm/ci/gateway-api.yaml" 2>>"$tmp/lint.log" &&
  render --lint "$here/helm/ci/addresses-proxy-protocol.yaml" 2>>"$tmp/lint.log" &&
  render --lint "$here/helm/ci/publish-service.yaml" 2>>"$tmp/lint.log" &&
  ok "helm lint (all five value sets)" || { cat "$tmp/lint.log" >&2; bad "helm lint"; }
# The address and PROXY protocol values become exactly these run flags (and no others).
want_args='- --gateway-address-pool=10.20.30.0/24
- --gateway-publish-address=203.0.113.10
- --gateway-publish-address=gw.example.com
- --proxy-protocol-from=10.0.0.0/16,fd00::/64
- --proxy-protocol-timeout=5s'
got_args=$(grep -oE -- '- --(gateway-(address-pool|publish-address)|proxy-protocol-[a-z]+)=.*' "$tmp/addrpp.yaml" || true)
[ "$got_args" = "$want_args" ] && ok "addresses-proxy-protocol: the five run flags" ||
  bad "addresses-proxy-protocol run flags: got '$got_args'"
grep -qE -- '--(gateway-address-pool|gateway-publish-address|proxy-protocol-)' "$tmp/default.yaml" "$tmp/gwapi.yaml" &&
  bad "address or PROXY protocol flags rendered by default" || ok "no address or PROXY protocol flag by default"
grep -qxF -- '            - --gateway-publish-service=$(POD_NAMESPACE)/portcullis' "$tmp/publish.yaml" &&
  ok "publish-service: --gateway-publish-service names the chart's Service" || bad "publish-service: no --gateway-publish-service flag"
grep -q 'publish-service' "$tmp/gwapi.yaml" "$tmp/addrpp.yaml" &&
  bad "publish-service Role or flag rendered without gatewayAPI.publishService" || ok "no publish-service Role or flag by default"

refused() { # refused WHY ARGS...: the chart must fail to render with these values
  local why=$1
  shift
  if render "$@" >/dev/null 2>"$tmp/refused.log"; then
    bad "chart rendered although $why ($*)"
  else
    ok "refused: $why: $(grep -v '^[[:space:]]*$' "$tmp/refused.log" | tail -n1 | cut -c1-110)"
  fi
}
refused "grace period shorter than preStop + drain" --set terminationGracePeriodSeconds=30
refused "privileged container port" --set 'ports[0].name=http2,ports[0].port=80,ports[0].containerPort=80'
refused "value outside values.schema.json" --set podAntiAffinity=maybe
refused "Gateway API address options without the Gateway API" --set gatewayAPI.addressPool=10.0.0.0/24
refused "publishService without the Gateway API" --set gatewayAPI.publishService=true
refused "publishService with publishAddresses" "$here/helm/ci/publish-service.yaml" --set 'gatewayAPI.publishAddresses={203.0.113.1}'
refused "a PROXY protocol peer that is no CIDR or address" --set 'proxyProtocol.from[0]=lb.example.com'
refused "a PROXY protocol timeout that is no duration" --set proxyProtocol.timeout=15

for f in default watch; do
  if grep -q '^kind: ClusterRole$' "$tmp/$f.yaml" && [ "$f" = watch ]; then
    bad "$f: watchNamespaces set but a ClusterRole was rendered"
  fi
  # Secrets may appear only in the Role of the release namespace (Gateway API off).
  n=$(grep -c '"secrets"' "$tmp/$f.yaml" || true)
  [ "$n" = 1 ] && ok "$f: exactly one rule mentions secrets" || bad "$f: $n rules mention secrets, want 1"
  grep -q 'gateway.networking.k8s.io\|coordination.k8s.io' "$tmp/$f.yaml" &&
    bad "$f: Gateway API or Lease rules rendered with gatewayAPI.enabled=false" || ok "$f: no Gateway API or Lease rule"
done

# ---- 2. server-side dry run --------------------------------------------------
for f in default watch gwapi addrpp publish; do
  if kubectl apply --dry-run=server --validate=strict -f "$tmp/$f.yaml" >"$tmp/$f.apply.log" 2>&1; then
    ok "kubectl apply --dry-run=server $f: $(wc -l <"$tmp/$f.apply.log") objects accepted"
  else
    cat "$tmp/$f.apply.log" >&2
    bad "kubectl apply --dry-run=server $f"
  fi
done

# ---- 3. RBAC semantics -------------------------------------------------------
if [ "${CHECK_RBAC:-1}" != 0 ]; then
  ns="pc-check-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  kubectl create namespace "$ns" >/dev/null
  sa="system:serviceaccount:$ns:portcullis"

  can() { # can yes|no VERB RESOURCE [kubectl auth can-i flags...]
    local want=$1 verb=$2 res=$3
    shift 3
    local got
    got=$(kubectl auth can-i "$verb" "$res" --as="$sa" "$@" 2>/dev/null || true)
    if [ "$got" = "$want" ]; then
      ok "  $want: $verb $res $*"
    else
      bad "  $verb $res $*: got '$got', want '$want'"
    fi
  }

  # Gateway API (both renderings' cluster-wide parts, the default rendering's kinds).
  gwapi_rbac() {
    local g=gateway.networking.k8s.io r
    for r in gateways httproutes grpcroutes tlsroutes tcproutes backendtlspolicies; do
      can yes watch "$r.$g" --all-namespaces
      can yes update "$r.$g" -n default --subresource=status
    done
    for r in gateways httproutes; do # the rules list kinds, not verbs per kind: two suffice
      can no patch "$r.$g" -n default --subresource=status
      can no update "$r.$g" -n default
      can no create "$r.$g" -n default
      can no delete "$r.$g" -n default
    done
    can yes watch "referencegrants.$g" --all-namespaces
    can no update "referencegrants.$g" -n default
    can no create "referencegrants.$g" -n default
    for r in listenersets udproutes; do # not translated: not read
      can no list "$r.$g" --all-namespaces
    done
    can yes watch "gatewayclasses.$g"
    can yes update "gatewayclasses.$g" --subresource=status
    can no update "gatewayclasses.$g"
    can no create "gatewayclasses.$g"
    can no delete "gatewayclasses.$g"
    # The status Lease: create in its namespace, get/update that one Lease only.
    can yes create leases.coordination.k8s.io -n "$ns"
    can yes get leases.coordination.k8s.io/portcullis-status -n "$ns"
    can yes update leases.coordination.k8s.io/portcullis-status -n "$ns"
    can no update leases.coordination.k8s.io/kube-controller-manager -n "$ns"
    can no delete leases.coordination.k8s.io/portcullis-status -n "$ns"
    can no list leases.coordination.k8s.io -n "$ns"
    can no create leases.coordination.k8s.io -n kube-system
    can no update leases.coordination.k8s.io/portcullis-status -n kube-system
  }

  # Cluster-wide (default values).
  render --namespace "$ns" >"$tmp/rbac-default.yaml"
  kubectl apply -f "$tmp/rbac-default.yaml" >/dev/null
  echo "RBAC, default values (gateway in $ns, watching all namespaces):"
  for v in get list watch; do can yes "$v" secrets -n "$ns"; done
  for v in create update patch delete; do can no "$v" secrets -n "$ns"; done
  can no list secrets -n istio-system
  can no get secrets -n default
  can no list secrets --all-namespaces
  for r in gateways virtualservices destinationrules serviceentries; do
    can yes watch "$r.networking.istio.io" --all-namespaces
    can no create "$r.networking.istio.io" -n default
  done
  for r in authorizationpolicies requestauthentications; do
    can yes watch "$r.security.istio.io" -n "$ns"
    can yes watch "$r.security.istio.io" -n istio-system
    can no watch "$r.security.istio.io" -n default
    can no watch "$r.security.istio.io" --all-namespaces
    can no create "$r.security.istio.io" -n "$ns"
  done
  can yes watch telemetries.telemetry.istio.io -n "$ns"
  can yes watch telemetries.telemetry.istio.io -n istio-system
  can no watch telemetries.telemetry.istio.io --all-namespaces
  can no create telemetries.telemetry.istio.io -n "$ns"
  can no list peerauthentications.security.istio.io -n istio-system
  can no list envoyfilters.networking.istio.io --all-namespaces
  can no list sidecars.networking.istio.io --all-namespaces
  can yes watch services --all-namespaces
  can yes watch endpointslices.discovery.k8s.io --all-namespaces
  can no update services -n default
  can yes create events -n default
  can yes patch events -n ux
  can no delete events -n default
  can yes list pods --all-namespaces
  can yes watch pods --all-namespaces
  can no get pods -n default
  can no delete pods -n default
  can no list configmaps -n "$ns"
  can no list nodes
  can no list httproutes.gateway.networking.k8s.io --all-namespaces
  can no list gatewayclasses.gateway.networking.k8s.io
  can no create leases.coordination.k8s.io -n "$ns"
  kubectl delete --wait=false -f "$tmp/rbac-default.yaml" >/dev/null

  # Gateway API on, cluster-wide.
  render --namespace "$ns" "$here/helm/ci/gateway-api.yaml" >"$tmp/rbac-gwapi.yaml"
  kubectl apply -f "$tmp/rbac-gwapi.yaml" >/dev/null
  echo "RBAC, gatewayAPI.enabled=true (all namespaces):"
  gwapi_rbac
  can yes watch secrets -n default
  can yes list configmaps -n default
  for v in create update patch delete; do can no "$v" secrets -n default; done
  can no update configmaps -n "$ns"
  can yes watch namespaces
  can no update namespaces
  can no create namespaces
  kubectl delete --wait=false -f "$tmp/rbac-gwapi.yaml" >/dev/null

  # Per-namespace (watchNamespaces = the release namespace and default).
  render --namespace "$ns" --set "watchNamespaces={$ns,default}" >"$tmp/rbac-watch.yaml"
  kubectl apply -f "$tmp/rbac-watch.yaml" >/dev/null
  echo "RBAC, watchNamespaces={$ns,default}:"
  can yes list secrets -n "$ns"
  can no list secrets -n default
  can yes watch gateways.networking.istio.io -n default
  can yes watch virtualservices.networking.istio.io -n "$ns"
  can yes watch endpointslices.discovery.k8s.io -n default
  can yes watch pods -n default
  can no watch pods -n kube-public
  can yes create events -n default
  can no watch gateways.networking.istio.io -n kube-public
  can no watch gateways.networking.istio.io --all-namespaces
  can no watch services --all-namespaces
  can no create events -n kube-public
  if kubectl get clusterrole "portcullis-$ns" >/dev/null 2>&1; then
    bad "  a ClusterRole portcullis-$ns exists in watchNamespaces mode"
  else
    ok "  no ClusterRole in watchNamespaces mode"
  fi
  kubectl delete --wait=false -f "$tmp/rbac-watch.yaml" >/dev/null

  # Gateway API on, watchNamespaces: everything per namespace but the cluster-scoped kinds.
  render --namespace "$ns" "$here/helm/ci/gateway-api.yaml" --set "watchNamespaces={$ns,default}" >"$tmp/rbac-gwapi-watch.yaml"
  kubectl apply -f "$tmp/rbac-gwapi-watch.yaml" >/dev/null
  echo "RBAC, gatewayAPI.enabled=true, watchNamespaces={$ns,default}:"
  can yes watch httproutes.gateway.networking.k8s.io -n default
  can yes update httproutes.gateway.networking.k8s.io -n "$ns" --subresource=status
  can no watch httproutes.gateway.networking.k8s.io --all-namespaces
  can no update gateways.gateway.networking.k8s.io -n kube-public --subresource=status
  can yes list secrets -n default
  can no list secrets -n kube-public
  can no list secrets --all-namespaces
  can yes watch gatewayclasses.gateway.networking.k8s.io
  can yes update gatewayclasses.gateway.networking.k8s.io --subresource=status
  can yes watch namespaces
  can yes update leases.coordination.k8s.io/portcullis-status -n "$ns"
  n=$(grep -c '^kind: ClusterRole$' "$tmp/rbac-gwapi-watch.yaml" || true)
  [ "$n" = 1 ] && ok "  one ClusterRole (GatewayClasses, Namespaces)" || bad "  $n ClusterRoles, want 1"
  kubectl delete --wait=false -f "$tmp/rbac-gwapi-watch.yaml" >/dev/null

  # gatewayAPI.publishService, watching only default: the chart's own Service, by name.
  render --namespace "$ns" "$here/helm/ci/publish-service.yaml" --set "watchNamespaces={default}" >"$tmp/rbac-publish.yaml"
  kubectl apply -f "$tmp/rbac-publish.yaml" >/dev/null
  echo "RBAC, gatewayAPI.publishService=true, watchNamespaces={default}:"
  for v in get list watch; do can yes "$v" services/portcullis -n "$ns"; done
  can no list services -n "$ns"
  can no get services/kubernetes -n "$ns"
  can no update services/portcullis -n "$ns"
  can no update services/portcullis -n "$ns" --subresource=status
  kubectl delete --wait=false -f "$tmp/rbac-publish.yaml" >/dev/null
fi

if [ "$fails" -gt 0 ]; then
  echo "check.sh: $fails check(s) failed" >&2
  exit 1
fi
echo "check.sh: all checks passed"
