package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"strings"
)

// Container logs, the kubelet's `containerLogs` endpoint (what `kubectl logs` and the
// API's pods/log reach through the API server). Each container's output still goes to
// STATE_DIR/pods/<ns>_<pod>_<container>.log as it is written; the agent also keeps the
// lines of the current and the previous run with the time each line was read, so
// sinceTime, sinceSeconds, tailLines, limitBytes, timestamps and previous are answered as
// the kubelet answers them. follow is refused (no streaming). At most maxLogLines lines per
// run are kept (older ones dropped), enough for the test pods. The server listens on the
// node's address (the bridge), port kubeletPort, over TLS with a self-signed certificate
// (the API server does not verify the kubelet's unless told to), without client
// authentication: a test node. (virtual-kubelet's node/api package has this handler but
// pulls k8s.io/apiserver and opencensus into the agent for it; the endpoint is one route.)

const (
	kubeletPort = 10250
	maxLogLines = 20000
)

// logOpts are the kubelet's containerLogs query options.
type logOpts struct {
	tail, limitBytes, sinceSeconds int
	timestamps, follow, previous   bool
	sinceTime                      time.Time
}

func parseLogOpts(q url.Values) (logOpts, error) {
	var o logOpts
	var err error
	num := func(name string, dst *int) {
		if v := q.Get(name); v != "" && err == nil {
			if *dst, err = strconv.Atoi(v); err == nil && *dst < 0 {
				err = fmt.Errorf("%s: negative", name)
			}
		}
	}
	flag := func(name string, dst *bool) {
		if v := q.Get(name); v != "" && err == nil {
			*dst, err = strconv.ParseBool(v)
		}
	}
	num("tailLines", &o.tail)
	num("limitBytes", &o.limitBytes)
	num("sinceSeconds", &o.sinceSeconds)
	flag("timestamps", &o.timestamps)
	flag("follow", &o.follow)
	flag("previous", &o.previous)
	if v := q.Get("sinceTime"); v != "" && err == nil {
		o.sinceTime, err = time.Parse(time.RFC3339, v)
	}
	return o, err
}

type logLine struct {
	t    time.Time
	text []byte // with its newline
}

// ctrLog captures one container's output: it appends to the log file and keeps lines.
type ctrLog struct {
	mu      sync.Mutex
	file    io.Writer
	cur     []logLine // this run
	prev    []logLine // the run before
	partial []byte
}

// restart starts a new run: the current lines become the previous run's.
func (l *ctrLog) restart() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushPartial()
	l.prev, l.cur = l.cur, nil
}

func (l *ctrLog) flushPartial() {
	if len(l.partial) > 0 {
		l.cur = append(l.cur, logLine{time.Now(), append(l.partial, '\n')})
		l.partial = nil
	}
}

// Write is the container's stdout and stderr.
func (l *ctrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		if _, err := l.file.Write(p); err != nil {
			log.Printf("container log: %v", err)
		}
	}
	now := time.Now()
	rest := p
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			l.partial = append(l.partial, rest...)
			break
		}
		line := append(append([]byte{}, l.partial...), rest[:i+1]...)
		l.partial = nil
		l.cur = append(l.cur, logLine{now, line})
		rest = rest[i+1:]
	}
	if n := len(l.cur); n > maxLogLines {
		l.cur = append([]logLine(nil), l.cur[n-maxLogLines:]...)
	}
	return len(p), nil
}

// render selects and formats lines as the kubelet does for the options.
func (l *ctrLog) render(opts logOpts, now time.Time) ([]byte, error) {
	if opts.follow {
		return nil, fmt.Errorf("follow is not supported by this node")
	}
	l.mu.Lock()
	lines := l.cur
	if opts.previous {
		lines = l.prev
	} else if len(l.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], logLine{now, append([]byte{}, l.partial...)})
	}
	lines = append([]logLine(nil), lines...)
	l.mu.Unlock()
	since := opts.sinceTime
	if opts.sinceSeconds > 0 {
		since = now.Add(-time.Duration(opts.sinceSeconds) * time.Second)
	}
	if !since.IsZero() {
		i := 0
		for i < len(lines) && lines[i].t.Before(since) {
			i++
		}
		lines = lines[i:]
	}
	if opts.tail > 0 && len(lines) > opts.tail {
		lines = lines[len(lines)-opts.tail:]
	}
	var out bytes.Buffer
	for _, ln := range lines {
		if opts.timestamps {
			out.WriteString(ln.t.UTC().Format(time.RFC3339Nano) + " ")
		}
		out.Write(ln.text)
	}
	b := out.Bytes()
	if opts.limitBytes > 0 && len(b) > opts.limitBytes {
		b = b[:opts.limitBytes]
	}
	return b, nil
}

// containerLogs serves GET /containerLogs/<namespace>/<pod>/<container>.
func (p *provider) containerLogs(w http.ResponseWriter, req *http.Request) {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/containerLogs/"), "/")
	if req.Method != http.MethodGet || len(parts) != 3 {
		http.NotFound(w, req)
		return
	}
	opts, err := parseLogOpts(req.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	var c *ctrRun
	if r, ok := p.pods[key(parts[0], parts[1])]; ok {
		for _, cr := range r.ctrs {
			if cr.spec.Name == parts[2] {
				c = cr
			}
		}
	}
	p.mu.Unlock()
	if c == nil {
		http.Error(w, fmt.Sprintf("container %s of pod %s/%s not found", parts[2], parts[0], parts[1]), http.StatusNotFound)
		return
	}
	b, err := c.log.render(opts, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(b)
}

// serveKubeletAPI listens on the node's address for the API server's log requests.
func (p *provider) serveKubeletAPI() (*http.Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: p.cfg.nodeName},
		DNSNames: []string{p.cfg.nodeName, host}, IPAddresses: []net.IP{p.gateway.AsSlice()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(p.gateway.String(), strconv.Itoa(kubeletPort)))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", p.containerLogs)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			log.Printf("kubelet API: %v", err)
		}
	}()
	return srv, nil
}
