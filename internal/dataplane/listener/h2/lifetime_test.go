package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestTimeouts(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler), func(s *Server) {
		s.IdleTimeout = 100 * time.Millisecond
		s.ReadHeaderTimeout = 200 * time.Millisecond
	})
	t.Run("idle connection gets GOAWAY", func(t *testing.T) {
		r := e.raw(t)
		r.headers(1, true, get("/")...)
		if s := r.status(1); s != "200" {
			t.Fatalf("status %s", s)
		}
		if g := r.goAway(); g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
			t.Errorf("GOAWAY %v last %d, want NO_ERROR last 1", g.ErrCode, g.LastStreamID)
		}
	})
	t.Run("no preface within ReadHeaderTimeout closes", func(t *testing.T) {
		c, err := tlsDial(e)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, c) // our SETTINGS, then EOF
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("connection still open after ReadHeaderTimeout")
		}
	})
}

func TestZeroWindowPeer(t *testing.T) {
	writeErr := make(chan error, 1)
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 16<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	}))
	r := e.raw(t)
	_ = r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	r.headers(1, true, get("/")...)
	// The response header arrives; no DATA can.
	if s := r.status(1); s != "200" {
		t.Fatalf("status %s", s)
	}
	select {
	case err := <-writeErr:
		t.Fatalf("write returned %v while the window is closed", err)
	default:
	}
	// The client gives up: the blocked handler's write fails and it returns.
	_ = r.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	r.flush()
	if err := <-writeErr; err == nil {
		t.Error("write succeeded after reset")
	}
}

func TestCloseCancelsInFlight(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	}))
	r := e.raw(t)
	r.headers(1, true, get("/")...)
	<-started
	_ = e.srv.Close()
	<-cancelled
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close: %v", err)
	}
}

func TestWriteTimeoutDropsNonReadingPeer(t *testing.T) {
	writeErr := make(chan error, 1)
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 4096; i++ { // 256 MiB: more than the socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}), func(s *Server) { s.WriteTimeout = 200 * time.Millisecond })
	r := e.raw(t)
	_ = r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	_ = r.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	r.headers(1, true, get("/")...)
	// Never read: the server's writes stall, then time out.
	select {
	case err := <-writeErr:
		if err == nil {
			t.Error("256 MiB written to a peer that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Error("handler still writing 10 s after the peer stopped reading")
	}
}

func TestExpectContinue(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Expect") != "" {
			t.Error("Expect header passed to the handler")
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(b))
	}))
	r := e.raw(t)
	r.headers(1, false, append([]string{":method", "POST"}, get("/", "expect", "100-continue")[2:]...)...)
	if s := r.status(1); s != "100" {
		t.Fatalf("first status %s, want 100", s)
	}
	_ = r.fr.WriteData(1, true, []byte("body"))
	r.flush()
	if s := r.status(1); s != "200" {
		t.Errorf("final status %s", s)
	}
}
