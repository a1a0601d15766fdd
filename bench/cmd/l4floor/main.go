//go:build linux

// Command l4floor is a measuring stick, not a proxy to run: the least a Go process can
// spend on a TLS-passthrough connection with the shape design 0036's "accepting in the
// loop" would give portcullis. One goroutine, one epoll instance waited on through Go's
// poller (as tcpproxy's loop), and every socket raw: accept4 in batches on the listening
// socket, the ClientHello read and its SNI parsed in the loop, a non-blocking connect to
// the backend the SNI names, the hello forwarded, bytes copied both ways, half-closes
// passed on, close. No admission, metrics, logs, timeouts, PROXY protocol or route
// changes: what it costs per connection is a floor under what such a change could reach.
//
// It takes portcullis's command line as l4bench gives it (run --config DIR --port-map
// 443=ADDR ...) and reads the backends of l4bench's config (ServiceEntry targetPort per
// host), so that l4bench can measure it as portcullis-base:
//
//	go build -o /tmp/l4floor ./bench/cmd/l4floor
//	go run ./bench/cmd/l4bench -base /tmp/l4floor -targets portcullis ...
package main

import (
	"errors"
	"flag"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const epollET = 1 << 31

type side struct {
	fd   int
	pend []byte // bytes read from the other side, not yet written here
	eof  bool   // reading this side returned EOF
	shut bool   // SHUT_WR sent here
}

type conn struct {
	c, u      side
	hello     []byte
	connected bool
	closed    bool
}

type floor struct {
	ep     int
	lfd    int
	routes map[string]netip.AddrPort
	conns  map[int]*conn // by fd, both sides
	buf    [32 << 10]byte
	events [128]syscall.EpollEvent
}

func main() {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	cfg := fs.String("config", "", "")
	portMap := fs.String("port-map", "", "")
	fs.String("admin", "", "")
	fs.String("log-level", "", "")
	fs.Bool("pprof", false, "")
	if len(os.Args) < 2 || os.Args[1] != "run" {
		log.Fatal("usage: l4floor run --config DIR --port-map 443=ADDR")
	}
	_ = fs.Parse(os.Args[2:])
	routes, err := readRoutes(filepath.Join(*cfg, "config.yaml"))
	if err != nil {
		log.Fatal(err)
	}
	_, addr, _ := strings.Cut(*portMap, "=")
	f := &floor{routes: routes, conns: map[int]*conn{}}
	if err := f.listen(addr); err != nil {
		log.Fatal(err)
	}
	f.run()
}

// readRoutes maps "<name>.bench.example" to 127.0.0.1:<targetPort> of the ServiceEntry
// "<name>" in l4bench's portcullis config.
func readRoutes(path string) (map[string]netip.AddrPort, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`hosts: \[(\w+)\.backend\.internal\][\s\S]*?targetPort: (\d+)`)
	m := map[string]netip.AddrPort{}
	for _, g := range re.FindAllStringSubmatch(string(b), -1) {
		p, _ := strconv.Atoi(g[2])
		m[g[1]+".bench.example"] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p))
	}
	if len(m) == 0 {
		return nil, errors.New(path + ": no ServiceEntry with a targetPort")
	}
	return m, nil
}

func (f *floor) listen(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
		return err
	}
	if err := syscall.Listen(fd, 4096); err != nil {
		return err
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	_ = syscall.SetNonblock(ep, true)
	f.ep, f.lfd = ep, fd
	return f.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN|epollET)
}

func (f *floor) ctl(op, fd int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(f.ep), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func (f *floor) run() {
	file := os.NewFile(uintptr(f.ep), "epoll")
	rc, err := file.SyscallConn()
	if err != nil {
		log.Fatal(err)
	}
	wake := func(uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(f.ep), uintptr(unsafe.Pointer(&f.events[0])), uintptr(len(f.events)), 0, 0, 0)
			if e == syscall.EINTR {
				continue
			}
			if e != 0 || r == 0 {
				return false
			}
			for i := range int(r) {
				ev := f.events[i]
				fd := int(ev.Fd)
				if fd == f.lfd {
					f.accept()
					continue
				}
				if c := f.conns[fd]; c != nil && !c.closed {
					f.handle(c, fd)
				}
			}
			if int(r) < len(f.events) {
				return false
			}
		}
	}
	for {
		if err := rc.Read(wake); err != nil {
			log.Fatal(err)
		}
	}
}

func (f *floor) accept() {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(f.lfd), 0, 0, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		if e == syscall.EINTR || e == syscall.ECONNABORTED {
			continue
		}
		if e != 0 {
			return
		}
		fd := int(r)
		c := &conn{c: side{fd: fd}, u: side{fd: -1}}
		f.conns[fd] = c
		if f.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN|syscall.EPOLLRDHUP|epollET) != nil {
			f.close(c)
			continue
		}
		f.readHello(c) // often there already
	}
}

func (f *floor) handle(c *conn, fd int) {
	switch {
	case c.u.fd < 0:
		f.readHello(c)
	case !c.connected && fd == c.u.fd:
		f.connected(c)
	case c.connected:
		f.copy(c)
	}
}

// readHello reads until the ClientHello is whole, then connects to its SNI's backend.
func (f *floor) readHello(c *conn) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(c.c.fd), uintptr(unsafe.Pointer(&f.buf[0])), uintptr(len(f.buf)))
		if e == syscall.EAGAIN {
			return
		}
		if e != 0 || n == 0 {
			f.close(c)
			return
		}
		c.hello = append(c.hello, f.buf[:n]...)
		sni, done, bad := parseSNI(c.hello)
		if bad || len(c.hello) > 16<<10 {
			f.close(c)
			return
		}
		if !done {
			continue
		}
		ap, ok := f.routes[sni]
		if !ok {
			f.close(c)
			return
		}
		f.dial(c, ap)
		return
	}
}

func (f *floor) dial(c *conn, ap netip.AddrPort) {
	r, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if e != 0 {
		f.close(c)
		return
	}
	fd := int(r)
	c.u.fd = fd
	f.conns[fd] = c
	one := int32(1)
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, r, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
	var sa syscall.RawSockaddrInet4
	sa.Family, sa.Addr = syscall.AF_INET, ap.Addr().As4()
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
	_, _, e = syscall.RawSyscall(syscall.SYS_CONNECT, r, uintptr(unsafe.Pointer(&sa)), syscall.SizeofSockaddrInet4)
	if e != 0 && e != syscall.EINPROGRESS {
		f.close(c)
		return
	}
	if f.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP|epollET) != nil {
		f.close(c)
	}
}

func (f *floor) connected(c *conn) {
	var soerr int32
	l := uint32(4)
	_, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(c.u.fd), syscall.SOL_SOCKET, syscall.SO_ERROR, uintptr(unsafe.Pointer(&soerr)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 || soerr != 0 {
		f.close(c)
		return
	}
	c.connected = true
	c.u.pend, c.hello = c.hello, nil // the hello goes first
	f.copy(c)
}

// copy moves what both sides allow; EPOLLOUT stays in the upstream's mask (edge-
// triggered) and is added to the client's when a write to it was short.
func (f *floor) copy(c *conn) {
	for progress := true; progress && !c.closed; {
		progress = false
		for _, d := range [2][2]*side{{&c.c, &c.u}, {&c.u, &c.c}} {
			src, dst := d[0], d[1]
			if len(dst.pend) > 0 {
				n, e := send(dst.fd, dst.pend)
				if e != 0 && e != syscall.EAGAIN {
					f.close(c)
					return
				}
				if n > 0 {
					progress = true
					dst.pend = dst.pend[n:]
				}
				if len(dst.pend) > 0 {
					_ = f.ctl(syscall.EPOLL_CTL_MOD, dst.fd, syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP|epollET)
					continue
				}
				dst.pend = nil
			}
			if src.eof {
				if !dst.shut {
					dst.shut = true
					_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, uintptr(dst.fd), syscall.SHUT_WR, 0)
				}
				continue
			}
			n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(src.fd), uintptr(unsafe.Pointer(&f.buf[0])), uintptr(len(f.buf)))
			if e == syscall.EAGAIN {
				continue
			}
			if e != 0 {
				f.close(c)
				return
			}
			progress = true
			if n == 0 {
				src.eof = true
				continue
			}
			w, e := send(dst.fd, f.buf[:n])
			if e != 0 && e != syscall.EAGAIN {
				f.close(c)
				return
			}
			if w < int(n) {
				dst.pend = append([]byte(nil), f.buf[w:n]...)
				_ = f.ctl(syscall.EPOLL_CTL_MOD, dst.fd, syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP|epollET)
			}
		}
	}
	if c.c.eof && c.u.eof && len(c.c.pend) == 0 && len(c.u.pend) == 0 {
		f.close(c)
	}
}

func send(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

func (f *floor) close(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	for _, fd := range []int{c.c.fd, c.u.fd} {
		if fd >= 0 {
			delete(f.conns, fd)
			_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
		}
	}
}

// parseSNI reads the server name of a ClientHello in b: done is false while b is not a
// whole hello yet, bad when b is not one.
func parseSNI(b []byte) (sni string, done, bad bool) {
	// Records: the hello may span several; collect the handshake bytes.
	var hs []byte
	for len(b) >= 5 {
		if b[0] != 22 {
			return "", false, true
		}
		n := int(b[3])<<8 | int(b[4])
		if len(b) < 5+n {
			break
		}
		hs = append(hs, b[5:5+n]...)
		b = b[5+n:]
	}
	if len(hs) < 4 {
		return "", false, false
	}
	if hs[0] != 1 {
		return "", false, true
	}
	n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
	if len(hs) < 4+n {
		return "", false, false
	}
	h := hs[4 : 4+n]
	skip := func(k int) bool {
		if len(h) < k {
			return false
		}
		h = h[k:]
		return true
	}
	vec := func(lenBytes int) bool {
		if len(h) < lenBytes {
			return false
		}
		l := 0
		for i := range lenBytes {
			l = l<<8 | int(h[i])
		}
		return skip(lenBytes + l)
	}
	if !skip(2+32) || !vec(1) || !vec(2) || !vec(1) || len(h) < 2 {
		return "", true, false
	}
	h = h[2:]
	for len(h) >= 4 {
		typ, l := int(h[0])<<8|int(h[1]), int(h[2])<<8|int(h[3])
		if len(h) < 4+l {
			return "", false, true
		}
		ext := h[4 : 4+l]
		h = h[4+l:]
		if typ != 0 || len(ext) < 5 {
			continue
		}
		nl := int(ext[3])<<8 | int(ext[4])
		if ext[2] == 0 && len(ext) >= 5+nl {
			return strings.ToLower(string(ext[5 : 5+nl])), true, false
		}
	}
	return "", true, false
}
