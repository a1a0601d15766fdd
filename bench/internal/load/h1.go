package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
)

func request(t Target, close bool) []byte {
	path := t.Path
	if path == "" {
		path = "/"
	}
	s := "GET " + path + " HTTP/1.1\r\nHost: " + t.Host + "\r\nUser-Agent: portcullis-bench\r\n"
	if close {
		s += "Connection: close\r\n"
	}
	return []byte(s + "\r\n")
}

// dial opens a TCP connection and completes the TLS handshake within timeout.
func dial(ctx context.Context, t Target, cfg *tls.Config, timeout time.Duration) (*tls.Conn, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, kind("dial", err), err
	}
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, kind("tls", err), err
	}
	return c, "", nil
}

// exchange writes req and reads one response on c, checking status and body. It returns
// an error kind, or "" on success. keep reports whether the connection stays usable. sent,
// if not nil, receives the time the request was written.
func exchange(c net.Conn, br *bufio.Reader, body *bytes.Buffer, req []byte, t Target, timeout time.Duration, sent *time.Time) (kindOut string, keep bool) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return kind("write", err), false
	}
	if _, err := c.Write(req); err != nil {
		return kind("write", err), false
	}
	if sent != nil {
		*sent = time.Now()
	}
	status, closeConn, err := readResponse(br, body)
	if err != nil {
		if errors.Is(err, errMalformed) {
			return "read_malformed", false
		}
		return kind("read", err), false
	}
	keep = !closeConn
	if status != http.StatusOK {
		return statusKind(status), keep
	}
	if len(t.expect) > 0 && !bytes.Contains(body.Bytes(), t.expect) {
		return "body_mismatch", keep
	}
	return "", keep
}

// h1Worker drives one keep-alive connection, redialing after errors (closed loop: the
// next request goes as soon as the previous one is answered).
func h1Worker(ctx context.Context, r *run, t Target) {
	h1Loop(ctx, r, t, func() (time.Time, bool) { return time.Now(), !r.done() })
}

// h1Loop sends a request on one keep-alive connection whenever next returns one (its
// start, from which latency runs), redialing after errors, until next reports the end.
func h1Loop(ctx context.Context, r *run, t Target, next func() (time.Time, bool)) {
	ws := r.newStats()
	req := request(t, false)
	var body bytes.Buffer
	var sentAt time.Time
	sent := &sentAt
	if r.cfg.Timeline == "" {
		sent = nil
	}
	for {
		c := connect(ctx, r, ws, t, t.TLS, "")
		if c == nil {
			return
		}
		br := bufio.NewReaderSize(c, 16<<10)
		for {
			start, ok := next()
			if !ok {
				break
			}
			k, keep := exchange(c, br, &body, req, t, r.cfg.Timeout, sent)
			if k == "" {
				r.okSent(ws, start, sentAt)
			} else if !r.done() {
				r.fail(ws, k)
			}
			if !keep {
				break
			}
		}
		c.Close()
	}
}

// connect dials t (and checks the negotiated protocol when alpn is set) until it works or
// the run ends (nil), backing off after each failure.
func connect(ctx context.Context, r *run, ws *workerStats, t Target, cfg *tls.Config, alpn string) *tls.Conn {
	for !r.done() {
		c, k, _ := dial(ctx, t, cfg, r.cfg.Timeout)
		if k == "" && alpn != "" && c.ConnectionState().NegotiatedProtocol != alpn {
			c.Close()
			k = "not_" + alpn
		}
		if k == "" {
			return c
		}
		r.fail(ws, k)
		if backoff(ctx) {
			return nil
		}
	}
	return nil
}

// handshakeWorker opens a new connection (full handshake, no resumption) per request.
func handshakeWorker(ctx context.Context, r *run, t Target) {
	ws := r.newStats()
	req := request(t, true)
	var body bytes.Buffer
	cfg := t.TLS.Clone()
	cfg.ClientSessionCache = nil
	cfg.SessionTicketsDisabled = true
	for !r.done() {
		start := time.Now()
		c, k, _ := dial(ctx, t, cfg, r.cfg.Timeout)
		if k != "" {
			if !r.done() {
				r.fail(ws, k)
			}
			if k == "dial_no_local_port" && backoff(ctx) {
				return
			}
			continue
		}
		br := bufio.NewReaderSize(c, 4<<10)
		k, _ = exchange(c, br, &body, req, t, r.cfg.Timeout, nil)
		c.Close()
		if k == "" {
			r.ok(ws, start)
		} else if !r.done() {
			r.fail(ws, k)
		}
	}
}

// backoff pauses briefly after a failed dial so a dead target is not spun on; it reports
// whether ctx ended.
func backoff(ctx context.Context) bool {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return false
	}
}
