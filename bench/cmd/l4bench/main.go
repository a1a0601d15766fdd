// Command l4bench measures TLS passthrough by SNI (issue 13) side by side: portcullis
// (Gateway PASSTHROUGH + VirtualService tls[]), HAProxy (mode tcp, req.ssl_sni) and nginx
// (stream, ssl_preread), each routing two SNI names to two TLS backends that hold their own
// certificates. Each target runs pinned to core 0 (portcullis GOMAXPROCS=1 unless
// -gomaxprocs, HAProxy nbthread 1, nginx 1 worker); this process (clients and backends) re-executes itself on
// core 1. Two measurements per target, rounds interleaved:
//
//   - bulk: 4 streams writing as fast as they can through the target for -duration:
//     MB/s, and the target's CPU seconds per GB moved.
//   - connect: 16 workers each opening a new connection (a full TLS handshake with the
//     backend, through the target), exchanging one line, closing: connections per
//     second and the target's CPU per connection.
//
// Usage (root, from the repository root; only loopback traffic):
//
//	go run ./bench/cmd/l4bench [-duration 5s] [-rounds 2] [-targets portcullis,haproxy,nginx]
//
// Prints a markdown table. nginx needs its stream module (Debian: libnginx-mod-stream),
// installed with the peers when missing (as root; -no-install to skip).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/bench/internal/proc"
)

const (
	hostA = "db.bench.example"
	hostB = "kv.bench.example"
)

// listenAddr is where every target listens, adminAddr portcullis's admin (pprof).
var listenAddr, adminAddr = "127.0.0.1:18443", "127.0.0.1:18000"

// gomaxprocs is the portcullis targets' GOMAXPROCS.
var gomaxprocs = 1

// portcullisArgs are extra flags of the portcullis target (not portcullis-base).
var portcullisArgs []string

func main() {
	duration := flag.Duration("duration", 5*time.Second, "measured window per case")
	rate := flag.Float64("rate", 0, "connect case: new connections per second offered to every target (0: as fast as the 16 workers go); a fixed rate compares CPU per connection at the same load")
	rounds := flag.Int("rounds", 2, "interleaved rounds")
	targets := flag.String("targets", "portcullis,haproxy,nginx", "targets to measure")
	work := flag.String("work", "", "work directory (default: a temporary one, removed)")
	profile := flag.String("profile", "", "directory for profiles of the connect case: CPU profile of portcullis, or with -strace the targets' syscall counts (strace slows them: figures of a profiled run are not comparable)")
	straced := flag.Bool("strace", false, "with -profile: strace -c -f each target instead of a CPU profile")
	baseBin := flag.String("base", "", "a second portcullis binary (e.g. built from an older commit), measured as target portcullis-base in the same interleaved run")
	perfStat := flag.Bool("perf", false, "with -profile: perf stat (task clock, context switches) each target instead of a CPU profile")
	perfRecord := flag.Bool("perf-record", false, "with -profile: perf record -g (user and kernel stacks) each target instead of a CPU profile")
	baseline := flag.String("baseline", "", "alias of -base (as benchrun's flag)")
	flag.StringVar(&listenAddr, "listen", listenAddr, "loopback address every target listens on (change it when another benchmark uses the default)")
	flag.StringVar(&adminAddr, "admin", adminAddr, "portcullis's admin address (pprof)")
	flag.IntVar(&gomaxprocs, "gomaxprocs", gomaxprocs, "GOMAXPROCS of the portcullis targets (on their one core)")
	flag.Func("args", "extra flags of the portcullis target, not of portcullis-base (space separated, e.g. --l4-accept)", func(s string) error {
		portcullisArgs = append(portcullisArgs, strings.Fields(s)...)
		return nil
	})
	noInstall := flag.Bool("no-install", false, "do not apt-get install missing peers (haproxy; nginx and its stream module)")
	flag.Parse()
	if *baseline != "" && *baseBin == "" {
		*baseBin = *baseline
	}
	if os.Getenv("L4BENCH_PINNED") == "" {
		cmd := exec.Command("taskset", append([]string{"-c", "1", os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), "L4BENCH_PINNED=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatal(err)
		}
		return
	}
	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "l4bench")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := filepath.Join(dir, "portcullis")
	must(run("go", "build", "-o", bin, "./cmd/portcullis"))
	pki := filepath.Join(dir, "pki")
	must(run(bin, "certs", "--dir", pki, "--host", hostA, "--host", hostB))
	portA := startBackend(pki, hostA)
	portB := startBackend(pki, hostB)

	results := map[string][]result{}
	names := strings.Split(*targets, ",")
	if !*noInstall {
		must(installPeers(names))
	}
	if *baseBin != "" {
		names = append(names, "portcullis-base")
	}
	for r := range *rounds {
		for i := range names {
			name := names[(i+r)%len(names)]
			b := bin
			if name == "portcullis-base" {
				b = *baseBin
			}
			t, err := startTarget(name, dir, b, portA, portB)
			if err != nil {
				log.Fatalf("%s: %v", name, err)
			}
			if err := check(pki); err != nil {
				t.stop()
				log.Fatalf("%s: routing check failed: %v", name, err)
			}
			res := result{
				bulk: measure(t, *duration, func(ctx context.Context, n *atomic.Int64) { bulk(ctx, pki, n) }),
			}
			calls := 0
			res.connect = measure(t, *duration, func(ctx context.Context, n *atomic.Int64) {
				if calls++; *profile != "" && calls == 2 { // not the warm-up
					stopProfile := startProfile(*profile, fmt.Sprintf("%s-%d", name, r+1), t, *duration, *straced, *perfStat, *perfRecord)
					defer func() { stopProfile(n.Load()) }()
				}
				connects(ctx, pki, n, *rate)
			})
			t.stop()
			if *profile != "" && *perfStat {
				res.perf = readPerfStat(*profile, fmt.Sprintf("%s-%d", name, r+1))
			}
			results[name] = append(results[name], res)
			log.Printf("round %d %s: bulk %.0f MB/s (%.2f CPU-s/GB), connect %.0f/s (%.0f µs CPU each; task clock %.0f µs, %.1f context switches)",
				r+1, name, res.bulk.rate/1e6, res.bulk.cpu.Seconds()/(res.bulk.count/1e9),
				res.connect.rate, float64(res.connect.cpu.Microseconds())/res.connect.count,
				res.perf.taskClock, res.perf.switches)
		}
	}
	if *rate > 0 {
		fmt.Printf("\nconnect case offered %.0f new connections/s to every target\n", *rate)
	}
	perfCols, perfSep := "", ""
	if *profile != "" && *perfStat {
		perfCols, perfSep = " task clock µs per connection | context switches per connection |", "---|---|"
	}
	fmt.Printf("\n| target | bulk MB/s (1 core) | CPU s per GB | new connections/s | CPU µs per connection |%s\n|---|---|---|---|---|%s\n", perfCols, perfSep)
	for _, name := range names {
		rs := results[name]
		fmt.Printf("| %s | %s | %s | %s | %s |", name,
			span(rs, func(r result) float64 { return r.bulk.rate / 1e6 }, "%.0f"),
			span(rs, func(r result) float64 { return r.bulk.cpu.Seconds() / (r.bulk.count / 1e9) }, "%.2f"),
			span(rs, func(r result) float64 { return r.connect.rate }, "%.0f"),
			span(rs, func(r result) float64 { return float64(r.connect.cpu.Microseconds()) / r.connect.count }, "%.0f"))
		if perfCols != "" {
			fmt.Printf(" %s | %s |",
				span(rs, func(r result) float64 { return r.perf.taskClock }, "%.0f"),
				span(rs, func(r result) float64 { return r.perf.switches }, "%.1f"))
		}
		fmt.Println()
	}
}

type result struct {
	bulk, connect window
	perf          perfFigures // -perf: of the connect case's measured window
}

// perfFigures is what perf stat counted in the connect case's window, per connection
// completed: the task clock (ns-precise, where utime+stime steps by clock ticks) and
// context switches, summed over the target's threads and processes.
type perfFigures struct{ taskClock, switches float64 }

// readPerfStat reads startProfile's perf stat output and connection count for label.
func readPerfStat(dir, label string) perfFigures {
	b, err := os.ReadFile(filepath.Join(dir, label+".conns"))
	must(err)
	conns, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	must(err)
	out, err := os.ReadFile(filepath.Join(dir, label+".perf"))
	must(err)
	var ms, cs float64
	for _, line := range strings.Split(string(out), "\n") {
		// "      nginx-32574                 78.24 msec task-clock   # ..." (--per-thread)
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil { // <not counted>
			continue
		}
		switch {
		case len(f) >= 4 && f[2] == "msec" && f[3] == "task-clock":
			ms += v
		case f[2] == "context-switches":
			cs += v
		}
	}
	if conns == 0 {
		return perfFigures{}
	}
	return perfFigures{taskClock: ms * 1000 / conns, switches: cs / conns}
}

// window is one measured case: count (bytes or connections) per second and the target's
// CPU over the window.
type window struct {
	count, rate float64
	cpu         time.Duration
}

// span renders the median and min-max of f over rs.
func span(rs []result, f func(result) float64, format string) string {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) == 1 {
		return fmt.Sprintf(format, v[0])
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", v[len(v)/2], v[0], v[len(v)-1])
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// startBackend serves host's own certificate and discards what it reads, answering one
// line per line ("ok").
func startBackend(pki, host string) int {
	dir := filepath.Join(pki, host)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "3_application", "certs", host+".cert.pem"),
		filepath.Join(dir, "3_application", "private", host+".key.pem"))
	must(err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true})
	must(err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReaderSize(c, 64<<10)
				for {
					line, err := r.ReadSlice('\n')
					if errors.Is(err, bufio.ErrBufferFull) {
						continue // bulk data: discard
					}
					if err != nil {
						return
					}
					if len(line) < 64 {
						_, _ = io.WriteString(c, "ok\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

type target struct {
	cmd  *exec.Cmd
	pids func() []int
}

func (t *target) stop() {
	_ = t.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = t.cmd.Process.Kill()
		<-done
	}
}

func startTarget(name, dir, bin string, portA, portB int) (*target, error) {
	var cmd *exec.Cmd
	switch name {
	case "portcullis", "portcullis-base":
		cfg := filepath.Join(dir, "portcullis-config")
		if err := os.MkdirAll(cfg, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cfg, "config.yaml"), []byte(portcullisConfig(portA, portB)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command("taskset", "-c", "0", bin, "run", "--config", cfg,
			"--port-map", "443="+listenAddr, "--admin", adminAddr, "--log-level", "warn", "--pprof")
		if name == "portcullis" {
			cmd.Args = append(cmd.Args, portcullisArgs...)
		}
		cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", gomaxprocs))
	case "haproxy":
		path := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(path, []byte(haproxyConfig(portA, portB)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command("taskset", "-c", "0", "haproxy", "-db", "-f", path)
	case "nginx":
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(nginxConfig(dir, portA, portB)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command("taskset", "-c", "0", "nginx", "-c", path, "-p", dir)
	default:
		return nil, fmt.Errorf("unknown target %q", name)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &target{cmd: cmd}
	// taskset execs the target in place, so cmd's pid is the target (nginx: the master;
	// its worker is a child).
	t.pids = func() []int {
		kids, _ := proc.Children(cmd.Process.Pid)
		return append([]int{cmd.Process.Pid}, kids...)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", listenAddr, time.Second)
		if err == nil {
			c.Close()
			// portcullis binds before its first snapshot routes: wait for a passthrough.
			if cc, err := dialTLS(hostA, nil); err == nil {
				cc.Close()
				return t, nil
			}
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, fmt.Errorf("not serving on %s after 20s", listenAddr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func portcullisConfig(portA, portB int) string {
	se := func(name string, port int) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[1]s.backend.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS, targetPort: %[2]d}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[1]s.bench.example]
  gateways: [bench]
  tls:
  - match: [{sniHosts: [%[1]s.bench.example]}]
    route: [{destination: {host: %[1]s.backend.internal, port: {number: 443}}}]
---
`, name, port)
	}
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    tls: {mode: PASSTHROUGH}
    hosts: [db.bench.example, kv.bench.example]
---
` + se("db", portA) + se("kv", portB)
}

func haproxyConfig(portA, portB int) string {
	return fmt.Sprintf(`global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 10s
  timeout client 1h
  timeout server 1h
frontend passthrough
  bind %s
  tcp-request inspect-delay 10s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend db if { req.ssl_sni -i db.bench.example }
  use_backend kv if { req.ssl_sni -i kv.bench.example }
backend db
  server db 127.0.0.1:%d
backend kv
  server kv 127.0.0.1:%d
`, listenAddr, portA, portB)
}

func nginxConfig(dir string, portA, portB int) string {
	return fmt.Sprintf(`load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log stderr warn;
events { worker_connections 4000; }
stream {
  map $ssl_preread_server_name $upstream {
    db.bench.example 127.0.0.1:%d;
    kv.bench.example 127.0.0.1:%d;
  }
  server {
    listen %s;
    ssl_preread on;
    preread_timeout 10s;
    proxy_pass $upstream;
    proxy_connect_timeout 10s;
    proxy_timeout 1h;
    proxy_half_close on;
  }
}
`, dir, portA, portB, listenAddr)
}

// roots of each backend host's PKI.
var (
	rootsMu sync.Mutex
	roots   = map[string]*x509.CertPool{}
)

func rootsFor(pki, host string) *x509.CertPool {
	rootsMu.Lock()
	defer rootsMu.Unlock()
	if p := roots[host]; p != nil {
		return p
	}
	b, err := os.ReadFile(filepath.Join(pki, host, "2_intermediate", "certs", "ca-chain.cert.pem"))
	must(err)
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b)
	roots[host] = p
	return p
}

// dialTLS connects through the target with SNI host, verifying host's own certificate
// (pool nil: skip verification, for the readiness probe).
func dialTLS(host string, pool *x509.CertPool) (*tls.Conn, error) {
	cfg := &tls.Config{ServerName: host, RootCAs: pool, InsecureSkipVerify: pool == nil, ClientSessionCache: nil}
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", listenAddr, cfg)
}

// check: each SNI reaches the backend holding its certificate; an unknown SNI is refused.
func check(pki string) error {
	for _, h := range []string{hostA, hostB} {
		c, err := dialTLS(h, rootsFor(pki, h))
		if err != nil {
			return fmt.Errorf("%s: %w", h, err)
		}
		c.Close()
	}
	if c, err := dialTLS("other.bench.example", nil); err == nil {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, rerr := c.Write([]byte("x\n"))
		if rerr == nil {
			_, rerr = c.Read(make([]byte, 1))
		}
		c.Close()
		if rerr == nil {
			return errors.New("unknown SNI was proxied")
		}
	}
	return nil
}

// measure runs load for d and returns its count, rate and the target's CPU.
func measure(t *target, d time.Duration, load func(context.Context, *atomic.Int64)) window {
	// Warm up for a second, then measure.
	warm, cancel := context.WithTimeout(context.Background(), time.Second)
	load(warm, new(atomic.Int64))
	cancel()
	var n atomic.Int64
	before, _ := proc.CPUSum(t.pids())
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	load(ctx, &n)
	cancel()
	elapsed := time.Since(start)
	after, _ := proc.CPUSum(t.pids())
	c := float64(n.Load())
	return window{count: c, rate: c / elapsed.Seconds(), cpu: after - before}
}

// startProfile attaches strace -c -f, perf stat or perf record to the target's processes, or takes a
// CPU profile of portcullis, for d; the returned func waits for both and records the number of
// connections completed meanwhile, to divide the syscall counts by.
func startProfile(dir, label string, t *target, d time.Duration, straced, perfStat, perfRecord bool) func(conns int64) {
	must(os.MkdirAll(dir, 0o755))
	var st *exec.Cmd
	var pids []string
	for _, p := range t.pids() {
		pids = append(pids, fmt.Sprint(p))
	}
	switch {
	case straced:
		args := []string{"-c", "-f", "-o", filepath.Join(dir, label+".strace")}
		for _, p := range pids {
			args = append(args, "-p", p)
		}
		st = exec.Command("strace", args...)
	case perfStat:
		st = exec.Command("perf", "stat", "--per-thread", "-e", "task-clock,context-switches,cpu-migrations,page-faults",
			"-o", filepath.Join(dir, label+".perf"), "-p", strings.Join(pids, ","))
	case perfRecord:
		st = exec.Command("perf", "record", "-g", "-F", "4999", "-q",
			"-o", filepath.Join(dir, label+".perf.data"), "-p", strings.Join(pids, ","))
	}
	if st != nil {
		must(st.Start())
	}
	var wg sync.WaitGroup
	if st == nil && strings.HasPrefix(label, "portcullis") {
		wg.Go(func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", adminAddr, int(d.Seconds()))
			out, err := exec.Command("curl", "-sf", "-o", filepath.Join(dir, label+".pprof"), url).CombinedOutput()
			if err != nil {
				log.Printf("pprof: %v %s", err, out)
			}
		})
	}
	return func(conns int64) {
		if st != nil {
			_ = st.Process.Signal(os.Interrupt)
			_ = st.Wait()
		}
		wg.Wait()
		must(os.WriteFile(filepath.Join(dir, label+".conns"), []byte(fmt.Sprintln(conns)), 0o644))
	}
}

// bulk: 4 streams to hostA writing 64 KiB chunks until ctx ends; n counts bytes written.
func bulk(ctx context.Context, pki string, n *atomic.Int64) {
	var wg sync.WaitGroup
	chunk := make([]byte, 64<<10)
	for range 4 {
		wg.Go(func() {
			c, err := dialTLS(hostA, rootsFor(pki, hostA))
			if err != nil {
				log.Printf("bulk dial: %v", err)
				return
			}
			defer c.Close()
			for ctx.Err() == nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				w, err := c.Write(chunk)
				n.Add(int64(w))
				if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// connects: 16 workers each looping new connection + full handshake + one line; with
// rate > 0 each connection waits for a ticket issued at that rate (missed tickets are
// dropped, not queued).
func connects(ctx context.Context, pki string, n *atomic.Int64, rate float64) {
	var wg sync.WaitGroup
	var tickets chan struct{}
	if rate > 0 {
		tickets = make(chan struct{})
		wg.Go(func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					select {
					case tickets <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	for w := range 16 {
		host := hostA
		if w%2 == 1 {
			host = hostB
		}
		wg.Go(func() {
			pool := rootsFor(pki, host)
			for ctx.Err() == nil {
				if tickets != nil {
					select {
					case <-ctx.Done():
						return
					case <-tickets:
					}
				}
				c, err := dialTLS(host, pool)
				if err != nil {
					continue
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, "hi\n"); err == nil {
					if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
						n.Add(1)
					}
				}
				c.Close()
			}
		})
	}
	wg.Wait()
}

// nginxStreamModule is where Debian's libnginx-mod-stream puts the module the nginx target
// loads (nginxConfig).
const nginxStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// installPeers apt-get installs what the named peer targets need and is missing, as
// benchrun does for its peers: haproxy, and nginx with its stream module (a separate
// Debian package, which a plain `apt-get install nginx` leaves out).
func installPeers(names []string) error {
	var pkgs []string
	for _, n := range names {
		switch n {
		case "haproxy":
			if _, err := exec.LookPath("haproxy"); err != nil {
				pkgs = append(pkgs, "haproxy")
			}
		case "nginx":
			if _, err := exec.LookPath("nginx"); err != nil {
				pkgs = append(pkgs, "nginx")
			}
			if _, err := os.Stat(nginxStreamModule); err != nil {
				pkgs = append(pkgs, "libnginx-mod-stream")
			}
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("peers need %s (apt-get install -y %s, as root), or leave them out with -targets", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	log.Printf("installing %s", strings.Join(pkgs, ", "))
	cmd := exec.Command("apt-get", append([]string{"install", "-y", "-q"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get install %s: %w", strings.Join(pkgs, " "), err)
	}
	return nil
}
