// Command backend is the benchmark upstream: it answers the walkthrough's bodies per Host
// on plain HTTP listeners, or with -tls-pki on per-SNI mutual TLS (the direct floor).
// With -upstream-tls it also answers them over TLS with its own certificate (closing a
// connection after -conn-requests requests), with -grpc it serves the gRPC health service
// over h2c, and -counts serves the handshake, request and call counts as JSON.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "comma-separated listen addresses (127.0.0.1 only)")
	pkiDir := flag.String("tls-pki", "", "serve mutual TLS from this walkthrough PKI directory (direct mode)")
	hosts := flag.String("hosts", backend.FrontendHost+","+backend.InventoryHost, "hosts served in direct mode")
	var up upstream
	flag.StringVar(&up.tlsAddr, "upstream-tls", "", "also serve the bodies over TLS here (the upstream-TLS benchmark)")
	flag.StringVar(&up.pki, "upstream-pki", "", "-upstream-tls: PKI directory holding -upstream-host's server certificate")
	flag.StringVar(&up.host, "upstream-host", "", "-upstream-tls: the name of the upstream's certificate")
	flag.IntVar(&up.connRequests, "conn-requests", 0, "-upstream-tls: close a connection after this many requests (0 = never)")
	flag.StringVar(&up.grpcAddr, "grpc", "", "serve the gRPC health service over h2c here")
	flag.StringVar(&up.countsAddr, "counts", "", "serve GET /counts (JSON; ?reset=1 zeroes) here")
	flag.Parse()
	if up.tlsAddr != "" || up.grpcAddr != "" {
		if err := up.run(); err != nil {
			fmt.Fprintln(os.Stderr, "backend:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(strings.Split(*listen, ","), *pkiDir, strings.Split(*hosts, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

func run(addrs []string, pkiDir string, hosts []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := backend.Handler()
	var tlsCfg *tls.Config
	if pkiDir != "" {
		var err error
		if tlsCfg, err = backend.DirectTLS(pkiDir, hosts); err != nil {
			return err
		}
		h = backend.Direct(h)
	}
	errc := make(chan error, len(addrs))
	var servers []*http.Server
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		if tlsCfg == nil {
			// Plain upstream: the lean HTTP/1.1 responder, so the fixture stays cheap.
			go func() { errc <- backend.ServeRaw(ctx, ln) }()
			continue
		}
		srv := &http.Server{Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
		servers = append(servers, srv)
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	}
	fmt.Println("ready")
	select {
	case <-ctx.Done():
	case err := <-errc:
		if ctx.Err() == nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	return nil
}
