package security

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a hostile HTTP/2 client: it writes HEADERS blocks the test spells out field
// by field (so it can send what net/http's client never would), over one connection.
type h2Conn struct {
	t    testing.TB
	bw   *bufio.Writer
	fr   *http2.Framer
	enc  *hpack.Encoder
	blk  bytes.Buffer
	next uint32
}

// h2Response is one HTTP/2 response, or the stream's reset.
type h2Response struct {
	status int
	header http.Header
	body   string
	reset  http2.ErrCode // non-zero when the server reset the stream
}

// openH2 opens an h2 connection with SNI sni presenting certHost's certificate.
func (e *env) openH2(t testing.TB, sni, certHost string) *h2Conn {
	t.Helper()
	c, err := e.dial(e.tlsConfig(sni, certHost, "h2"))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	h := &h2Conn{t: t, bw: bufio.NewWriter(c), next: 1}
	h.fr = http2.NewFramer(h.bw, bufio.NewReader(c))
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.blk)
	_, _ = h.bw.WriteString(http2.ClientPreface)
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	h.flush()
	return h
}

func (h *h2Conn) flush() {
	h.t.Helper()
	if err := h.bw.Flush(); err != nil {
		h.t.Fatalf("write: %v", err)
	}
}

// block HPACK-encodes fields given as "name", "value" pairs, in order, as written.
func (h *h2Conn) block(fields ...string) []byte {
	h.blk.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = h.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(h.blk.Bytes())
}

// get sends a GET whose header block is exactly fields.
func (h *h2Conn) get(fields ...string) h2Response {
	h.t.Helper()
	return h.request(fields, "", nil)
}

// request sends one request: fields, then body (if any), then trailers (if any).
func (h *h2Conn) request(fields []string, body string, trailers []string) h2Response {
	h.t.Helper()
	id := h.next
	h.next += 2
	onlyHeaders := body == "" && trailers == nil
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(fields...),
		EndStream: onlyHeaders, EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		if err := h.fr.WriteData(id, trailers == nil, []byte(body)); err != nil {
			h.t.Fatal(err)
		}
	}
	if trailers != nil {
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(trailers...),
			EndStream: true, EndHeaders: true}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.flush()
	r, err := h.read(id)
	if err != nil {
		h.t.Fatalf("stream %d: %v", id, err)
	}
	return r
}

// try sends a GET whose header block is exactly fields and returns the response, or the
// connection's error (GOAWAY, close).
func (h *h2Conn) try(fields ...string) (h2Response, error) {
	h.t.Helper()
	id := h.next
	h.next += 2
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(fields...),
		EndStream: true, EndHeaders: true}); err != nil {
		return h2Response{}, err
	}
	if err := h.bw.Flush(); err != nil {
		return h2Response{}, err
	}
	return h.read(id)
}

// read reads frames until stream id ends.
func (h *h2Conn) read(id uint32) (h2Response, error) {
	r := h2Response{header: http.Header{}}
	var body strings.Builder
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return r, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.fr.WriteSettingsAck()
				h.flush()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = h.fr.WritePing(true, f.Data)
				h.flush()
			}
		case *http2.GoAwayFrame:
			return r, fmt.Errorf("goaway %v", f.ErrCode)
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				r.reset = f.ErrCode
				return r, nil
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				continue
			}
			for _, hf := range f.RegularFields() {
				r.header.Add(hf.Name, hf.Value)
			}
			if s := f.PseudoValue("status"); s != "" {
				r.status, _ = strconv.Atoi(s)
			}
			if f.StreamEnded() {
				r.body = body.String()
				return r, nil
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			body.Write(f.Data())
			if len(f.Data()) > 0 {
				_ = h.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				h.flush()
			}
			if f.StreamEnded() {
				r.body = body.String()
				return r, nil
			}
		}
	}
	return r, errors.New("no response in time")
}

// asHTTP adapts an h2 response to the HTTP/1 assertion helpers.
func (r h2Response) asHTTP() *http.Response {
	return &http.Response{StatusCode: r.status, Header: r.header}
}

// h2get is the header block of a plain GET of path at authority.
func h2get(authority, path string, extra ...string) []string {
	return append([]string{":method", "GET", ":scheme", "https", ":authority", authority, ":path", path}, extra...)
}
