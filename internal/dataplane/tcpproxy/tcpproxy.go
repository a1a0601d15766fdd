package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Counter receives the bytes of one stream as they are copied: Received from the
// client (to the upstream), Sent to the client (from the upstream). Called from two
// goroutines.
type Counter interface {
	Received(n int64)
	Sent(n int64)
}

// Result of a stream, for logs and tests.
type Result struct {
	Received, Sent int64
	// Idle: the stream was closed by the idle timeout.
	Idle bool
}

// Pipe copies between client and upstream until both directions have finished, or one
// fails, or no byte moved either way for idle (0: no idle timeout). prefix is written to
// upstream first (the ClientHello read by a passthrough listener). Both connections are
// closed when Pipe returns.
func (x *Proxy) Pipe(client, upstream net.Conn, prefix []byte, idle time.Duration, cnt Counter) Result {
	return x.PipeOn(nil, client, upstream, prefix, idle, cnt)
}

// PipeOn is Pipe with the client-to-upstream direction copied on a goroutine of w (nil:
// a new goroutine).
func (x *Proxy) PipeOn(w *Workers, client, upstream net.Conn, prefix []byte, idle time.Duration, cnt Counter) Result {
	p := &pipe{client: client, upstream: upstream, idle: idle, cnt: cnt, buffers: &x.buffers}
	p.touch()
	defer func() {
		_ = client.Close()
		_ = upstream.Close()
		if p.upstream != upstream { // an Upstream turned *net.TCPConn for splice
			_ = p.upstream.Close()
		}
	}()
	if len(prefix) > 0 {
		if _, err := Socket(upstream).Write(prefix); err != nil {
			return p.result()
		}
		p.received.Add(int64(len(prefix)))
		cnt.Received(int64(len(prefix)))
	}
	// The event loop (loop.go) takes streams between two TCP sockets; one that moves
	// bulk data comes back here, with the directions that ended already.
	loopDone, upDone, downDone := x.pipeLoop(p)
	if loopDone {
		return p.result()
	}
	if u, ok := p.client.(*Upstream); ok { // accepted by a loop that cannot copy this stream
		tc, err := u.NetConn()
		if err != nil {
			return p.result()
		}
		p.client = tc
	}
	p.copyRest(w, upDone, downDone)
	return p.result()
}

// copyRest copies on goroutines (one of w for the client-to-upstream direction, nil: a
// new one) the directions not ended yet, until both have; it does not close the conns.
func (p *pipe) copyRest(w *Workers, upDone, downDone bool) {
	client, upstream, cnt := p.client, p.upstream, p.cnt
	// Either direction failing (reset, idle timeout) closes both, ending the other.
	done := make(chan struct{})
	up := func() bool {
		if !upDone {
			if err := p.copy(upstream, client, &p.received, cnt.Received); err != nil {
				p.abort()
			}
		}
		close(done)
		return true
	}
	if w != nil {
		w.Go(up)
	} else {
		go up()
	}
	if !downDone {
		if err := p.copy(client, upstream, &p.sent, cnt.Sent); err != nil {
			p.abort()
		}
	}
	<-done
}

type pipe struct {
	client, upstream net.Conn
	idle             time.Duration
	cnt              Counter
	last             atomic.Int64 // unix nanoseconds of the last byte either way
	received, sent   atomic.Int64
	idled            atomic.Bool
	ended            atomic.Int32 // directions that reached EOF
	abortOnce        sync.Once
	buffers          *sync.Pool // of *[bufSize]byte
}

func (p *pipe) touch() { p.last.Store(time.Now().UnixNano()) }

func (p *pipe) result() Result {
	return Result{Received: p.received.Load(), Sent: p.sent.Load(), Idle: p.idled.Load()}
}

// abort closes both connections, ending the other direction's copy.
func (p *pipe) abort() {
	p.abortOnce.Do(func() {
		_ = p.client.Close()
		_ = p.upstream.Close()
	})
}

// tick is how often a direction with an idle timeout wakes to check the other
// direction's progress: a quarter of the timeout, between 5 ms and 5 s.
func tick(idle time.Duration) time.Duration {
	return min(max(idle/4, 5*time.Millisecond), 5*time.Second)
}

// copy moves src to dst until src's EOF (then half-closes dst and returns nil), an
// error, or the idle timeout (errIdle). It starts with plain reads and writes through a
// buffer: the first exchanges of a stream (a TLS handshake, a protocol's greeting) are
// small, and splice(2) costs more than read+write for small payloads (two pipe page
// moves per call). Once one read fills the buffer the stream is moving bulk data and the
// rest is copied with io.Copy, which splices between two *net.TCPConn.
func (p *pipe) copy(dst, src net.Conn, total *atomic.Int64, count func(int64)) error {
	bp, _ := p.buffers.Get().(*[bufSize]byte)
	if bp == nil {
		bp = new([bufSize]byte)
	}
	bulk, err := p.copyBuffered(dst, src, bp[:], total, count)
	p.buffers.Put(bp)
	if !bulk {
		return err
	}
	for {
		p.deadline(src)
		// io.Copy uses dst.ReadFrom(src) (splice between two *net.TCPConn on Linux) or
		// src.WriteTo(dst); it returns at EOF (nil), an error, or the read deadline.
		n, err := io.Copy(dst, src)
		p.moved(n, total, count)
		if done, err := p.after(dst, err); done {
			return err
		}
	}
}

// bufSize is the buffer of the small-exchange phase: a full TLS record (16 KiB of
// plaintext plus overhead) fits, so a read filling it means bulk data.
const bufSize = 32 << 10

// copyBuffered copies with buf until a read fills it (bulk: true, nothing pending) or
// the stream ends (bulk: false, err as for copy). The read deadline of the idle timeout
// is armed once per tick, not per read: a deadline that expires while bytes are flowing
// interrupts only a read that waits (no byte is lost) and is re-armed after the idle
// check, so a stream exchanging small messages costs no timer update per message.
func (p *pipe) copyBuffered(dst, src net.Conn, buf []byte, total *atomic.Int64, count func(int64)) (bool, error) {
	var r io.Reader = src
	var w io.Writer = dst
	if s := newSock(src); s != nil {
		r = s
	}
	if s := newSock(dst); s != nil {
		w = s
	}
	armed := false
	for {
		if !armed {
			p.deadline(src)
			armed = true
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false, werr
			}
			p.moved(int64(n), total, count)
			if n == len(buf) && err == nil {
				return true, nil
			}
		}
		if err == io.EOF {
			err = nil
		} else if err == nil {
			continue
		}
		if done, err := p.after(dst, err); done {
			return false, err
		}
		armed = false // the deadline expired and the stream is not idle
	}
}

// deadline arms src's read deadline for the next idle check.
func (p *pipe) deadline(src net.Conn) {
	if p.idle > 0 {
		_ = src.SetReadDeadline(time.Now().Add(tick(p.idle)))
	}
}

func (p *pipe) moved(n int64, total *atomic.Int64, count func(int64)) {
	if n > 0 {
		p.touch()
		total.Add(n)
		count(n)
	}
}

// after handles the end of a copy call: EOF (err nil) half-closes dst; a read deadline
// continues unless the stream has been idle for p.idle; any other error ends the copy.
func (p *pipe) after(dst net.Conn, err error) (done bool, _ error) {
	switch {
	case err == nil:
		// The direction that ends second skips the half-close: Pipe closes both
		// connections at once, and close(2) sends the FIN (or close_notify) anyway.
		if p.ended.Add(1) == 1 {
			closeWrite(dst)
		}
		return true, nil
	case p.idle > 0 && errors.Is(err, os.ErrDeadlineExceeded):
		if time.Since(time.Unix(0, p.last.Load())) >= p.idle {
			p.idled.Store(true)
			return true, errIdle
		}
		return false, nil
	default:
		return true, err
	}
}

var errIdle = errors.New("tcpproxy: idle timeout")

// closeWrite propagates a half-close: FIN on a TCP connection, close_notify (and the
// socket's FIN) on a TLS connection.
func closeWrite(c net.Conn) {
	if shutdownWrite(c) {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		closeWrite(nc.NetConn())
	}
}

// Dial connects to addr within timeout (and ctx). No TCP keep-alive, as Envoy's upstream
// connections unless a DestinationRule asks for it (tcpKeepalive is not applied yet).
func Dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	return d.DialContext(ctx, "tcp", addr)
}

// Proxy holds what the streams of a dataplane share: the open connections per cluster
// (maxConnections, across snapshots) and the copy buffers. The zero value is ready.
type Proxy struct {
	// Engine copies the streams between two *net.TCPConn (set before the first Pipe).
	Engine Engine

	mu      sync.Mutex
	n       map[string]*atomic.Int64
	buffers sync.Pool // *[bufSize]byte
	loops   loopSet   // loop.go
	// registry maps a loop stream's client conn to it, for Close (loop.go).
	registry sync.Map // net.Conn -> *lstream
}

// Engine selects how streams between two *net.TCPConn are copied (design 0036).
// Streams of other connections (a *tls.Conn of a terminated stream) always use
// goroutines.
type Engine int

const (
	// EngineGoroutines: a goroutine per direction on Go's poller (design 0014); the zero
	// value. The dataplane selects EngineLoop.
	EngineGoroutines Engine = iota
	// EngineLoop: the event loop (Linux only; elsewhere as EngineGoroutines).
	EngineLoop
)

// Acquire takes one connection slot of cluster, bounded by max (0 = unlimited); false
// when the cluster is at its limit.
func (l *Proxy) Acquire(cluster string, max uint32) bool {
	c := l.counter(cluster)
	if v := c.Add(1); max > 0 && v > int64(max) {
		c.Add(-1)
		return false
	}
	return true
}

// Release gives back a slot taken by Acquire.
func (l *Proxy) Release(cluster string) { l.counter(cluster).Add(-1) }

func (l *Proxy) counter(cluster string) *atomic.Int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]*atomic.Int64{}
	}
	c := l.n[cluster]
	if c == nil {
		c = new(atomic.Int64)
		l.n[cluster] = c
	}
	return c
}

// StreamSpec is a stream Proxy.Start carries in an event loop from the connect to the
// end, without a goroutine (design 0036, step 2b).
type StreamSpec struct {
	// Addr is the upstream's IP address and port; Timeout bounds the connect (0: the
	// operating system's); Header (a PROXY header) is written once connected, before
	// Prefix; Keepalive is the upstream socket's, as DialLoop's.
	Addr      string
	Timeout   time.Duration
	Header    []byte
	Keepalive net.KeepAliveConfig
	// Prefix, Idle and Counter (not nil) are Pipe's prefix, idle and cnt.
	Prefix  []byte
	Idle    time.Duration
	Counter Counter
	// Workers run a stream that moves bulk data after it left the loop (nil: new
	// goroutines).
	Workers *Workers
	// Dialed takes the connect's outcome: nil, or a *net.OpError "dial" as DialLoop's
	// (ErrAborted when the stream was closed before the connect completed). false, or an
	// error, ends the stream: both connections are closed after Dialed returns. It runs
	// on the loop's goroutine and must not block.
	Dialed func(err error) bool
	// Done is called once, after Dialed, when the stream ended and both connections are
	// closed: on the loop's goroutine (must not block), or on a worker after bulk data.
	Done func(Result)
}

// ErrAborted is Dialed's error for a stream closed (Proxy.Close, the client's Close)
// before its connect completed: not the upstream's failure.
var ErrAborted = errors.New("tcpproxy: stream closed before the connect completed")

// Acceptor is what Proxy.Accept asks of its caller.
type Acceptor struct {
	// Complete reports whether data, every byte read from a new connection so far, is a
	// whole first message; an error (not a message the caller can route) hands data
	// to Conn as it is.
	Complete func(data []byte) (bool, error)
	// Timeout closes a connection whose first message is not whole this long after the
	// accept (0: none).
	Timeout time.Duration
	// Conn takes a new connection, the bytes read from it, and Complete's error. It runs
	// on the loop's goroutine and must not block; it owns c from then on. c is still
	// registered in the loop: Proxy.Start continues it there (on this goroutine, before
	// Conn returns); Close, NetConn, Pipe and DialLoop take it out of the loop first.
	Conn func(c *Upstream, data []byte, err error)
}
