package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Layout is what every target is configured from.
type Layout struct {
	Dir      string            // scratch directory of this target's configuration
	PKI      string            // walkthrough PKI directory
	Hosts    []string          // served hosts (SNI = Host)
	Upstream map[string]string // host -> backend address (plain HTTP/1.1)
	Listen   string            // TLS listener, e.g. 127.0.0.1:8443
	Admin    string            // portcullis admin listener
	Pool     int               // upstream idle keep-alive connections per upstream
	// UpstreamTLS, when set, makes the gateway reach every Upstream over TLS.
	UpstreamTLS *UpstreamTLS
	// GRPC, when set, adds a route on every host for exactly GRPC.Path to a gRPC backend.
	GRPC *GRPCRoute
}

// UpstreamTLS is TLS from the target to its upstreams: verified against CA (a PEM
// bundle), with SNI sent and checked as the certificate's name, sessions resumed.
type UpstreamTLS struct {
	CA, SNI string
}

// GRPCRoute routes exact Path (a gRPC method, e.g. /grpc.health.v1.Health/Check) to the
// h2c gRPC server at Addr.
type GRPCRoute struct {
	Path, Addr string
}

// Peer is a configured target, ready to start.
type Peer struct {
	Name string
	Argv []string // program and arguments (the runner prefixes taskset)
	Env  []string // extra environment
	// ReadyURL, when set, must answer 200 before the target counts as started.
	ReadyURL string
	// Workers reports whether the started process forks the processes that do the work
	// (nginx's master): the runner then charges its children too.
	Workers bool
	// Cleanup removes what Start left behind (temp files), if anything.
	Dir string
}

// label turns a host into a name usable in config identifiers: frontend.foocorp.com ->
// frontend-foocorp-com.
func label(host string) string { return strings.NewReplacer(".", "-", "*", "wildcard").Replace(host) }

// upstreams groups hosts by backend address, in first-seen order, so hosts that share a
// backend share one upstream pool (as portcullis shares one cluster).
func upstreams(l Layout) (names map[string]string, order []string) {
	names = map[string]string{}
	for _, h := range l.Hosts {
		addr := l.Upstream[h]
		if _, ok := names[addr]; !ok {
			names[addr] = fmt.Sprintf("up%d", len(order))
			order = append(order, addr)
		}
	}
	return names, order
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}
