package feature

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// result of one request.
type result struct {
	code    int
	body    string
	serial  string // the server certificate's serial (hex) on this connection
	resumed bool   // the TLS session was resumed
}

// tlsConfig trusts host's CA chain and presents the client certificate of clientHost
// from the PKI in clientPKI ("" clientHost: no client certificate).
func (e *env) tlsConfig(host, clientPKI, clientHost string) *tls.Config {
	e.t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read(e.t, certs.PathsFor(e.pki, host).Chain)) {
		e.t.Fatal("bad CA chain")
	}
	c := &tls.Config{ServerName: host, RootCAs: roots}
	if clientHost != "" {
		p := certs.PathsFor(clientPKI, clientHost)
		cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
		if err != nil {
			e.t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// client is an HTTPS client for one host that always dials the gateway's port 443.
type client struct {
	e     *env
	host  string
	hc    *http.Client
	tr    *http.Transport
	dials atomic.Int64
}

// newClient makes a client of host presenting clientHost's certificate from e.pki.
// keepAlive false opens a new connection (full handshake) per request.
func (e *env) newClient(host, clientHost string, keepAlive bool) *client {
	return e.newClientTLS(host, e.tlsConfig(host, e.pki, clientHost), keepAlive)
}

func (e *env) newClientTLS(host string, cfg *tls.Config, keepAlive bool) *client {
	c := &client{e: e, host: host}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c.tr = &http.Transport{
		TLSClientConfig:   cfg,
		DisableKeepAlives: !keepAlive,
		MaxConnsPerHost:   1,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c.dials.Add(1)
			return d.DialContext(ctx, network, e.addr(443))
		},
	}
	c.hc = &http.Client{Transport: c.tr, Timeout: 10 * time.Second}
	e.t.Cleanup(c.tr.CloseIdleConnections)
	return c
}

// get requests https://HOST/path.
func (c *client) get(path string) (result, error) {
	resp, err := c.hc.Get("https://" + c.host + path)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := result{code: resp.StatusCode, body: string(b)}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.serial = resp.TLS.PeerCertificates[0].SerialNumber.Text(16)
	}
	if resp.TLS != nil {
		r.resumed = resp.TLS.DidResume
	}
	return r, err
}

// ok requests path and wants 200 from backend.
func (c *client) ok(path, backend string) (result, error) {
	r, err := c.get(path)
	if err != nil {
		return r, err
	}
	if want := backend + " " + path; r.code != http.StatusOK || r.body != want {
		return r, fmt.Errorf("GET %s%s: %d %q, want 200 %q", c.host, path, r.code, r.body, want)
	}
	return r, nil
}

// mustOK is ok that fails the test.
func (c *client) mustOK(t testing.TB, path, backend string) result {
	t.Helper()
	r, err := c.ok(path, backend)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// get makes one request on a new connection with host's own client certificate (from
// the PKI e.clientPKI names, e.pki by default).
func (e *env) get(host, path string) (result, error) {
	pki := e.pki
	if p, ok := e.clientPKI[host]; ok {
		pki = p
	}
	c := e.newClientTLS(host, e.tlsConfig(host, pki, host), false)
	defer c.tr.CloseIdleConnections()
	return c.get(path)
}

// servesSerial polls until a new connection to host is served the certificate serial,
// and returns how long it took.
func (e *env) servesSerial(host, serial string) time.Duration {
	e.t.Helper()
	return eventually(e.t, within, host+" serves serial "+serial, func() error {
		r, err := e.get(host, "/")
		if err != nil {
			return err
		}
		if r.serial != serial {
			return fmt.Errorf("serial %s", r.serial)
		}
		return nil
	})
}

// handshakeFails polls until a new connection to host fails.
func (e *env) handshakeFails(host string) time.Duration {
	e.t.Helper()
	return eventually(e.t, within, host+" handshake fails", func() error {
		if r, err := e.get(host, "/"); err == nil {
			return fmt.Errorf("still served: %d, serial %s", r.code, r.serial)
		}
		return nil
	})
}
