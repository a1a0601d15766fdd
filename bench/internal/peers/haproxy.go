package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/pki"
)

// HAProxy writes haproxy.cfg and a crt-list for l (one thread) and returns how to run it
// in the foreground. Per-SNI certificates and client CAs come from the crt-list
// (strict-sni rejects unknown names); HAProxy routes by Host alone, so the config adds the
// SNI/Host check (421) that its obvious per-SNI setup lacks.
func HAProxy(l Layout, haproxyBin string) (*Peer, error) {
	var list strings.Builder
	for _, h := range l.Hosts {
		p := pki.PathsFor(l.PKI, h)
		cert, err := os.ReadFile(p.ServerCert)
		if err != nil {
			return nil, err
		}
		key, err := os.ReadFile(p.ServerKey)
		if err != nil {
			return nil, err
		}
		pem := filepath.Join(l.Dir, "certs", label(h)+".pem")
		if err := writeFile(pem, string(cert)+string(key)); err != nil {
			return nil, err
		}
		fmt.Fprintf(&list, "%s [verify required ca-file %s alpn h2,http/1.1] %s\n", pem, p.Chain, h)
	}
	crtList := filepath.Join(l.Dir, "crt-list.txt")
	if err := writeFile(crtList, list.String()); err != nil {
		return nil, err
	}
	names, order := upstreams(l)
	var b strings.Builder
	fmt.Fprintf(&b, `global
  nbthread 1
  maxconn 9000
  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
  tune.ssl.cachesize 0
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 30s
  timeout http-keep-alive 300s
  option http-keep-alive
  http-reuse always
frontend tls
  bind %s ssl crt-list %s strict-sni alpn h2,http/1.1
  http-request set-var(txn.host) req.hdr(host),field(1,:),lower
  http-request set-var(txn.sni) ssl_fc_sni,lower
  http-request return status 421 if !{ var(txn.host),strcmp(txn.sni) eq 0 }
  option forwardfor
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %%[req.hdr(host)]
  http-request set-header X-Forwarded-Client-Cert "Hash=%%[ssl_c_der,sha2(256),hex,lower];Subject=\"%%[ssl_c_s_dn(,0,rfc2253)]\""
`, l.Listen, crtList)
	// Host -> backend through a map (a tree lookup), so thousands of hosts cost what two do.
	var hostMap strings.Builder
	for _, h := range l.Hosts {
		fmt.Fprintf(&hostMap, "%s %s\n", h, names[l.Upstream[h]])
	}
	mapFile := filepath.Join(l.Dir, "hosts.map")
	if err := writeFile(mapFile, hostMap.String()); err != nil {
		return nil, err
	}
	if l.GRPC != nil {
		fmt.Fprintf(&b, "  use_backend grpc0 if { path %s }\n", l.GRPC.Path)
	}
	fmt.Fprintf(&b, "  use_backend %%[var(txn.host),map(%s,not_found)] if { path / }\n", mapFile)
	b.WriteString("  default_backend not_found\nbackend not_found\n  http-request return status 404\n")
	ssl := ""
	if t := l.UpstreamTLS; t != nil {
		// Session reuse is HAProxy's default; verifyhost checks the name as the others do.
		ssl = fmt.Sprintf(" ssl verify required ca-file %s sni str(%s) verifyhost %s", t.CA, t.SNI, t.SNI)
	}
	for _, addr := range order {
		fmt.Fprintf(&b, "backend %s\n  server s %s pool-max-conn %d%s\n", names[addr], addr, l.Pool, ssl)
	}
	if g := l.GRPC; g != nil {
		fmt.Fprintf(&b, "backend grpc0\n  server s %s proto h2 pool-max-conn %d\n", g.Addr, l.Pool)
	}
	conf := filepath.Join(l.Dir, "haproxy.cfg")
	if err := writeFile(conf, b.String()); err != nil {
		return nil, err
	}
	return &Peer{Name: "haproxy", Argv: []string{haproxyBin, "-db", "-f", conf}, Dir: l.Dir}, nil
}
