package upstream

import "sync"

// copyBufferSize is the size of ReverseProxy's body copy buffer (its own default).
const copyBufferSize = 32 << 10

// bufferPool recycles ReverseProxy's body copy buffers (httputil.BufferPool). Without it
// ReverseProxy allocates a fresh 32 KiB buffer for every response body: the largest
// allocation of a proxied request and most of its garbage. Buffers are pooled as array
// pointers, so Get and Put allocate nothing (a []byte in a sync.Pool would box its header).
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, _ := b.p.Get().(*[copyBufferSize]byte); buf != nil {
		return buf[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
}
