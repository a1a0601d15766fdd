package h2

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// parkedSoon waits until n connections are parked (Linux only: elsewhere nothing parks,
// and the test checks the rest of the behaviour without it).
func parkedSoon(t *testing.T, s *Server, n int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	eventually(t, "idle connections to park", func() bool { return s.idle.Len() == n })
}

// parkOne opens a connection, completes one request on it and waits until it parks.
func parkOne(t *testing.T, e *env) *raw {
	t.Helper()
	r := e.raw(t)
	r.headers(1, true, get("/")...)
	if s := r.status(1); s != "200" {
		t.Fatalf("status %s", s)
	}
	parkedSoon(t, e.srv, 1)
	return r
}

// An idle connection parks without its reader, and serves its next streams, answers a
// PING, and parks again.
func TestIdleConnectionParks(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler))
	r := parkOne(t, e)
	r.headers(3, true, get("/")...)
	if s := r.status(3); s != "200" {
		t.Fatalf("after parking: status %s", s)
	}
	parkedSoon(t, e.srv, 1)
	_ = r.fr.WritePing(false, [8]byte{1, 2, 3})
	r.flush()
	r.next(func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && p.IsAck() && p.Data[0] == 1 })
	parkedSoon(t, e.srv, 1)
	// A request whose body arrives after the connection parked again.
	r.headers(5, false, ":method", "POST", ":scheme", "https", ":authority", "h2.test", ":path", "/")
	time.Sleep(300 * time.Millisecond) // the stream is open: the connection must not park
	if runtime.GOOS == "linux" && e.srv.idle.Len() != 0 {
		t.Fatal("parked with a stream open")
	}
	_ = r.fr.WriteData(5, true, []byte("body"))
	r.flush()
	if s := r.status(5); s != "200" {
		t.Fatalf("POST: status %s", s)
	}
}

// The idle timeout, Shutdown and Close reach a parked connection; a client closing one
// ends it.
func TestParkedConnectionEnds(t *testing.T) {
	t.Run("idle timeout sends GOAWAY", func(t *testing.T) {
		e := newEnv(t, http.HandlerFunc(okHandler), func(s *Server) { s.IdleTimeout = 600 * time.Millisecond })
		r := parkOne(t, e)
		if g := r.goAway(); g.ErrCode != http2.ErrCodeNo {
			t.Fatalf("GOAWAY %v", g.ErrCode)
		}
		eventually(t, "the connection to end", func() bool { return len(e.srv.snapshot()) == 0 })
	})
	t.Run("shutdown", func(t *testing.T) {
		e := newEnv(t, http.HandlerFunc(okHandler))
		r := parkOne(t, e)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("Shutdown took %v with one idle connection", took)
		}
		r.goAway()
	})
	t.Run("close", func(t *testing.T) {
		e := newEnv(t, http.HandlerFunc(okHandler))
		r := parkOne(t, e)
		_ = e.srv.Close()
		_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, r.c); err != nil && isTimeout(err) {
			t.Fatal("connection still open after Close")
		}
	})
	t.Run("client closes", func(t *testing.T) {
		e := newEnv(t, http.HandlerFunc(okHandler))
		r := parkOne(t, e)
		_ = r.c.Close()
		eventually(t, "the connection to end", func() bool { return len(e.srv.snapshot()) == 0 })
	})
}

// Connections whose streams come around the 200 ms parking point — resumed just as they
// park, or just before — all keep serving, under the race detector.
func TestParkingUnderChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("2 s of churn")
	}
	e := newEnv(t, http.HandlerFunc(okHandler))
	const n = 12
	rs := make([]*raw, n)
	for i := range rs {
		rs[i] = e.raw(t)
	}
	stop := time.Now().Add(1500 * time.Millisecond)
	errs := make(chan error, n)
	for i, r := range rs {
		go func() {
			id := uint32(1)
			for k := 0; time.Now().Before(stop); k++ {
				time.Sleep(time.Duration(150+(i*37+k*53)%100) * time.Millisecond)
				_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(get("/")...), EndStream: true, EndHeaders: true})
				if err := r.bw.Flush(); err != nil {
					errs <- err
					return
				}
				_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				for done := false; !done; {
					f, err := r.fr.ReadFrame()
					if err != nil {
						errs <- fmt.Errorf("stream %d: %w", id, err)
						return
					}
					switch f := f.(type) {
					case *http2.RSTStreamFrame:
						errs <- fmt.Errorf("stream %d reset: %v", id, f.ErrCode)
						return
					case *http2.GoAwayFrame:
						errs <- fmt.Errorf("GOAWAY %v", f.ErrCode)
						return
					case *http2.DataFrame:
						done = f.StreamID == id && f.StreamEnded()
					case *http2.MetaHeadersFrame:
						if f.StreamID == id && f.PseudoValue("status") != "200" {
							errs <- fmt.Errorf("stream %d: status %s", id, f.PseudoValue("status"))
							return
						}
						done = f.StreamID == id && f.StreamEnded()
					}
				}
				id += 2
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
