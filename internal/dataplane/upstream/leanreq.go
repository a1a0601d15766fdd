package upstream

import (
	"bufio"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// The lean forward path writes the upstream request head straight from the inbound
// request, without httputil.ReverseProxy's request clone and header copies. The bytes it
// writes are the ones ReverseProxy (Rewrite mode, with rewrite above) followed by
// Request.Write would: the same request line and Host, User-Agent only if the client sent
// one, hop-by-hop headers and those the Connection header names removed, "Te: trailers"
// kept, client-supplied Forwarded, X-Forwarded-* and X-Forwarded-Client-Cert (and their
// underscore lookalikes) dropped and set afresh, the route's header operations applied in
// Istio's order, the rest sorted by name. Requests this path does not cover exactly are
// left to ReverseProxy (leanRequest reports which).

// leanRequest reports whether r, forwarded to t, takes the lean path: a GET or HEAD
// without a body, upgrade, expectation or trailer, with a clean query, a plain ASCII
// Host, valid header fields and header operations that touch no header this path
// writes itself.
func leanRequest(r *http.Request, t *Target) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	// ContentLength 0 without Transfer-Encoding: no body (ReverseProxy's rule; an HTTP/2
	// request's Body is never nil, even when its stream ended with the headers).
	if r.ContentLength != 0 || len(r.TransferEncoding) != 0 ||
		len(r.Trailer) != 0 || r.URL.Opaque != "" || !cleanQuery(r.URL.RawQuery) {
		return false
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return false
	}
	if _, ok := r.Header["Expect"]; ok {
		return false
	}
	host := r.Host
	if t.Authority != "" {
		host = t.Authority
	}
	if host == "" || !asciiPrint(host) || strings.IndexByte(host, '%') >= 0 || !httpguts.ValidHostHeader(host) {
		return false
	}
	if t.ClientCert != "" && !httpguts.ValidHeaderFieldValue(t.ClientCert) {
		return false
	}
	return validFields(r.Header) && leanOps(t.RequestHeaders)
}

func asciiPrint(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// cleanQuery reports whether ReverseProxy would forward the query unchanged (it
// re-encodes queries with ';' or malformed escapes).
func cleanQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func validFields(h http.Header) bool {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

// leanOps reports whether the header operations leave alone every header the lean path
// writes or removes itself.
func leanOps(ops *snapshot.HeaderOps) bool {
	if ops == nil {
		return true
	}
	ok := func(k, v string) bool {
		return httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v) && !special(textproto.CanonicalMIMEHeaderKey(k))
	}
	for _, k := range ops.Remove {
		if !ok(k, "") {
			return false
		}
	}
	for k, v := range ops.Set {
		if !ok(k, v) {
			return false
		}
	}
	for k, v := range ops.Add {
		if !ok(k, v) {
			return false
		}
	}
	return true
}

// special is a header the lean path writes or drops by itself.
func special(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer", "Connection",
		"Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Upgrade":
		return true
	}
	return forwarding(k)
}

// forwarding is a forwarding field the gateway sets itself (client values are dropped):
// Forwarded, X-Forwarded-For/-Host/-Proto, X-Forwarded-Client-Cert, or an underscore
// spelling of one of them. k is canonical.
func forwarding(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", HeaderXFCC:
		return true
	}
	return lookalike(k)
}

// lookalike is an underscore spelling of a forwarding header (see dropLookalikes).
func lookalike(k string) bool {
	if strings.IndexByte(k, '_') < 0 {
		return false
	}
	switch strings.ToLower(strings.ReplaceAll(k, "_", "-")) {
	case "x-forwarded-client-cert", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto":
		return true
	}
	return false
}

// field is one header of the outgoing head.
type field struct {
	k  string
	vv []string
}

// fields is a reusable list of outgoing fields (pooled in h1Transport.fields).
type fields struct {
	f  []field
	xf [4]string // X-Forwarded-For, -Host, -Proto, X-Forwarded-Client-Cert values
}

// writeLeanRequest writes the request head of r forwarded to t (see leanRequest).
func writeLeanRequest(bw *bufio.Writer, r *http.Request, t *Target, pool *sync.Pool) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	path := r.URL.EscapedPath()
	if t.Path != "" && t.Path != r.URL.Path {
		path = (&url.URL{Path: t.Path}).EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	bw.WriteString(path)
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if t.Authority != "" {
		bw.WriteString(t.Authority)
	} else {
		bw.WriteString(r.Host)
	}
	bw.WriteString("\r\n")

	conn := r.Header["Connection"]
	if ua := r.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" && !named(conn, "User-Agent") {
		bw.WriteString("User-Agent: ")
		bw.WriteString(textproto.TrimString(ua[0]))
		bw.WriteString("\r\n")
	}

	fs, _ := pool.Get().(*fields)
	if fs == nil {
		fs = &fields{f: make([]field, 0, 32)}
	}
	out := fs.f[:0]
	for k, vv := range r.Header {
		if !special(k) && !named(conn, k) {
			out = append(out, field{k, vv})
		}
	}
	if httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers") {
		out = append(out, field{"Te", []string{"trailers"}})
	}
	xf := &fs.xf
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		xf[0] = ip
		out = append(out, field{"X-Forwarded-For", xf[0:1:1]})
	}
	xf[1] = r.Host
	out = append(out, field{"X-Forwarded-Host", xf[1:2:2]})
	xf[2] = "http"
	if r.TLS != nil {
		xf[2] = "https"
	}
	out = append(out, field{"X-Forwarded-Proto", xf[2:3:3]})
	if t.ClientCert != "" {
		xf[3] = t.ClientCert
		out = append(out, field{HeaderXFCC, xf[3:4:4]})
	}
	out = applyOps(out, t.RequestHeaders)
	slices.SortFunc(out, func(a, b field) int { return strings.Compare(a.k, b.k) })
	for _, f := range out {
		for _, v := range f.vv {
			bw.WriteString(f.k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	clear(out)
	*xf = [4]string{}
	fs.f = out[:0]
	pool.Put(fs)
}

// named reports whether the Connection header names k (those headers are hop-by-hop).
func named(conn []string, k string) bool {
	for _, f := range conn {
		for tok := range strings.SplitSeq(f, ",") {
			if strings.EqualFold(textproto.TrimString(tok), k) {
				return true
			}
		}
	}
	return false
}

// applyOps applies header operations (remove, set, add: Istio's order) to the outgoing
// fields. Keys are canonicalized as http.Header's methods would.
func applyOps(out []field, ops *snapshot.HeaderOps) []field {
	if ops == nil {
		return out
	}
	del := func(k string) {
		out = slices.DeleteFunc(out, func(f field) bool { return f.k == k })
	}
	for _, k := range ops.Remove {
		del(textproto.CanonicalMIMEHeaderKey(k))
	}
	for k, v := range ops.Set {
		k = textproto.CanonicalMIMEHeaderKey(k)
		del(k)
		out = append(out, field{k, []string{v}})
	}
	for k, v := range ops.Add {
		k = textproto.CanonicalMIMEHeaderKey(k)
		if i := slices.IndexFunc(out, func(f field) bool { return f.k == k }); i >= 0 {
			out[i].vv = append(slices.Clip(out[i].vv), v)
			continue
		}
		out = append(out, field{k, []string{v}})
	}
	return out
}
