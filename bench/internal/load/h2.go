package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Receive windows we advertise: large enough that flow control never throttles the tiny
// responses, topped up on the connection as data is consumed.
const (
	h2StreamWindow = 1 << 24
	h2ConnWindow   = 1 << 30
)

// h2Stream is one request in flight.
type h2Stream struct {
	start  time.Time
	sent   time.Time // open loop with a timeline: when its request was flushed
	status int
	body   bytes.Buffer
}

// h2Worker drives one HTTP/2 connection with cfg.Streams requests in flight, from a single
// goroutine: it reads frames and, as each response ends, writes the next request (flushed
// once no more input is buffered), as h2load does. A lean client keeps the generator's
// core from being the bottleneck; net/http's client costs several times more per request.
func h2Worker(ctx context.Context, r *run, t Target) {
	h2Loop(ctx, r, t, func(ctx context.Context, ws *workerStats, c *tls.Conn) string {
		return h2Conn(r, ws, t, c.SetReadDeadline, bufio.NewReaderSize(c, 32<<10), bufio.NewWriterSize(c, 16<<10))
	})
}

// h2Loop runs serve on one HTTP/2 connection after another (closed when ctx ends) until
// the run ends, counting the error kind serve returns.
func h2Loop(ctx context.Context, r *run, t Target, serve func(context.Context, *workerStats, *tls.Conn) string) {
	ws := r.newStats()
	cfg := t.TLS.Clone()
	cfg.NextProtos = []string{"h2"}
	for {
		c := connect(ctx, r, ws, t, cfg, "h2")
		if c == nil {
			return
		}
		cctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(cctx, func() { c.Close() })
		if k := serve(cctx, ws, c); k != "" && !r.done() {
			r.fail(ws, k)
		}
		cancel()
		stop()
		c.Close()
	}
}

// h2Conn runs the streams of one connection until an error or the end of the run. It
// returns the error kind ("" when the run ended or the connection should be replaced).
func h2Conn(r *run, ws *workerStats, t Target, setDeadline func(time.Time) error, br *bufio.Reader, bw *bufio.Writer) string {
	fr := http2.NewFramer(bw, br)
	if k := h2Preface(fr, bw); k != "" {
		return k
	}
	block := h2RequestBlock(t)
	streams := make(map[uint32]*h2Stream, r.cfg.Streams)
	free := make([]*h2Stream, 0, r.cfg.Streams)
	for range r.cfg.Streams {
		free = append(free, &h2Stream{})
	}
	next := uint32(1)
	send := func() error {
		s := free[len(free)-1]
		free = free[:len(free)-1]
		s.status, s.start = 0, time.Now()
		s.body.Reset()
		streams[next] = s
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: next, BlockFragment: block, EndStream: true, EndHeaders: true})
		next += 2
		return err
	}
	for len(free) > 0 {
		if err := send(); err != nil {
			return kind("write", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return kind("write", err)
	}
	consumed := 0
	for !r.done() {
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return kind("write", err)
			}
			setDeadline(time.Now().Add(r.cfg.Timeout))
		}
		f, err := fr.ReadFrame()
		if err != nil {
			return kind("read", err)
		}
		s, end, k := h2Frame(f, streams, fr, &consumed)
		if k != "" {
			return k
		}
		if !end || s == nil {
			continue
		}
		delete(streams, f.Header().StreamID)
		h2Done(r, ws, t, s)
		free = append(free, s)
		if next > 1<<30 { // stream IDs running out: start a new connection
			return ""
		}
		if err := send(); err != nil {
			return kind("write", err)
		}
	}
	return ""
}

// h2Preface writes the client preface, SETTINGS and the connection window update (not
// flushed) and sets fr up for reading responses.
func h2Preface(fr *http2.Framer, bw *bufio.Writer) string {
	if _, err := bw.WriteString(http2.ClientPreface); err != nil {
		return kind("write", err)
	}
	fr.SetReuseFrames()
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 64 << 10
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingEnablePush, Val: 0}); err != nil {
		return kind("write", err)
	}
	if err := fr.WriteWindowUpdate(0, h2ConnWindow); err != nil {
		return kind("write", err)
	}
	return ""
}

// h2Frame applies one frame read by a load connection: the stream it completes (end) if
// any, acknowledgements and window updates written to fr (the caller flushes), or the
// error kind that ends the connection. consumed counts DATA toward the next window update.
func h2Frame(f http2.Frame, streams map[uint32]*h2Stream, fr *http2.Framer, consumed *int) (s *h2Stream, end bool, k string) {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		if s = streams[f.StreamID]; s != nil && s.status == 0 {
			s.status, _ = strconv.Atoi(f.PseudoValue("status"))
		}
		end = f.StreamEnded()
	case *http2.DataFrame:
		s = streams[f.StreamID]
		if s != nil {
			s.body.Write(f.Data())
		}
		end = f.StreamEnded()
		if *consumed += int(f.Length); *consumed > h2ConnWindow/2 {
			fr.WriteWindowUpdate(0, uint32(*consumed))
			*consumed = 0
		}
	case *http2.SettingsFrame:
		if !f.IsAck() {
			fr.WriteSettingsAck()
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			fr.WritePing(true, f.Data)
		}
	case *http2.RSTStreamFrame:
		if s = streams[f.StreamID]; s != nil {
			s.status, end = -1, true
		}
	case *http2.GoAwayFrame:
		return nil, false, "h2_goaway"
	}
	return s, end, ""
}

// h2Done records a completed stream.
func h2Done(r *run, ws *workerStats, t Target, s *h2Stream) {
	switch {
	case s.status == -1:
		r.fail(ws, "h2_reset")
	case s.status != 200:
		r.fail(ws, statusKind(s.status))
	case len(t.expect) > 0 && !bytes.Contains(s.body.Bytes(), t.expect):
		r.fail(ws, "body_mismatch")
	default:
		r.okSent(ws, s.start, s.sent)
	}
}

// h2RequestBlock is the HPACK block of a GET for t. Every field is either in the static
// table or a never-indexed literal, so the same bytes are valid on every stream (no
// dynamic-table state to keep in step with the server).
func h2RequestBlock(t Target) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	path := t.Path
	if path == "" {
		path = "/"
	}
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: t.Host, Sensitive: true},
		{Name: ":path", Value: path, Sensitive: path != "/"},
		{Name: "user-agent", Value: "portcullis-bench", Sensitive: true},
	} {
		if err := enc.WriteField(f); err != nil {
			panic(fmt.Sprintf("hpack: %v", err)) // writing to a bytes.Buffer cannot fail
		}
	}
	return buf.Bytes()
}

// h2Once makes one request on a new HTTP/2 connection and leaves the connection open and
// idle (hold-h2 mode). It returns the error kind, "" on success.
func h2Once(c *tls.Conn, t Target, timeout time.Duration) string {
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		return "not_h2"
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	br, bw := bufio.NewReaderSize(c, 4<<10), bufio.NewWriterSize(c, 4<<10)
	if _, err := bw.WriteString(http2.ClientPreface); err != nil {
		return kind("write", err)
	}
	fr := http2.NewFramer(bw, br)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0}); err != nil {
		return kind("write", err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h2RequestBlock(t), EndStream: true, EndHeaders: true}); err != nil {
		return kind("write", err)
	}
	var body bytes.Buffer
	status := 0
	for {
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return kind("write", err)
			}
		}
		f, err := fr.ReadFrame()
		if err != nil {
			return kind("read", err)
		}
		end := false
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && status == 0 {
				status, _ = strconv.Atoi(f.PseudoValue("status"))
			}
			end = f.StreamID == 1 && f.StreamEnded()
		case *http2.DataFrame:
			if f.StreamID == 1 {
				body.Write(f.Data())
				end = f.StreamEnded()
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			return "h2_reset"
		case *http2.GoAwayFrame:
			return "h2_goaway"
		}
		if !end {
			continue
		}
		switch {
		case status != 200:
			return statusKind(status)
		case len(t.expect) > 0 && !bytes.Contains(body.Bytes(), t.expect):
			return "body_mismatch"
		}
		if err := bw.Flush(); err != nil {
			return kind("write", err)
		}
		return ""
	}
}
