#!/usr/bin/env bash
# Starts a throwaway Kubernetes control plane (etcd + kube-apiserver, no controllers,
# no kubelet) on 127.0.0.1 with Istio's CRDs installed and namespace istio-system.
#
#   hack/kube/up.sh STATE_DIR      # STATE_DIR must not exist or be empty
#   hack/kube/up.sh --with-nodes STATE_DIR
#       also starts kube-controller-manager, kube-scheduler and one node agent
#       (portcullis-kubenode: pods run as local processes in network namespaces on
#       10.244.0.0/24, bridge pcbr0; needs root; one such control plane at a time)
#   eval "$(hack/kube/up.sh /tmp/kube-$$)"   # sets KUBECONFIG
#   hack/kube/down.sh STATE_DIR
#
# stdout carries only `export KUBECONFIG=...` lines; progress goes to stderr.
# Binaries come from $PORTCULLIS_KUBE_BIN if set, else from hack/kube/build.sh
# (cached; the first build takes 10-25 minutes).
# Files in STATE_DIR: kubeconfig, env, *.pid, *.log, pki/, etcd-data/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ISTIO_API_VERSION=v1.32.0
READY_TIMEOUT=${PORTCULLIS_KUBE_READY_TIMEOUT:-90}

log() { printf '[kube-up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

with_nodes=0
if [[ ${1:-} == --with-nodes ]]; then
	with_nodes=1
	shift
fi
[[ $# -eq 1 ]] || die "usage: $0 [--with-nodes] STATE_DIR"
state=$1
if [[ -e $state ]]; then
	[[ -d $state && -z $(ls -A "$state") ]] || die "$state exists and is not empty; use a fresh state dir"
fi
mkdir -p "$state"
state=$(cd "$state" && pwd)
touch "$state/.portcullis-kube-state" # down.sh only deletes dirs carrying this marker

# Any failure (or interrupt) from here on stops whatever was started.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'rc=$?; if [[ $rc -ne 0 ]]; then log "failed; logs kept in $state (run down.sh to clean)"; KEEP_STATE=1 "$here/down.sh" "$state" >&2 || true; fi' EXIT

if [[ -n ${PORTCULLIS_KUBE_BIN:-} ]]; then
	bin=$PORTCULLIS_KUBE_BIN
else
	bin=$("$here/build.sh" | tail -n1)
fi
for b in etcd kube-apiserver kubectl; do
	[[ -x $bin/$b ]] || die "missing $bin/$b (run hack/kube/build.sh)"
done
bin=$(cd "$bin" && pwd -P)
echo "$bin" >"$state/bin.path"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- certificates -----------------------------------------------------------
pki=$state/pki
mkdir -p "$pki"
log "generating certificates in $pki"
(
	cd "$pki"
	exec 2>openssl.log
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.crt \
		-subj "/CN=portcullis-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
	issue() { # name subject extensions
		openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
		printf '%s\n' "$3" >"$1.ext"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 2 -out "$1.crt" -extfile "$1.ext"
	}
	issue server "/CN=kube-apiserver" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
	issue admin "/O=system:masters/CN=portcullis-admin" \
		"extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
	openssl genrsa -out sa.key 2048
	openssl rsa -in sa.key -pubout -out sa.pub
) || die "openssl failed: $(cat "$pki/openssl.log")"

# ---- daemons ----------------------------------------------------------------
# start NAME BINARY ARGS...: runs BINARY in its own session with stdin from /dev/null,
# stdout/stderr to STATE_DIR/NAME.log and every other inherited descriptor closed (so
# no caller pipe or lock is held open), and records its PID in STATE_DIR/NAME.pid.
start() {
	local name=$1
	shift
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
		done
		# A background subshell of a non-interactive script is not a process group
		# leader, so setsid execs in place and the PID below is the daemon's.
		exec setsid "$@" </dev/null >"$state/$name.log" 2>&1
	) &
	local pid=$!
	echo "$pid" >"$state/$name.pid"
	local exe deadline=$((SECONDS + 5))
	while exe=$(readlink "/proc/$pid/exe" 2>/dev/null) && [[ $exe != "$1" ]]; do
		((SECONDS < deadline)) || die "$name (pid $pid) runs $exe, expected $1"
		sleep 0.05
	done
	[[ $exe == "$1" ]] || die "$name exited at once: $(tail -n 20 "$state/$name.log")"
	log "started $name pid $pid"
}

alive() { [[ $(readlink "/proc/$1/exe" 2>/dev/null) == "$2" ]]; }

# wait_for NAME PID BINARY CMD...: polls CMD until it succeeds, the daemon dies, or
# READY_TIMEOUT passes.
wait_for() {
	local name=$1 pid=$2 exe=$3 deadline=$((SECONDS + READY_TIMEOUT))
	shift 3
	until "$@" >/dev/null 2>&1; do
		alive "$pid" "$exe" || die "$name died: $(tail -n 30 "$state/$name.log")"
		((SECONDS < deadline)) || die "$name not ready after ${READY_TIMEOUT}s: $(tail -n 30 "$state/$name.log")"
		sleep 0.25
	done
}

etcd_port=$(free_port)
peer_port=$(free_port)
etcd_url=http://127.0.0.1:$etcd_port
peer_url=http://127.0.0.1:$peer_port
start etcd "$bin/etcd" \
	--name portcullis-test \
	--data-dir "$state/etcd-data" \
	--listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
	--listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
	--initial-cluster "portcullis-test=$peer_url" --initial-cluster-state new \
	--unsafe-no-fsync --log-level warn
wait_for etcd "$(cat "$state/etcd.pid")" "$bin/etcd" curl -fsS "$etcd_url/health"
log "etcd ready at $etcd_url"

api_port=$(free_port)
server=https://127.0.0.1:$api_port
start kube-apiserver "$bin/kube-apiserver" \
	--etcd-servers "$etcd_url" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
	--endpoint-reconciler-type none \
	--cert-dir "$pki" \
	--tls-cert-file "$pki/server.crt" --tls-private-key-file "$pki/server.key" \
	--client-ca-file "$pki/ca.crt" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$pki/sa.pub" \
	--service-account-signing-key-file "$pki/sa.key" \
	--service-cluster-ip-range 10.96.0.0/16 \
	--authorization-mode RBAC \
	--profiling=false
readyz() {
	curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$server/readyz"
}
t0=$SECONDS
wait_for kube-apiserver "$(cat "$state/kube-apiserver.pid")" "$bin/kube-apiserver" readyz
log "kube-apiserver ready at $server after $((SECONDS - t0))s"

# ---- kubeconfig -------------------------------------------------------------
b64() { base64 -w0 <"$1"; }
kubeconfig=$state/kubeconfig
umask_old=$(umask)
umask 077
cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: portcullis-test
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: portcullis-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: portcullis-test
  context:
    cluster: portcullis-test
    user: portcullis-admin
current-context: portcullis-test
EOF
umask "$umask_old"
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# ---- Istio CRDs and namespace -----------------------------------------------
gomodcache=$(go env GOMODCACHE)
crds=$gomodcache/istio.io/api@$ISTIO_API_VERSION/kubernetes/customresourcedefinitions.gen.yaml
if [[ ! -f $crds ]]; then
	log "downloading istio.io/api@$ISTIO_API_VERSION"
	(cd / && GOWORK=off GOFLAGS= go mod download "istio.io/api@$ISTIO_API_VERSION") >&2
fi
[[ -f $crds ]] || die "no $crds"
log "installing Istio CRDs from $crds"
kubectl apply --server-side -f "$crds" >"$state/crds.log" 2>&1 || die "$(cat "$state/crds.log")"
kubectl wait --for=condition=Established --timeout=60s crd --all >>"$state/crds.log" 2>&1 ||
	die "CRDs not established: $(cat "$state/crds.log")"
kubectl create namespace istio-system >&2

# ---- controllers, scheduler, node (opt-in) ----------------------------------
if ((with_nodes)); then
	if [[ -n ${PORTCULLIS_KUBE_NODE_BIN:-} ]]; then
		nodebin=$PORTCULLIS_KUBE_NODE_BIN
	else
		nodebin=$("$here/build.sh" --nodes | tail -n1)
	fi
	for b in kube-controller-manager kube-scheduler portcullis-kubenode echo-basic; do
		[[ -x $nodebin/$b ]] || die "missing $nodebin/$b (run hack/kube/build.sh --nodes)"
	done
	nodebin=$(cd "$nodebin" && pwd -P)
	echo "$nodebin" >"$state/nodebin.path"
	t0=$SECONDS
	start kube-controller-manager "$nodebin/kube-controller-manager" \
		--kubeconfig "$kubeconfig" \
		--authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$(free_port)" \
		--leader-elect=false \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--use-service-account-credentials=false \
		--controllers '*'
	start kube-scheduler "$nodebin/kube-scheduler" \
		--kubeconfig "$kubeconfig" \
		--authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$(free_port)" \
		--leader-elect=false
	start portcullis-kubenode "$nodebin/portcullis-kubenode" \
		--kubeconfig "$kubeconfig" --state-dir "$state" --image-dir "$nodebin"
	node_ready() { kubectl wait --for=condition=Ready --timeout=2s node/portcullis-node-0; }
	wait_for portcullis-kubenode "$(cat "$state/portcullis-kubenode.pid")" "$nodebin/portcullis-kubenode" node_ready
	sa_ready() { kubectl get serviceaccount default -n default; }
	wait_for kube-controller-manager "$(cat "$state/kube-controller-manager.pid")" "$nodebin/kube-controller-manager" sa_ready
	log "controllers, scheduler and node portcullis-node-0 ready after $((SECONDS - t0))s"
fi

cat >"$state/env" <<EOF
export KUBECONFIG=$kubeconfig
export PORTCULLIS_KUBE_BIN=$bin
export PORTCULLIS_KUBE_SERVER=$server
EOF
log "up: $(kubectl get crd -o name | grep -c '\.istio\.io$') Istio CRDs established, namespace istio-system; KUBECONFIG=$kubeconfig"
log "stop with: $here/down.sh $state"
echo "export KUBECONFIG=$kubeconfig"
