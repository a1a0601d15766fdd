package security

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
)

const forged = `Hash=0000;Subject="CN=admin";URI=spiffe://cluster.local/ns/x/sa/admin`

// wantXFCC is the X-Forwarded-Client-Cert the gateway must set for host's client
// certificate, computed independently from the certificate (Envoy's SANITIZE_SET format with
// Hash, Subject, URI and DNS).
func (e *env) wantXFCC(host string) string {
	e.t.Helper()
	leaf, err := x509.ParseCertificate(e.clientCert(host).Certificate[0])
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.Raw)
	v := "Hash=" + hex.EncodeToString(sum[:]) + `;Subject="` + leaf.Subject.String() + `"`
	for _, u := range leaf.URIs {
		v += ";URI=" + u.String()
	}
	for _, d := range leaf.DNSNames {
		v += ";DNS=" + d
	}
	return v
}

// xfccOf returns every header the backend received whose name, compared the way CGI, WSGI,
// PHP and many frameworks do (case-insensitive, '_' as '-'), is X-Forwarded-Client-Cert.
func xfccOf(h map[string][]string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Forwarded-Client-Cert") {
			for _, v := range vs {
				out = append(out, k+": "+v)
			}
		}
	}
	return out
}

// TestXFCC: a client-supplied X-Forwarded-Client-Cert never reaches a backend; on MUTUAL
// and OPTIONAL_MUTUAL servers with a verified certificate the backend gets exactly one
// value, derived from that certificate; otherwise none.
func TestXFCC(t *testing.T) {
	e := newEnv(t, nil)
	forms := map[string][]string{
		"none":                          nil,
		"canonical":                     {"X-Forwarded-Client-Cert: " + forged},
		"lower case":                    {"x-forwarded-client-cert: " + forged},
		"upper case":                    {"X-FORWARDED-CLIENT-CERT: " + forged},
		"two headers":                   {"X-Forwarded-Client-Cert: " + forged, "x-forwarded-client-cert: " + forged},
		"comma-joined element":          {"X-Forwarded-Client-Cert: " + forged + "," + forged},
		"obs-fold continuation":         {"X-Forwarded-Client-Cert: Hash=1;\r\n Subject=\"CN=admin\""},
		"hop-by-hop via Connection":     {"Connection: X-Forwarded-Client-Cert", "X-Forwarded-Client-Cert: " + forged},
		"Connection lists it, no value": {"Connection: keep-alive, X-Forwarded-Client-Cert"},
		"underscores":                   {"X_Forwarded_Client_Cert: " + forged},
		"underscores, lower case":       {"x_forwarded_client_cert: " + forged},
		"mixed dash and underscore":     {"X-Forwarded_Client-Cert: " + forged},
	}
	type conn struct {
		sni, cert, backend string
		want               string // "" means no XFCC at all
	}
	conns := map[string]conn{
		"MUTUAL":                  {fe, fe, "frontend", e.wantXFCC(fe)},
		"SIMPLE":                  {pub, "", "public", ""},
		"OPTIONAL_MUTUAL no cert": {opt, "", "partner", ""},
		"OPTIONAL_MUTUAL cert":    {opt, opt, "partner", e.wantXFCC(opt)},
	}
	for cname, c := range conns {
		for fname, hs := range forms {
			t.Run(cname+"/"+fname, func(t *testing.T) {
				path := "/"
				if c.backend == "frontend" {
					path = "/api/x"
				}
				rc := e.open(t, c.sni, c.cert)
				resp, body := rc.do(get(path, c.sni, hs...))
				s := mustEcho(t, resp, body, c.backend)
				checkXFCC(t, s.Header, c.want)
			})
		}
	}
	t.Run("MUTUAL/in chunked trailers", func(t *testing.T) {
		rc := e.open(t, fe, fe)
		resp, body := rc.do("POST /api/x HTTP/1.1\r\nHost: " + fe + "\r\nTrailer: X-Forwarded-Client-Cert\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Forwarded-Client-Cert: " + forged + "\r\n\r\n")
		s := mustEcho(t, resp, body, "frontend")
		checkXFCC(t, s.Header, e.wantXFCC(fe))
		checkXFCC(t, s.Trailer, "")
	})
	t.Run("SIMPLE/in chunked trailers", func(t *testing.T) {
		rc := e.open(t, pub, "")
		resp, body := rc.do("POST / HTTP/1.1\r\nHost: " + pub + "\r\nTrailer: X-Forwarded-Client-Cert\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Forwarded-Client-Cert: " + forged + "\r\n\r\n")
		s := mustEcho(t, resp, body, "public")
		checkXFCC(t, s.Header, "")
		checkXFCC(t, s.Trailer, "")
	})
	h2forms := map[string][]string{
		"once":        {"x-forwarded-client-cert", forged},
		"twice":       {"x-forwarded-client-cert", forged, "x-forwarded-client-cert", "Hash=1"},
		"underscores": {"x_forwarded_client_cert", forged},
	}
	for fname, hs := range h2forms {
		t.Run("HTTP/2 MUTUAL/"+fname, func(t *testing.T) {
			h := e.openH2(t, fe, fe)
			r := h.get(h2get(fe, "/api/x", hs...)...)
			s := mustEcho(t, r.asHTTP(), r.body, "frontend")
			checkXFCC(t, s.Header, e.wantXFCC(fe))
		})
		t.Run("HTTP/2 SIMPLE/"+fname, func(t *testing.T) {
			h := e.openH2(t, pub, "")
			r := h.get(h2get(pub, "/", hs...)...)
			s := mustEcho(t, r.asHTTP(), r.body, "public")
			checkXFCC(t, s.Header, "")
		})
	}
	t.Run("HTTP/2 MUTUAL/in trailers", func(t *testing.T) {
		h := e.openH2(t, fe, fe)
		r := h.request([]string{":method", "POST", ":scheme", "https", ":authority", fe, ":path", "/api/x",
			"trailer", "x-forwarded-client-cert"}, "hi", []string{"x-forwarded-client-cert", forged})
		s := mustEcho(t, r.asHTTP(), r.body, "frontend")
		checkXFCC(t, s.Header, e.wantXFCC(fe))
		checkXFCC(t, s.Trailer, "")
	})
}

// checkXFCC wants exactly want as the only XFCC-like header in h ("" means none).
func checkXFCC(t *testing.T, h map[string][]string, want string) {
	t.Helper()
	got := xfccOf(h)
	switch {
	case want == "" && len(got) > 0:
		t.Fatalf("backend received %q, want no X-Forwarded-Client-Cert", got)
	case want != "" && (len(got) != 1 || got[0] != "X-Forwarded-Client-Cert: "+want):
		t.Fatalf("backend received %q, want exactly %q", got, want)
	}
}
