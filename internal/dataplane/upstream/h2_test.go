package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// h2cServer serves h on loopback over HTTP/1.1 and h2c with prior knowledge.
func h2cServer(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// h2Front runs the proxy behind a front server (HTTP/1.1 and h2c) forwarding to the
// backend at addr as a cluster of protocol proto.
func h2Front(t *testing.T, addr string, proto snapshot.UpstreamProtocol) string {
	t.Helper()
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	cl := NewClusters([]snapshot.Cluster{{Name: "c", Protocol: proto, Endpoints: []string{addr}}}).Get("c")
	return h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Forward(w, r, &Target{Endpoint: addr, Cluster: cl})
	}))
}

// h2Client speaks HTTP/2 with prior knowledge (h2) or HTTP/1.1.
func h2Client(h2 bool) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	if h2 {
		tr.Protocols.SetUnencryptedHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestH2UpstreamProtocol(t *testing.T) {
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Proto", r.Proto)
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(b))
		w.Header().Set("X-Sum", "len="+string(rune('0'+len(b))))
	}))
	cases := []struct {
		proto    snapshot.UpstreamProtocol
		clientH2 bool
		want     string
	}{
		{snapshot.UpstreamHTTP2, false, "HTTP/2.0"},
		{snapshot.UpstreamHTTP2, true, "HTTP/2.0"},
		{snapshot.UpstreamClientProtocol, false, "HTTP/1.1"},
		{snapshot.UpstreamClientProtocol, true, "HTTP/2.0"},
		{snapshot.UpstreamHTTP1, true, "HTTP/1.1"},
	}
	for _, tc := range cases {
		front := h2Front(t, backend, tc.proto)
		for _, method := range []string{"GET", "POST"} {
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader("abc")
			}
			req, _ := http.NewRequest(method, "http://"+front+"/", body)
			resp, err := h2Client(tc.clientH2).Do(req)
			if err != nil {
				t.Fatalf("%q h2=%v %s: %v", tc.proto, tc.clientH2, method, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("X-Proto"); got != tc.want || resp.StatusCode != 200 {
				t.Errorf("cluster %q, client h2=%v, %s: backend saw %q (status %d), want %q", tc.proto, tc.clientH2, method, got, resp.StatusCode, tc.want)
			}
			// Trailers reach an HTTP/2 client (an HTTP/1.1 one gets none: the backend
			// sent a Content-Length, so the front's response is not chunked).
			if method == "POST" && (string(b) != "abc" || tc.clientH2 && resp.Trailer.Get("X-Sum") != "len=3") {
				t.Errorf("cluster %q, client h2=%v: body %q trailer %q", tc.proto, tc.clientH2, b, resp.Trailer.Get("X-Sum"))
			}
		}
	}
}

// A client that goes away cancels the backend's HTTP/2 stream; a backend that resets its
// stream mid-response ends the client's response with an error, not a clean end.
func TestH2UpstreamCancellation(t *testing.T) {
	cancelled := make(chan struct{})
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // RST_STREAM
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(cancelled)
	}))
	front := h2Front(t, backend, snapshot.UpstreamHTTP2)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+front+"/wait", nil)
	resp, err := h2Client(true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("backend's stream not cancelled after the client went away")
	}

	resp, err = h2Client(true).Get("http://" + front + "/abort")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("aborted backend stream read cleanly: %q", b)
	}
}

// An HTTP/1.1 upgrade (WebSocket) cannot be carried to an HTTP/2 cluster: 503, not a
// silent downgrade.
func TestH2UpstreamRefusesUpgrade(t *testing.T) {
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	front := h2Front(t, backend, snapshot.UpstreamHTTP2)
	req, _ := http.NewRequest("GET", "http://"+front+"/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := h2Client(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
}

// blockingBody hides its body's Close, as the retry buffer's reader does: a read in
// progress is not interrupted by Close.
type blockingBody struct{ io.Reader }

func (blockingBody) Close() error { return nil }

// A backend that answers before the client has finished its request body (a gRPC server
// ending a bidi stream with a status) must get its response to the client at once, even
// when the client's body is behind a reader whose Close does not unblock a read.
func TestH2UpstreamAnswerBeforeRequestEnd(t *testing.T) {
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		_, _ = io.ReadFull(r.Body, buf)
		w.Header().Set("Trailer", "X-Status")
		_, _ = w.Write(buf)
		w.Header().Set("X-Status", "aborted")
	}))
	p := NewProxy(Options{}, nil)
	defer p.CloseIdleConnections()
	cl := NewClusters([]snapshot.Cluster{{Name: "c", Protocol: snapshot.UpstreamHTTP2, Endpoints: []string{backend}}}).Get("c")
	front := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = blockingBody{r.Body}
		p.Forward(w, r, &Target{Endpoint: backend, Cluster: cl})
	}))
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("hello")) }() // and nothing more: the body stays open
	req, _ := http.NewRequest("POST", "http://"+front+"/", pr)
	done := make(chan string, 1)
	go func() {
		resp, err := h2Client(true).Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b) + " " + resp.Trailer.Get("X-Status")
	}()
	select {
	case got := <-done:
		if got != "hello aborted" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the response did not reach the client while its request body was open")
	}
}

// Options.ResponseHeaderTimeout bounds the wait for an HTTP/2 backend's head too: 504.
func TestH2UpstreamResponseHeaderTimeout(t *testing.T) {
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	p := NewProxy(Options{ResponseHeaderTimeout: 100 * time.Millisecond}, nil)
	defer p.CloseIdleConnections()
	cl := NewClusters([]snapshot.Cluster{{Name: "c", Protocol: snapshot.UpstreamHTTP2, Endpoints: []string{backend}}}).Get("c")
	w := httptest.NewRecorder()
	p.Forward(w, httptest.NewRequest("GET", "http://a/", nil), &Target{Endpoint: backend, Cluster: cl})
	if w.Code != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", w.Code)
	}
}
