package h2

import (
	"net/http"
	"sync/atomic"
	"time"
)

// dateCache formats the Date response header once per second.
type dateCache struct {
	cur atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	s   string
}

func (d *dateCache) get() string {
	now := time.Now()
	sec := now.Unix()
	if v := d.cur.Load(); v != nil && v.sec == sec {
		return v.s
	}
	v := &dateValue{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	d.cur.Store(v)
	return v.s
}
