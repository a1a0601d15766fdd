package backend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// ServeRaw answers HTTP/1.1 on ln with Body(Host) from preformatted responses, parsing
// only what a proxy's upstream request needs (request line, Host, Content-Length,
// Connection: close). It is several times cheaper per request than net/http, which matters
// because the backend shares a core with the load generator: the proxies, not the
// fixture, must be the bottleneck. Chunked request bodies are not supported (the
// connection is closed); the benchmark sends none. It returns when ln is closed.
func ServeRaw(ctx context.Context, ln net.Listener) error {
	return serveRaw(ctx, ln, serveConn)
}

// serveRaw accepts on ln and runs handle for each connection, closing them all when ctx
// ends.
func serveRaw(ctx context.Context, ln net.Listener, handle func(net.Conn, *responses)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	cache := &responses{m: map[string][]byte{}}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			handle(c, cache)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		})
	}
}

// responses caches the full response bytes per host.
type responses struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (r *responses) get(host []byte) []byte {
	r.mu.RLock()
	b, ok := r.m[string(host)] // no allocation for the lookup
	r.mu.RUnlock()
	if ok {
		return b
	}
	h := string(host)
	body := Body(h)
	b = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	r.mu.Lock()
	r.m[h] = b
	r.mu.Unlock()
	return b
}

var (
	hdrHost  = []byte("host")
	hdrLen   = []byte("content-length")
	hdrConn  = []byte("connection")
	tokClose = []byte("close")
)

func serveConn(c net.Conn, cache *responses) { serveConnLimit(c, cache, 0, nil) }

// serveConnLimit serves c; after limit requests (0: no limit) it answers with
// Connection: close and returns. Each request is counted in served when it is not nil.
func serveConnLimit(c net.Conn, cache *responses, limit int, served *atomic.Int64) {
	br := bufio.NewReaderSize(c, 8<<10)
	bw := bufio.NewWriterSize(c, 8<<10)
	var host []byte
	for {
		line, err := br.ReadSlice('\n') // request line
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // tolerate stray CRLF between requests
		}
		host = host[:0]
		length, closeAfter := 0, false
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("host")):
				if i := bytes.LastIndexByte(value, ':'); i >= 0 && bytes.IndexByte(value, ']') < i {
					value = value[:i] // strip the port
				}
				for _, ch := range value {
					if 'A' <= ch && ch <= 'Z' {
						ch += 'a' - 'A'
					}
					host = append(host, ch)
				}
			case bytes.EqualFold(name, []byte("content-length")):
				if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
					return
				}
			case bytes.EqualFold(name, []byte("connection")):
				closeAfter = bytes.EqualFold(value, []byte("close"))
			case bytes.EqualFold(name, []byte("transfer-encoding")):
				return
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		resp := cache.get(host)
		if served != nil {
			served.Add(1)
		}
		if limit--; limit == 0 {
			resp, closeAfter = withClose(resp), true
		}
		bw.Write(resp)
		if closeAfter {
			bw.Flush()
			return
		}
		// Flush once no further pipelined request is already buffered.
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// withClose is resp with a Connection: close header after its status line.
func withClose(resp []byte) []byte {
	status, rest, _ := bytes.Cut(resp, []byte("\r\n"))
	out := make([]byte, 0, len(resp)+19)
	out = append(append(out, status...), "\r\nConnection: close\r\n"...)
	return append(out, rest...)
}
