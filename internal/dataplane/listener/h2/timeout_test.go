package h2

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// Short timeouts keep the tests quick; nothing asserts how soon they fire, only that
// they do (within r.next's 5 s) and what they do.
const testStreamTimeout = 200 * time.Millisecond

// handlerExit reports, once the handler has returned, whether its context was
// cancelled by then.
type handlerExit chan bool

func (h handlerExit) wait(t *testing.T) {
	t.Helper()
	select {
	case cancelled := <-h:
		if !cancelled {
			t.Error("handler returned with its context not cancelled")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler still running: not released by the timeout")
	}
}

// TestStreamIdleTimeoutZeroWindow: a peer that keeps its window at zero while a large
// response is pending pins the handler in Write; the idle timeout resets the stream
// (the response has started) and releases the handler.
func TestStreamIdleTimeoutZeroWindow(t *testing.T) {
	exit := make(handlerExit, 1)
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			okHandler(w, r)
			return
		}
		defer func() { exit <- r.Context().Err() != nil }()
		chunk := []byte(strings.Repeat("x", 16<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}), func(s *Server) { s.StreamIdleTimeout = testStreamTimeout })
	r := e.raw(t)
	_ = r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	r.headers(1, true, get("/")...)
	if s := r.status(1); s != "200" {
		t.Fatalf("status %s", s)
	}
	if f := r.rst(1); f.ErrCode != http2.ErrCodeCancel {
		t.Errorf("reset with %v, want CANCEL", f.ErrCode)
	}
	exit.wait(t)
	// The connection goes on.
	_ = r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
	r.headers(3, true, get("/small")...)
	if s := r.status(3); s != "200" {
		t.Errorf("next request: %s", s)
	}
}

// TestStreamIdleTimeoutBeforeResponse: nothing moves (the handler waits on a slow
// upstream) and no response has started: 408, and the handler's context is cancelled.
func TestStreamIdleTimeoutBeforeResponse(t *testing.T) {
	exit := make(handlerExit, 1)
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		exit <- true
	}), func(s *Server) { s.StreamIdleTimeout = testStreamTimeout })
	r := e.raw(t)
	r.headers(1, true, get("/")...)
	if s := r.status(1); s != "408" {
		t.Errorf("status %s, want 408", s)
	}
	exit.wait(t)
}

// TestStreamIdleTimeoutMovingBytes: a response that keeps moving, slowly, outlives
// the idle timeout: only idleness counts.
func TestStreamIdleTimeoutMovingBytes(t *testing.T) {
	const idle = time.Second
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 30 { // 1.5 s in all, a write every 50 ms
			_, _ = io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}), func(s *Server) { s.StreamIdleTimeout = idle })
	res, err := e.client.Get(e.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 || len(b) != 30 {
		t.Errorf("status %d, %d bytes, %v; want 200, 30 bytes", res.StatusCode, len(b), err)
	}
}

// TestRequestTimeout: the whole request (headers and body) must arrive within
// RequestTimeout: 408 (and RST_STREAM(NO_ERROR): the client is still sending) when
// the response has not started, RST_STREAM(CANCEL) when it has. A request received in
// time is not limited in how long its response takes.
func TestRequestTimeout(t *testing.T) {
	t.Run("body not received, no response", func(t *testing.T) {
		exit := make(handlerExit, 1)
		e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.Copy(io.Discard, r.Body)
			exit <- err != nil && r.Context().Err() != nil
		}), func(s *Server) { s.RequestTimeout = testStreamTimeout })
		r := e.raw(t)
		r.headers(1, false, append(get("/"), "content-length", "10")...)
		_ = r.fr.WriteData(1, false, []byte("12345"))
		r.flush()
		if s := r.status(1); s != "408" {
			t.Errorf("status %s, want 408", s)
		}
		if f := r.rst(1); f.ErrCode != http2.ErrCodeNo {
			t.Errorf("reset with %v, want NO_ERROR", f.ErrCode)
		}
		exit.wait(t)
	})
	t.Run("body not received, response started", func(t *testing.T) {
		exit := make(handlerExit, 1)
		e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			_, err := io.Copy(io.Discard, r.Body)
			exit <- err != nil && r.Context().Err() != nil
		}), func(s *Server) { s.RequestTimeout = testStreamTimeout })
		r := e.raw(t)
		r.headers(1, false, get("/")...)
		if s := r.status(1); s != "200" {
			t.Fatalf("status %s", s)
		}
		if f := r.rst(1); f.ErrCode != http2.ErrCodeCancel {
			t.Errorf("reset with %v, want CANCEL", f.ErrCode)
		}
		exit.wait(t)
	})
	t.Run("slow response to a complete request", func(t *testing.T) {
		e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(3 * testStreamTimeout)
			_, _ = io.WriteString(w, "ok")
		}), func(s *Server) { s.RequestTimeout = testStreamTimeout })
		r := e.raw(t)
		r.headers(1, true, get("/")...)
		if s := r.status(1); s != "200" {
			t.Errorf("status %s, want 200", s)
		}
	})
}
