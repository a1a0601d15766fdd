//go:build !linux

package listener

import "time"

// parker without epoll (non-Linux builds, not a supported target): idle connections wait
// on a goroutine each.
type parker struct{}

func (p *parker) park(*hconn, bool, time.Time) bool { return false }
func (p *parker) evict(*hconn)                      {}
func (p *parker) close()                            {}
func (p *parker) parkedCount() int                  { return 0 }
