package listener

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// captureHello returns the bytes a crypto/tls client sends first (its ClientHello
// record(s)) for cfg.
func captureHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		c := tls.Client(a, cfg)
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_ = c.Handshake()
		a.Close()
	}()
	var out []byte
	buf := make([]byte, 1<<16)
	_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := b.Read(buf)
		out = append(out, buf[:n]...)
		if _, _, perr := readClientHello(bytes.NewReader(out)); perr == nil || err != nil {
			return out
		}
	}
}

// serverSNI is what crypto/tls itself reads as the SNI of data (ok=false when it refuses
// the hello before asking for a config).
func serverSNI(data []byte) (string, bool) {
	var got string
	seen := false
	srv := tls.Server(&bytesConn{r: bytes.NewReader(data)}, &tls.Config{GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		got, seen = hi.ServerName, true
		return nil, errors.New("stop")
	}})
	_ = srv.Handshake()
	return got, seen
}

// bytesConn reads from r (then EOF) and discards writes.
type bytesConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *bytesConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *bytesConn) Close() error                     { return nil }
func (c *bytesConn) SetDeadline(time.Time) error      { return nil }
func (c *bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bytesConn) SetWriteDeadline(time.Time) error { return nil }
func (c *bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }

// reframe splits the handshake payload of one record into records of size bytes.
func reframe(rec []byte, size int) []byte {
	var out []byte
	body := rec[5:]
	for len(body) > 0 {
		n := min(size, len(body))
		out = append(out, 22, rec[1], rec[2], byte(n>>8), byte(n))
		out = append(out, body[:n]...)
		body = body[n:]
	}
	return out
}

// oneByteReader returns one byte per Read (a hello spread over many TCP segments).
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(1, len(p))]) }

func TestReadClientHello(t *testing.T) {
	hello := captureHello(t, &tls.Config{ServerName: "db.example.com", InsecureSkipVerify: true})
	// Over 16 KiB: crypto/tls sends it in two records.
	big := captureHello(t, &tls.Config{ServerName: "big.example.com", InsecureSkipVerify: true, NextProtos: bigALPN()})
	if len(big) <= maxRecordPayload+recordHeaderLen {
		t.Fatalf("big hello is %d bytes", len(big))
	}
	noSNI := captureHello(t, &tls.Config{InsecureSkipVerify: true})
	for _, tc := range []struct {
		name    string
		r       io.Reader
		sni     string
		wantErr error
	}{
		{"one record", bytes.NewReader(hello), "db.example.com", nil},
		{"one byte per read", oneByteReader{bytes.NewReader(hello)}, "db.example.com", nil},
		{"records of 1 byte", bytes.NewReader(reframe(hello, 1)), "db.example.com", nil},
		{"records of 50 bytes, read by byte", oneByteReader{bytes.NewReader(reframe(hello, 50))}, "db.example.com", nil},
		{"large hello", bytes.NewReader(big), "big.example.com", nil},
		{"no SNI", bytes.NewReader(noSNI), "", nil},
		{"bytes after the hello are kept", bytes.NewReader(append(append([]byte{}, hello...), "tail"...)), "db.example.com", nil},
		{"plain HTTP", strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "", errNotHello},
		{"alert record", bytes.NewReader([]byte{21, 3, 1, 0, 2, 2, 40}), "", errNotHello},
		{"not a ClientHello", bytes.NewReader([]byte{22, 3, 1, 0, 4, 2, 0, 0, 0}), "", errNotHello},
		{"oversized record", bytes.NewReader([]byte{22, 3, 1, 0x40, 1}), "", errNotHello},
		{"hello over 64 KiB", bytes.NewReader([]byte{22, 3, 1, 0, 4, 1, 1, 0, 1}), "", errNotHello},
		{"truncated", bytes.NewReader(hello[:len(hello)-3]), "", io.ErrUnexpectedEOF},
		{"empty", bytes.NewReader(nil), "", io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, sni, err := readClientHello(tc.r)
			if !errors.Is(err, tc.wantErr) || sni != tc.sni {
				t.Fatalf("sni %q err %v; want %q %v", sni, err, tc.sni, tc.wantErr)
			}
			_ = data
		})
	}
	// Everything read is returned for replay, including bytes after the hello.
	data, _, _ := readClientHello(bytes.NewReader(append(append([]byte{}, hello...), "tail"...)))
	if !bytes.HasPrefix(append(append([]byte{}, hello...), "tail"...), data) || len(data) < len(hello) {
		t.Fatalf("returned %d bytes, hello is %d", len(data), len(hello))
	}
	// A client that never completes its hello is bounded by the caller's deadline: the
	// reader returns the read error.
	a, b := net.Pipe()
	defer a.Close()
	go func() { _, _ = a.Write(hello[:10]) }()
	_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := readClientHello(b); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled hello: %v", err)
	}
}

func TestParseClientHelloMatchesCryptoTLS(t *testing.T) {
	for _, name := range []string{"db.example.com", "a.b.c.example.org", "x"} {
		hello := captureHello(t, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		_, sni, err := readClientHello(bytes.NewReader(hello))
		want, ok := serverSNI(hello)
		if err != nil || !ok || sni != want || sni != name {
			t.Fatalf("%s: ours %q %v, crypto/tls %q %v", name, sni, err, want, ok)
		}
	}
}

// FuzzClientHello: on any input, readClientHello never panics nor reads past its bound,
// and whenever crypto/tls accepts a ClientHello far enough to ask for a config, we read
// the same SNI from it.
func FuzzClientHello(f *testing.F) {
	for _, cfg := range []*tls.Config{
		{ServerName: "db.example.com", InsecureSkipVerify: true},
		{InsecureSkipVerify: true},
		{ServerName: "h2.example.com", NextProtos: []string{"h2"}, InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12},
	} {
		h := captureHello(f, cfg)
		f.Add(h)
		f.Add(reframe(h, 30))
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		read, sni, err := readClientHello(bytes.NewReader(data))
		if len(read) > len(data) || len(read) > maxBuffered+maxRecordPayload+recordHeaderLen {
			t.Fatalf("read %d of %d bytes", len(read), len(data))
		}
		if !bytes.Equal(read, data[:len(read)]) {
			t.Fatal("returned bytes differ from those read")
		}
		want, ok := serverSNI(data)
		if ok && (err != nil || sni != want) {
			t.Fatalf("crypto/tls reads SNI %q, we %q (%v)", want, sni, err)
		}
	})
}

// bigALPN is an ALPN list of 80 names of 255 bytes: a ClientHello over 20 KiB.
func bigALPN() []string {
	out := make([]string, 80)
	for i := range out {
		out[i] = strings.Repeat(string(rune('a'+i%26)), 254) + string(rune('A'+i/26))
	}
	return out
}

// withExtension returns a one-record ClientHello with an extension (typ, body) added
// before the others, every length fixed up.
func withExtension(t *testing.T, rec []byte, typ uint16, body []byte) []byte {
	t.Helper()
	msg := rec[recordHeaderLen:]
	p := 4 + 2 + 32
	p += 1 + int(msg[p])                      // session id
	p += 2 + (int(msg[p])<<8 | int(msg[p+1])) // cipher suites
	p += 1 + int(msg[p])                      // compression methods
	extLen := int(msg[p])<<8 | int(msg[p+1])  // extensions block
	if p+2+extLen != len(msg) {
		t.Fatalf("unexpected hello layout")
	}
	ext := append([]byte{byte(typ >> 8), byte(typ), byte(len(body) >> 8), byte(len(body))}, body...)
	out := append([]byte{}, rec[:recordHeaderLen]...)
	out = append(out, msg[:p]...)
	n := extLen + len(ext)
	out = append(out, byte(n>>8), byte(n))
	out = append(out, ext...)
	out = append(out, msg[p+2:]...)
	hs := len(out) - recordHeaderLen - 4
	out[recordHeaderLen+1], out[recordHeaderLen+2], out[recordHeaderLen+3] = byte(hs>>16), byte(hs>>8), byte(hs)
	rl := len(out) - recordHeaderLen
	out[3], out[4] = byte(rl>>8), byte(rl)
	return out
}

func TestClientHelloGreaseAndECH(t *testing.T) {
	hello := captureHello(t, &tls.Config{ServerName: "public.example.com", InsecureSkipVerify: true})
	// A GREASE extension (RFC 8701) and an ECH outer extension (encrypted_client_hello,
	// 0xfe0d; its payload is opaque to the gateway): both skipped, the outer SNI routes.
	for _, ext := range []struct {
		typ  uint16
		body []byte
	}{{0x0a0a, nil}, {0xfe0d, echOuter()}} {
		h := withExtension(t, hello, ext.typ, ext.body)
		_, sni, err := readClientHello(bytes.NewReader(h))
		want, ok := serverSNI(h)
		if err != nil || sni != "public.example.com" || !ok || want != sni {
			t.Fatalf("extension %#x: ours %q %v; crypto/tls %q %v", ext.typ, sni, err, want, ok)
		}
	}
	// A duplicated extension makes the hello malformed, for crypto/tls and for us.
	dup := withExtension(t, hello, 0, []byte{0, 6, 0, 0, 3, 'a', '.', 'b'})
	if _, _, err := readClientHello(bytes.NewReader(dup)); !errors.Is(err, errNotHello) {
		t.Fatalf("duplicate server_name: %v", err)
	}
	if _, ok := serverSNI(dup); ok {
		t.Fatal("crypto/tls accepted a duplicate server_name")
	}
}

// echOuter is an ECHClientHello of type outer: HPKE suite, config id, enc and payload.
func echOuter() []byte {
	b := []byte{0, 0, 1, 0, 1, 7, 0, 32}
	b = append(b, bytes.Repeat([]byte{0x11}, 32)...)
	b = append(b, 0, 64)
	return append(b, bytes.Repeat([]byte{0x22}, 64)...)
}
