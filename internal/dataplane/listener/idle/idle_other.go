//go:build !linux

package idle

import (
	"syscall"
	"time"
)

// Set without epoll (non-Linux builds, not a supported target): nothing parks.
type Set struct{}

// Entry is one connection's parking.
type Entry struct{}

func (s *Set) Park(*Entry, syscall.RawConn, time.Time, func(error)) bool { return false }
func (s *Set) Evict(*Entry)                                              {}
func (s *Set) Close()                                                    {}
func (s *Set) Len() int                                                  { return 0 }
