package backend

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/pki"
)

// The walkthrough's bodies.
const (
	FrontendHost  = "frontend.foocorp.com"
	InventoryHost = "inventory.foocorp.com"
	FrontendBody  = "🏗 Welcome to FooCorp - Public Site\n"
	InventoryBody = "🛠 FooCorp - Inventory [INTERNAL]\n"
)

// Body is what the backend answers for host (port stripped, lower case).
func Body(host string) string {
	switch host {
	case FrontendHost:
		return FrontendBody
	case InventoryHost:
		return InventoryBody
	}
	return "ok " + host + "\n"
}

// Handler answers every request with Body(Host); the walkthrough's two bodies are
// preformatted so the common case allocates nothing of ours.
func Handler() http.Handler {
	pre := map[string][]byte{FrontendHost: []byte(FrontendBody), InventoryHost: []byte(InventoryBody)}
	lens := map[string]string{FrontendHost: strconv.Itoa(len(FrontendBody)), InventoryHost: strconv.Itoa(len(InventoryBody))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		h := w.Header()
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		if b, ok := pre[host]; ok {
			h["Content-Length"] = []string{lens[host]}
			w.Write(b)
			return
		}
		b := Body(host)
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.Write([]byte(b))
	})
}

// Direct wraps next with the policy of the walkthrough's gateway: a request whose Host is
// not the name its handshake selected gets 421 Misdirected Request, and only the exact
// path "/" is routed (404 otherwise).
func Direct(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !strings.EqualFold(hostOnly(r.Host), r.TLS.ServerName) {
			http.Error(w, "misdirected request", http.StatusMisdirectedRequest)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// DirectTLS is a server config with one mutual-TLS config per host (its server
// certificate and its own client CA), chosen by SNI; unknown SNI fails the handshake.
// Session tickets are off so every connection proves its client certificate.
func DirectTLS(pkiDir string, hosts []string) (*tls.Config, error) {
	per := make(map[string]*tls.Config, len(hosts))
	for _, h := range hosts {
		p := pki.PathsFor(pkiDir, h)
		cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", h, err)
		}
		ca, err := os.ReadFile(p.Chain)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("host %s: %s: no certificates", h, p.Chain)
		}
		per[h] = &tls.Config{
			Certificates:           []tls.Certificate{cert},
			ClientAuth:             tls.RequireAndVerifyClientCert,
			ClientCAs:              pool,
			MinVersion:             tls.VersionTLS12,
			NextProtos:             []string{"h2", "http/1.1"},
			SessionTicketsDisabled: true,
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if c, ok := per[strings.ToLower(hello.ServerName)]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("unknown server name %q", hello.ServerName)
		},
	}, nil
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(h)
}
