package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport is the round tripper of the common case: a request without a body (GET,
// HEAD, DELETE ...) to a plain HTTP/1.1 upstream. It writes the request and reads the
// response on the calling goroutine over a pooled keep-alive connection. http.Transport
// does the same work through two more goroutines per connection (persistConn's readLoop
// and writeLoop: two channel hand-offs and wake-ups per request) plus its connection
// request machinery; on one core those hops, their allocations and timers were a large
// part of a proxied request's cost.
//
// Everything else — a request body, Expect: 100-continue, protocol upgrades, TLS
// upstreams — goes to the fallback http.Transport unchanged, so streaming uploads keep
// their full-duplex behaviour.
type h1Transport struct {
	fallback          *http.Transport
	dial              func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle           int           // idle connections kept per endpoint
	idleTimeout       time.Duration // an idle connection older than this is closed
	sweepEvery        time.Duration // idle connections are looked at this often (see sweep); 0: idleTimeout
	respHeaderTimeout time.Duration // 0: none
	pollEvery         time.Duration // lean path: a cancellation is noticed within this while a head is awaited (see watch)

	handshakeTimeout time.Duration // upstream TLS handshakes (the dial timeout); 0: none
	header           int           // PROXY protocol version every connection starts with (proxyproto.go); 0: none

	mu   sync.Mutex
	idle map[idleKey]*idleList // by endpoint "host:port", cluster pool and TLS identity
	// tlsTransports: the fallback for TLS clusters, one per TLS identity (tlsconn.go).
	tlsTransports map[string]*http.Transport

	pools pools // of clusters with a connection pool policy (pool.go)

	fields sync.Pool // *fields of the lean path's request heads
	logger *slog.Logger
}

type idleList struct {
	conns []*h1Conn // oldest first; taken from the end
	timer *time.Timer
}

// Limits on what an upstream may send before its final response head, as http.Transport.
const (
	maxResponseHeaderBytes = 10 << 20 // Transport's default MaxResponseHeaderBytes
	max1xxResponses        = 5
)

// h1Conn is one upstream connection with its buffers.
type h1Conn struct {
	nc     net.Conn
	probe  *idleProbe // the idle check; nil if nc has no file descriptor
	tls    bool       // nc is a *tls.Conn (upstream TLS); the probe looks at its socket
	lr     *readLimit // under br: bounds response heads
	br     *bufio.Reader
	bw     *bufio.Writer
	key    idleKey
	idleAt time.Time
	rdl    time.Time // the read deadline set on nc; zero: none
	// expire unblocks every read and write on nc (registered with context.AfterFunc for a
	// request's cancellation; made once per connection, not per request).
	expire func()
	watch  watch  // of the request using the connection (lean path)
	head   string // the last response head fillHeader made a string of, for the next
}

// pendingKey carries a *pending in a request's context.
type pendingKey struct{}

// pending is an exchange whose request is written and whose response is to be read.
type pending struct {
	c    *h1Conn
	stop func() bool
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if pd, _ := req.Context().Value(pendingKey{}).(*pending); pd != nil {
		// The lean forward path wrote the request and found a response it leaves to
		// ReverseProxy (see Proxy.forwardLean): read it. On failure the connection is
		// closed here: nobody else holds it.
		resp, err := t.readResponse(req.Context(), pd.c, req, pd.stop)
		if err != nil {
			pd.c.nc.Close()
		}
		return resp, err
	}
	tg, _ := req.Context().Value(targetKey{}).(*Target)
	ct, err := tlsFor(tg, req.Host)
	if err != nil {
		return nil, err
	}
	var cp *clusterPool
	if tg != nil {
		cp = t.poolOf(tg.Cluster)
	}
	if !lean(req) {
		if cp != nil {
			return t.roundTripPool(cp, ct, req)
		}
		if ct != nil {
			return t.tlsFallback(ct).RoundTrip(req)
		}
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		c, reused, err := t.conn(ctx, req.URL.Host, cp, ct)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(ctx, c, req)
		if err == nil {
			return resp, nil
		}
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("upstream %s: %w", req.URL.Host, context.Cause(ctx))
		}
		// A pooled connection the upstream had already closed fails before any byte of
		// the response; replay once on a new connection (every lean request may be
		// replayed, as http.Transport would).
		if !reused || attempt > 0 || !errors.Is(err, errNothingRead) {
			return nil, err
		}
	}
}

// lean reports whether the request takes the lean path. Only replayable requests do: the
// lean pool looks at an idle connection only when it reuses it, so it may hand out one
// whose close is still in flight, and only a replayable request may then be sent again
// on a new connection (http.Transport notices such closes while idle and would send a
// POST or DELETE on a live connection instead of failing it).
func lean(req *http.Request) bool {
	return req.URL.Scheme == "http" && replayable(req) &&
		(req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0 &&
		len(req.TransferEncoding) == 0 && req.Method != http.MethodConnect &&
		req.Header.Get("Upgrade") == "" && req.Header.Get("Expect") == "" &&
		len(req.Trailer) == 0 && validForWire(req)
}

// validForWire is http.Transport's check of a request before it is written: a valid
// method token and valid header field names and values. Request.Write would sanitize
// what Transport refuses (it turns CR and LF into spaces); a request failing the check
// goes to the Transport, which answers with its usual error, so both paths agree.
func validForWire(req *http.Request) bool {
	if req.Method != "" && strings.IndexFunc(req.Method, func(r rune) bool { return !httpguts.IsTokenRune(r) }) >= 0 {
		return false
	}
	return validFields(req.Header)
}

// replayable is http.Transport's rule for retrying on a dead pooled connection (the body
// is always empty here).
func replayable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

var errNothingRead = errors.New("upstream closed the connection before answering")

// exchange writes req on c and reads the response head. On success the response body owns
// c: it returns c to the pool after the body's end, or closes it.
func (t *h1Transport) exchange(ctx context.Context, c *h1Conn, req *http.Request) (*http.Response, error) {
	// A cancelled or timed-out request (client gone, route timeout) unblocks the reads and
	// writes at once by expiring the connection's deadline; the connection is then closed.
	stop := context.AfterFunc(ctx, c.expire)
	if err := req.Write(c.bw); err != nil {
		stop()
		return nil, err
	}
	if err := c.bw.Flush(); err != nil { // nothing of a response was read either
		stop()
		return nil, fmt.Errorf("%w: %w", errNothingRead, err)
	}
	return t.readResponse(ctx, c, req, stop)
}

// readResponse reads the response head to req, already written on c. stop unregisters the
// cancellation of ctx (see exchange); it is called on failure, or by the body's Close.
func (t *h1Transport) readResponse(ctx context.Context, c *h1Conn, req *http.Request, stop func() bool) (*http.Response, error) {
	fail := func(err error) (*http.Response, error) {
		stop()
		return nil, err
	}
	if t.respHeaderTimeout > 0 {
		c.rdl = time.Now().Add(t.respHeaderTimeout)
		setReadDeadline(ctx, c.nc, c.rdl)
	}
	trace := httptrace.ContextClientTrace(ctx)
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		c.lr.n = maxResponseHeaderBytes
		if _, err := c.br.Peek(1); err != nil {
			return fail(nothingRead(err))
		}
		var err error
		if resp, err = http.ReadResponse(c.br, req); err != nil {
			return fail(err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 999 {
			// http.ReadResponse takes any three digits ("000"); ReverseProxy would pass
			// the code to WriteHeader, which panics, leaving this connection to the
			// collector. Refused instead: a 503, the connection closed.
			return fail(fmt.Errorf("upstream sent invalid status code %d", resp.StatusCode))
		}
		if resp.StatusCode >= 200 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("upstream switched protocols without an upgrade request"))
		}
		if n1xx == max1xxResponses {
			return fail(errors.New("upstream sent too many 1xx informational responses"))
		}
		// 1xx informational (103 Early Hints): hand it to ReverseProxy, which forwards it,
		// then read the final response.
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
		}
	}
	c.lr.n = math.MaxInt64
	if !c.rdl.IsZero() {
		c.rdl = time.Time{}
		setReadDeadline(ctx, c.nc, c.rdl)
	}
	resp.Body = &h1Body{rc: resp.Body, c: c, t: t, stop: stop,
		reuse: !resp.Close && !req.Close} // resp.Close: http.ReadResponse's keep-alive rule, both versions
	return resp, nil
}

// nothingRead marks an error before the first byte of a response as one after which a
// replayable request may be sent again on a new connection.
func nothingRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
		return fmt.Errorf("%w: %w", errNothingRead, err)
	}
	return err
}

// setReadDeadline sets nc's read deadline without undoing a cancellation: if ctx is
// already done (its AfterFunc may have expired the deadline just before), the deadline is
// expired again. If ctx is not done yet, its AfterFunc runs later and expires it then.
func setReadDeadline(ctx context.Context, nc net.Conn, t time.Time) {
	_ = nc.SetReadDeadline(t)
	if ctx.Err() != nil {
		_ = nc.SetDeadline(time.Unix(1, 0))
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// h1Body is a response body that releases its connection when it ends.
type h1Body struct {
	rc    io.ReadCloser
	c     *h1Conn
	t     *h1Transport
	stop  func() bool
	reuse bool
	eof   bool
	done  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("read on closed response body")
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *h1Body) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if b.rc == http.NoBody {
		b.eof = true
	}
	if !b.eof {
		// Not read to its end (client gone, aborted copy): the connection is not reusable.
		// Close it first, so that closing the body does not drain what remains of it.
		b.c.nc.Close()
		b.stop()
		_ = b.rc.Close()
		return nil
	}
	err := b.rc.Close()
	// stop false: the context fired and expired the connection's deadline.
	if b.stop() && b.reuse && err == nil && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
	} else {
		b.c.nc.Close()
	}
	return err
}
