package backend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
)

// ServeRaw answers HTTP/1.1 on ln with Body(Host) from preformatted responses, parsing
// only what a proxy's upstream request needs (request line, Host, Content-Length,
// Connection: close). It is several times cheaper per request than net/http, which matters
// because the backend shares a core with the load generator: the proxies, not the
// fixture, must be the bottleneck. Chunked request bodies are not supported (the
// connection is closed); the benchmark sends none. It returns when ln is closed.
func ServeRaw(ctx context.Context, ln net.Listener) error {
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
			serveConn(c, cache)
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

func serveConn(c net.Conn, cache *responses) {
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
		bw.Write(cache.get(host))
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
