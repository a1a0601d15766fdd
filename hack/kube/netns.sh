#!/usr/bin/env bash
# Creates/deletes a network namespace holding test backends at a routable,
# non-loopback address (EndpointSlices reject 127.0.0.0/8).
#
#   hack/kube/netns.sh up NAME     # prints HOST_IP=... NS_IP=... NETNS=NAME
#   ip netns exec NAME python3 -m http.server --bind "$NS_IP" 8080
#   curl http://$NS_IP:8080/       # from the host
#   hack/kube/netns.sh down NAME
#
# Each namespace gets its own /30 from 198.18.0.0/15 (RFC 2544 benchmarking range):
# host side .1 (veth "pch<hash>"), namespace side .2 (renamed eth0), lo up. The first
# free /30 is taken, so several namespaces can coexist. No default route, no
# forwarding: the namespace reaches only the host's side of its own link.
# Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); installs iproute2 if `ip` is missing.
set -euo pipefail

log() { printf '[netns %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -eq 2 && ($1 == up || $1 == down) ]] || die "usage: $0 up|down NAME"
cmd=$1 name=$2
[[ $name =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "bad namespace name $name"

if ! command -v ip >/dev/null; then
	log "installing iproute2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 >&2; }
fi

tag=$(printf '%s' "$name" | sha256sum | cut -c1-8)
host_if=pch$tag # <= 15 chars

ns_exists() { ip netns list | awk '{print $1}' | grep -qxF "$name"; }

if [[ $cmd == down ]]; then
	if ns_exists; then
		ip netns delete "$name" # also deletes both ends of the veth pair
		log "deleted netns $name"
	fi
	ip link delete "$host_if" 2>/dev/null || true
	exit 0
fi

ns_exists && die "netns $name already exists (run: $0 down $name)"

# Serialize allocation of /30s between concurrent callers.
mkdir -p /run/lock
exec 9>/run/lock/portcullis-netns.lock
flock 9

# The /30s in use are those with an address on some host interface.
used=$(ip -4 -o addr show | awk '{print $4}' | grep -E '^198\.1[89]\.' | cut -d/ -f1 || true)
host_ip='' ns_ip=''
for ((i = 0; i < 32768; i++)); do
	base=$((i * 4))
	o2=$((18 + base / 65536)) o3=$((base / 256 % 256)) o4=$((base % 256))
	cand=198.$o2.$o3.$((o4 + 1))
	if ! grep -qxF "$cand" <<<"$used"; then
		host_ip=$cand ns_ip=198.$o2.$o3.$((o4 + 2))
		break
	fi
done
[[ -n $host_ip ]] || die "198.18.0.0/15 exhausted"

cleanup() { ip netns delete "$name" 2>/dev/null || true; ip link delete "$host_if" 2>/dev/null || true; }
trap 'rc=$?; ((rc == 0)) || cleanup' EXIT

ip netns add "$name"
ip link add "$host_if" type veth peer name "pcn$tag"
ip link set "pcn$tag" netns "$name"
ip -n "$name" link set "pcn$tag" name eth0
ip -n "$name" addr add "$ns_ip/30" dev eth0
ip -n "$name" link set lo up
ip -n "$name" link set eth0 up
ip addr add "$host_ip/30" dev "$host_if"
ip link set "$host_if" up
log "netns $name: host $host_if $host_ip/30 <-> $name eth0 $ns_ip/30"
echo "HOST_IP=$host_ip NS_IP=$ns_ip NETNS=$name"
