package accesslog

import (
	"bufio"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Stdout is the path that writes to the process's standard output (never reopened).
const Stdout = "/dev/stdout"

// QueueSize is the default number of entries waiting for the writer.
const QueueSize = 4096

// checkEvery is how often the writer checks whether its file was moved or removed (log
// rotation without a signal) and flushes a partly filled buffer.
const checkEvery = time.Second

// Logger writes entries to a file from one goroutine. Log never blocks: it copies the
// entry into a bounded queue, or drops and counts it when the queue is full.
type Logger struct {
	path   string
	format Format
	queue  chan Entry
	reopen chan chan error
	done   chan struct{}
	closed sync.Once

	dropped atomic.Uint64
	written atomic.Uint64

	f   *os.File // owned by the writer goroutine
	out *bufio.Writer
	buf []byte
}

// Open opens path (created 0644, appended to; Stdout writes to standard output) and
// starts the writer. queue <= 0 takes QueueSize.
func Open(path string, format Format, queue int) (*Logger, error) {
	if queue <= 0 {
		queue = QueueSize
	}
	l := &Logger{
		path: path, format: format,
		queue:  make(chan Entry, queue),
		reopen: make(chan chan error),
		done:   make(chan struct{}),
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

func (l *Logger) open() error {
	if l.path == Stdout || l.path == "-" {
		l.f = os.Stdout
	} else {
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		l.f = f
	}
	if l.out == nil {
		l.out = bufio.NewWriterSize(l.f, 64<<10)
	} else {
		l.out.Reset(l.f)
	}
	return nil
}

// Log queues a copy of e; when the queue is full the entry is dropped and counted.
func (l *Logger) Log(e *Entry) {
	select {
	case l.queue <- *e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is the number of entries dropped because the queue was full.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Written is the number of entries written.
func (l *Logger) Written() uint64 { return l.written.Load() }

// Reopen flushes and reopens the file (after logrotate moved it; SIGUSR1).
func (l *Logger) Reopen() error {
	ch := make(chan error, 1)
	select {
	case l.reopen <- ch:
		return <-ch
	case <-l.done:
		return nil
	}
}

// Close writes what is queued, flushes and closes the file. Entries logged after Close
// are dropped; Close must not race with Log callers that may still block on nothing but
// the queue (Log never blocks, so a late Log only counts as dropped).
func (l *Logger) Close() error {
	l.closed.Do(func() { close(l.queue) })
	<-l.done
	return nil
}

func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-l.queue:
			if !ok {
				_ = l.out.Flush()
				l.closeFile()
				return
			}
			l.write(&e)
			if len(l.queue) == 0 {
				_ = l.out.Flush()
			}
		case ch := <-l.reopen:
			ch <- l.doReopen()
		case <-tick.C:
			_ = l.out.Flush()
			if l.moved() {
				_ = l.doReopen()
			}
		}
	}
}

func (l *Logger) write(e *Entry) {
	if l.format == JSON {
		l.buf = AppendJSON(l.buf[:0], e)
	} else {
		l.buf = AppendText(l.buf[:0], e)
	}
	if _, err := l.out.Write(l.buf); err == nil {
		l.written.Add(1)
	}
}

func (l *Logger) doReopen() error {
	_ = l.out.Flush()
	if l.f == os.Stdout {
		return nil
	}
	l.closeFile()
	return l.open()
}

func (l *Logger) closeFile() {
	if l.f != nil && l.f != os.Stdout {
		_ = l.f.Close()
	}
}

// moved reports whether the path no longer names the open file (renamed or removed by
// a rotation that sent no signal).
func (l *Logger) moved() bool {
	if l.f == os.Stdout {
		return false
	}
	cur, err := l.f.Stat()
	if err != nil {
		return true
	}
	now, err := os.Stat(l.path)
	return err != nil || !os.SameFile(cur, now)
}

var _ io.Closer = (*Logger)(nil)
