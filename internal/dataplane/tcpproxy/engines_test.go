package tcpproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// The differential test of the engines (design 0036): the event loop is a faster copy
// of what the goroutine pipe does, so the same script (chunks each way, half-closes in
// either order, a reset, an idle timeout) runs through both and must give the same
// bytes, ends and Result. FuzzEnginesPipe's seeds run in every plain `go test`.

// script is a decoded fuzz input.
type script struct {
	prefix int           // bytes of the prefix (the peeked ClientHello)
	idle   time.Duration // 0: none
	ops    []op
}

type op struct {
	kind byte // opClientWrite, ...
	n    int  // bytes to write; for opPause, milliseconds
}

const (
	opClientWrite byte = iota
	opUpstreamWrite
	opClientCloseWrite
	opUpstreamCloseWrite
	opPause
	opClientReset
	opUpstreamReset
	opKinds
)

// decodeScript: first byte flags (bit 0: idle timeout of 150 ms; bits 1-2: prefix of
// 0/100/300/600 bytes), then two bytes per op (kind, size class), at most 24 ops.
func decodeScript(data []byte) script {
	var s script
	if len(data) == 0 {
		return s
	}
	if data[0]&1 != 0 {
		s.idle = 150 * time.Millisecond
	}
	s.prefix = []int{0, 100, 300, 600}[data[0]>>1&3]
	for i := 1; i+1 < len(data) && len(s.ops) < 24; i += 2 {
		o := op{kind: data[i] % opKinds}
		a := int(data[i+1])
		switch {
		case o.kind == opPause:
			o.n = a % 8
		case a < 200:
			o.n = a + 1 // small: a handshake message
		case a < 240:
			o.n = (a - 199) * 1000 // up to 40 KB: fills the 32 KiB buffer (bulk)
		default:
			o.n = (a - 239) * 20000 // up to 320 KB
		}
		s.ops = append(s.ops, o)
	}
	return s
}

// outcome is what both ends and Pipe saw.
type outcome struct {
	atUpstream, atClient []byte
	upstreamEnd          string // "eof" or "error"
	clientEnd            string
	res                  Result
	reset                bool // the script reset a connection: bytes may be lost
}

func pattern(off, n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(off+i)*7 + seed
	}
	return b
}

// drain reads c to its end.
func drain(c *net.TCPConn, out *[]byte, end *string, finished chan<- struct{}) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		*out = append(*out, buf[:n]...)
		if err != nil {
			*end = "error"
			if errors.Is(err, io.EOF) {
				*end = "eof"
			}
			close(finished)
			return
		}
	}
}

// runScript runs s through engine e and returns what happened.
func runScript(t testing.TB, e Engine, s script) outcome {
	t.Helper()
	prefix := pattern(0, s.prefix, 1)
	client, upstream, done := proxied(t, e, prefix, s.idle, &counts{})
	deadline := time.Now().Add(10 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = upstream.SetDeadline(deadline)
	var o outcome
	upDone, clDone := make(chan struct{}), make(chan struct{})
	go drain(upstream, &o.atUpstream, &o.upstreamEnd, upDone)
	go drain(client, &o.atClient, &o.clientEnd, clDone)
	var sentUp, sentDown int
	clientShut, upstreamShut := false, false
ops:
	for _, op := range s.ops {
		switch op.kind {
		case opClientWrite:
			if !clientShut {
				if _, err := client.Write(pattern(sentUp, op.n, 2)); err != nil {
					t.Fatalf("client write: %v", err)
				}
				sentUp += op.n
			}
		case opUpstreamWrite:
			if !upstreamShut {
				if _, err := upstream.Write(pattern(sentDown, op.n, 3)); err != nil {
					t.Fatalf("upstream write: %v", err)
				}
				sentDown += op.n
			}
		case opClientCloseWrite:
			if !clientShut {
				clientShut = true
				_ = client.CloseWrite()
				halfClosed(t, e, upDone, "upstream")
			}
		case opUpstreamCloseWrite:
			if !upstreamShut {
				upstreamShut = true
				_ = upstream.CloseWrite()
				halfClosed(t, e, clDone, "client")
			}
		case opPause:
			time.Sleep(time.Duration(op.n) * time.Millisecond)
		case opClientReset, opUpstreamReset:
			c, other := client, upstream
			if op.kind == opUpstreamReset {
				c, other = upstream, client
			}
			_ = c.SetLinger(0)
			_ = c.Close()
			// The goroutine pipe sees a reset only on the socket it reads or writes next:
			// after that socket's direction ended it waits for the other side (the loop
			// sees it at once). The other side closes too, so that both end.
			time.Sleep(5 * time.Millisecond)
			_ = other.Close()
			o.reset = true
			break ops
		}
	}
	if s.idle == 0 && !o.reset {
		// No idle timeout: the stream ends when both sides have closed.
		_ = client.CloseWrite()
		_ = upstream.CloseWrite()
	}
	select {
	case o.res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("engine %d: Pipe did not end", e)
	}
	// Pipe closed both gateway sockets: the test's ends see their ends (a reset end,
	// closed by the script, its own close).
	<-upDone
	<-clDone
	if !o.reset {
		want := append(append([]byte{}, prefix...), pattern(0, sentUp, 2)...)
		if !bytes.Equal(o.atUpstream, want) {
			t.Fatalf("engine %d: upstream received %d bytes, want %d (equal prefix: %v)", e, len(o.atUpstream), len(want), bytes.HasPrefix(want, o.atUpstream))
		}
		if !bytes.Equal(o.atClient, pattern(0, sentDown, 3)) {
			t.Fatalf("engine %d: client received %d bytes, want %d", e, len(o.atClient), sentDown)
		}
	}
	return o
}

// halfClosed waits until the FIN of one side reached the other (its reader ended) while
// the other direction is still open: the half-close is propagated, not only the close.
func halfClosed(t testing.TB, e Engine, ended <-chan struct{}, side string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("engine %d: the half-close did not reach the %s", e, side)
	}
}

// compareEngines runs s through every engine and requires the goroutine pipe's outcome.
func compareEngines(t testing.TB, s script) {
	g := runScript(t, EngineGoroutines, s)
	for _, en := range engines[1:] {
		sameOutcome(t, g, runScript(t, en.e, s))
	}
	for _, e := range fuzzEngines {
		// A client accepted by a loop starts with its first message: the prefix, at
		// least one byte (compared with the goroutine pipe given the same).
		if s.prefix == 0 {
			s.prefix = 1
			g = runScript(t, EngineGoroutines, s)
		}
		sameOutcome(t, g, runScript(t, e, s))
	}
}

func sameOutcome(t testing.TB, g, l outcome) {
	if g.reset {
		// A reset may cut bytes in flight, differently each run: both streams ended (the
		// run waited for Pipe) and neither took it for an idle timeout.
		if g.res.Idle || l.res.Idle {
			t.Fatalf("reset taken for idle: goroutines %+v, loop %+v", g.res, l.res)
		}
		return
	}
	if g.res != l.res || g.upstreamEnd != l.upstreamEnd || g.clientEnd != l.clientEnd {
		t.Fatalf("engines differ:\n goroutines %+v ends %s/%s\n loop       %+v ends %s/%s",
			g.res, g.upstreamEnd, g.clientEnd, l.res, l.upstreamEnd, l.clientEnd)
	}
	if int(g.res.Received) != len(g.atUpstream) || int(g.res.Sent) != len(g.atClient) {
		t.Fatalf("result %+v, bytes moved %d/%d", g.res, len(g.atUpstream), len(g.atClient))
	}
}

// engineSeeds: scripts for the shapes that matter, as fuzz inputs.
var engineSeeds = [][]byte{
	{0},                                     // nothing: both close
	{2, 0, 10, 1, 200, 0, 5, 1, 50},         // prefix, a handshake's exchanges
	{4, 0, 10, 2, 0, 1, 100, 3, 0},          // client half-closes first, then upstream
	{0, 1, 100, 3, 0, 0, 30, 1, 20, 2, 0},   // upstream half-closes first, client still sends
	{0, 0, 245, 1, 5, 0, 230},               // bulk from the client (leaves the loop)
	{0, 1, 250, 0, 3, 1, 239, 2, 0},         // bulk from the upstream, then a half-close
	{1, 0, 10, 1, 10, 4, 5},                 // idle timeout with both open
	{1, 0, 10, 2, 0, 1, 10},                 // idle timeout after the client's half-close
	{3, 0, 10, 2, 0, 3, 0},                  // both half-closed before the idle timeout
	{0, 0, 10, 1, 10, 5, 0},                 // client reset
	{0, 0, 240, 6, 0},                       // upstream reset during bulk
	{6, 4, 3, 0, 199, 4, 3, 1, 199, 4, 1},   // pauses between exchanges
	{0, 0, 255, 1, 255, 0, 255, 2, 0, 3, 0}, // bulk both ways
}

func FuzzEnginesPipe(f *testing.F) {
	for _, seed := range engineSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareEngines(t, decodeScript(data)) })
}
