package listener_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// The differential harness: our HTTP/1.1 loop and net/http's http.Server, both running on
// loopback with the same handler, get the same bytes on a fresh connection each; what
// each handler saw and what each client read must match (see docs/design/0011).

// diffModes are the handler behaviours, chosen per run (diffServers.mode).
var diffModes = []string{"echo", "ignore-body", "big", "trailers", "flush", "204", "close", "cl-partial-read", "304"}

// diffSide is one server of the pair (plain and TLS) and what its handler saw.
type diffSide struct {
	plain, tls string      // addresses
	client     *tls.Config // with its own session cache: resumed handshakes are cheaper
	mu         sync.Mutex
	seen       []string // one line per request the handler got
}

func (s *diffSide) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.seen
	s.seen = nil
	return v
}

// diffServers is our listener and http.Server, each on a plain and a TLS port.
type diffServers struct {
	ours, std diffSide
	mode      atomic.Int32 // index into diffModes
}

const diffMaxHeader = 4 << 10

func startDiff(t testing.TB) *diffServers {
	t.Helper()
	d := &diffServers{}
	ca := testpki.NewCA(t, "diff ca")
	cert := ca.Server(t, host)
	for _, side := range []*diffSide{&d.ours, &d.std} {
		side.client = &tls.Config{RootCAs: ca.Pool, ServerName: host, NextProtos: []string{"http/1.1"},
			ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	}
	ref := snapshot.CredentialRef{Secret: "ns/cert"}
	tab := listener.NewTable([]snapshot.Server{{Name: "s", Hosts: []string{"*"},
		TLS: &snapshot.TLS{Mode: snapshot.TLSSimple, Credential: ref}}},
		creds{ref.Key(): testpki.Credential(cert)}, listener.Tickets{Secret: []byte("x")}, slog.New(slog.DiscardHandler))
	for _, useTLS := range []bool{false, true} {
		cfg := listener.Config{Addr: "127.0.0.1:0", Handler: d.handler(&d.ours), ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: 10 * time.Second, MaxHeaderBytes: diffMaxHeader, Logger: slog.New(slog.DiscardHandler)}
		if useTLS {
			cfg.TLS = func() *listener.Table { return tab }
		}
		l, err := listener.Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = l.Serve(); close(done) }()
		t.Cleanup(func() { _ = l.Close(); <-done })

		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: d.handler(&d.std), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second,
			MaxHeaderBytes: diffMaxHeader, ErrorLog: log.New(io.Discard, "", 0)}
		if useTLS {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
		sdone := make(chan struct{})
		go func() { _ = srv.Serve(ln); close(sdone) }()
		t.Cleanup(func() { _ = srv.Close(); <-sdone })
		if useTLS {
			d.ours.tls, d.std.tls = l.Addr().String(), ln.Addr().String()
		} else {
			d.ours.plain, d.std.plain = l.Addr().String(), ln.Addr().String()
		}
	}
	return d
}

// handler records what the request looks like to a handler, then answers per mode.
func (d *diffServers) handler(side *diffSide) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mode := diffModes[d.mode.Load()]
		var body []byte
		var berr error
		readBody := func() { body, berr = io.ReadAll(r.Body) }
		switch mode {
		case "ignore-body", "204", "304":
		case "cl-partial-read":
			var one [1]byte
			n, _ := r.Body.Read(one[:])
			body = one[:n]
		default:
			readBody()
		}
		te := slices.Clone(r.TransferEncoding)
		line := fmt.Sprintf("%s uri=%q url=%q host=%q proto=%s cl=%d te=%q close=%v hdr=%v body=%q err=%v trailer=%v",
			r.Method, r.RequestURI, r.URL.String(), r.Host, r.Proto, r.ContentLength, te, r.Close, r.Header, body, berr, r.Trailer)
		side.mu.Lock()
		side.seen = append(side.seen, line)
		side.mu.Unlock()

		h := w.Header()
		h.Set("Content-Type", "text/plain") // no sniffing by net/http (a deliberate difference)
		switch mode {
		case "echo", "ignore-body":
			_, _ = io.WriteString(w, r.Method+" "+r.RequestURI+" "+string(body))
		case "big":
			_, _ = io.WriteString(w, strings.Repeat("b", 5000))
		case "trailers":
			h.Set("Trailer", "X-T, Content-Length")
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			h.Set("X-T", "t")
			h.Set(http.TrailerPrefix+"X-P", "p")
			h.Set(http.TrailerPrefix+"Bad Name", "x")
		case "flush":
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "b")
		case "204", "304":
			h.Del("Content-Type")
			w.WriteHeader(map[string]int{"204": 204, "304": 304}[mode])
			_, _ = io.WriteString(w, "not sent")
		case "close":
			h.Set("Connection", "close")
			_, _ = io.WriteString(w, "closing")
		case "cl-partial-read":
			h.Set("Content-Length", "2")
			_, _ = io.WriteString(w, "ok")
		}
	}
}

// exchange sends raw to one side in two writes (split at split; TLS: two records, so two
// reads on the server), half-closes, and reads everything the server sends until it
// closes. A fresh connection each time.
func exchange(t testing.TB, addr string, roots *tls.Config, raw []byte, split int) []byte {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second)) // generous: never reached when both servers behave
	var c interface {
		net.Conn
		CloseWrite() error
	} = nc.(*net.TCPConn)
	if roots != nil {
		tc := tls.Client(nc, roots)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = tc
	}
	go func() { // written concurrently: a server may answer (and stop reading) early
		if split > 0 && split < len(raw) {
			if _, err := c.Write(raw[:split]); err != nil {
				return
			}
			raw = raw[split:]
		}
		if _, err := c.Write(raw); err == nil {
			_ = c.CloseWrite()
		}
	}()
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: no close after %q", addr, out)
	}
	return out // a reset (server closed with unread data) ends what was sent: compared as is
}

// responses renders what a client reads from out: each response normalized (no Date),
// then what could not be parsed. methods are the requests' methods, in order (HEAD
// responses have no body).
func responses(out []byte, methods []string) []string {
	br := bufio.NewReader(bytes.NewReader(out))
	var got []string
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err != nil {
			return got
		}
		m := "GET"
		if i < len(methods) {
			m = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			rest, _ := io.ReadAll(br)
			return append(got, fmt.Sprintf("unparsed: %v %q", err, normalizeRaw(rest)))
		}
		if resp.StatusCode == http.StatusContinue {
			methods = slices.Insert(methods, min(i, len(methods)), m)
		}
		b, berr := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		got = append(got, fmt.Sprintf("%s %d cl=%d te=%q close=%v hdr=%v body=%q err=%v trailer=%v",
			resp.Proto, resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Close, resp.Header, b, berr, resp.Trailer))
	}
}

// methodsOf returns the methods of the requests a handler saw.
func methodsOf(seen []string) []string {
	m := make([]string, len(seen))
	for i, s := range seen {
		m[i], _, _ = strings.Cut(s, " ")
	}
	return m
}

// diffResult is what one side made of a byte stream.
type diffResult struct {
	seen, resps []string
}

func (r diffResult) String() string {
	return "handler saw:\n\t" + strings.Join(r.seen, "\n\t") + "\nclient read:\n\t" + strings.Join(r.resps, "\n\t")
}

// run sends raw to both sides (TLS: split into two records at split) with handler mode,
// and returns each side's result.
func (d *diffServers) run(t testing.TB, raw []byte, split, mode int, useTLS bool) (ours, std diffResult) {
	t.Helper()
	d.mode.Store(int32(mode))
	for _, s := range []struct {
		side *diffSide
		res  *diffResult
	}{{&d.ours, &ours}, {&d.std, &std}} {
		addr, roots := s.side.plain, (*tls.Config)(nil)
		if useTLS {
			addr, roots = s.side.tls, s.side.client
		}
		out := exchange(t, addr, roots, raw, split)
		s.res.seen = s.side.take()
		s.res.resps = responses(out, methodsOf(s.res.seen))
	}
	return ours, std
}

// normalizeRaw makes bytes the client could not parse comparable: without the Date
// field, and lines sorted (we write header fields in map order, net/http sorts them).
func normalizeRaw(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Date: ") })
	slices.Sort(lines)
	return lines
}
