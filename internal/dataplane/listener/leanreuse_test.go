package listener_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestLeanRequestsDoNotSeeEarlierRequests: requests of one keep-alive connection, one
// after another and pipelined, with different header fields and targets; the scratch a
// lean request is built in (pooled once it is served) is the next one's. No handler
// sees a field or query of an earlier request, and no response carries an earlier
// response's field. A request with a body (read by http.ReadRequest) in between does
// not disturb it.
func TestLeanRequestsDoNotSeeEarlierRequests(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		f := start(t, useTLS, func(w http.ResponseWriter, r *http.Request) {
			var problems []string
			if len(w.Header()) != 0 {
				problems = append(problems, fmt.Sprintf("response header at start: %v", w.Header()))
			}
			me := r.Header.Get("X-Me")
			for k := range r.Header {
				if k != "X-Me" && k != http.CanonicalHeaderKey("X-"+me) && k != "Content-Length" {
					problems = append(problems, "request field "+k)
				}
			}
			if r.URL.RawQuery != me || r.URL.Path != "/"+me || r.RequestURI != "/"+me+"?"+me {
				problems = append(problems, fmt.Sprintf("URL %#v, RequestURI %q", *r.URL, r.RequestURI))
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Resp-"+me, me)
			w.Header().Set("X-Problems", strings.Join(problems, "; "))
			_, _ = io.WriteString(w, me)
		})
		c := f.dial()
		names := []string{"odd", "even", "third"}
		req := func(i int) (string, string) {
			me := names[i%3]
			if i%7 == 6 { // with a body: not lean
				return me, "POST /" + me + "?" + me + " HTTP/1.1\r\nHost: " + host + "\r\nX-Me: " + me +
					"\r\nX-" + me + ": " + fmt.Sprint(i) + "\r\nContent-Length: 2\r\n\r\nhi"
			}
			return me, get("/"+me+"?"+me, "X-Me: "+me, "X-"+me+": "+fmt.Sprint(i))
		}
		check := func(i int, me string) {
			t.Helper()
			resp, body := c.read(http.MethodGet)
			if p := resp.Header.Get("X-Problems"); p != "" {
				t.Fatalf("request %d (%s): %s", i, me, p)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "X-Resp-") && k != http.CanonicalHeaderKey("X-Resp-"+me) {
					t.Fatalf("request %d (%s): response field %s of another request", i, me, k)
				}
			}
			if body != me {
				t.Fatalf("request %d: body %q", i, body)
			}
		}
		for i := 0; i < 300; i += 2 {
			if i%4 == 0 { // pipelined: two requests in one write
				me1, r1 := req(i)
				me2, r2 := req(i + 1)
				c.send(r1 + r2)
				check(i, me1)
				check(i+1, me2)
				continue
			}
			for j := i; j < i+2; j++ {
				me, r := req(j)
				c.send(r)
				check(j, me)
			}
		}
	}
}

// TestLeanSharedHeadFollowsEveryRequest: requests on one connection that repeat the
// previous head exactly, or differ from it in one byte of the target or of a field (same
// length), each reach the handler with their own values, sent one by one and pipelined,
// over plain TCP and TLS. leanString shares the previous head's string only when the
// bytes are equal; a comparison that looked at less would hand a request the previous
// one's target or field. The strings of every request, kept past its handler (as a log
// entry keeps them), still read what that request carried.
func TestLeanSharedHeadFollowsEveryRequest(t *testing.T) {
	vals := []string{"a", "a", "b", "b", "a", "c", "c", "a", "a", "b"}
	for _, useTLS := range []bool{false, true} {
		var mu sync.Mutex
		var kept [][3]string
		f := start(t, useTLS, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			kept = append(kept, [3]string{r.URL.Path, r.URL.RawQuery, r.Header.Get("X-V")})
			mu.Unlock()
			_, _ = io.WriteString(w, r.URL.Path+" "+r.URL.RawQuery+" "+r.Header.Get("X-V"))
		})
		c := f.dial()
		req := func(i int) (string, string) {
			v, q := vals[i%len(vals)], fmt.Sprint(i/len(vals)%2)
			return "/" + v + " " + q + " " + v, get("/"+v+"?"+q, "X-V: "+v)
		}
		n := 0
		for round := 0; round < 4; round++ {
			for i := 0; i < len(vals); i++ {
				if round%2 == 1 && i+1 < len(vals) { // pipelined: two requests in one write
					w1, r1 := req(n)
					w2, r2 := req(n + 1)
					c.send(r1 + r2)
					for _, want := range []string{w1, w2} {
						if _, body := c.read(http.MethodGet); body != want {
							t.Fatalf("tls %v, request %d: handler saw %q, want %q", useTLS, n, body, want)
						}
						n++
					}
					i++
					continue
				}
				want, r := req(n)
				c.send(r)
				if _, body := c.read(http.MethodGet); body != want {
					t.Fatalf("tls %v, request %d: handler saw %q, want %q", useTLS, n, body, want)
				}
				n++
			}
		}
		mu.Lock()
		for i, k := range kept {
			want, _ := req(i)
			if got := k[0] + " " + k[1] + " " + k[2]; got != want {
				t.Fatalf("tls %v: request %d's strings read %q afterwards, want %q", useTLS, i, got, want)
			}
		}
		if len(kept) != n {
			t.Fatalf("tls %v: handler saw %d requests, %d sent", useTLS, len(kept), n)
		}
		mu.Unlock()
	}
}
