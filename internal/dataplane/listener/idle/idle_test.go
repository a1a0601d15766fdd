package idle_test

import (
	"errors"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
)

// pair is a connected TCP pair on loopback; server is the parked side.
func pair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = client.Close() })
	return s.(*net.TCPConn), client
}

func rawOf(t *testing.T, c syscall.Conn) syscall.RawConn {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func skipUnlessLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parking needs epoll")
	}
}

// Each way a parking ends resumes it exactly once, with its reason.
func TestParkResumes(t *testing.T) {
	skipUnlessLinux(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var s idle.Set
	defer s.Close()
	cases := []struct {
		name string
		dl   time.Duration
		act  func(client net.Conn, e *idle.Entry)
		want error
	}{
		{"readable", 0, func(c net.Conn, _ *idle.Entry) { _, _ = c.Write([]byte("x")) }, nil},
		{"peer closed", 0, func(c net.Conn, _ *idle.Entry) { _ = c.Close() }, nil},
		{"deadline", 100 * time.Millisecond, func(net.Conn, *idle.Entry) {}, os.ErrDeadlineExceeded},
		{"evicted", 0, func(_ net.Conn, e *idle.Entry) { s.Evict(e) }, net.ErrClosed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, client := pair(t)
			var e idle.Entry
			got := make(chan error, 2)
			var dl time.Time
			if tc.dl > 0 {
				dl = time.Now().Add(tc.dl)
			}
			if !s.Park(&e, rawOf(t, server), dl, func(err error) { got <- err }) {
				t.Fatal("Park refused")
			}
			if s.Len() != 1 {
				t.Fatalf("Len %d, want 1", s.Len())
			}
			tc.act(client, &e)
			select {
			case err := <-got:
				if !errors.Is(err, tc.want) && err != tc.want {
					t.Fatalf("resumed with %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("not resumed")
			}
			s.Evict(&e) // a second ending is a no-op
			select {
			case err := <-got:
				t.Fatalf("resumed twice (%v)", err)
			case <-time.After(50 * time.Millisecond):
			}
			if s.Len() != 0 {
				t.Fatalf("Len %d after resuming", s.Len())
			}
		})
	}
}

// Data already waiting when a connection parks resumes it at once (level-triggered).
func TestParkWithDataWaiting(t *testing.T) {
	skipUnlessLinux(t)
	var s idle.Set
	defer s.Close()
	server, client := pair(t)
	_, _ = client.Write([]byte("early"))
	time.Sleep(20 * time.Millisecond)
	var e idle.Entry
	got := make(chan error, 1)
	if !s.Park(&e, rawOf(t, server), time.Time{}, func(err error) { got <- err }) {
		t.Fatal("Park refused")
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed with data waiting")
	}
}

// Close resumes what is parked, refuses later parkings and leaves no goroutine.
func TestCloseEndsTheSet(t *testing.T) {
	skipUnlessLinux(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var s idle.Set
	server, _ := pair(t)
	var e idle.Entry
	got := make(chan error, 1)
	if !s.Park(&e, rawOf(t, server), time.Time{}, func(err error) { got <- err }) {
		t.Fatal("Park refused")
	}
	s.Close()
	if err := <-got; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("resumed with %v", err)
	}
	var e2 idle.Entry
	if s.Park(&e2, rawOf(t, server), time.Time{}, func(error) {}) {
		t.Fatal("parked in a closed set")
	}
	var never idle.Set
	never.Close() // a set never used closes without setting up
	if never.Park(&e2, rawOf(t, server), time.Time{}, func(error) {}) {
		t.Fatal("parked in a closed set")
	}
}

// A parked socket closed without Evict (a caller's bug) is not lost: when its descriptor
// number is parked again, the old parking ends with net.ErrClosed.
func TestStaleEntryEnded(t *testing.T) {
	skipUnlessLinux(t)
	var s idle.Set
	defer s.Close()
	a, _ := pair(t)
	var ea idle.Entry
	got := make(chan error, 1)
	if !s.Park(&ea, rawOf(t, a), time.Time{}, func(err error) { got <- err }) {
		t.Fatal("Park refused")
	}
	fdA := fdOf(t, a)
	// The next descriptor the process opens takes a's number: the one Accept makes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_ = a.Close()
	bc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	b := bc.(*net.TCPConn)
	if fdOf(t, b) != fdA {
		t.Skip("the descriptor number was not reused")
	}
	var eb idle.Entry
	if !s.Park(&eb, rawOf(t, b), time.Time{}, func(error) {}) {
		t.Fatal("Park refused")
	}
	select {
	case err := <-got:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("stale parking ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stale parking never ended")
	}
	if s.Len() != 1 {
		t.Fatalf("Len %d, want 1", s.Len())
	}
	s.Evict(&eb)
}

func fdOf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	fd := -1
	if err := rawOf(t, c).Control(func(x uintptr) { fd = int(x) }); err != nil {
		t.Fatal(err)
	}
	return fd
}
