package listener_test

import (
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
