package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// connTLS is the TLS a request's upstream connection needs: the cluster's built
// configuration and the SNI. Pooled connections are keyed by it (see poolKey), so a
// cluster's TLS identity never shares a connection with another cluster's or plaintext.
type connTLS struct {
	cluster *Cluster
	ct      *clientTLS
	sni     string
	key     string
}

// tlsFor returns the TLS of a request to target t whose Host (after rewrites) is host: nil
// for plaintext, an error (503, UF) when the cluster's TLS cannot be set up now.
func tlsFor(t *Target, host string) (*connTLS, error) {
	if t == nil || t.Cluster == nil || t.Cluster.Spec == nil || t.Cluster.Spec.TLS == nil {
		return nil, nil
	}
	c := t.Cluster
	ct, err := c.clientTLS()
	if err != nil {
		return nil, dialError(t.Endpoint, err)
	}
	sni := c.ServerName(host)
	// A cluster's requests almost always carry one SNI: reuse the last connTLS rather than
	// build it (and its key) per request.
	if last := ct.last.Load(); last != nil && last.cluster == c && last.sni == sni {
		return last, nil
	}
	conn := &connTLS{cluster: c, ct: ct, sni: sni, key: c.tlsPoolKey(ct, sni)}
	ct.last.Store(conn)
	return conn, nil
}

// tlsKey is the TLS identity of connections made with ct, "" for plaintext (idleKey).
func tlsKey(ct *connTLS) string {
	if ct == nil {
		return ""
	}
	return ct.key
}

// handshake originates TLS on a freshly dialled connection, bounded by the dial timeout.
func (t *h1Transport) handshake(ctx context.Context, raw net.Conn, addr string, ct *connTLS) (net.Conn, error) {
	if t.handshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.handshakeTimeout)
		defer cancel()
	}
	return ct.cluster.handshake(ctx, raw, addr, ct.ct, ct.sni)
}

// tlsBuffered reports whether a pooled TLS connection holds bytes crypto/tls has already
// read off the socket (which the socket peek cannot see): a read with an expired deadline
// returns them, or times out at once without a system call when there are none.
func tlsBuffered(c *h1Conn) bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return false
	}
	_ = tc.SetReadDeadline(time.Unix(1, 0))
	var b [1]byte
	n, err := tc.Read(b[:])
	_ = tc.SetReadDeadline(c.rdl)
	return n > 0 || !os.IsTimeout(err)
}

// tlsFallback returns the http.Transport for requests the lean client does not take
// (bodies, upgrades, Expect) to TLS clusters: one per TLS identity, dialling with
// ct's configuration. A new credential version of a cluster retires its older transports.
func (t *h1Transport) tlsFallback(ct *connTLS) *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.tlsTransports[ct.key]; tr != nil {
		return tr
	}
	if t.tlsTransports == nil {
		t.tlsTransports = map[string]*http.Transport{}
	}
	prefix := ct.cluster.Name + "|"
	for k, tr := range t.tlsTransports {
		if len(t.tlsTransports) >= maxTLSTransports || (strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, prefix+ct.ct.version+"|")) {
			tr.CloseIdleConnections()
			delete(t.tlsTransports, k)
		}
	}
	tr := t.fallback.Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := t.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return t.handshake(ctx, raw, addr, ct)
	}
	t.tlsTransports[ct.key] = tr
	return tr
}

// maxTLSTransports bounds the per-identity transports (identities × SNI names in use).
const maxTLSTransports = 1024
