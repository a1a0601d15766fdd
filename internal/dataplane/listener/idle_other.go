//go:build !unix

package listener

import "syscall"

// idleWaiter without MSG_PEEK (non-unix builds, not a supported target) does not wait:
// the next request head is then read with the bufio.Reader, bounded by ReadHeaderTimeout
// instead of IdleTimeout.
type idleWaiter struct{ raw syscall.RawConn }

func (w *idleWaiter) readable(*Conn) error { return nil }

func (w *idleWaiter) conn(*Conn) error { return nil }
