package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Open loop. A closed-loop generator (every connection sends its next request when the
// previous one is answered) measures a proxy at saturation, and its latency hides queueing:
// a slow answer delays the next request instead of making it wait (coordinated omission).
// Production gateways run below saturation with requests arriving whatever the gateway
// does. So with Config.Rate the generator schedules arrivals at a constant rate (one every
// 1/Rate seconds from the start); each is handed to whichever connection (h2: stream slot)
// is free, waiting in a queue when none is; and its latency runs from its intended arrival
// time, so waiting for a free connection or behind a slow answer counts.

// arrivalBacklog bounds the queue of arrivals not yet sent: two seconds of traffic (at
// least 1,024, at most 1 Mi). Beyond it arrivals are dropped and counted.
func arrivalBacklog(rate float64) int {
	return int(min(max(2*rate, 1024), 1<<20))
}

// schedule issues arrivals at cfg.Rate until the run ends. It sleeps until the next
// intended time; after oversleeping it issues every arrival that has come due, each with
// its own intended time (so the lateness is charged to the latency, not lost).
func (r *run) schedule(ctx context.Context) {
	t0 := time.Now()
	per := float64(time.Second) / r.cfg.Rate
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); !r.done(); i++ {
		off := time.Duration(float64(i) * per)
		if r.cfg.Burst > 0 && r.cfg.Gap > 0 {
			off += off / r.cfg.Burst * r.cfg.Gap
		}
		at := t0.Add(off)
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		measuring := r.phase.Load() == phaseMeasure
		if measuring && len(r.lag) < maxSamples {
			r.lag = append(r.lag, uint32(min(time.Since(at).Microseconds(), 1<<32-1)))
		}
		select {
		case r.arrivals <- at:
		default:
			if measuring {
				r.dropped.Add(1)
			}
		}
	}
}

// lagP99 is the scheduler's p99 lateness in ms; call after the run.
func (r *run) lagP99() float64 {
	if len(r.lag) == 0 {
		return 0
	}
	s := slices.Clone(r.lag)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*99/100)]) / 1000
}

// next waits for the next arrival; ok is false when the run ends.
func (r *run) next(ctx context.Context) (at time.Time, ok bool) {
	select {
	case at = <-r.arrivals:
		return at, !r.done()
	case <-ctx.Done():
		return at, false
	}
}

// h1OpenWorker serves arrivals on one keep-alive connection, one at a time.
func h1OpenWorker(ctx context.Context, r *run, t Target) {
	h1Loop(ctx, r, t, func() (time.Time, bool) { return r.next(ctx) })
}

// h2OpenWorker serves arrivals on one HTTP/2 connection with up to cfg.Streams in flight:
// a writer goroutine takes an arrival whenever a stream slot is free and sends it (with
// every other arrival already due, in one flush); the reader completes streams and frees
// their slots.
func h2OpenWorker(ctx context.Context, r *run, t Target) {
	h2Loop(ctx, r, t, func(ctx context.Context, ws *workerStats, c *tls.Conn) string {
		oc := &h2Open{r: r, ws: ws, t: t, bw: bufio.NewWriterSize(c, 16<<10),
			slots: make(chan *h2Stream, r.cfg.Streams), streams: map[uint32]*h2Stream{}, next: 1}
		oc.fr = http2.NewFramer(oc.bw, bufio.NewReaderSize(c, 32<<10))
		if k := oc.start(); k != "" {
			return k
		}
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { oc.writeLoop(ctx); c.Close() }) // a failed write ends the reader too
		k := oc.readLoop(c.SetReadDeadline)
		cancel() // the writer ends
		wg.Wait()
		return k
	})
}

// h2Open is one open-loop HTTP/2 connection. mu serialises frame writes (the reader
// acknowledges SETTINGS and PINGs) and guards streams and next.
type h2Open struct {
	r       *run
	ws      *workerStats
	t       Target
	fr      *http2.Framer
	bw      *bufio.Writer
	slots   chan *h2Stream // free stream slots
	mu      sync.Mutex
	streams map[uint32]*h2Stream
	next    uint32
	block   []byte
	batch   []*h2Stream // Config.Timeline: the streams of the flush being written
}

func (oc *h2Open) start() string {
	oc.block = h2RequestBlock(oc.t)
	for range oc.r.cfg.Streams {
		oc.slots <- &h2Stream{}
	}
	if k := h2Preface(oc.fr, oc.bw); k != "" {
		return k
	}
	if err := oc.bw.Flush(); err != nil {
		return kind("write", err)
	}
	return ""
}

// writeLoop sends arrivals while the connection lives.
func (oc *h2Open) writeLoop(ctx context.Context) {
	for {
		var s *h2Stream
		select {
		case s = <-oc.slots:
		case <-ctx.Done():
			return
		}
		at, ok := oc.r.next(ctx)
		if !ok {
			return
		}
		oc.mu.Lock()
		err := oc.send(s, at)
		// Coalesce: every arrival already due that has a free slot goes in the same flush.
	more:
		for err == nil && len(oc.r.arrivals) > 0 {
			select {
			case s = <-oc.slots:
			default:
				break more
			}
			select {
			case at = <-oc.r.arrivals:
				err = oc.send(s, at)
			default:
				oc.slots <- s
				break more
			}
		}
		if err == nil {
			err = oc.bw.Flush()
		}
		if oc.r.cfg.Timeline != "" {
			now := time.Now()
			for _, b := range oc.batch {
				b.sent = now
			}
			oc.batch = oc.batch[:0]
		}
		oc.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// send writes the request of one arrival on slot s; mu is held.
func (oc *h2Open) send(s *h2Stream, at time.Time) error {
	s.status, s.start, s.sent = 0, at, time.Time{}
	if oc.r.cfg.Timeline != "" {
		oc.batch = append(oc.batch, s)
	}
	s.body.Reset()
	id := oc.next
	oc.next += 2
	oc.streams[id] = s
	return oc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: oc.block, EndStream: true, EndHeaders: true})
}

// readLoop completes streams until the connection fails or the run ends. It arms a read
// deadline only while streams are in flight (an idle connection may wait for arrivals).
func (oc *h2Open) readLoop(setDeadline func(time.Time) error) string {
	consumed := 0
	for !oc.r.done() {
		oc.mu.Lock()
		inFlight := len(oc.streams)
		oc.mu.Unlock()
		if inFlight > 0 {
			setDeadline(time.Now().Add(oc.r.cfg.Timeout))
		} else {
			setDeadline(time.Time{})
		}
		f, err := oc.fr.ReadFrame()
		if err != nil {
			return kind("read", err)
		}
		oc.mu.Lock()
		s, end, k := h2Frame(f, oc.streams, oc.fr, &consumed)
		if k != "" {
			oc.mu.Unlock()
			return k
		}
		if !end || s == nil {
			err = oc.bw.Flush() // acknowledgements h2Frame wrote, if any
			oc.mu.Unlock()
			if err != nil {
				return kind("write", err)
			}
			continue
		}
		delete(oc.streams, f.Header().StreamID)
		full := oc.next > 1<<30
		oc.mu.Unlock()
		h2Done(oc.r, oc.ws, oc.t, s)
		oc.slots <- s
		if full { // stream IDs running out: start a new connection
			return ""
		}
	}
	return ""
}
