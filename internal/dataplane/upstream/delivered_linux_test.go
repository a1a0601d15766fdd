package upstream

import (
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// delivered waits until every byte written on c was acknowledged by the peer, i.e. sits
// in the peer's receive queue (TIOCOUTQ = 0), so a check on the peer's side sees it; or
// until the peer is gone (it closed the connection: the bytes are never acknowledged).
func delivered(t testing.TB, c net.Conn, gone <-chan struct{}) {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int32
		var errno syscall.Errno
		if rc.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
		}) != nil || errno != 0 || n == 0 {
			return
		}
		select {
		case <-gone:
			return
		case <-time.After(time.Millisecond): // polling interval
		}
	}
	t.Errorf("late bytes not acknowledged by the client within 10s")
}
