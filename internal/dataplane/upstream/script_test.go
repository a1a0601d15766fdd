package upstream

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is what a scripted backend does with one request (counted over all connections).
type step struct {
	Resp string // written once the request head is read
	Late string // written after the client's exchange, while the connection idles (see writeLate)
	End  ending // after Resp (after Late when there is one)
}

type ending uint8

const (
	keepOpen  ending = iota // wait for the next request
	closeConn               // FIN
	resetConn               // RST (linger 0)
	stall                   // never answer more; wait for the client to go
)

// scriptBackend is a raw HTTP/1.1 backend on loopback that answers requests (heads only,
// no bodies) with the bytes of its script, and records which connection each came on.
type scriptBackend struct {
	t     testing.TB
	addr  string
	steps []step
	mu    sync.Mutex
	conns []net.Conn      // accepted, in order
	gone  []chan struct{} // per connection: closed once its reads ended (the client closed it)
	reqs  []int           // per request: the index of its connection
	heads []string        // per request: its raw head
	done  sync.WaitGroup
}

func newScriptBackend(t testing.TB, steps []step) *scriptBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &scriptBackend{t: t, addr: ln.Addr().String(), steps: steps}
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			end(c, resetConn) // no TIME_WAIT (see trackedConn.Close)
		}
		b.mu.Unlock()
		b.done.Wait()
	})
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			ci := len(b.conns) - 1
			gone := make(chan struct{})
			b.gone = append(b.gone, gone)
			b.mu.Unlock()
			b.done.Add(1)
			go func() {
				defer b.done.Done()
				defer close(gone)
				b.serve(c, ci)
			}()
		}
	}()
	return b
}

func (b *scriptBackend) serve(c net.Conn, ci int) {
	br := bufio.NewReader(c)
	for {
		var head bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return // the client closed the connection (or the test ended)
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		b.mu.Lock()
		i := len(b.reqs)
		b.reqs = append(b.reqs, ci)
		b.heads = append(b.heads, head.String())
		s := step{Resp: "HTTP/1.1 500 Unscripted\r\nContent-Length: 0\r\n\r\n"}
		if i < len(b.steps) {
			s = b.steps[i]
		}
		b.mu.Unlock()
		_, _ = c.Write([]byte(s.Resp))
		if s.Late == "" && s.End != keepOpen {
			end(c, s.End)
			if s.End == stall {
				continue // reads until the client goes
			}
			return
		}
	}
}

func end(c net.Conn, e ending) {
	switch e {
	case closeConn:
		c.Close()
	case resetConn:
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	case stall:
		// nothing more is written; serve keeps reading until the client closes
	}
}

// writeLate writes request i's late bytes on its connection once the client is done with
// the exchange, waits until the client's kernel holds them (so an idle check cannot miss
// them), then applies the step's ending.
func (b *scriptBackend) writeLate(i int) {
	b.mu.Lock()
	if i >= len(b.reqs) || i >= len(b.steps) || b.steps[i].Late == "" {
		b.mu.Unlock()
		return
	}
	c, gone, s := b.conns[b.reqs[i]], b.gone[b.reqs[i]], b.steps[i]
	b.mu.Unlock()
	if _, err := c.Write([]byte(s.Late)); err == nil {
		delivered(b.t, c, gone)
	}
	if s.End != keepOpen {
		end(c, s.End)
	}
}

// requests returns, per request received so far, the index of the connection it came on.
func (b *scriptBackend) requests() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.reqs...)
}

// dialTracker wraps a dial function and remembers every connection it made, to tell
// whether the client closed each one (a socket left to the garbage collector is a leak).
type dialTracker struct {
	mu    sync.Mutex
	conns []*trackedConn
}

type trackedConn struct {
	*net.TCPConn // keeps SyscallConn, so the idle check sees the socket
	closed       atomic.Bool
}

// Close resets the connection (linger 0) rather than closing it with a FIN: the client's
// close means the same to every test, and a reset leaves no TIME_WAIT socket on either
// end. A fuzz run makes tens of thousands of connections; in TIME_WAIT they would exhaust
// the host's ephemeral ports (shared with everything else on it) within minutes.
func (c *trackedConn) Close() error {
	c.closed.Store(true)
	_ = c.TCPConn.SetLinger(0)
	return c.TCPConn.Close()
}

func (d *dialTracker) wrap(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{TCPConn: nc.(*net.TCPConn)}
		d.mu.Lock()
		d.conns = append(d.conns, tc)
		d.mu.Unlock()
		return tc, nil
	}
}

// open counts the connections not closed yet. Pooled connections count: close the pool
// first. A client may close a connection on a goroutine of its own (http.Transport's
// readLoop): wait up to a generous deadline for the count to reach zero.
func (d *dialTracker) open() int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		d.mu.Lock()
		for _, c := range d.conns {
			if !c.closed.Load() {
				n++
			}
		}
		d.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not an assertion
	}
}
