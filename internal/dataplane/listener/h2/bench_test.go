package h2

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkRequest measures a request's cost to the server: one connection over
// loopback TCP (no TLS: its cost is the same for every server change), a raw client
// that sends an HPACK-indexed GET and reads the response's frames, a handler writing
// two bytes. With and without the stream timeouts (as the binary runs by default:
// --stream-idle-timeout 5m), whose clock reads are per request. The connection idles
// between requests, as every connection does below saturation. Besides wall time per
// round trip it reports the process's CPU time per request (cpu-ns/op: client and server,
// getrusage), the figure to compare between two versions of the server.
func BenchmarkRequest(b *testing.B) {
	for _, tc := range []struct {
		name      string
		idle, req time.Duration
	}{{"timeouts-off", 0, 0}, {"timeouts-on", 5 * time.Minute, time.Minute}} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ok")
			}), StreamIdleTimeout: tc.idle, RequestTimeout: tc.req}
			done := make(chan struct{})
			go func() {
				defer close(done)
				if nc, err := ln.Accept(); err == nil {
					srv.ServeConn(context.Background(), nc)
				}
			}()
			b.Cleanup(func() { _ = ln.Close(); _ = srv.Close(); <-done })
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			bw := bufio.NewWriter(nc)
			fr := http2.NewFramer(bw, bufio.NewReader(nc))
			var blk bytes.Buffer
			enc := hpack.NewEncoder(&blk)
			for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "h2.test"}, {":path", "/"}} {
				_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			first := bytes.Clone(blk.Bytes())
			blk.Reset() // the same fields again: all indexed now
			for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "h2.test"}, {":path", "/"}} {
				_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			indexed := blk.Bytes()
			_, _ = bw.WriteString(http2.ClientPreface)
			_ = fr.WriteSettings()
			id, consumed := uint32(1), 0
			roundTrip := func(block []byte) {
				_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
				if consumed >= 32<<10 { // give the connection window back now and then
					_ = fr.WriteWindowUpdate(0, uint32(consumed))
					consumed = 0
				}
				if err := bw.Flush(); err != nil {
					b.Fatal(err)
				}
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						b.Fatal(err)
					}
					if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
						_ = fr.WriteSettingsAck()
					}
					if df, ok := f.(*http2.DataFrame); ok && df.StreamID == id {
						consumed += int(df.Length)
						if df.StreamEnded() {
							break
						}
					}
				}
				id += 2
			}
			roundTrip(first)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				roundTrip(indexed)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
