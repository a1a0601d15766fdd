package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2HeaderValidation drives the real binary, with the walkthrough's PKI and mTLS
// client certificate, over HTTP/2 with header blocks net/http's client would never
// send: a "host" field differing from :authority (a route matching on host would see
// one value while the request was routed on the other), an :authority that is not a
// valid host, a :path in absolute form. Each stream is reset with PROTOCOL_ERROR,
// and the connection goes on serving the normal request.
func TestH2HeaderValidation(t *testing.T) {
	e := setupWalkthrough(t)
	const host = "frontend.foocorp.com"
	cfg := e.clientTLS(t, host)
	cfg.NextProtos = []string{"h2"}
	c := dialH2(t, "127.0.0.1:"+itoa(e.port), cfg)

	get := func(authority, path string, extra ...string) []string {
		return append([]string{":method", "GET", ":scheme", "https", ":authority", authority, ":path", path}, extra...)
	}
	if status, body := c.roundTrip(t, get(host, "/")); status != "200" || !strings.Contains(body, frontendBody) {
		t.Fatalf("normal request: %s %q", status, body)
	}
	refused := []struct {
		name   string
		fields []string
	}{
		{"host differs from :authority", get(host, "/", "host", "inventory.foocorp.com")},
		{"two host fields", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", host, "host", host}},
		{":authority with a space", get("frontend.foocorp.com x", "/")},
		{":authority with a slash", get("frontend.foocorp.com/x", "/")},
		{":path absolute-form", get(host, "http://evil.test/x")},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if status, _ := c.roundTrip(t, tc.fields); status != "RST PROTOCOL_ERROR" {
				t.Errorf("got %s, want RST_STREAM(PROTOCOL_ERROR)", status)
			}
		})
	}
	if status, body := c.roundTrip(t, get(host, "/", "host", host)); status != "200" || !strings.Contains(body, frontendBody) {
		t.Errorf("request with host equal to :authority after the refusals: %s %q", status, body)
	}
}

// h2Client speaks raw HTTP/2 frames over one TLS connection.
type h2Client struct {
	c    *tls.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	enc  *hpack.Encoder
	blk  bytes.Buffer
	next uint32
}

func dialH2(t *testing.T, addr string, cfg *tls.Config) *h2Client {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	h := &h2Client{c: c, bw: bufio.NewWriter(c), next: 1}
	h.fr = http2.NewFramer(h.bw, bufio.NewReader(c))
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.blk)
	_, _ = h.bw.WriteString(http2.ClientPreface)
	_ = h.fr.WriteSettings()
	return h
}

// roundTrip sends a HEADERS (END_STREAM) whose block is exactly fields and returns the
// response's :status and body, or "RST <code>" if the stream was reset.
func (h *h2Client) roundTrip(t *testing.T, fields []string) (string, string) {
	t.Helper()
	id := h.next
	h.next += 2
	h.blk.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = h.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	_ = h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.blk.Bytes(), EndStream: true, EndHeaders: true})
	if err := h.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var status string
	var body strings.Builder
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.fr.WriteSettingsAck()
				_ = h.bw.Flush()
			}
		case *http2.GoAwayFrame:
			t.Fatalf("stream %d: GOAWAY %v", id, f.ErrCode)
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return "RST " + f.ErrCode.String(), ""
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				status = f.PseudoValue("status")
				if f.StreamEnded() {
					return status, ""
				}
			}
		case *http2.DataFrame:
			if f.StreamID == id {
				body.Write(f.Data())
				if f.StreamEnded() {
					return status, body.String()
				}
			}
		}
	}
}
