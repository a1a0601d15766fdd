package h2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExchanges(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello":
			w.Header().Set("X-Host", r.Host)
			_, _ = io.WriteString(w, "hello")
		case "/info":
			var c string
			if r.TLS != nil {
				c = r.TLS.ServerName
			}
			base, _ := r.Context().Value(ctxKey{}).(string)
			_, _ = io.WriteString(w, strings.Join([]string{r.Proto, r.Method, r.RequestURI, c, base, r.Header.Get("Cookie"),
				map[bool]string{true: "remote", false: "noremote"}[r.RemoteAddr != ""]}, "|"))
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		case "/big":
			b := bytes.Repeat([]byte("x"), 100<<10)
			_, _ = w.Write(b)
		}
	}))
	type want struct {
		status int
		body   string
		clen   int64
	}
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		want   want
	}{
		{"small GET gets a content-length", "GET", "/hello", nil, want{200, "hello", 5}},
		{"HEAD has no body but the length", "HEAD", "/hello", nil, want{200, "", 5}},
		{"204", "GET", "/nocontent", nil, want{204, "", 0}},
		{"304", "GET", "/notmodified", nil, want{304, "", 0}},
		{"request as net/http builds it", "GET", "/info?q=1", http.Header{"Cookie": {"a=1", "b=2"}},
			want{200, "HTTP/2.0|GET|/info?q=1|h2.test|base|a=1; b=2|remote", -1}},
		{"body larger than the windows and buffers", "GET", "/big", nil, want{200, strings.Repeat("x", 100<<10), -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.url(tc.path), nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			got := want{res.StatusCode, string(body), res.ContentLength}
			if tc.want.clen == -1 {
				got.clen = -1
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if res.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
			if ct := res.Header.Get("Content-Type"); ct != "" {
				t.Errorf("Content-Type %q sniffed", ct)
			}
		})
	}
}

func TestShortBodyIsReset(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "short")
	}))
	res, err := e.client.Get(e.url("/"))
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Error("a body shorter than its Content-Length was delivered as complete")
	}
}

func TestBodiesBothWaysAndConcurrency(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body) // echo, larger than every window
	}))
	payload := bytes.Repeat([]byte("0123456789abcdef"), 3<<15) // 1.5 MiB: over every window
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.client.Post(e.url("/echo"), "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			if err != nil {
				errs <- err
				return
			}
			if sha256.Sum256(got) != sha256.Sum256(payload) {
				errs <- errors.New("echoed body differs")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTrailersBothWays(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Sum")
		_, _ = io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Sum", "in="+r.Trailer.Get("X-In"))
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}))
	req, _ := http.NewRequest("POST", e.url("/"), io.NopCloser(strings.NewReader("data")))
	req.Trailer = http.Header{"X-In": {"v1"}}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	got := map[string]string{"body": string(b), "X-Sum": res.Trailer.Get("X-Sum"), "X-Late": res.Trailer.Get("X-Late")}
	want := map[string]string{"body": "body", "X-Sum": "in=v1", "X-Late": "late"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestInterimResponses(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusTeapot) // superfluous: ignored
		_, _ = io.WriteString(w, "ok")
	}))
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", e.url("/"), nil)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if diff := cmp.Diff([]string{"</a.css>; rel=preload"}, hints); diff != "" || res.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("hints (-want +got)\n%s status %d body %q", diff, res.StatusCode, b)
	}
}

func TestClientResetCancelsContext(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url("/"), nil)
	done := make(chan error, 1)
	go func() {
		res, err := e.client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-started
	cancel()
	<-cancelled
	if err := <-done; err == nil {
		t.Error("request succeeded after cancel")
	}
}

func TestPanics(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		panic("boom")
	}))
	for _, p := range []string{"/abort", "/boom"} {
		res, err := e.client.Get(e.url(p))
		if err == nil {
			res.Body.Close()
			t.Errorf("%s: got %d, want a stream error", p, res.StatusCode)
		}
	}
	// The connection survives.
	r := e.raw(t)
	r.headers(1, true, get("/abort")...)
	if f := r.rst(1); f.ErrCode != 2 { // INTERNAL_ERROR
		t.Errorf("reset code %v, want INTERNAL_ERROR", f.ErrCode)
	}
}

func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		res, err := e.client.Get(e.url("/slow"))
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{string(b), err}
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a stream in flight", err)
	default:
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Errorf("in-flight response: %q, %v", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// Bytes written past the handler's buffer reach the client without waiting for the
// handler to write more or return.
func TestLargeWritesAreSentPromptly(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(2*handlerBufSize))
		_, _ = w.Write(make([]byte, handlerBufSize+1))
		<-release
		_, _ = w.Write(make([]byte, handlerBufSize-1))
	}))
	defer close(release)
	res, err := e.client.Get(e.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadFull(res.Body, make([]byte, handlerBufSize+1)); err != nil {
		t.Fatalf("first part: %v", err)
	}
}
