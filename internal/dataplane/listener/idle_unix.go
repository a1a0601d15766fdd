//go:build unix

package listener

import (
	"errors"
	"net"
	"syscall"
)

// idleWaiter waits for a connection to become readable without a read buffer: the poller
// wakes the goroutine, and a one-byte recv(MSG_PEEK) tells data (or EOF) from a spurious
// wake-up, leaving the bytes in the socket for crypto/tls or the bufio.Reader.
type idleWaiter struct {
	raw  syscall.RawConn
	peek func(fd uintptr) bool // allocated once per connection
	err  error
}

// readable blocks until c's socket has data or EOF, or its read deadline passes or it is
// closed (an error then).
func (w *idleWaiter) readable(c *Conn) error {
	if err := w.conn(c); err != nil {
		return err
	}
	w.err = nil
	if err := w.raw.Read(w.peek); err != nil {
		return err
	}
	return w.err
}

// conn sets up w for c's socket (once).
func (w *idleWaiter) conn(c *Conn) error {
	if w.raw != nil {
		return nil
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	w.raw = raw
	w.peek = w.peekFD
	return nil
}

func (w *idleWaiter) peekFD(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		return false
	case err != nil:
		w.err = &net.OpError{Op: "read", Net: "tcp", Err: err}
	}
	return true // data, EOF (n == 0) or an error: the next read reports it
}
