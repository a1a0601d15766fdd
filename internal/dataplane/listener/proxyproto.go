package listener

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
)

// Downstream PROXY protocol (design 0029): a load balancer in front of the gateway
// sends a PROXY header (v1 or v2) before the connection's first byte, as Istio's
// gatewayTopology.proxyProtocol makes Envoy expect with its proxy_protocol listener
// filter. With Config.ProxyProtocol set, a connection from a peer in Trusted must start
// with one: its addresses then become the connection's (RemoteAddr and LocalAddr of
// Conn), so the access log, AuthorizationPolicy remoteIpBlocks, X-Forwarded-For,
// useSourceIp hashing and an upstream PROXY header all see the client, as Envoy's do. A
// trusted peer that sends no valid header within Timeout is closed (Envoy's
// listener_filters_timeout, 15 s by default, then the connection is closed). A peer
// outside Trusted is never asked for a header: it is served as a direct client with its
// own address, and a header it sends is just bytes of its stream (TLS and HTTP refuse
// them), so no client can forge its source address.
//
// The header is read off the socket exactly (no byte past it), so the connection stays
// the accepted *net.TCPConn (splice, raw reads) and the paths after it are unchanged;
// parsing and validation are github.com/pires/go-proxyproto's.

// ProxyProtocol configures accepting downstream PROXY headers on a listener.
type ProxyProtocol struct {
	// Trusted are the peers (load balancers) whose connections must start with a header.
	Trusted []netip.Prefix
	// Timeout bounds reading the header; 0 means 15 s.
	Timeout time.Duration
	// Refused, if set, is called once per connection closed for its header, with a
	// Refused* reason.
	Refused func(reason string)
}

// Reasons a trusted peer's connection is refused.
const (
	RefusedTimeout  = "timeout"   // no complete header within Timeout
	RefusedNotProxy = "not_proxy" // the connection does not start with a PROXY signature
	RefusedInvalid  = "invalid"   // a malformed header
	RefusedClosed   = "closed"    // the peer closed or reset before a whole header
)

// refusal classifies a readProxyHeader error.
func refusal(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errNoProxyHeader):
		return RefusedNotProxy
	case errors.As(err, &ne) && ne.Timeout():
		return RefusedTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, new(*net.OpError)):
		return RefusedClosed
	}
	return RefusedInvalid
}

// trusts reports whether the peer address a is in p.Trusted.
func (p *ProxyProtocol) trusts(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, pr := range p.Trusted {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// acceptProxyHeader reads the downstream PROXY header of a new connection when the
// listener expects one from its peer; false when the connection was refused (closed).
func (hc *hconn) acceptProxyHeader() bool {
	pp := hc.l.cfg.ProxyProtocol
	if pp == nil {
		return true
	}
	raw := hc.c.Conn
	if !pp.trusts(raw.RemoteAddr()) {
		return true
	}
	timeout := pp.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	_ = raw.SetReadDeadline(time.Now().Add(timeout))
	h, err := readProxyHeader(tcpproxy.Socket(raw))
	_ = raw.SetReadDeadline(time.Time{})
	if err != nil {
		reason := refusal(err)
		hc.l.cfg.Logger.Debug("downstream PROXY header refused", "remote", raw.RemoteAddr().String(), "reason", reason, "error", err)
		if pp.Refused != nil {
			pp.Refused(reason)
		}
		hc.l.conns.remove(hc)
		_ = raw.Close()
		return false
	}
	// LOCAL (a load balancer's own health check) and UNKNOWN/unspecified families keep
	// the socket's addresses, as Envoy's filter does.
	if src, dst, ok := h.TCPAddrs(); ok && h.Command == proxyproto.PROXY {
		hc.c.remote, hc.c.local = src, dst
	}
	return true
}

// Header sizes: the v2 signature and fixed part, the v1 line's bound (proxy-protocol.txt:
// 107 bytes with CRLF), and its shortest TCP4/TCP6 lines.
const (
	ppV2Fixed  = 16
	ppV1Max    = 107
	ppV1MinTCP = 32 // "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"
	ppV1Min6   = 22 // "PROXY TCP6 :: :: 0 0\r\n"
)

// ppV2Sig is the signature a v2 header starts with.
const ppV2Sig = "\r\n\r\n\x00\r\nQUIT\n"

// errNoProxyHeader: the connection does not start with a PROXY header.
var errNoProxyHeader = errors.New("no PROXY protocol header")

// readProxyHeader reads exactly one PROXY header from r (never a byte beyond it) and
// parses it with go-proxyproto. The first read takes 12 bytes, which every header has
// (v1's shortest, "PROXY UNKNOWN\r\n", is 15); a v2 header then takes its length and
// body; a v1 line is read up to its shortest length for its family, then byte by byte
// to its CRLF.
func readProxyHeader(r io.Reader) (*proxyproto.Header, error) {
	buf := make([]byte, 12, ppV2Fixed+256)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	switch {
	case string(buf) == ppV2Sig:
		buf = buf[:ppV2Fixed]
		if _, err := io.ReadFull(r, buf[12:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(buf[14:16]))
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(r, buf[ppV2Fixed:]); err != nil {
			return nil, err
		}
	case bytes.HasPrefix(buf, []byte("PROXY ")):
		min := len(buf)
		switch string(buf[6:10]) {
		case "TCP4":
			min = ppV1MinTCP
		case "TCP6":
			min = ppV1Min6
		}
		buf = buf[:min]
		if _, err := io.ReadFull(r, buf[12:]); err != nil {
			return nil, err
		}
		var b [1]byte
		for !bytes.HasSuffix(buf, []byte("\r\n")) {
			if len(buf) >= ppV1Max {
				return nil, errors.New("PROXY v1 header longer than 107 bytes")
			}
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, err
			}
			buf = append(buf, b[0])
		}
	default:
		return nil, errNoProxyHeader
	}
	return proxyproto.Read(bufio.NewReaderSize(bytes.NewReader(buf), len(buf)))
}
