package explain

import (
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Outcome kinds: what a client sees.
const (
	OutcomeNoListener = "no_listener"       // nothing listens on the port: connection refused
	OutcomeHandshake  = "handshake_refused" // the TLS handshake fails
	OutcomeNotTLS     = "not_tls"           // http:// on a TLS port (or https:// on a plain one)
	OutcomeResponse   = "response"          // a local HTTP response with Status
	OutcomeForward    = "forwarded"         // proxied upstream: the upstream answers
)

// Decision is the gateway's whole decision for one request, step by step. Steps after
// the one that ended the exchange are nil.
type Decision struct {
	Request  Request `json:"request"`
	Snapshot string  `json:"snapshot,omitempty"` // snapshot version the decision was made on
	// Outcome is one of the Outcome* kinds; Status the HTTP status when it is "response".
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"`
	Summary string `json:"summary"`

	Listener    *Listener    `json:"listener,omitempty"`
	Server      *Server      `json:"server,omitempty"`
	Credential  *Credential  `json:"credential,omitempty"`
	ClientAuth  *ClientAuth  `json:"clientAuth,omitempty"`
	Binding     *Binding     `json:"binding,omitempty"`
	Authz       *Authz       `json:"authz,omitempty"`
	Routing     *Routing     `json:"routing,omitempty"`
	Action      *Action      `json:"action,omitempty"`
	Destination *Destination `json:"destination,omitempty"`
	// Notes are caveats of the explanation (things explain cannot know in advance).
	Notes []string `json:"notes,omitempty"`
}

// Request is the request as explained.
type Request struct {
	URL    string              `json:"url"`
	Method string              `json:"method"`
	Host   string              `json:"host"` // the Host header (:authority) sent
	Path   string              `json:"path"` // normalized, as routed
	SNI    string              `json:"sni,omitempty"`
	Port   uint32              `json:"port"` // Gateway port
	Header map[string][]string `json:"header,omitempty"`
	// ClientCert describes the client certificate presented, if any.
	ClientCert *Cert `json:"clientCert,omitempty"`
}

// Cert is a certificate's public facts.
type Cert struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer,omitempty"`
	Serial   string    `json:"serial"` // hexadecimal, as /certs
	SANs     []string  `json:"sans,omitempty"`
	NotAfter time.Time `json:"notAfter"`
}

// Listener is the port's listener.
type Listener struct {
	Name     string `json:"name"`
	Port     uint32 `json:"port"`
	Protocol string `json:"protocol"`
}

// Server is the Gateway server the handshake selects.
type Server struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
	// Match is how the SNI selected it: "exact", "wildcard", "catch-all" ("*"), or "none"
	// (no server: the handshake is refused). "plain" on a plain-HTTP port.
	Match string `json:"match"`
	Why   string `json:"why"`
}

// Credential is the credential the server presents (public facts only).
type Credential struct {
	Name     string    `json:"name"`
	Version  string    `json:"version,omitempty"`
	Serial   string    `json:"serial,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	// Failure is why the server cannot terminate TLS ("" when it can).
	Failure string `json:"failure,omitempty"`
}

// ClientAuth is the server's client-certificate policy and its verdict on the certificate
// presented.
type ClientAuth struct {
	Mode          string   `json:"mode"`
	CAFingerprint string   `json:"caFingerprint,omitempty"`
	SANs          []string `json:"subjectAltNames,omitempty"`
	CRLs          int      `json:"crls,omitempty"`
	Presented     bool     `json:"presented"`
	Accepted      bool     `json:"accepted"`
	Reason        string   `json:"reason"`
}

// Binding is the Host/SNI binding check (421).
type Binding struct {
	Host    string `json:"host"`
	Owner   string `json:"owner,omitempty"` // server owning Host ("" when none)
	Allowed bool   `json:"allowed"`
	Why     string `json:"why"`
}

// Authz is the authorization decision (RequestAuthentication, AuthorizationPolicy).
type Authz struct {
	Enforced bool   `json:"enforced"` // false: no policy applies to the snapshot
	Allowed  bool   `json:"allowed"`
	Status   int    `json:"status,omitempty"`
	Policy   string `json:"policy,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Routing is the route table walk.
type Routing struct {
	VirtualHost string          `json:"virtualHost,omitempty"` // "" when no virtual host claims Host
	Routes      []Rule          `json:"rules,omitempty"`       // rules tried, in order
	Route       string          `json:"route,omitempty"`       // the rule chosen
	Match       *snapshot.Match `json:"match,omitempty"`       // its clause that matched
}

// Rule is one rule tried: its clauses' verdicts ("" for the clause that matched).
type Rule struct {
	Name     string   `json:"name"`
	Selected bool     `json:"selected"`
	Clauses  []string `json:"clauses,omitempty"`
}

// Action is what the chosen rule does.
type Action struct {
	Kind            string              `json:"kind"` // forward, redirect, direct, none
	Redirect        *snapshot.Redirect  `json:"redirect,omitempty"`
	Location        string              `json:"location,omitempty"`
	Direct          *snapshot.Direct    `json:"direct,omitempty"`
	Rewrite         *snapshot.Rewrite   `json:"rewrite,omitempty"`
	UpstreamPath    string              `json:"upstreamPath,omitempty"`
	RequestHeaders  *snapshot.HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders *snapshot.HeaderOps `json:"responseHeaders,omitempty"`
	TimeoutMillis   int64               `json:"timeoutMillis,omitempty"`
	Retry           *snapshot.Retry     `json:"retry,omitempty"`
	Mirrors         []snapshot.Mirror   `json:"mirrors,omitempty"`
	Fault           *snapshot.Fault     `json:"fault,omitempty"`
	CORS            *snapshot.CORS      `json:"cors,omitempty"`
}

// Destination is where a forwarded request goes.
type Destination struct {
	Clusters []Cluster `json:"clusters"`
}

// Cluster is one weighted destination and its endpoints.
type Cluster struct {
	Name      string   `json:"name"`
	Weight    uint32   `json:"weight"`
	Found     bool     `json:"found"`
	Endpoints []string `json:"endpoints"`
}
