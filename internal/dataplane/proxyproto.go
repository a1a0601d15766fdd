package dataplane

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Upstream PROXY protocol (DestinationRule trafficPolicy.proxyProtocol, design 0029).
// As Envoy's tcp_proxy, an L4 stream's header carries the downstream connection's
// addresses: the client's (restored from a downstream PROXY header when the listener
// accepted one) as source, the gateway's as destination. It is written on the fresh
// socket before anything else, TLS origination included, as Envoy's
// upstream_proxy_protocol transport socket wraps the TLS one. The encoding is
// github.com/pires/go-proxyproto's.

// proxyHeader returns the PROXY header of a stream with downstream addresses remote and
// local; tc is the client's TLS connection when the gateway terminated TLS (nil
// otherwise) and sni the stream's server name (TLVs only).
func proxyHeader(pp *snapshot.ProxyProtocol, remote, local net.Addr, tc *tls.Conn, sni string) ([]byte, error) {
	h := proxyproto.HeaderProxyFromAddrs(byte(pp.Version), remote, local)
	if pp.TLVs && pp.Version == 2 {
		if err := h.SetTLVs(streamTLVs(tc, sni)); err != nil {
			return nil, err
		}
	}
	return h.Format()
}

// streamTLVs are the TLS TLVs of a stream (portcullis's extension): PP2_TYPE_AUTHORITY
// with the SNI, and for a stream whose TLS the gateway terminated PP2_TYPE_SSL, with
// the TLS version, the cipher suite (IANA name) and, when the client presented a
// certificate, the certificate's subject CN. The client certificate was verified by the
// handshake before any byte is forwarded, so verify is 0 exactly when one was presented
// (PP2_CLIENT_CERT_CONN on a full handshake, PP2_CLIENT_CERT_SESS either way).
func streamTLVs(tc *tls.Conn, sni string) []proxyproto.TLV {
	var out []proxyproto.TLV
	if sni != "" {
		out = append(out, proxyproto.TLV{Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte(sni)})
	}
	if tc == nil {
		return out
	}
	cs := tc.ConnectionState()
	ssl := tlvparse.PP2SSL{Client: tlvparse.PP2_BITFIELD_CLIENT_SSL, Verify: 1}
	ssl.TLV = []proxyproto.TLV{
		{Type: proxyproto.PP2_SUBTYPE_SSL_VERSION, Value: []byte(tlsVersionName(cs.Version))},
		{Type: proxyproto.PP2_SUBTYPE_SSL_CIPHER, Value: []byte(tls.CipherSuiteName(cs.CipherSuite))},
	}
	if len(cs.PeerCertificates) > 0 {
		ssl.Verify = 0
		ssl.Client |= tlvparse.PP2_BITFIELD_CLIENT_CERT_SESS
		if !cs.DidResume {
			ssl.Client |= tlvparse.PP2_BITFIELD_CLIENT_CERT_CONN
		}
		if cn := cs.PeerCertificates[0].Subject.CommonName; cn != "" {
			ssl.TLV = append(ssl.TLV, proxyproto.TLV{Type: proxyproto.PP2_SUBTYPE_SSL_CN, Value: []byte(cn)})
		}
	}
	if t, err := ssl.Marshal(); err == nil {
		out = append(out, t)
	}
	return out
}

// tlsVersionName names a TLS version as OpenSSL does (what HAProxy writes in
// PP2_SUBTYPE_SSL_VERSION): "TLSv1.2", "TLSv1.3".
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return tls.VersionName(v)
}

// writeHeader writes a PROXY header on a freshly dialled socket within ctx's deadline
// (the connect timeout); on failure the socket is closed.
func writeHeader(ctx context.Context, c net.Conn, header []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
		defer func() { _ = c.SetWriteDeadline(time.Time{}) }()
	}
	if _, err := c.Write(header); err != nil {
		_ = c.Close()
		return &net.OpError{Op: "dial", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
	}
	return nil
}

// ProxyProtocolObserver is optionally implemented by an Observer (package metrics does)
// to count connections refused for their downstream PROXY header, by reason
// (listener.Refused*).
type ProxyProtocolObserver interface {
	ProxyProtocolRefused(reason string)
}

// observeProxyProtocol returns pp reporting refusals to obs when it counts them.
func observeProxyProtocol(pp *ProxyProtocol, obs Observer) *ProxyProtocol {
	o, ok := obs.(ProxyProtocolObserver)
	if pp == nil || !ok {
		return pp
	}
	c := *pp
	c.Refused = o.ProxyProtocolRefused
	return &c
}
