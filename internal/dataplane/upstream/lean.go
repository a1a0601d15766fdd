package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"reflect"
	"time"
)

// forwardLean proxies the common case without httputil.ReverseProxy: a request that
// leanRequest accepts, to a plain HTTP/1.1 upstream, over a pooled connection, on the
// handler's goroutine. The request head is written straight from r; a response head that
// parseHead accepts (final status, known length) is copied into w's header map without an
// http.Response, and its body copied from the connection's buffer. Any other response
// (1xx, chunked, close-delimited, event streams, heads that do not fit the buffer) is
// read by http.ReadResponse and handled by ReverseProxy, so those keep ReverseProxy's
// exact behaviour. Errors are answered as ReverseProxy's ErrorHandler does.
func (p *Proxy) forwardLean(w http.ResponseWriter, r *http.Request, t *Target) {
	ctx := r.Context()
	tr := p.transport
	host := r.Host
	if t.Authority != "" {
		host = t.Authority
	}
	ct, err := tlsFor(t, host)
	if err != nil {
		p.errorHandler(w, r, err)
		return
	}
	cp := tr.poolOf(t.Cluster)
	for attempt := 0; ; attempt++ {
		c, reused, err := tr.conn(ctx, t.Endpoint, cp, ct)
		if err != nil {
			p.errorHandler(w, r, err)
			return
		}
		cw := &c.watch
		cw.reset(ctx, c)
		if _, ok := ctx.Deadline(); ok {
			cw.arm() // a route timeout is exact: the deadline's AfterFunc expires the connection
		}
		head, err := tr.send(ctx, c, r, t)
		if err == nil {
			h, ok := leanHead{}, false
			if head != nil {
				h, ok = parseHead(head, r.Method == http.MethodHead)
			}
			if !ok {
				// Not a head the lean path copies: ReverseProxy takes over the exchange.
				cw.arm()
				pctx := context.WithValue(context.WithValue(ctx, targetKey{}, t), pendingKey{}, &pending{c: c, stop: cw.disarm})
				p.rp.ServeHTTP(w, r.WithContext(pctx))
				return
			}
			p.respond(w, r, t, c, head, h)
			return
		}
		cw.disarm()
		c.nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("upstream %s: %w", t.Endpoint, context.Cause(ctx))
		} else if reused && attempt == 0 && errors.Is(err, errNothingRead) {
			continue // the upstream closed the pooled connection: replay once
		}
		p.errorHandler(w, r, err)
		return
	}
}

// watch expires a connection's deadline when the request using it is cancelled (client
// gone, route timeout), unblocking its reads and writes. context.AfterFunc does that, but
// registering one costs more than the rest of a fast exchange, so it is armed only for
// waits that last: a route deadline, a response head slower than pollEvery, a body that
// waits on the network, ReverseProxy's exchanges. Until then the response-head deadline is
// a poll at most h1Transport.pollEvery away, after which the context is looked at and the
// watch armed.
type watch struct {
	ctx  context.Context
	c    *h1Conn
	stop func() bool // of the AfterFunc; nil until armed
}

func (w *watch) reset(ctx context.Context, c *h1Conn) { *w = watch{ctx: ctx, c: c} }

func (w *watch) arm() {
	if w.stop == nil {
		w.stop = context.AfterFunc(w.ctx, w.c.expire)
	}
}

// disarm ends the watch; false if the request was cancelled and the connection expired
// (it must not be reused).
func (w *watch) disarm() bool {
	if w.stop == nil {
		return true
	}
	ok := w.stop()
	w.stop = nil
	return ok
}

// send writes r's head on c and waits for the response head (see peekHead).
func (t *h1Transport) send(ctx context.Context, c *h1Conn, r *http.Request, tg *Target) ([]byte, error) {
	writeLeanRequest(c.bw, r, tg, &t.fields)
	if err := c.bw.Flush(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNothingRead, err)
	}
	start := time.Now()
	if c.watch.stop == nil {
		// A poll deadline between limit/2 and limit away: moved about twice a second per
		// connection, not set and cleared around every response head.
		limit := t.pollEvery
		if t.respHeaderTimeout > 0 {
			limit = min(limit, t.respHeaderTimeout)
		}
		if c.rdl.IsZero() || c.rdl.Before(start.Add(limit/2)) {
			c.rdl = start.Add(limit)
			setReadDeadline(ctx, c.nc, c.rdl)
		}
	} else {
		c.rdl = time.Time{}
		if t.respHeaderTimeout > 0 {
			c.rdl = start.Add(t.respHeaderTimeout)
		}
		setReadDeadline(ctx, c.nc, c.rdl)
	}
	c.lr.n = maxResponseHeaderBytes
	for {
		head, err := peekHead(c.br)
		if err == nil || !netTimeout(err) || c.watch.stop != nil {
			if c.watch.stop != nil && !c.rdl.IsZero() {
				c.rdl = time.Time{} // an exact deadline is not left for the next request
				setReadDeadline(ctx, c.nc, c.rdl)
			}
			return head, err
		}
		// The poll deadline passed.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if t.respHeaderTimeout > 0 && time.Since(start) >= t.respHeaderTimeout {
			return nil, err // 504
		}
		c.watch.arm()
		c.rdl = time.Time{}
		if t.respHeaderTimeout > 0 {
			c.rdl = start.Add(t.respHeaderTimeout)
		}
		setReadDeadline(ctx, c.nc, c.rdl)
	}
}

// netTimeout reports whether err is a net.Error timeout. A function of its own so that
// the errors.As target (which escapes) is allocated only on an error, not for every
// response head (design 0039).
func netTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// respond copies an accepted response head and its body to w. The connection goes back
// to the pool after a complete body, or is closed.
func (p *Proxy) respond(w http.ResponseWriter, r *http.Request, t *Target, c *h1Conn, head []byte, h leanHead) {
	// Bodies are not limited (the next head re-arms the limit): a body longer than the
	// head limit must not be cut at it.
	c.lr.n = math.MaxInt64
	hdr := w.Header()
	fillHeader(hdr, head, h, &c.head, lentValues(w, hdr, h.fields))
	_, _ = c.br.Discard(h.size)
	ApplyHeaderOps(hdr, t.ResponseHeaders)
	addSetCookie(hdr, t)
	w.WriteHeader(h.status)
	if err := p.copyBody(w, c, r.Context(), h.length); err != nil {
		c.watch.disarm()
		c.nc.Close()
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler) // as ReverseProxy: abort the client's response
		}
		return
	}
	if c.watch.disarm() && h.keep && c.br.Buffered() == 0 {
		p.transport.put(c)
	} else {
		c.nc.Close()
	}
}

// fillHeader adds the fields of head (accepted by parseHead) to hdr, hop-by-hop fields
// and those the Connection field names left out, as ReverseProxy does. Names and values
// share one string; values one backing array.
//
// The string is *last (the previous head on the connection) when the bytes are the same,
// as a backend's heads mostly are: strings are immutable, so sharing one between
// responses reuses no memory (design 0039, "Second round"). A head that differs (a new
// Date, another length) makes a new string, kept in *last if it is short.
//
// vals, when not nil, is the backing array for the values (h.fields long; lentValues).
func fillHeader(hdr http.Header, head []byte, h leanHead, last *string, vals []string) {
	hs := *last
	if b := head[:h.size-4]; string(b) != hs {
		hs = string(b)
		if len(hs) <= maxSharedHead {
			*last = hs
		} else {
			*last = ""
		}
	}
	if vals == nil {
		vals = make([]string, h.fields)
	}
	var conn []string
	if h.hop {
		for rest := hs; rest != ""; {
			var line string
			line, rest, _ = cut(rest)
			if name, v, _ := cutColon(line); asciiEqualFold(name, "Connection") {
				conn = append(conn, v)
			}
		}
	}
	_, rest, _ := cut(hs) // the status line
	for i := 0; rest != ""; i++ {
		var line string
		line, rest, _ = cut(rest)
		name, v, _ := cutColon(line)
		if h.hop && (hopByHop(name) || named(conn, name)) {
			continue
		}
		k := canonical(name)
		vals[i] = v
		if old := hdr[k]; old != nil {
			hdr[k] = append(old, v)
		} else {
			hdr[k] = vals[i : i+1 : i+1]
		}
	}
}

// ValueLender is implemented by a ResponseWriter whose header map lives as long as the
// response (the listeners': reused once the handler has returned and the head is
// written): HeaderValues lends a backing array for n values of that map, or nil (n too
// large, or lent already in this response). The values must not be used after the
// handler returns, which the http.Handler contract already says of the header map.
type ValueLender interface {
	HeaderValues(n int) []string
}

// lentValues is the backing array w (or a writer it wraps, through Unwrap) lends for n
// values of hdr, or nil. Only the writer whose own header map hdr is lends: a wrapper
// with a map of its own (a mirror's, a recorder's) may outlive the response.
func lentValues(w http.ResponseWriter, hdr http.Header, n int) []string {
	for {
		if l, ok := w.(ValueLender); ok {
			if reflect.ValueOf(w.Header()).UnsafePointer() != reflect.ValueOf(hdr).UnsafePointer() {
				return nil
			}
			return l.HeaderValues(n)
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// maxSharedHead bounds the response head an upstream connection keeps for the next one
// to share (fillHeader): an idle pooled connection holds at most this much.
const maxSharedHead = 512

func cut(s string) (line, rest string, found bool) {
	i := 0
	for i+1 < len(s) && !(s[i] == '\r' && s[i+1] == '\n') {
		i++
	}
	if i+1 >= len(s) {
		return s, "", false
	}
	return s[:i], s[i+2:], true
}

// cutColon splits a field line into its name and trimmed value.
func cutColon(line string) (name, value string, ok bool) {
	i := 0
	for i < len(line) && line[i] != ':' {
		i++
	}
	if i == len(line) {
		return line, "", false
	}
	v := line[i+1:]
	for v != "" && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return line[:i], v, true
}

// copyBody copies n body bytes from c to w: what c's buffer holds first, then reads of a
// pooled buffer's size. Before it waits on the network it lifts the response-head
// deadline, so a long body is not cut by it.
func (p *Proxy) copyBody(w http.ResponseWriter, c *h1Conn, ctx context.Context, n int64) error {
	var buf []byte
	defer func() {
		if buf != nil {
			p.rp.BufferPool.Put(buf)
		}
	}()
	for n > 0 {
		if b := c.br.Buffered(); b > 0 {
			m := int(min(int64(b), n))
			chunk, _ := c.br.Peek(m)
			if _, err := w.Write(chunk); err != nil {
				return err
			}
			_, _ = c.br.Discard(m)
			n -= int64(m)
			continue
		}
		c.watch.arm() // a body that waits on the network may wait long
		if !c.rdl.IsZero() {
			c.rdl = time.Time{}
			setReadDeadline(ctx, c.nc, c.rdl)
		}
		if buf == nil {
			buf = p.rp.BufferPool.Get()
		}
		k, err := c.br.Read(buf[:min(int64(len(buf)), n)])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
			n -= int64(k)
		}
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
