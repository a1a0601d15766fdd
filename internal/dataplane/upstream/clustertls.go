package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// ClientCredential is the material of an upstream client credential (a
// snapshot.CredentialRef with Client set), as the credential store serves it.
type ClientCredential struct {
	Certificate *tls.Certificate // the client certificate and key; nil: none
	RootCAs     *x509.CertPool   // verifies the upstream; nil: the credential has no CA
	CRLs        []*x509.RevocationList
	Version     string // changes whenever any of the above does
}

// ClientCredentials resolves a snapshot.CredentialRef.Key() to the credential served now;
// ok is false when there is none (never loaded, invalid, or deleted).
type ClientCredentials interface {
	ClientCredential(key string) (ClientCredential, bool)
}

// TLSObserver is told about upstream TLS handshakes (package metrics implements it).
type TLSObserver interface {
	// UpstreamTLSHandshake counts a completed handshake, resumed or full.
	UpstreamTLSHandshake(cluster string, resumed bool)
	// UpstreamTLSFailure counts a failure by reason (see TLSError).
	UpstreamTLSFailure(cluster, reason string)
}

// TLSEnv is what the clusters of every snapshot share for upstream TLS: the credential
// source, the observer and one TLS session cache per cluster and client identity, so
// sessions are resumed across snapshot swaps.
type TLSEnv struct {
	creds ClientCredentials
	obs   TLSObserver

	mu       sync.Mutex
	sessions map[string]tls.ClientSessionCache // by cluster name + "|" + credential version
}

// NewTLSEnv returns the shared upstream TLS state. creds and obs may be nil.
func NewTLSEnv(creds ClientCredentials, obs TLSObserver) *TLSEnv {
	return &TLSEnv{creds: creds, obs: obs, sessions: map[string]tls.ClientSessionCache{}}
}

// sessionsPerCluster bounds the resumable sessions kept per cluster identity (one per
// server name and endpoint in use).
const sessionsPerCluster = 256

func (e *TLSEnv) sessionCache(cluster, version string) tls.ClientSessionCache {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := cluster + "|" + version
	c := e.sessions[key]
	if c == nil {
		// A new identity of the cluster (a rotated client certificate): sessions of the
		// old one must not be resumed with it, so they are dropped.
		for k := range e.sessions {
			if strings.HasPrefix(k, cluster+"|") {
				delete(e.sessions, k)
			}
		}
		c = tls.NewLRUClientSessionCache(sessionsPerCluster)
		e.sessions[key] = c
	}
	return c
}

// UseTLS gives every cluster of cs the shared upstream TLS state (call before serving).
func (cs *Clusters) UseTLS(env *TLSEnv) {
	if cs == nil {
		return
	}
	for _, c := range cs.byName {
		c.tlsEnv = env
	}
}

// Reasons of TLS failures (a small fixed set: a metric label).
const (
	TLSNoCredential    = "no_credential"             // the client credential is not served
	TLSVerifyFailed    = "certificate_verify_failed" // the chain does not build to the CA
	TLSSANMismatch     = "san_mismatch"              // no SAN matches subjectAltNames or the host
	TLSRevoked         = "certificate_revoked"       // a certificate of the chain is in a CRL
	TLSHandshakeFailed = "handshake_failed"          // anything else: alert, protocol, I/O
)

// TLSError is a failure to set up TLS to an upstream. The transports return it wrapped in
// a *net.OpError with Op "dial": it is a connect failure (503, response flag UF) and is
// retried as one.
type TLSError struct {
	Cluster string
	Reason  string
	Err     error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("upstream TLS to %s: %s: %v", e.Cluster, e.Reason, e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// TransportFailureReason renders err for %UPSTREAM_TRANSPORT_FAILURE_REASON% ("" when
// err is no TLS failure), in the shape of Envoy's "TLS_error:...".
func TransportFailureReason(err error) string {
	var te *TLSError
	if !errors.As(err, &te) {
		return ""
	}
	return "TLS_error:" + strings.ToUpper(te.Reason) + ":" + te.Err.Error()
}

// clientTLS is a built client configuration for one credential version.
type clientTLS struct {
	version string
	cfg     *tls.Config
	roots   *x509.CertPool // nil with InsecureSkipVerify
	crls    []*x509.RevocationList
	last    atomic.Pointer[connTLS] // the last connection TLS made of it (tlsFor)
}

// ClientTLS returns the TLS client configuration for dialling the cluster's endpoints
// (DestinationRule trafficPolicy.tls), or nil for plaintext. Every transport (HTTP/1.1,
// HTTP/2, TCP) originates TLS through it; an HTTP/2 transport adds ALPN "h2" to a clone.
// An error means the cluster's TLS cannot be set up now (e.g. its client credential is
// missing): the request fails with 503 and flag UF, never in plaintext.
//
// The configuration is built once per credential version and shared: callers clone it
// before changing it. ServerName is the DestinationRule's sni ("" with auto SNI: see
// ServerName). Verification is done by VerifyConnection (also on resumed sessions), as
// Envoy's validation context: chain to the CA bundle (or the system roots), CRLs, then
// subjectAltNames or, with auto SAN validation, the SNI.
func (c *Cluster) ClientTLS() (*tls.Config, error) {
	ct, err := c.clientTLS()
	if ct == nil || err != nil {
		return nil, err
	}
	return ct.cfg, nil
}

func (c *Cluster) clientTLS() (*clientTLS, error) {
	if c == nil || c.Spec == nil || c.Spec.TLS == nil {
		return nil, nil
	}
	spec := c.Spec.TLS
	var cred ClientCredential
	if spec.Credential != nil {
		var ok bool
		if c.tlsEnv != nil && c.tlsEnv.creds != nil {
			cred, ok = c.tlsEnv.creds.ClientCredential(spec.Credential.Key())
		}
		if !ok {
			return nil, c.tlsFailure(TLSNoCredential, fmt.Errorf("client credential %s is not available", spec.Credential.Key()))
		}
	}
	if b := c.tlsCfg.Load(); b != nil && b.version == cred.Version {
		return b, nil
	}
	b, err := c.buildTLS(spec, cred)
	if err != nil {
		return nil, c.tlsFailure(TLSNoCredential, err)
	}
	c.tlsCfg.Store(b)
	return b, nil
}

func (c *Cluster) buildTLS(spec *snapshot.UpstreamTLS, cred ClientCredential) (*clientTLS, error) {
	b := &clientTLS{version: cred.Version, crls: cred.CRLs}
	switch {
	case spec.InsecureSkipVerify:
	case cred.RootCAs != nil:
		b.roots = cred.RootCAs
	case spec.SystemRoots:
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system CA bundle: %w", err)
		}
		b.roots = pool
	default:
		return nil, errors.New("no CA certificates to verify the upstream")
	}
	b.cfg = &tls.Config{
		MinVersion: tls.VersionTLS12, // Envoy's upstream default
		ServerName: spec.SNI,
		// crypto/tls's own verification checks the host name against ServerName; Envoy's
		// does not (it checks subjectAltNames, or the SNI only with auto SAN validation),
		// so verification is VerifyConnection's.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
	}
	if c.tlsEnv != nil {
		b.cfg.ClientSessionCache = c.tlsEnv.sessionCache(c.Name, cred.Version)
	}
	if cert := cred.Certificate; cert != nil {
		// Sent whenever the server asks, whatever CAs it names, as Envoy does.
		b.cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	host := ""
	if spec.AutoSAN() {
		host = spec.SNI // "" here: the per-connection clone sets it (ServerName)
	}
	b.cfg.VerifyConnection = func(cs tls.ConnectionState) error { return b.verify(spec, cs, host) }
	return b, nil
}

// ServerName is the SNI for a request to host (its Host after rewrites, port stripped):
// the DestinationRule's sni, else host (Envoy's auto_sni). TCP streams pass "".
func (c *Cluster) ServerName(host string) string {
	if c == nil || c.Spec == nil || c.Spec.TLS == nil {
		return ""
	}
	if c.Spec.TLS.SNI != "" {
		return c.Spec.TLS.SNI
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.Trim(host, "[]"), ".")
}

// forConn returns the configuration for one connection with SNI sni: b.cfg itself, or a
// clone whose ServerName (and auto SAN check) is sni.
func (b *clientTLS) forConn(spec *snapshot.UpstreamTLS, sni string) *tls.Config {
	if sni == "" || sni == b.cfg.ServerName {
		return b.cfg
	}
	cfg := b.cfg.Clone()
	cfg.ServerName = sni
	if spec.AutoSAN() {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return b.verify(spec, cs, sni) }
	}
	return cfg
}

// verify is Envoy's validation of the upstream's certificate.
func (b *clientTLS) verify(spec *snapshot.UpstreamTLS, cs tls.ConnectionState, host string) error {
	if spec.InsecureSkipVerify {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return &tlsReason{TLSVerifyFailed, errors.New("the upstream sent no certificate")}
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{Roots: b.roots, Intermediates: x509.NewCertPool()}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return &tlsReason{TLSVerifyFailed, err}
	}
	if len(b.crls) > 0 {
		if err := revoked(chains, b.crls); err != nil {
			return &tlsReason{TLSRevoked, err}
		}
	}
	switch {
	case len(spec.SubjectAltNames) > 0:
		if !matchSAN(leaf, spec.SubjectAltNames) {
			return &tlsReason{TLSSANMismatch, fmt.Errorf("certificate SANs %v match none of subjectAltNames %v", certSANs(leaf), spec.SubjectAltNames)}
		}
	case spec.AutoSAN() && host != "":
		if err := leaf.VerifyHostname(host); err != nil {
			return &tlsReason{TLSSANMismatch, err}
		}
	}
	return nil
}

// tlsReason carries a verification failure's reason out of crypto/tls.
type tlsReason struct {
	reason string
	err    error
}

func (r *tlsReason) Error() string { return r.err.Error() }
func (r *tlsReason) Unwrap() error { return r.err }

// revoked reports a certificate of the verified chain listed by a CRL of its issuer.
func revoked(chains [][]*x509.Certificate, crls []*x509.RevocationList) error {
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			cert, issuer := chain[i], chain[i+1]
			for _, crl := range crls {
				if crl.CheckSignatureFrom(issuer) != nil {
					continue
				}
				for _, e := range crl.RevokedCertificateEntries {
					if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
						return fmt.Errorf("certificate %s (serial %s) is revoked", cert.Subject, cert.SerialNumber.Text(16))
					}
				}
			}
		}
	}
	return nil
}

// matchSAN: one SAN of the certificate equals one of want (Envoy's exact
// match_subject_alt_names, over DNS, URI, email and IP SANs; a wildcard DNS SAN of the
// certificate matches a name it covers).
func matchSAN(c *x509.Certificate, want []string) bool {
	for _, w := range want {
		if slices.Contains(certSANs(c), w) {
			return true
		}
		for _, d := range c.DNSNames {
			if rest, ok := strings.CutPrefix(d, "*."); ok {
				if i := strings.IndexByte(w, '.'); i > 0 && strings.EqualFold(w[i+1:], rest) {
					return true
				}
			}
		}
	}
	return false
}

func certSANs(c *x509.Certificate) []string {
	out := append([]string(nil), c.DNSNames...)
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	out = append(out, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func (c *Cluster) tlsFailure(reason string, err error) error {
	if c.tlsEnv != nil && c.tlsEnv.obs != nil {
		c.tlsEnv.obs.UpstreamTLSFailure(c.Name, reason)
	}
	return &TLSError{Cluster: c.Name, Reason: reason, Err: err}
}

// Handshake originates TLS on raw (a connected socket to addr) for the cluster with SNI
// sni, bounded by ctx. On failure raw is closed and the error is a *net.OpError "dial"
// wrapping a *TLSError: a connect failure (503, UF).
func (c *Cluster) Handshake(ctx context.Context, raw net.Conn, addr, sni string) (*tls.Conn, error) {
	ct, err := c.clientTLS()
	if err == nil && ct == nil {
		err = errors.New("cluster has no upstream TLS")
	}
	if err != nil {
		raw.Close()
		return nil, dialError(addr, err)
	}
	return c.handshake(ctx, raw, addr, ct, sni)
}

func (c *Cluster) handshake(ctx context.Context, raw net.Conn, addr string, ct *clientTLS, sni string) (*tls.Conn, error) {
	return c.handshakeALPN(ctx, raw, addr, ct, sni, nil)
}

// handshakeALPN is handshake offering the ALPN protocols alpn (nil: none).
func (c *Cluster) handshakeALPN(ctx context.Context, raw net.Conn, addr string, ct *clientTLS, sni string, alpn []string) (*tls.Conn, error) {
	cfg := ct.forConn(c.Spec.TLS, sni)
	if len(alpn) > 0 {
		cfg = cfg.Clone()
		cfg.NextProtos = alpn
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		reason := TLSHandshakeFailed
		var r *tlsReason
		if errors.As(err, &r) {
			reason = r.reason
		}
		return nil, dialError(addr, c.tlsFailure(reason, err))
	}
	if c.tlsEnv != nil && c.tlsEnv.obs != nil {
		c.tlsEnv.obs.UpstreamTLSHandshake(c.Name, tc.ConnectionState().DidResume)
	}
	return tc, nil
}

func dialError(addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return err
	}
	var a net.Addr
	if ta, e := net.ResolveTCPAddr("tcp", addr); e == nil {
		a = ta
	}
	return &net.OpError{Op: "dial", Net: "tcp", Addr: a, Err: err}
}

// tlsPoolKey names the TLS identity of pooled connections: a connection is reused only by
// requests of the same cluster, credential version and SNI (never plaintext ones).
func (c *Cluster) tlsPoolKey(ct *clientTLS, sni string) string {
	return c.Name + "|" + ct.version + "|" + sni
}
