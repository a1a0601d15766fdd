#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kubectl, etcd) from the Go module
# proxy, using the separate tools module in hack/kube/tools (never the project's go.mod).
#
# Binaries land in ${PORTCULLIS_KUBE_CACHE:-$HOME/.cache/portcullis-kube}/<hash>/bin,
# where <hash> covers the tools module files, the go version and the ldflags. A second run with the
# binaries present does nothing. The last line printed on stdout is always the bin dir.
#
# Cost (2 cores): ~10-25 min cold, ~2.4 GB RAM at link, ~600 MB of modules;
# ~1 min with a warm Go build cache.
#
#   build.sh --nodes   additionally builds what `up.sh --with-nodes` runs: kube-controller-manager
#                      and kube-scheduler (same k8s.io/kubernetes version, tools module),
#                      portcullis-kubenode and echo-basic (module hack/kube/node), into
#                      <cache>/nodes-<hash>/bin, <hash> covering both modules, the agent's
#                      source, go version and ldflags; prints that dir as its last line.
set -euo pipefail

nodes=0
if [[ ${1:-} == --nodes ]]; then
	nodes=1
	shift
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/tools"

K8S_VERSION=v1.37.2
K8S_MAJOR=1
K8S_MINOR=37

log() { printf '[kube-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# The key covers what determines the binaries: tools module, go version, ldflags.
hash=$( { cat "$tools/go.mod" "$tools/go.sum" "$tools/tools.go"; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
cache_root=${PORTCULLIS_KUBE_CACHE:-$HOME/.cache/portcullis-kube}
out="$cache_root/$hash"
bin="$out/bin"

build() { # name package
	local name=$1 pkg=$2 t0=$SECONDS
	log "building $name ($pkg) ..."
	# Compile at lower priority: others share this machine.
	# Closing stdin, and fd 9 (our lock) so go's children do not hold it.
	nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$tmp/$name" "$pkg" </dev/null 9>&-
	log "built $name in $((SECONDS - t0))s"
}
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0

if ((nodes)); then
	node_mod="$here/node"
	nhash=$( { cat "$tools/go.mod" "$tools/go.sum" "$node_mod/go.mod" "$node_mod/go.sum" "$node_mod/tools.go" "$node_mod"/kubenode/*.go; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
	nout="$cache_root/nodes-$nhash"
	if [[ ! -f $nout/.complete ]]; then
		mkdir -p "$nout"
		exec 9>"$nout/.lock"
		flock 9
	fi
	if [[ ! -f $nout/.complete ]]; then
		tmp="$nout/bin.tmp"
		rm -rf "$tmp"
		mkdir -p "$tmp"
		t_all=$SECONDS
		(cd "$tools" && go mod download && build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager &&
			build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler)
		(cd "$node_mod" && go mod download && build portcullis-kubenode ./kubenode &&
			build echo-basic sigs.k8s.io/gateway-api/conformance/echo-basic)
		rm -rf "$nout/bin"
		mv "$tmp" "$nout/bin"
		touch "$nout/.complete"
		log "node binaries built in $((SECONDS - t_all))s: $nout/bin"
	else
		log "cached: $nout/bin"
	fi
	echo "$nout/bin"
	exit 0
fi

if [[ -x $bin/kube-apiserver && -x $bin/kubectl && -x $bin/etcd && -f $out/.complete ]]; then
	log "cached: $bin"
	echo "$bin"
	exit 0
fi

# One build at a time per cache entry (another shell may be building it right now).
mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
	log "another build holds $out/.lock; waiting"
	flock 9
fi
if [[ -f $out/.complete ]]; then
	log "cached (built concurrently): $bin"
	echo "$bin"
	exit 0
fi

cd "$tools"


log "downloading modules (tools module $hash)"
go mod download

tmp="$out/bin.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"

t_all=$SECONDS
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build etcd go.etcd.io/etcd/server/v3
rm -rf "$bin"
mv "$tmp" "$bin"
touch "$out/.complete"
log "all built in $((SECONDS - t_all))s: $bin"
"$bin/kube-apiserver" --version >&2 || true
echo "$bin"
