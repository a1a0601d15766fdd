package testkit

import (
	"os"
	"strings"
	"testing"
)

// OwnDescriptors counts the process's descriptors that a leak check can hold code to:
// sockets and anonymous inodes (epoll instances, eventfds). Pipes are left out: Go's
// splice keeps a pool of pipe pairs that its finalizers close only when a collection
// drops them, so their number after a test depends on the collector's timing, not on
// the code under test. Regular files are left out too (the runtime reads cgroup files
// to size GOMAXPROCS at any time).
func OwnDescriptors(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // closed since the directory was read (ReadDir's own descriptor)
		}
		if strings.HasPrefix(target, "socket:") || strings.HasPrefix(target, "anon_inode:") {
			n++
		}
	}
	return n
}
