package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Network model: one bridge (cfg.bridge) holding the first address of cfg.podCIDR,
// which is also the node's InternalIP; one network namespace per pod with a veth pair,
// eth0 inside carrying the pod IP and a default route via the bridge address. The host
// reaches every pod IP directly; pods reach each other over the bridge. There is no
// kube-proxy: Service ClusterIPs are not routed.

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (p *provider) setupBridge() error {
	if err := ip("link", "add", p.cfg.bridge, "type", "bridge"); err != nil {
		return fmt.Errorf("creating bridge (is another portcullis-kubenode running?): %w", err)
	}
	p.record("bridge", p.cfg.bridge)
	if err := ip("addr", "add", netip.PrefixFrom(p.gateway, p.cfg.podCIDR.Bits()).String(), "dev", p.cfg.bridge); err != nil {
		return err
	}
	return ip("link", "set", p.cfg.bridge, "up")
}

// podNetwork names a pod's namespace and host-side veth after the pod UID.
func (p *provider) podNetwork(uid string) (netns, hostIf string) {
	sum := sha256.Sum256([]byte(uid))
	tag := hex.EncodeToString(sum[:])[:10]
	return p.cfg.netnsPrefix + tag, "pcv" + tag
}

func (p *provider) setupPodNetwork(netns, hostIf string, addr netip.Addr) error {
	if err := ip("netns", "add", netns); err != nil {
		return err
	}
	p.record("netns", netns)
	peer := "pcp" + hostIf[3:]
	steps := [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", netns},
		{"-n", netns, "link", "set", peer, "name", "eth0"},
		{"-n", netns, "addr", "add", netip.PrefixFrom(addr, p.cfg.podCIDR.Bits()).String(), "dev", "eth0"},
		{"-n", netns, "link", "set", "lo", "up"},
		{"-n", netns, "link", "set", "eth0", "up"},
		{"-n", netns, "route", "add", "default", "via", p.gateway.String()},
		{"link", "set", hostIf, "master", p.cfg.bridge},
		{"link", "set", hostIf, "up"},
		// A neighbour entry the host still holds for this address points at a deleted
		// pod's MAC: until it expires (up to a minute) the new pod is unreachable.
		{"neigh", "flush", "to", addr.String()},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// deletePodNetwork deletes the namespace, which deletes both ends of its veth pair.
func (p *provider) deletePodNetwork(netns string) error {
	err := ip("netns", "delete", netns)
	p.unrecord("netns", netns)
	return err
}

// record/unrecord keep STATE_DIR/kubenode-cleanup/<kind>.<name> files so that
// hack/kube/down.sh can delete namespaces and the bridge even if the agent was killed.
func (p *provider) record(kind, name string) {
	dir := filepath.Join(p.cfg.stateDir, "kubenode-cleanup")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, kind+"."+name), nil, 0o644)
}

func (p *provider) unrecord(kind, name string) {
	_ = os.Remove(filepath.Join(p.cfg.stateDir, "kubenode-cleanup", kind+"."+name))
}

// allocIP returns the next free pod IP after the last one handed out, wrapping around (the
// gateway and broadcast excluded): a deleted pod's address is reused as late as possible,
// as other hosts' and pods' neighbour caches may still hold its old MAC.
func (p *provider) allocIP() (netip.Addr, error) {
	first := p.gateway.Next()
	a := p.lastIP
	for range 1 << (32 - p.cfg.podCIDR.Bits()) {
		a = a.Next()
		if !a.IsValid() || !p.cfg.podCIDR.Contains(a) || !p.cfg.podCIDR.Contains(a.Next()) { // past the last usable
			a = first
		}
		if !p.usedIPs[a] {
			p.usedIPs[a], p.lastIP = true, a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod CIDR %s exhausted", p.cfg.podCIDR)
}
