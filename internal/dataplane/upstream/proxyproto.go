package upstream

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pires/go-proxyproto"
)

// Upstream PROXY protocol on HTTP connections (DestinationRule
// trafficPolicy.proxyProtocol, design 0029). Every connection to a cluster with one
// starts with a PROXY header, written right after connecting and before TLS origination,
// as Envoy's upstream_proxy_protocol transport socket does. Such clusters are served by
// a Proxy of their own per version (ppProxies): its transports, idle lists and pools
// are apart from the others', so a connection that began with a header is never reused
// for a cluster without one (or with the other version).
//
// The header is the connection's own, as Envoy writes it when the request carries no
// downstream PROXY state: version 1 names the gateway's socket (source) and the endpoint
// (destination), version 2 is a LOCAL header. A pooled connection serves many clients,
// so it never carries one client's address; the client reaches an HTTP backend in
// X-Forwarded-For. (Envoy, when its listener accepted a downstream PROXY header, keys its
// pools by the client's addresses and writes those instead; portcullis does not: see the
// design.)

// ppProxies are the proxies of PROXY protocol clusters, built on first use.
type ppProxies struct {
	opts   Options
	logger *slog.Logger
	mu     sync.Mutex
	by     [3]*Proxy // by version
}

func (pp *ppProxies) get(v int) *Proxy {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.by[v] == nil {
		pp.by[v] = newProxy(pp.opts, pp.logger, v)
	}
	return pp.by[v]
}

func (pp *ppProxies) closeIdle() {
	if pp == nil {
		return
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for _, p := range pp.by {
		if p != nil {
			p.CloseIdleConnections()
		}
	}
}

// headerVersion is the PROXY protocol version of t's cluster, 0 for none.
func headerVersion(t *Target) int {
	if t == nil || t.Cluster == nil || t.Cluster.Spec == nil || t.Cluster.Spec.ProxyProtocol == nil {
		return 0
	}
	if v := t.Cluster.Spec.ProxyProtocol.Version; v == 1 || v == 2 {
		return v
	}
	return 0
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// proxyDial wraps dial so that every connection starts with a PROXY header of version v
// (0: dial itself). A failed write closes the connection and is a connect failure.
func proxyDial(dial dialFunc, v int) dialFunc {
	if v == 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		h := proxyproto.HeaderProxyFromAddrs(byte(v), nil, nil) // v2: LOCAL
		if v == 1 {
			h = proxyproto.HeaderProxyFromAddrs(1, nc.LocalAddr(), nc.RemoteAddr())
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = nc.SetWriteDeadline(dl)
		}
		_, err = h.WriteTo(nc)
		_ = nc.SetWriteDeadline(time.Time{})
		if err != nil {
			_ = nc.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: nc.RemoteAddr(), Err: err}
		}
		return nc, nil
	}
}
