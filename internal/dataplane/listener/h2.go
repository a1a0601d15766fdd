package listener

import (
	"net"
	"sync"
)

// connQueue is the net.Listener of the HTTP/2 http.Server: Accept returns the connections
// whose handshake (done by us) negotiated "h2". http.Server's own Handshake call is then
// a no-op and it serves them through its TLSNextProto, as if it had accepted them.
type connQueue struct {
	addr  net.Addr
	ch    chan net.Conn
	once  sync.Once
	close chan struct{}
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), close: make(chan struct{})}
}

// push hands nc to the http.Server; false (nc not taken) once the queue is closed.
func (q *connQueue) push(nc net.Conn) bool {
	select {
	case q.ch <- nc:
		return true
	case <-q.close:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case nc := <-q.ch:
		return nc, nil
	case <-q.close:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.close) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
