package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/pki"
)

// upstream is the backends benchmark's upstream: TLS, gRPC and the counts endpoint.
type upstream struct {
	tlsAddr, pki, host   string
	connRequests         int
	grpcAddr, countsAddr string
}

func (u upstream) run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st := &backend.Stats{}
	errc := make(chan error, 3)
	if u.tlsAddr != "" {
		p := pki.PathsFor(u.pki, u.host)
		cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
		if err != nil {
			return fmt.Errorf("upstream certificate: %w", err)
		}
		ln, err := net.Listen("tcp", u.tlsAddr)
		if err != nil {
			return err
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
		go func() { errc <- backend.ServeTLSRaw(ctx, ln, cfg, u.connRequests, st) }()
	}
	if u.grpcAddr != "" {
		ln, err := net.Listen("tcp", u.grpcAddr)
		if err != nil {
			return err
		}
		go func() { errc <- backend.ServeGRPC(ctx, ln, st) }()
	}
	if u.countsAddr != "" {
		ln, err := net.Listen("tcp", u.countsAddr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: st.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		defer srv.Close()
	}
	fmt.Println("ready")
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
