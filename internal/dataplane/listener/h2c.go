package listener

import (
	"bytes"
	"context"
)

// h2cMagic starts the HTTP/2 connection preface. A plaintext connection whose first bytes
// are these is HTTP/2 with prior knowledge (h2c), as Envoy's HTTP connection manager
// decides it on a plain port (codec AUTO: it looks for this prefix, not the whole
// preface). HTTP/1.1's "Upgrade: h2c" is not honoured (Envoy does not either): such a
// request is served as HTTP/1.1 and the upgrade is dropped before the backend.
const h2cMagic = "PRI * HTTP/2"

// serveH2C hands a fresh plaintext connection whose first bytes are h2cMagic to the
// HTTP/2 server, with what was already read, and reports whether it did.
func (hc *hconn) serveH2C() bool {
	buf, err := hc.br.Peek(1)
	if err != nil || buf[0] != h2cMagic[0] {
		return false
	}
	buf, _ = hc.br.Peek(hc.br.Buffered())
	if len(buf) < len(h2cMagic) && string(buf) == h2cMagic[:len(buf)] {
		buf, _ = hc.br.Peek(len(h2cMagic)) // a short read here is an error the HTTP/1.1 path reports
	}
	if len(buf) < len(h2cMagic) || string(buf[:len(h2cMagic)]) != h2cMagic {
		return false
	}
	buf, _ = hc.br.Peek(hc.br.Buffered())
	pre := bytes.Clone(buf)
	hc.l.conns.remove(hc)
	hc.release(true)
	q := hc.l.h2
	if q.l.closing.Load() {
		_ = hc.c.Close()
		return true
	}
	base := &connCtx{Context: context.Background(), c: hc.c, srv: q.l.srv, local: hc.c.LocalAddr()}
	q.srv.ServeConn(base, &h2cConn{Conn: hc.c, pre: pre})
	return true
}

// h2cConn is a plaintext connection handed to the HTTP/2 server with the bytes the
// HTTP/1.1 loop had already read off it, which its first read returns. The HTTP/2
// server's first read (into a buffer at least as large as the HTTP/1.1 loop's) takes them
// all, so by the time the connection can park idle (on the socket, through the embedded
// Conn's SyscallConn) none are left behind.
type h2cConn struct {
	*Conn
	pre []byte
}

func (c *h2cConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
