package dataplane_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/metrics"
)

// BenchmarkGatewayRaw is BenchmarkRequestPath with the client and the backend reduced to
// byte pushers, so that B/op and allocs/op are the gateway's but for one allocation of
// 24 B per request: crypto/tls's, in the client's read of the response (design 0039,
// "Second round"). The request is the loadgen's GET (Host and User-Agent) over mutual
// TLS on a keep-alive connection, HTTP/1.1 or HTTP/2 (one stream at a time), routed to a
// raw HTTP/1.1 backend answering "ok", with the request sinks the binary has by default
// (its metrics and Istio's standard metrics). These are the figures design 0039 tracks:
// the bytes allocated per request set how often the collector runs under load (design
// 0037).
func BenchmarkGatewayRaw(b *testing.B) {
	f := newFooCorp(b)
	f.snap.Clusters[0].Endpoints = []string{rawBackend(b)}
	reg := prometheus.NewRegistry()
	g := startGatewayObs(b, f.snap, f.creds, dataplane.Options{Requests: metrics.NewIstio(reg, metrics.Workload{})}, metrics.New(reg))
	dial := func(b *testing.B, proto string) *tls.Conn {
		c, err := tls.Dial("tcp", g.dp.Addr(443).String(), &tls.Config{ServerName: frontendHost, RootCAs: f.frontCA.Pool,
			Certificates: []tls.Certificate{f.frontClient}, NextProtos: []string{proto}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	b.Run("mtls-http1", func(b *testing.B) {
		c := dial(b, "http/1.1")
		req := []byte("GET / HTTP/1.1\r\nHost: " + frontendHost + "\r\nUser-Agent: portcullis-bench\r\n\r\n")
		br := bufio.NewReader(c)
		// The first response gives the size of all (the Date field has a fixed width).
		_, _ = c.Write(req)
		var head []byte
		for !bytes.HasSuffix(head, []byte("\r\n\r\nok")) {
			bb, err := br.ReadByte()
			if err != nil {
				b.Fatalf("first response %q: %v", head, err)
			}
			head = append(head, bb)
		}
		buf := make([]byte, len(head))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(br, buf); err != nil {
				b.Fatal(err)
			}
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(buf, []byte("\r\n\r\nok")) {
				b.Fatalf("response %q", buf)
			}
		}
	})
	b.Run("mtls-h2", func(b *testing.B) {
		c := dial(b, "h2")
		h := newRawH2(b, c)
		b.ReportAllocs()
		for b.Loop() {
			h.get(b)
		}
	})
}

// rawH2 is an HTTP/2 client that sends the same HPACK block (static-table and
// never-indexed fields, as loadgen) on stream after stream and reads frames into one
// buffer without decoding them.
type rawH2 struct {
	c     net.Conn
	br    *bufio.Reader
	block []byte
	id    uint32
	out   []byte
	hdr   [9]byte // a frame's header (a field: on the stack it would escape to the reader)
	fr    []byte
	owed  uint32 // DATA bytes not yet given back to the connection window
}

func newRawH2(b *testing.B, c net.Conn) *rawH2 {
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: frontendHost, Sensitive: true}, {Name: ":path", Value: "/"},
		{Name: "user-agent", Value: "portcullis-bench", Sensitive: true},
	} {
		_ = enc.WriteField(f)
	}
	h := &rawH2{c: c, br: bufio.NewReader(c), block: blk.Bytes(), id: 1, fr: make([]byte, 1<<14)}
	var pre bytes.Buffer
	pre.WriteString(http2.ClientPreface)
	_ = http2.NewFramer(&pre, nil).WriteSettings()
	if _, err := c.Write(pre.Bytes()); err != nil {
		b.Fatal(err)
	}
	h.get(b)
	return h
}

// frame appends a frame header to h.out.
func (h *rawH2) frame(n int, typ http2.FrameType, flags http2.Flags, id uint32) {
	h.out = append(h.out, byte(n>>16), byte(n>>8), byte(n), byte(typ), byte(flags))
	h.out = binary.BigEndian.AppendUint32(h.out, id)
}

// get sends a GET on the next stream and reads until that stream ends with a 200.
func (h *rawH2) get(b *testing.B) {
	h.out = h.out[:0]
	h.frame(len(h.block), http2.FrameHeaders, http2.FlagHeadersEndStream|http2.FlagHeadersEndHeaders, h.id)
	h.out = append(h.out, h.block...)
	if h.owed >= 32<<10 {
		h.frame(4, http2.FrameWindowUpdate, 0, 0)
		h.out = binary.BigEndian.AppendUint32(h.out, h.owed)
		h.owed = 0
	}
	if _, err := h.c.Write(h.out); err != nil {
		b.Fatal(err)
	}
	status := false
	for {
		hdr := h.hdr[:]
		if _, err := io.ReadFull(h.br, hdr); err != nil {
			b.Fatal(err)
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := http2.FrameType(hdr[3]), http2.Flags(hdr[4])
		id := binary.BigEndian.Uint32(hdr[5:]) & (1<<31 - 1)
		if n > len(h.fr) {
			b.Fatalf("frame of %d bytes", n)
		}
		p := h.fr[:n]
		if _, err := io.ReadFull(h.br, p); err != nil {
			b.Fatal(err)
		}
		switch {
		case typ == http2.FrameSettings && flags&http2.FlagSettingsAck == 0:
			h.out = h.out[:0]
			h.frame(0, http2.FrameSettings, http2.FlagSettingsAck, 0)
			if _, err := h.c.Write(h.out); err != nil {
				b.Fatal(err)
			}
		case typ == http2.FrameRSTStream || typ == http2.FrameGoAway:
			b.Fatalf("frame %v", typ)
		case id != h.id:
		case typ == http2.FrameHeaders:
			// :status 200 is static-table index 8, sent indexed: 0x88.
			status = status || (n > 0 && p[0] == 0x88)
			if flags&http2.FlagHeadersEndStream != 0 {
				b.Fatal("response without a body")
			}
		case typ == http2.FrameData:
			h.owed += uint32(n)
			if flags&http2.FlagDataEndStream != 0 {
				if !status {
					b.Fatal("response status not 200")
				}
				h.id += 2
				return
			}
		}
	}
}

// rawBackend serves every request on every connection with a fixed 200 "ok", reading
// request heads into a reused buffer (GETs only: no body).
func rawBackend(b *testing.B) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nok")
	return serveConns(b, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 { // the empty line ending a head
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	})
}
