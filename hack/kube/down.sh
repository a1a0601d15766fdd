#!/usr/bin/env bash
# Stops exactly the daemons hack/kube/up.sh started in STATE_DIR (by saved PID, after
# checking /proc/PID/exe is the binary up.sh started; never by name), then deletes
# STATE_DIR. KEEP_STATE=1 keeps the directory (logs) and deletes nothing.
#
#   hack/kube/down.sh STATE_DIR
set -euo pipefail

log() { printf '[kube-down %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ $# -eq 1 ]] || { log "usage: $0 STATE_DIR"; exit 2; }
state=$1
if [[ ! -d $state ]]; then
	log "$state does not exist; nothing to do"
	exit 0
fi
[[ -f $state/.portcullis-kube-state ]] || { log "$state was not made by up.sh; refusing"; exit 1; }
bin=$(cat "$state/bin.path" 2>/dev/null || true)
nodebin=$(cat "$state/nodebin.path" 2>/dev/null || true)

# stop NAME [DIR]: SIGTERM, wait up to 20 s, then SIGKILL.
stop() {
	local name=$1 bin=${2:-$bin} pidfile=$state/$1.pid pid exe
	[[ -f $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	[[ $pid =~ ^[0-9]+$ && -n $bin ]] || { log "bad $pidfile or bin.path; skipping $name"; return 0; }
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	if [[ $exe != "$bin/$name" ]]; then
		log "$name pid $pid is not running $bin/$name (${exe:-gone}); not touching it"
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 20))
	while [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$bin/$name" ]]; do
		if ((SECONDS >= deadline)); then
			log "$name pid $pid ignored SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$pidfile"
	log "stopped $name (pid $pid)"
}

# The node agent first: on SIGTERM it stops its pods and deletes their namespaces.
if [[ -n $nodebin ]]; then
	stop portcullis-kubenode "$nodebin"
	stop kube-scheduler "$nodebin"
	stop kube-controller-manager "$nodebin"
fi
# What the agent recorded and did not remove (it was killed): pod namespaces (and the
# processes still in them) and its bridge.
for f in "$state"/kubenode-cleanup/netns.*; do
	[[ -e $f ]] || continue
	ns=${f##*/netns.}
	for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
	ip netns delete "$ns" 2>/dev/null && log "deleted leftover netns $ns"
	rm -f "$f"
done
for f in "$state"/kubenode-cleanup/bridge.*; do
	[[ -e $f ]] || continue
	ip link delete "${f##*/bridge.}" 2>/dev/null && log "deleted leftover bridge ${f##*/bridge.}"
	rm -f "$f"
done
# Pods' volume tmpfs mounts, then the mount-point directories the agent created (each
# record holds a path; deepest first).
for f in "$state"/kubenode-cleanup/volumes.*; do
	[[ -e $f ]] || continue
	d=$(cat "$f")
	umount -l "$d" 2>/dev/null || true
	rmdir "$d" 2>/dev/null && log "removed leftover volumes $d"
	rm -f "$f"
done
for f in "$state"/kubenode-cleanup/mountpoint.*; do
	if [[ -e $f ]]; then cat "$f"; fi
done | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2- | while IFS= read -r d; do
	if rmdir "$d" 2>/dev/null; then log "removed leftover mount point $d"; fi
done
rm -f "$state"/kubenode-cleanup/mountpoint.*

stop kube-apiserver
stop etcd

if [[ ${KEEP_STATE:-0} == 1 ]]; then
	log "kept $state"
else
	rm -rf -- "$state"
	log "removed $state"
fi
