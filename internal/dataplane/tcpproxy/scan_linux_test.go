//go:build linux

package tcpproxy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestScanUnderLoad: the loop's scan (connect timeouts of Start's streams, first-message
// timeouts of accepted connections, idle timeouts) runs on time while the loop is busy
// with other streams. wake polls again after every accept, connect and first shutdown
// (repoll), and under an overload every epoll_wait returns maxEvents: its poll loop need
// not end while the load lasts, so the scan must run inside it.
//
// Short echo streams run through one accepting loop for loadFor; in the middle a stream
// connects to a full accept queue (connect timeout 300 ms) and a client sends no first
// message (first-message timeout 300 ms). Both must be ended soon after, not when the
// load stops.
func TestScanUnderLoad(t *testing.T) {
	t.Run("closed loop", func(t *testing.T) { scanUnderLoad(t, 0, false) })
	// Open loop, and 200 µs of CPU in each stream's Dialed (as a gateway's own work per
	// connection): connections arrive faster than the loop carries them.
	t.Run("overload", func(t *testing.T) { scanUnderLoad(t, 200*time.Microsecond, true) })
}

func scanUnderLoad(t *testing.T, busy time.Duration, open bool) {
	const (
		timeout = 300 * time.Millisecond
		loadFor = 3 * time.Second
		clients = 8
		maxConn = 400000 // bound on the load's connections
	)
	backend := echoBackend(t)
	stalled := fullQueue(t)
	victimDialed := make(chan error, 1)
	var doneCount, conns atomic.Int64
	x := &Proxy{Engine: EngineLoop}
	ln, _ := loopListen(t, x, Acceptor{
		Complete: func(b []byte) (bool, error) { return bytes.IndexByte(b, '\n') >= 0, nil },
		Timeout:  timeout,
		Conn: func(c *Upstream, data []byte, err error) {
			if err != nil {
				_ = c.Close()
				return
			}
			victim := bytes.HasPrefix(data, []byte("victim"))
			sp := &StreamSpec{Prefix: data, Counter: &counts{}, Addr: backend, Timeout: 5 * time.Second}
			if victim {
				sp.Addr, sp.Timeout = stalled, timeout
			}
			sp.Dialed = func(err error) bool {
				if victim {
					victimDialed <- err
				}
				for end := time.Now().Add(busy); time.Now().Before(end); {
				}
				return err == nil
			}
			sp.Done = func(Result) { doneCount.Add(1) }
			if !x.Start(c, sp) {
				_ = c.Close()
			}
		},
	})
	addr := ln.Addr().(*net.TCPAddr)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	inflight := make(chan struct{}, 2000) // open loop: connections not yet answered
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 5)
			for conns.Load() < maxConn {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTCP("tcp", nil, addr)
				if err != nil {
					continue
				}
				conns.Add(1)
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Write([]byte("load\n"))
				if open {
					select {
					case inflight <- struct{}{}:
					case <-stop:
						_ = c.Close()
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, _ = io.ReadFull(c, make([]byte, 5))
						_ = c.Close()
						<-inflight
					}()
					continue
				}
				if err == nil {
					_, _ = io.ReadFull(c, buf)
				}
				_ = c.Close()
			}
		}()
	}
	loadStart := time.Now()
	timer := time.AfterFunc(loadFor, func() { close(stop) })
	defer func() {
		timer.Stop()
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	time.Sleep(500 * time.Millisecond) // the load is under way

	// A stream whose connect never completes: Dialed must say so within the timeout
	// plus a scan interval.
	vc, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	// A connection without a first message: closed at the timeout.
	sc, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	start := time.Now()
	if _, err := vc.Write([]byte("victim\n")); err != nil {
		t.Fatal(err)
	}
	slowClosed := make(chan time.Duration, 1)
	go func() {
		_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = sc.Read(make([]byte, 1))
		slowClosed <- time.Since(start)
	}()
	var dialTook time.Duration
	select {
	case err := <-victimDialed:
		dialTook = time.Since(start)
		if err == nil {
			t.Fatal("the connect to a full accept queue succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Dialed for the stalled connect in 10 s")
	}
	slowTook := <-slowClosed
	t.Logf("load: %d connections, %d done in %v; stalled connect ended after %v, silent client closed after %v (timeouts %v)",
		conns.Load(), doneCount.Load(), time.Since(loadStart).Round(time.Millisecond),
		dialTook.Round(time.Millisecond), slowTook.Round(time.Millisecond), timeout)
	// Closed loop: a second. Overload: the two connections also queue behind the
	// backlog's accepts (one per poll); they must still be ended well before the load
	// stops (loadFor after it began, 2.5 s after they connected).
	limit := time.Second
	if open {
		limit = 1500 * time.Millisecond
	}
	if dialTook > limit {
		t.Errorf("connect timeout %v fired after %v under load (limit %v)", timeout, dialTook, limit)
	}
	if slowTook > limit {
		t.Errorf("first-message timeout %v fired after %v under load (limit %v)", timeout, slowTook, limit)
	}
}
