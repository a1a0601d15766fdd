package listener_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
)

// Long-idle keep-alive connections hold no goroutine (Linux: they are parked in the
// listener's epoll set), and come back for their next request, their idle timeout,
// their client's close and Shutdown.
func TestIdleConnectionsPark(t *testing.T) {
	const n = 40
	forBoth(t, func(t *testing.T, useTLS bool) {
		f := start(t, useTLS, echo, func(c *listener.Config) { c.IdleTimeout = 5 * time.Second })
		base := runtime.NumGoroutine()
		cs := make([]*client, n)
		for i := range cs {
			cs[i] = f.dial()
			cs[i].send(get("/a"))
			cs[i].read("GET")
		}
		if runtime.GOOS == "linux" {
			// Past the 200 ms hop every connection's goroutine is gone.
			waitFor(t, "idle connections to give up their goroutines", func() bool {
				return runtime.NumGoroutine() < base+n/4
			})
		}
		t.Run("next request", func(t *testing.T) {
			for _, c := range cs[:n/2] {
				c.send(get("/b"))
				if r, body := c.read("GET"); r.StatusCode != 200 || body != "GET /b " {
					t.Fatalf("got %d %q", r.StatusCode, body)
				}
			}
		})
		t.Run("client closes", func(t *testing.T) {
			for _, c := range cs[n/2 : n*3/4] {
				_ = c.c.Close()
			}
		})
		t.Run("shutdown closes the parked rest", func(t *testing.T) {
			time.Sleep(300 * time.Millisecond) // the first half parks again
			start := time.Now()
			if err := <-shutdown(t, f.l); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("Shutdown took %v with only idle connections", took)
			}
			for _, c := range append(cs[:n/2], cs[n*3/4:]...) {
				c.closed()
			}
		})
	})
}

// A parked connection's idle timeout closes it, near the deadline.
func TestParkedIdleTimeout(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		f := start(t, useTLS, echo, func(c *listener.Config) { c.IdleTimeout = 600 * time.Millisecond })
		c := f.dial()
		c.send(get("/a"))
		c.read("GET")
		begin := time.Now()
		c.closed()
		if took := time.Since(begin); took < 550*time.Millisecond || took > 2*time.Second {
			t.Fatalf("closed after %v, want about 600 ms", took)
		}
	})
}

// Close (not Shutdown) with parked connections closes them and leaks nothing (the
// fixture checks goroutines).
func TestCloseWithParkedConnections(t *testing.T) {
	forBoth(t, func(t *testing.T, useTLS bool) {
		f := start(t, useTLS, echo)
		cs := []*client{f.dial(), f.dial(), f.dial()}
		for _, c := range cs {
			c.send(get("/a"))
			c.read("GET")
		}
		time.Sleep(300 * time.Millisecond)
		if err := f.l.Close(); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			c.closed()
		}
	})
}

// Connections that idle around the 200 ms parking point — some resumed just as they park,
// some just before — all keep serving, under the race detector, and Shutdown then closes
// every one of them (the fixture checks for leaked goroutines).
func TestParkingUnderChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s of churn")
	}
	forBoth(t, func(t *testing.T, useTLS bool) {
		f := start(t, useTLS, echo)
		const n = 24
		errs := make(chan error, n)
		stop := time.Now().Add(1500 * time.Millisecond)
		cs := make([]*client, n)
		for i := range cs {
			cs[i] = f.dial()
		}
		for i, c := range cs {
			go func() {
				for k := 0; time.Now().Before(stop); k++ {
					// 150–250 ms apart: around the hop, in a pattern of its own per connection.
					time.Sleep(time.Duration(150+(i*37+k*53)%100) * time.Millisecond)
					if _, err := c.c.Write([]byte(get("/churn"))); err != nil {
						errs <- err
						return
					}
					resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
					if err != nil {
						errs <- err
						return
					}
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 || string(b) != "GET /churn " {
						errs <- fmt.Errorf("got %d %q", resp.StatusCode, b)
						return
					}
				}
				errs <- nil
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if err := <-shutdown(t, f.l); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			c.closed()
		}
	})
}
