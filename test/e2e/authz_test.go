package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/authz/authztest"
	"github.com/portcullis/portcullis/internal/certs"
)

// authzVirtualServices routes every path of both walkthrough hosts (the walkthrough only
// routes "/"), so the policies, not the routes, decide.
const authzVirtualServices = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend}
spec:
  hosts: [frontend.foocorp.com]
  gateways: [foocorp-gateway]
  http:
  - route: [{destination: {host: frontend.ux.svc.cluster.local, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inventory}
spec:
  hosts: [inventory.foocorp.com]
  gateways: [foocorp-gateway]
  http:
  - route: [{destination: {host: inventory.corp-services.svc.cluster.local, port: {number: 80}}}]
`

// authzPolicies: a RequestAuthentication with a remote JWKS, one DENY and one ALLOW policy
// in the root namespace, each rule exercising one source/operation/condition type.
func authzPolicies(jwksURI string) string {
	return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: idp, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://issuer.test
    audiences: [foocorp]
    jwksUri: ` + jwksURI + `
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: [/admin, /admin/*]}}]
  - from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]
  - when: [{key: "request.headers[x-block]", values: ["yes"]}]
  - when: [{key: "request.auth.claims[groups]", values: [banned]}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - from: [{source: {ipBlocks: [127.0.0.0/8]}}]
    to: [{operation: {notPaths: [/api/*, /ten/*, /spiffe/*]}}]
  - from: [{source: {requestPrincipals: [https://issuer.test/*]}}]
    to: [{operation: {paths: [/api/*], methods: [GET]}}]
  - from: [{source: {ipBlocks: [10.0.0.0/8]}}]
    to: [{operation: {paths: [/ten/*]}}]
  - from: [{source: {principals: [cluster.local/ns/foo/sa/bar]}}]
    to: [{operation: {paths: [/spiffe/*]}}]
`
}

type authzEnv struct {
	*walkthroughEnv
	iss *authztest.Issuer
}

// do sends one request to host with the client TLS config cfg and returns status and body.
func (e *authzEnv) do(t *testing.T, cfg *tls.Config, method, path string, hdr map[string]string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	u := "https://" + cfg.ServerName + ":" + strconv.Itoa(e.port) + path
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Send the path exactly as written: no client-side cleaning of dot segments or escapes.
	rawPath, _, _ := strings.Cut(path, "?") // the query stays in req.URL.RawQuery
	req.URL.Opaque = "//" + cfg.ServerName + ":" + strconv.Itoa(e.port) + rawPath
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(e.port))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestAuthz(t *testing.T) {
	iss := authztest.New(t)
	iss.AddKey(t, "k1", jose.RS256)
	w := setupWalkthrough(t, "--jwks-ca-file", iss.CAFile, "--jwks-refresh-interval", "200ms", "--num-trusted-proxies", "1")
	e := &authzEnv{walkthroughEnv: w, iss: iss}
	const fe = "frontend.foocorp.com"
	feTLS := w.clientTLS(t, fe)

	writeConfig(t, w.config, "virtualservices.yaml", authzVirtualServices)
	writeConfig(t, w.config, "security.yaml", authzPolicies(iss.URL()))
	// The policies apply without a restart; the JWKS arrives shortly after.
	tok := iss.Token(t, "k1", map[string]any{"aud": "foocorp"})
	eventually(t, 15*time.Second, "policies and JWKS applied", func() error {
		if st, _ := e.do(t, feTLS, "GET", "/admin", nil); st != 403 {
			return fmt.Errorf("/admin: %d", st)
		}
		if st, body := e.do(t, feTLS, "GET", "/api/x", map[string]string{"Authorization": "Bearer " + tok}); st != 200 {
			return fmt.Errorf("/api/x with token: %d %s", st, body)
		}
		return nil
	})

	type c struct {
		name, method, path string
		hdr                map[string]string
		status             int
		body               string
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	forged := authztest.New(t)
	forged.AddKey(t, "k1", jose.RS256)
	cases := []c{
		{"allowed by ipBlocks", "GET", "/hello", nil, 200, frontendBody},
		{"DENY paths", "GET", "/admin", nil, 403, "RBAC: access denied"},
		{"DENY paths prefix", "GET", "/admin/users", nil, 403, "RBAC: access denied"},
		{"bypass: dot segment", "GET", "/public/../admin", nil, 403, ""},
		{"bypass: encoded dot segment", "GET", "/public/%2e%2e/admin", nil, 403, ""},
		{"bypass: double slash", "GET", "//admin", nil, 403, ""},
		{"bypass: encoded slash", "GET", "/public%2F..%2Fadmin", nil, 403, ""},
		{"bypass: encoded letter", "GET", "/%61dmin", nil, 403, ""},
		{"bypass: dot", "GET", "/./admin/", nil, 403, ""},
		{"not a bypass: /administrator", "GET", "/administrator", nil, 200, frontendBody},
		{"remoteIpBlocks via X-Forwarded-For", "GET", "/hello", map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}, 403, ""},
		{"remoteIpBlocks other address", "GET", "/hello", map[string]string{"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}, 200, frontendBody},
		{"when request.headers", "GET", "/hello", map[string]string{"X-Block": "yes"}, 403, ""},
		{"ipBlocks that do not match", "GET", "/ten/x", nil, 403, ""},
		{"requestPrincipals: no token", "GET", "/api/x", nil, 403, ""},
		{"requestPrincipals: valid token", "GET", "/api/x", bearer(tok), 200, frontendBody},
		{"requestPrincipals: token in access_token", "GET", "/api/x?access_token=" + tok, nil, 200, frontendBody},
		{"methods", "POST", "/api/x", bearer(tok), 403, ""},
		{"token signed by another key", "GET", "/hello", bearer(forged.Token(t, "k1", map[string]any{"aud": "foocorp"})), 401, "Jwt verification fails"},
		{"expired token", "GET", "/api/x", bearer(iss.Token(t, "k1", map[string]any{"aud": "foocorp", "exp": time.Now().Add(-time.Hour).Unix()})), 401, "Jwt is expired"},
		{"wrong audience", "GET", "/api/x", bearer(iss.Token(t, "k1", map[string]any{"aud": "other"})), 401, "Audiences in Jwt are not allowed"},
		{"claims condition", "GET", "/api/x", bearer(iss.Token(t, "k1", map[string]any{"aud": "foocorp", "groups": []string{"staff", "banned"}})), 403, ""},
		{"principals: walkthrough cert has no SPIFFE identity", "GET", "/spiffe/x", nil, 403, ""},
	}
	for _, tc := range cases {
		st, body := e.do(t, feTLS, tc.method, tc.path, tc.hdr)
		if st != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("%s: %s %s: got %d %q, want %d %q", tc.name, tc.method, tc.path, st, body, tc.status, tc.body)
		}
	}

	t.Run("principals: SPIFFE client certificate", func(t *testing.T) {
		cfg := feTLS.Clone()
		cfg.Certificates = []tls.Certificate{spiffeClientCert(t, w.pki, fe, "spiffe://cluster.local/ns/foo/sa/bar")}
		if st, body := e.do(t, cfg, "GET", "/spiffe/x", nil); st != 200 {
			t.Errorf("SPIFFE principal: %d %s", st, body)
		}
		cfg.Certificates = []tls.Certificate{spiffeClientCert(t, w.pki, fe, "spiffe://cluster.local/ns/foo/sa/other")}
		if st, _ := e.do(t, cfg, "GET", "/spiffe/x", nil); st != 403 {
			t.Errorf("other SPIFFE principal: %d", st)
		}
	})

	t.Run("config_dump and metrics", func(t *testing.T) {
		_, dump := httpGet(t, "http://"+w.gw.admin+"/config_dump")
		for _, s := range []string{`"authorizationPolicies"`, `"istio-system/deny"`, `"jwksUri"`} {
			if !strings.Contains(dump, s) {
				t.Errorf("config_dump lacks %s", s)
			}
		}
		_, m := httpGet(t, "http://"+w.gw.admin+"/metrics")
		for _, s := range []string{
			`portcullis_authz_decisions_total{action="DENY",decision="deny",policy="istio-system/deny"}`,
			`portcullis_authz_decisions_total{action="ALLOW",decision="allow",policy="istio-system/allow"}`,
			`portcullis_authz_decisions_total{action="ALLOW",decision="deny",policy=""}`,
			`portcullis_jwt_checks_total{provider="istio-system/idp/jwtRules[0]",result="verified"}`,
			`portcullis_jwks_fetches_total{result="ok",uri="` + iss.URL() + `"}`,
		} {
			if !strings.Contains(m, s) {
				t.Errorf("metrics lack %s", s)
			}
		}
	})

	t.Run("rotated JWKS key is picked up", func(t *testing.T) {
		iss.AddKey(t, "k2", jose.ES256)
		iss.RemoveKey(t, "k1")
		tok2 := iss.Token(t, "k2", map[string]any{"aud": "foocorp"})
		eventually(t, 10*time.Second, "new key accepted", func() error {
			if st, body := e.do(t, feTLS, "GET", "/api/x", bearer(tok2)); st != 200 {
				return fmt.Errorf("%d %s", st, body)
			}
			return nil
		})
	})

	t.Run("JWKS endpoint down keeps cached keys", func(t *testing.T) {
		before := iss.Fetches.Load()
		iss.Down.Store(true)
		eventually(t, 10*time.Second, "failed fetches", func() error {
			if iss.Fetches.Load() < before+2 {
				return fmt.Errorf("no fetch attempt yet")
			}
			return nil
		})
		fresh := iss.Token(t, "k2", map[string]any{"aud": "foocorp", "sub": "bob"}) // not in the token cache
		if st, body := e.do(t, feTLS, "GET", "/api/x", bearer(fresh)); st != 200 {
			t.Errorf("cached key lost: %d %s", st, body)
		}
		forged.AddKey(t, "k2", jose.ES256)
		if st, _ := e.do(t, feTLS, "GET", "/api/x", bearer(forged.Token(t, "k2", map[string]any{"aud": "foocorp"}))); st != 401 {
			t.Errorf("unverifiable token while JWKS is down: %d", st)
		}
		if !strings.Contains(w.gw.logs.String(), "jwks fetch failed") {
			t.Errorf("fetch failure not logged")
		}
	})

	t.Run("validate rejects what cannot be enforced", func(t *testing.T) {
		writeConfig(t, w.config, "bad.yaml", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: istio-system}
spec:
  action: DENY
  rules:
  - when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}]
`)
		out, err := run(t, "validate", "--config", w.config)
		if exitCode(err) != 1 || !strings.Contains(out, "spec.rules[0].when[0].key") {
			t.Fatalf("validate: exit %d\n%s", exitCode(err), out)
		}
		// The running gateway fails closed: that DENY rule matches everything.
		eventually(t, 10*time.Second, "fail closed", func() error {
			if st, _ := e.do(t, feTLS, "GET", "/hello", nil); st != 403 {
				return fmt.Errorf("/hello: %d", st)
			}
			return nil
		})
	})
}

func writeConfig(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spiffeClientCert issues a client certificate with a SPIFFE URI SAN from host's
// walkthrough intermediate CA (so the MUTUAL server trusts it).
func spiffeClientCert(t *testing.T, pki, host, id string) tls.Certificate {
	t.Helper()
	p := certs.PathsFor(pki, host)
	inter, err := x509.ParseCertificate(pemBlock(t, p.IntermediateCert))
	if err != nil {
		t.Fatal(err)
	}
	ik, err := x509.ParsePKCS8PrivateKey(pemBlock(t, p.IntermediateKey))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(id)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "workload"},
		URIs:         []*url.URL{u},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, leafKey.Public(), ik.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, inter.Raw}, PrivateKey: leafKey}
}

// pemBlock returns the bytes of the first PEM block of a file.
func pemBlock(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return blk.Bytes
}
