//go:build linux

package listener

import (
	"net"
	"net/http"
	"syscall"
	"testing"
)

// The listening socket is plain TCP, not Go's default MPTCP (where the kernel has it).
func TestListenPlainTCP(t *testing.T) {
	l, err := Listen(Config{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rc, err := l.ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var proto int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		proto, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PROTOCOL)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	if proto != syscall.IPPROTO_TCP {
		t.Fatalf("listening socket protocol %d, want TCP (%d)", proto, syscall.IPPROTO_TCP)
	}
}
