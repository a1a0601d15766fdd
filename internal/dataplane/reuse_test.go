package dataplane_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestMirrorsOfPooledRequests: the listeners build each request in storage that the
// next request of the connection reuses once the handler returns (design 0039), while a
// mirror of it is still being sent on its own goroutine. Every mirror and every main
// request must carry its own request's header field and query, over HTTP/1.1 and HTTP/2,
// however the mirrors interleave with the requests that follow.
func TestMirrorsOfPooledRequests(t *testing.T) {
	var mu sync.Mutex
	var wrong []string
	seen := map[string]bool{}
	var mirrored atomic.Int64
	mirror := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Seq")
		mu.Lock()
		if got == "" || got != r.URL.RawQuery || r.Header.Get("X-Seq-"+got) != got || seen[got] {
			wrong = append(wrong, fmt.Sprintf("mirror of ?%s: X-Seq %q, fields %v", r.URL.RawQuery, got, r.Header))
		}
		seen[got] = true
		mu.Unlock()
		mirrored.Add(1)
	}))
	// Each mirror waits for a TLS handshake the backend delays (a new connection each
	// time: no keep-alive), so its request head is written after its main request, and
	// several later ones, are done: after the listener reused the main request's storage.
	mirror.Listener = slowStart{mirror.Listener}
	mirror.Config.SetKeepAlivesEnabled(false)
	mirror.StartTLS()
	t.Cleanup(mirror.Close)
	f := newFooCorp(t)
	route := &f.snap.Listeners[0].Servers[0].VirtualHosts[0].Routes[0]
	route.Match = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/"}}}
	route.Forward.Mirrors = []snapshot.Mirror{{Cluster: "mirror", Fraction: snapshot.Million}}
	mc := cluster("mirror", strings.TrimPrefix(mirror.URL, "https://"))
	mc.TLS = &snapshot.UpstreamTLS{Mode: "SIMPLE", InsecureSkipVerify: true}
	f.snap.Clusters = append(f.snap.Clusters, mc)
	g := startGateway(t, f.snap, f.creds)
	const n = 100
	for _, h2 := range []bool{false, true} {
		cc := f.frontendClient(t, g)
		cc.H2 = h2
		c := g.client(t, cc)
		for i := range n {
			seq := fmt.Sprintf("%v-%d", h2, i)
			code, e := get(t, c, "https://"+frontendHost+"/seq?"+seq, "X-Seq", seq, "X-Seq-"+seq, seq)
			if code != http.StatusOK || e.Path != "/seq?"+seq || strings.Join(e.Header["X-Seq"], ",") != seq ||
				strings.Join(e.Header[http.CanonicalHeaderKey("X-Seq-"+seq)], ",") != seq {
				t.Fatalf("request %s: %d %+v", seq, code, e)
			}
		}
	}
	waitFor(t, "every mirror", func() bool { return mirrored.Load() == 2*n })
	mu.Lock()
	defer mu.Unlock()
	if len(wrong) > 0 {
		t.Errorf("%d mirrors carried another request's fields, e.g. %s", len(wrong), wrong[0])
	}
}

// slowStart delays the first read of every accepted connection.
type slowStart struct{ net.Listener }

func (l slowStart) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowConn{Conn: c}, nil
}

type slowConn struct {
	net.Conn
	started bool
}

func (c *slowConn) Read(p []byte) (int, error) {
	if !c.started {
		c.started = true
		time.Sleep(20 * time.Millisecond) // the handshake's wait, not a wait for an event
	}
	return c.Conn.Read(p)
}

// TestResponseValuesOfConcurrentRequests: the upstream's response head is copied into
// values the listener lends (a connection's response over HTTP/1.1, a stream's scratch
// over HTTP/2), reused by later requests once the handler returned and the head was
// written. Concurrent requests, on concurrent connections (HTTP/1.1) and as concurrent
// streams of one connection (HTTP/2), each get their own response fields.
func TestResponseValuesOfConcurrentRequests(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seq := r.Header.Get("X-Seq")
		w.Header().Set("X-Seq", seq)
		w.Header().Set("X-Seq-"+seq, seq)
		w.Header().Set("Content-Length", fmt.Sprint(len(seq)))
		_, _ = w.Write([]byte(seq))
	}))
	t.Cleanup(be.Close)
	f := newFooCorp(t)
	f.snap.Clusters[0] = cluster(f.snap.Clusters[0].Name, strings.TrimPrefix(be.URL, "http://"))
	g := startGateway(t, f.snap, f.creds)
	const workers, each = 8, 40
	for _, h2 := range []bool{false, true} {
		cc := f.frontendClient(t, g)
		cc.H2 = h2
		c := g.client(t, cc)
		var wg sync.WaitGroup
		errs := make(chan string, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					seq := fmt.Sprintf("%v-%d-%d", h2, w, i)
					req, _ := http.NewRequest(http.MethodGet, "https://"+frontendHost+"/v", nil)
					req.Header.Set("X-Seq", seq)
					resp, err := c.Do(req)
					if err != nil {
						errs <- err.Error()
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					body := string(b)
					var others []string
					for k := range resp.Header {
						if strings.HasPrefix(k, "X-Seq-") && k != http.CanonicalHeaderKey("X-Seq-"+seq) {
							others = append(others, k)
						}
					}
					if resp.StatusCode != http.StatusOK || body != seq || resp.Header.Get("X-Seq") != seq ||
						resp.Header.Get("X-Seq-"+seq) != seq || len(others) > 0 {
						errs <- fmt.Sprintf("request %s: %d body %q X-Seq %q own %q others %v", seq, resp.StatusCode,
							body, resp.Header.Get("X-Seq"), resp.Header.Get("X-Seq-"+seq), others)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		var wrong []string
		for e := range errs {
			wrong = append(wrong, e)
		}
		if len(wrong) > 0 {
			t.Errorf("h2 %v: %d of %d responses wrong, e.g. %s", h2, len(wrong), workers*each, wrong[0])
		}
	}
}
