package listener

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
	b   []byte // "Mon, 02 Jan 2006 15:04:05 GMT"
}

func (d *dateCache) get() []byte {
	now := time.Now()
	sec := now.Unix()
	if v := d.cur.Load(); v != nil && v.sec == sec {
		return v.b
	}
	v := &dateValue{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)}
	d.cur.Store(v)
	return v.b
}
