package listener_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// A plain port serves HTTP/2 with prior knowledge (h2c) beside HTTP/1.1, as Envoy does;
// the request is an HTTP/2 one without TLS (scheme http).
func TestH2CPriorKnowledge(t *testing.T) {
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Proto+" tls="+boolStr(r.TLS != nil)+" "+r.Method+" "+r.Host+" "+string(b))
	})
	c := h2cClient()
	defer c.CloseIdleConnections()
	for i := range 3 { // several streams on one connection, which parks idle in between
		if i == 2 {
			time.Sleep(400 * time.Millisecond)
		}
		resp, err := c.Post("http://"+f.l.Addr().String()+"/x", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "HTTP/2.0 tls=false POST " + f.l.Addr().String() + " hello"; string(b) != want || resp.ProtoMajor != 2 {
			t.Fatalf("got %s %q, want %q", resp.Proto, b, want)
		}
	}
	// HTTP/1.1 on the same port is unchanged.
	cl := f.dial()
	cl.send(get("/y"))
	if resp, body := cl.read("GET"); resp.StatusCode != 200 || body != "HTTP/1.1 tls=false GET "+host+" " {
		t.Fatalf("HTTP/1.1: %d %q", resp.StatusCode, body)
	}
}

// The preface may arrive a byte at a time; a stream that only starts like it is HTTP/1.
func TestH2CPrefaceSplit(t *testing.T) {
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
	nc, err := net.DialTimeout("tcp", f.l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range len(http2.ClientPreface) {
		if _, err := nc.Write([]byte{http2.ClientPreface[i]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	fr := http2.NewFramer(nc, nc)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	frame, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := frame.(*http2.SettingsFrame); !ok {
		t.Fatalf("first frame %v, want SETTINGS", frame)
	}

	cl := f.dial()
	cl.send("POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\n\r\n")
	if resp, body := cl.read("POST"); resp.StatusCode != 200 || body != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 POST: %d %q", resp.StatusCode, body)
	}
}

// A client that resets its h2c stream cancels the request's context.
func TestH2CCancel(t *testing.T) {
	gone := make(chan struct{})
	f := start(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	})
	c := h2cClient()
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+f.l.Addr().String()+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("handler's context not cancelled")
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
