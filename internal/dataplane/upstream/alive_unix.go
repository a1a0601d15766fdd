//go:build unix

package upstream

import (
	"errors"
	"syscall"
)

// idleState looks at an idle connection without waiting: one non-blocking MSG_PEEK. An
// open connection with nothing to read is clean; bytes (an unsolicited response, the late
// body of a HEAD, 204 or 304, more body than Content-Length) or end of file mean it must
// not be reused. first holds the first bytes seen, for the log.
func idleState(rc syscall.RawConn) (st idleCheck, first []byte) {
	if rc == nil {
		return idleClean, nil
	}
	var buf [1]byte
	var n int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	})
	switch {
	case err != nil:
		return idleGone, nil
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK):
		return idleClean, nil
	case rerr == nil && n > 0:
		// Rare: peek more of it for the log.
		more := make([]byte, 64)
		_ = rc.Read(func(fd uintptr) bool {
			n, _, _ = syscall.Recvfrom(int(fd), more, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return true
		})
		return idleData, more[:max(n, 0)]
	}
	return idleGone, nil // EOF (n == 0) or an error: closed or reset
}
