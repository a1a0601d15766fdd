package policy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/load"
)

// Refused is the outcome of a handshake failure, or of a request the target answered
// with 400/403/495/496 because no acceptable client certificate came (nginx's way under
// TLS 1.3, where the client learns of the rejection only after the handshake).
const Refused = "refused"

// Case is one probe and its outcome.
type Case struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
}

// OK reports whether every case got what it wanted.
func OK(cs []Case) bool {
	for _, c := range cs {
		if c.Got != c.Want {
			return false
		}
	}
	return true
}

// Check probes addr with the walkthrough's two hosts (a and b), whose client certificates
// and CA chains are in pkiDir.
func Check(ctx context.Context, addr, pkiDir, a, b string) ([]Case, error) {
	ta, err := load.ClientTLS(pkiDir, a)
	if err != nil {
		return nil, err
	}
	tb, err := load.ClientTLS(pkiDir, b)
	if err != nil {
		return nil, err
	}
	noCert := ta.Clone()
	noCert.Certificates = nil
	foreign := ta.Clone() // a's SNI and roots, b's client certificate (another CA)
	foreign.Certificates = tb.Certificates
	unknown := ta.Clone()
	unknown.ServerName = "unknown.foocorp.com"
	unknown.InsecureSkipVerify = true
	probes := []struct {
		name string
		cfg  *tls.Config
		host string
		path string
		want string
	}{
		{"own cert, own host", ta, a, "/", "200 " + strings.TrimSpace(backend.Body(a))},
		{"own cert, other host", tb, b, "/", "200 " + strings.TrimSpace(backend.Body(b))},
		{"SNI " + a + ", Host " + b, ta, b, "/", "421"},
		{"no client certificate", noCert, a, "/", Refused},
		{"client certificate of another CA", foreign, a, "/", Refused},
		{"unknown SNI", unknown, "unknown.foocorp.com", "/", Refused},
		{"unrouted path", ta, a, "/nope", "404"},
	}
	var out []Case
	for _, p := range probes {
		out = append(out, Case{Name: p.name, Want: p.want, Got: probe(ctx, addr, p.cfg, p.host, p.path)})
	}
	return out, nil
}

// probe makes one HTTP/1.1 request and describes the outcome: "200 <body>", "<status>",
// Refused, or "error: ...".
func probe(ctx context.Context, addr string, cfg *tls.Config, host, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "error: " + err.Error()
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		return Refused
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		// Under TLS 1.3 a server that rejects the client certificate sends its alert
		// after the client considers the handshake done: it surfaces here.
		return Refused
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return "200 " + strings.TrimSpace(string(body))
	case http.StatusBadRequest, http.StatusForbidden, 495, 496:
		return Refused
	}
	return fmt.Sprint(resp.StatusCode)
}

// CheckGRPC probes the gRPC route of addr for host: the routed unary method answers OK
// and SERVING through the target; another method of the same service (which the backend
// would answer) is not routed: the target's 404 reaches the client as Unimplemented.
func CheckGRPC(ctx context.Context, addr, pkiDir, host string) ([]Case, error) {
	cfg, err := load.ClientTLS(pkiDir, host)
	if err != nil {
		return nil, err
	}
	cc, err := load.GRPCConn(load.Target{Addr: addr, Host: host, TLS: cfg})
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	var out []Case
	for _, p := range []struct{ name, method, want string }{
		{"gRPC " + backend.GRPCMethod, backend.GRPCMethod, "OK SERVING"},
		{"gRPC " + grpcUnrouted + " (unrouted)", grpcUnrouted, "Unimplemented"},
	} {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out = append(out, Case{Name: p.name, Want: p.want, Got: load.GRPCCheck(cctx, cc, p.method)})
		cancel()
	}
	return out, nil
}

// grpcUnrouted is a method the gRPC backend serves but no target routes.
const grpcUnrouted = "/grpc.health.v1.Health/List"
