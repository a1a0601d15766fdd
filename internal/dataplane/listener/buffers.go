package listener

import "bufio"

// connWriter records the first write error of the connection and cancels the request
// being served (its client is gone).
type connWriter struct{ hc *hconn }

func (w connWriter) Write(p []byte) (int, error) {
	n, err := w.hc.nc.Write(p)
	if n > 0 {
		w.hc.activity()
	}
	if err != nil && w.hc.werr == nil {
		w.hc.werr = err
		w.hc.watch.abort()
	}
	return n, err
}

// acquire takes a 4 KiB reader and writer from the listener's pools, unless the
// connection holds them already; release returns them (an idle connection holds none).
func (hc *hconn) acquire() {
	if hc.br == nil {
		if v, ok := hc.l.readers.Get().(*bufio.Reader); ok {
			v.Reset(&hc.cr)
			hc.br = v
		} else {
			hc.br = bufio.NewReaderSize(&hc.cr, 4<<10)
		}
	}
	if hc.bw == nil {
		if v, ok := hc.l.writers.Get().(*bufio.Writer); ok {
			v.Reset(connWriter{hc})
			hc.bw = v
		} else {
			hc.bw = bufio.NewWriterSize(connWriter{hc}, 4<<10)
		}
	}
}

// release returns the writer and, with reader, the reader (both must be empty).
func (hc *hconn) release(reader bool) {
	if p := hc.res.pending; cap(p) == chunkingBuffer {
		hc.l.pendings.Put((*[chunkingBuffer]byte)(p[:chunkingBuffer]))
		hc.res.pending = nil
	}
	if reader && hc.br != nil {
		hc.br.Reset(nil)
		hc.l.readers.Put(hc.br)
		hc.br = nil
	}
	if hc.bw != nil {
		hc.bw.Reset(nil)
		hc.l.writers.Put(hc.bw)
		hc.bw = nil
	}
}

// pendingBuf returns cur, or a pooled buffer of chunkingBuffer bytes when cur has none.
func (l *Listener) pendingBuf(cur []byte) []byte {
	if cap(cur) > 0 {
		return cur
	}
	if v, ok := l.pendings.Get().(*[chunkingBuffer]byte); ok {
		return v[:0]
	}
	return new([chunkingBuffer]byte)[:0]
}
