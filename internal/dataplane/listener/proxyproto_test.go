package listener

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

func TestReadProxyHeaderExact(t *testing.T) {
	src := &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 51000}
	dst := &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 443}
	src6 := &net.TCPAddr{IP: net.ParseIP("2001:db8::9"), Port: 51000}
	dst6 := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443}
	v2 := proxyproto.HeaderProxyFromAddrs(2, src, dst)
	if err := v2.SetTLVs([]proxyproto.TLV{{Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("a.example")}}); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*proxyproto.Header{
		"v1":      proxyproto.HeaderProxyFromAddrs(1, src, dst),
		"v1-tcp6": proxyproto.HeaderProxyFromAddrs(1, src6, dst6),
		"v2":      v2,
		"v2-tcp6": proxyproto.HeaderProxyFromAddrs(2, src6, dst6),
	} {
		b, err := h.Format()
		if err != nil {
			t.Fatal(err)
		}
		// The stream's own bytes follow the header at once: none may be consumed.
		r := bytes.NewReader(append(b, "\x16\x03\x01rest"...))
		got, err := readProxyHeader(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if gs, gd, ok := got.TCPAddrs(); !ok || gs.String() != h.SourceAddr.String() || gd.String() != h.DestinationAddr.String() {
			t.Errorf("%s: addresses %v %v", name, gs, gd)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "\x16\x03\x01rest" {
			t.Errorf("%s: left %q after the header", name, rest)
		}
	}
	// A server-speaks-first stream: nothing follows the shortest v1 line.
	if h, err := readProxyHeader(strings.NewReader("PROXY UNKNOWN\r\n")); err != nil || h.Command != proxyproto.LOCAL && h.TransportProtocol != proxyproto.UNSPEC {
		t.Errorf("UNKNOWN: %v %v", h, err)
	}
	for name, in := range map[string]string{
		"tls hello":   "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdef",
		"http":        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"v1 too long": "PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n",
		"v1 bad":      "PROXY TCP4 1.2.3.4 nope 1 2\r\n",
		"truncated":   "PROXY TCP4 1.2.3.4",
		"v2 short":    "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01\x02",
	} {
		if _, err := readProxyHeader(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestProxyProtocolTrusts(t *testing.T) {
	p := &ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::1/128")}}
	for addr, want := range map[string]bool{
		"10.1.2.3:5": true, "10.2.0.1:5": false, "[::1]:5": true, "127.0.0.1:5": false, "[::ffff:10.1.0.9]:5": true,
	} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if got := p.trusts(a); got != want {
			t.Errorf("%s: trusted %v, want %v", addr, got, want)
		}
	}
}

// TestProxyHeaderRefusals: a trusted peer's connection is closed, with its reason, when it
// sends no header in time, bytes that are not one, a malformed one, or closes early.
func TestProxyHeaderRefusals(t *testing.T) {
	cases := map[string]struct {
		send  string
		close bool
	}{
		RefusedTimeout:  {send: "PROXY TCP4 1.2.3.4"},
		RefusedNotProxy: {send: "GET / HTTP/1.1\r\n\r\n"},
		RefusedInvalid:  {send: "PROXY TCP4 1.2.3.4 nope-nope-nope 1 2\r\n"},
		RefusedClosed:   {send: "PROXY TC", close: true},
	}
	for want, tc := range cases {
		got := make(chan string, 1)
		pp := &ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 200 * time.Millisecond,
			Refused: func(r string) { got <- r }}
		l, err := Listen(Config{Addr: "127.0.0.1:0", ProxyProtocol: pp, Handler: http.NotFoundHandler()})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = l.Serve() }()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, tc.send)
		if tc.close {
			_ = c.Close()
		}
		select {
		case r := <-got:
			if r != want {
				t.Errorf("%q: refused as %q, want %q", tc.send, r, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: not refused", tc.send)
		}
		_ = c.Close()
		_ = l.Close()
	}
}

// FuzzProxyHeader: whatever a trusted peer sends, readProxyHeader never consumes a byte
// past the header it accepts: what it consumed parses as that header with nothing left
// over, so the stream that follows reaches TLS, HTTP or the upstream intact.
func FuzzProxyHeader(f *testing.F) {
	src := &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 51000}
	dst := &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 443}
	for _, v := range []byte{1, 2} {
		b, _ := proxyproto.HeaderProxyFromAddrs(v, src, dst).Format()
		f.Add(b)
	}
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP6 :: :: 0 0\r\n"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"))
	const tail = "\x16\x03\x01-stream-"
	f.Fuzz(func(t *testing.T, in []byte) {
		all := append(append([]byte(nil), in...), tail...)
		r := bytes.NewReader(all)
		h, err := readProxyHeader(r)
		if err != nil {
			return
		}
		consumed := all[:len(all)-r.Len()]
		br := bufio.NewReader(bytes.NewReader(consumed))
		again, err := proxyproto.Read(br)
		if err != nil || !again.EqualsTo(h) {
			t.Fatalf("consumed %q: re-read %v, %v", consumed, again, err)
		}
		if br.Buffered() != 0 {
			t.Fatalf("consumed %q: %d bytes past the header", consumed, br.Buffered())
		}
	})
}
