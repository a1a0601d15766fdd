package explain

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Input describes a request as curl would send it.
type Input struct {
	URL     string   // https://HOST[:PORT]/PATH or http://…
	SNI     string   // "" = the URL's host (as curl); ignored for http://
	Method  string   // "" = GET
	Headers []string // "Name: value"; a Host header replaces the URL's authority
	// PortMap is the gateway's --port-map (Gateway port → listen address): a URL port that
	// is a mapped listen port stands for its Gateway port.
	PortMap map[uint32]string
	// CertPEM is the client certificate chain (leaf first); KeyPEM its key, checked
	// against the certificate when given.
	CertPEM, KeyPEM []byte
}

// Query is a request ready for the dataplane to explain.
type Query struct {
	Port    uint32 // Gateway port
	TLS     bool   // the client speaks TLS (https://)
	SNI     string
	Request *http.Request // Method, Host, URL, Header, TLS (peer certificates), RemoteAddr
	// ClientChain is the client certificate chain presented (leaf first), nil for none.
	ClientChain []*x509.Certificate
}

// NewQuery builds the Query for in.
func NewQuery(in Input) (*Query, error) {
	u, err := url.Parse(in.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("url %q: want https:// or http://", in.URL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q: no host", in.URL)
	}
	q := &Query{TLS: u.Scheme == "https"}
	port := uint64(443)
	if !q.TLS {
		port = 80
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.ParseUint(p, 10, 16); err != nil {
			return nil, fmt.Errorf("url %q: bad port", in.URL)
		}
	}
	q.Port = gatewayPort(uint32(port), in.PortMap)
	if q.TLS {
		q.SNI = in.SNI
		if q.SNI == "" && net.ParseIP(u.Hostname()) == nil { // curl sends no SNI for an IP
			q.SNI = u.Hostname()
		}
	}
	method := in.Method
	if method == "" {
		method = http.MethodGet
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	target := path
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	r, err := http.NewRequest(method, "http://placeholder"+target, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	r.URL.Scheme, r.URL.Host = "", ""
	r.RequestURI = target
	r.Host = u.Host // curl sends the port when the URL has one
	r.RemoteAddr = "127.0.0.1:50000"
	for _, h := range in.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("header %q: want 'Name: value'", h)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.EqualFold(k, "host") {
			r.Host = v
			continue
		}
		r.Header.Add(k, v)
	}
	if len(in.CertPEM) > 0 {
		if q.ClientChain, err = clientChain(in.CertPEM, in.KeyPEM); err != nil {
			return nil, err
		}
	}
	if q.TLS {
		r.TLS = &tls.ConnectionState{ServerName: q.SNI, PeerCertificates: q.ClientChain, HandshakeComplete: true}
	}
	q.Request = r
	return q, nil
}

// gatewayPort maps a dialled port back to its Gateway port through the port map.
func gatewayPort(port uint32, pm map[uint32]string) uint32 {
	for gw, addr := range pm {
		if _, p, err := net.SplitHostPort(addr); err == nil && p == strconv.FormatUint(uint64(port), 10) {
			return gw
		}
	}
	return port
}

// clientChain parses a PEM certificate chain and checks key (when given) belongs to it,
// as the TLS handshake's CertificateVerify would.
func clientChain(certPEM, keyPEM []byte) ([]*x509.Certificate, error) {
	if len(keyPEM) > 0 {
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf("client certificate and key: %w", err)
		}
	}
	var chain []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("client certificate: no PEM CERTIFICATE block")
	}
	return chain, nil
}

// CertOf returns the public facts of c.
func CertOf(c *x509.Certificate) *Cert {
	out := &Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16), NotAfter: c.NotAfter}
	out.SANs = append(out.SANs, c.DNSNames...)
	for _, u := range c.URIs {
		out.SANs = append(out.SANs, u.String())
	}
	for _, ip := range c.IPAddresses {
		out.SANs = append(out.SANs, ip.String())
	}
	out.SANs = append(out.SANs, c.EmailAddresses...)
	return out
}
