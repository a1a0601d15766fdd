package upstream

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// poolFront is h2Front for a cluster with the connection pool sp.
func poolFront(t *testing.T, addr string, proto snapshot.UpstreamProtocol, sp *snapshot.ConnectionPool) string {
	t.Helper()
	p := NewProxy(Options{}, nil)
	t.Cleanup(p.CloseIdleConnections)
	cl := NewClusters([]snapshot.Cluster{{Name: "c", Protocol: proto, Endpoints: []string{addr}, Pool: sp}}).Get("c")
	return h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Forward(w, r, &Target{Endpoint: addr, Cluster: cl})
	}))
}

// maxConcurrentStreams caps the streams of one upstream HTTP/2 connection of an explicit
// HTTP/2 cluster: four requests in flight with a cap of two ride two connections. A
// useClientProtocol cluster ignores it, as Istio does: one connection.
func TestH2PoolMaxConcurrentStreams(t *testing.T) {
	var mu sync.Mutex
	by := map[string]int{}
	arrived := make(chan struct{}, 16)
	release := make(chan struct{})
	backend := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		by[r.RemoteAddr]++
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	sp := &snapshot.ConnectionPool{ConnectTimeoutMillis: 5000, IdleTimeoutMillis: 60_000, MaxConcurrentStreams: 2}
	for _, tc := range []struct {
		proto snapshot.UpstreamProtocol
		conns int
	}{{snapshot.UpstreamHTTP2, 2}, {snapshot.UpstreamClientProtocol, 1}} {
		front := poolFront(t, backend, tc.proto, sp)
		mu.Lock()
		clear(by)
		mu.Unlock()
		release = make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				resp, err := h2Client(true).Get("http://" + front + "/")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		for range 4 {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: requests did not all reach the backend: %v", tc.proto, by)
			}
		}
		mu.Lock()
		got := len(by)
		counts := fmtCounts(by)
		mu.Unlock()
		close(release)
		wg.Wait()
		if got != tc.conns {
			t.Fatalf("%s: 4 streams in flight with maxConcurrentStreams 2 rode %d connections (%s), want %d", tc.proto, got, counts, tc.conns)
		}
	}
}

func fmtCounts(m map[string]int) string {
	var b bytes.Buffer
	for k, v := range m {
		b.WriteString(k + "=" + string(rune('0'+v)) + " ")
	}
	return b.String()
}

// http2KeepAlive: a backend that answers its request and then never answers a PING is
// pinged after interval without frames and dropped after timeout.
func TestH2PoolKeepalive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pinged, closed := make(chan struct{}), make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		fr := http2.NewFramer(c, c)
		_ = fr.WriteSettings()
		once := sync.Once{}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				close(closed)
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					_ = fr.WriteSettingsAck()
				}
			case *http2.HeadersFrame:
				var hb bytes.Buffer
				_ = hpack.NewEncoder(&hb).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
			case *http2.PingFrame:
				if !f.IsAck() {
					once.Do(func() { close(pinged) }) // and never answered
				}
			}
		}
	}()
	addr := ln.Addr().String()
	sp := &snapshot.ConnectionPool{ConnectTimeoutMillis: 5000, IdleTimeoutMillis: 60_000,
		H2Keepalive: &snapshot.H2Keepalive{IntervalMillis: 200, TimeoutMillis: 300}}
	front := poolFront(t, addr, snapshot.UpstreamHTTP2, sp)
	resp, err := h2Client(false).Get("http://" + front + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	start := time.Now()
	for _, w := range []struct {
		what string
		ch   chan struct{}
	}{{"a PING", pinged}, {"the connection closed", closed}} {
		select {
		case <-w.ch:
			t.Logf("%s after %s", w.what, time.Since(start).Round(time.Millisecond))
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5 s (interval 200ms, timeout 300ms)", w.what)
		}
	}
}
