package upstream

import (
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// delivered waits until every byte written on c was acknowledged by the peer, i.e. sits
// in the peer's receive queue (TIOCOUTQ = 0), so a check on the peer's side sees it.
func delivered(t testing.TB, c net.Conn) {
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
		time.Sleep(time.Millisecond) // polling interval
	}
	t.Errorf("late bytes not acknowledged by the client within 10s")
}
