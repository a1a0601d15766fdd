package h2

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener/idle"
)

// Defaults and limits. The values follow net/http's HTTP/2 server unless said otherwise.
const (
	defaultMaxStreams = 250     // SETTINGS_MAX_CONCURRENT_STREAMS
	streamRecvWindow  = 1 << 20 // per-stream receive window (MaxUploadBufferPerStream)
	connRecvWindow    = 1 << 20 // connection receive window (MaxUploadBufferPerConnection)
	// SETTINGS_MAX_FRAME_SIZE we accept: the protocol's default, where x/net offers
	// 1 MiB. A larger frame is then a FRAME_SIZE_ERROR even before the client has our
	// SETTINGS (h2spec 4.2/3), and the frame reader's buffer never grows past it.
	maxReadFrameSize = 16 << 10
	maxQueuedControl = 10000 // control frames queued unwritten (maxQueuedControlFrames)
	maxEmptyData     = 100   // consecutive empty DATA frames (ours; Envoy allows 1)
	maxPendingWrite  = 64 << 10
	handlerBufSize   = 4 << 10 // response bytes buffered per stream before framing
	hpackTableSize   = 4096
	lingerTimeout    = time.Second // reads drained after a GOAWAY before closing
)

// Server serves HTTP/2 on connections handed to ServeConn. Set its fields before the
// first ServeConn; they are not changed afterwards.
type Server struct {
	Handler http.Handler
	// MaxConcurrentStreams is advertised in SETTINGS (0: 250). Streams beyond it are
	// refused; handlers still running for reset streams count against it too.
	MaxConcurrentStreams uint32
	// MaxHeaderBytes bounds a request's header list (0: http.DefaultMaxHeaderBytes);
	// SETTINGS_MAX_HEADER_LIST_SIZE is this plus 4 KiB, as net/http counts it.
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds the wait for the client preface and first SETTINGS.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes (GOAWAY) a connection without streams for that long.
	IdleTimeout time.Duration
	// StreamIdleTimeout ends a stream with no bytes moving either way for that long
	// (Envoy's stream_idle_timeout): 408 before the response started, else RST_STREAM.
	// 0 disables.
	StreamIdleTimeout time.Duration
	// RequestTimeout bounds receiving a stream's whole request, headers and body
	// (Envoy's request_timeout). 0 disables.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write to the connection (0: none).
	WriteTimeout time.Duration
	Logger       *slog.Logger

	once   sync.Once
	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed atomic.Bool // Shutdown or Close called: new connections are refused
	dates  dateCache
	pool   workers // idle handler goroutines (workers.go)
	stop   sync.Once
	bufs   sync.Pool // *[]byte of handlerBufSize: response bodies being buffered
	// *scratch: the request and response heads of streams being served (scratch.go).
	scratch sync.Pool
	// Long-idle connections park here without their reader goroutine (park.go).
	idle    idle.Set
	readers sync.Pool // *bufio.Reader of the connections' frame readers
	epoch   time.Time // origin of clock (monotonic)
}

// getBuf returns a pooled body buffer; the caller keeps the pointer for putBuf, so that
// returning it to the pool allocates nothing.
func (s *Server) getBuf() *[]byte {
	if p, ok := s.bufs.Get().(*[]byte); ok {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, handlerBufSize)
	return &b
}

func (s *Server) putBuf(p *[]byte, b []byte) {
	if cap(b) == handlerBufSize {
		*p = b[:0]
		s.bufs.Put(p)
	}
}

func (s *Server) init() {
	s.once.Do(func() {
		s.conns = make(map[*conn]struct{})
		s.epoch = time.Now()
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return defaultMaxStreams
	}
	return s.MaxConcurrentStreams
}

// maxHeaderList is the header list size we accept (net/http's MaxHeaderBytes + 4 KiB).
func (s *Server) maxHeaderList() uint32 {
	n := s.MaxHeaderBytes
	if n <= 0 {
		n = http.DefaultMaxHeaderBytes
	}
	return uint32(n) + 4096
}

// ServeConn serves HTTP/2 on c, which must have completed its handshake (a *tls.Conn
// gives requests its ConnectionState), until the connection ends. base is the parent of
// every request's context: it carries the values handlers look up (the listener's
// connection, http.ServerContextKey, http.LocalAddrContextKey); when it is cancelled the
// connection is closed. ServeConn returns when the connection has ended (c closed), or
// when it has parked while idle (on Linux, when c's underlying connection exposes its
// socket through syscall.Conn): it then goes on, on goroutines of its own, when the client
// sends its next frame.
func (s *Server) ServeConn(base context.Context, c net.Conn) {
	s.init()
	sc := newConn(s, base, c)
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	if base.Done() != nil {
		sc.stopBase = context.AfterFunc(base, func() { sc.abort() })
	}
	sc.serve()
}

// Connections is how many connections the server holds, and how many of them are parked
// idle without their reader goroutine.
func (s *Server) Connections() (open, parked int) {
	s.init()
	s.mu.Lock()
	open = len(s.conns)
	s.mu.Unlock()
	return open, s.idle.Len()
}

// forget drops an ended connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown sends GOAWAY on every connection, refuses new ones, lets the streams in
// flight finish and waits until every connection has closed or ctx is done (then it
// returns ctx's error; Close ends the rest).
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.closed.Store(true)
	for _, c := range s.snapshot() {
		c.goAwayGraceful()
	}
	for _, c := range s.snapshot() {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.stop.Do(s.closeWorkers)
	s.idle.Close()
	return nil
}

// Close closes every connection at once; handlers still running see their request
// contexts cancelled and their writes fail.
func (s *Server) Close() error {
	s.init()
	s.closed.Store(true)
	for _, c := range s.snapshot() {
		c.abort()
	}
	s.stop.Do(s.closeWorkers)
	s.idle.Close()
	return nil
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}
