package snapshot

// Snapshot is one complete configuration. Version is a content hash of everything else.
type Snapshot struct {
	Version   string     `json:"version"`
	Listeners []Listener `json:"listeners"` // sorted by Port, then Bind
	Clusters  []Cluster  `json:"clusters"`  // sorted by Name
	// Security: AuthorizationPolicy and RequestAuthentication (security.go); nil = none.
	Security *Security `json:"security,omitempty"`
	// Telemetry: what telemetry.istio.io Telemetry sets (telemetry.go); nil = none applies.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
}

// Protocol of a listener.
type Protocol string

const (
	HTTP  Protocol = "HTTP"
	HTTPS Protocol = "HTTPS"
)

// Listener is one gateway port. Port is the Gateway server's port number (the runtime maps
// it to a real address with --port-map).
//
// For HTTPS listeners each Server carries its own TLS settings and its own VirtualHosts
// (one route table per server, as in Istio); SNI selects the Server. For HTTP listeners all
// servers on the port share one route table: the translator emits a single Server with
// TLS == nil holding every VirtualHost.
type Listener struct {
	Name string `json:"name"` // e.g. "https_443"
	Port uint32 `json:"port"`
	// Bind is the IP address the listener binds (Istio's Server.bind); "" listens on the
	// default host (--listen-host, or --port-map's address). Listeners are keyed by
	// (Bind, Port): one port number may have several.
	Bind     string   `json:"bind,omitempty"`
	Protocol Protocol `json:"protocol"`
	Servers  []Server `json:"servers"` // sorted by Name
}

// Server is one accepted Gateway server.
type Server struct {
	// Name is unique within the snapshot: "<gw-namespace>/<gw-name>/<server port name or index>".
	Name string `json:"name"`
	// Hosts are the SNI names this server answers (lower case, namespace prefix stripped):
	// exact names, "*.suffix" wildcards, or "*".
	Hosts []string `json:"hosts"`
	TLS   *TLS     `json:"tls,omitempty"`
	// VirtualHosts of this server. A plain-HTTP server with tls.httpsRedirect is expressed as
	// virtual hosts whose only route is a Redirect{Scheme: "https", Code: 301}.
	VirtualHosts []VirtualHost `json:"virtualHosts"`

	// Layer 4 (see l4.go). Passthrough: TLS is forwarded unterminated (TLS nil) by
	// TLSRoutes. TCP: the stream (after TLS termination when TLS is set) is proxied by
	// TCPRoutes, never served as HTTP.
	Passthrough bool      `json:"passthrough,omitempty"`
	TCP         bool      `json:"tcp,omitempty"`
	TLSRoutes   []L4Route `json:"tlsRoutes,omitempty"`
	TCPRoutes   []L4Route `json:"tcpRoutes,omitempty"`
}

// TLSMode mirrors Istio's ServerTLSSettings.TLSmode for the modes we serve.
type TLSMode string

const (
	TLSSimple         TLSMode = "SIMPLE"
	TLSMutual         TLSMode = "MUTUAL"
	TLSOptionalMutual TLSMode = "OPTIONAL_MUTUAL"
)

// TLS is the server side TLS policy of one Server.
type TLS struct {
	Mode       TLSMode       `json:"mode"`
	Credential CredentialRef `json:"credential"`
	// MinVersion/MaxVersion are crypto/tls version numbers (tls.VersionTLS12 ...); 0 = default
	// (min TLS 1.2, max TLS 1.3).
	MinVersion uint16 `json:"minVersion,omitempty"`
	MaxVersion uint16 `json:"maxVersion,omitempty"`
	// CipherSuites are crypto/tls suite IDs (apply to TLS 1.2 only); empty = Go's defaults.
	CipherSuites []uint16 `json:"cipherSuites,omitempty"`
	// SubjectAltNames: when non-empty, a client certificate must carry one of these SANs
	// (DNS, URI, email or IP, compared as strings).
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
}

// CredentialRef names the key material of a server. Exactly one of Secret or Files is set.
// Key() is the identity the credential store and the listener agree on.
type CredentialRef struct {
	// Secret is "namespace/name" of a Kubernetes Secret (credentialName resolved in the
	// gateway's namespace). The store also consults "<name>-cacert" for the CA.
	Secret string `json:"secret,omitempty"`
	// Files: file-mount mode (serverCertificate, privateKey, caCertificates, caCrl).
	Files *FileCredential `json:"files,omitempty"`
	// NeedCA: the server verifies clients (MUTUAL or OPTIONAL_MUTUAL), so a CA bundle is required.
	NeedCA bool `json:"needCA,omitempty"`
	// Client: an upstream client credential (DestinationRule trafficPolicy.tls, see
	// cluster_tls.go), kept apart from server credentials of the same Secret or files.
	// CAOnly: only its CA bundle (and CRL) is read (SIMPLE with credentialName or
	// caCertificates); no certificate or key is required.
	Client bool `json:"client,omitempty"`
	CAOnly bool `json:"caOnly,omitempty"`
}

// FileCredential is file-mount TLS material.
type FileCredential struct {
	Certificate string `json:"serverCertificate"`
	PrivateKey  string `json:"privateKey"`
	CACerts     string `json:"caCertificates,omitempty"`
	CRL         string `json:"caCrl,omitempty"`
}

// Key returns the credential store's key for this reference:
// "secret:<ns>/<name>" or "file:<cert>|<key>|<ca>|<crl>".
func (c CredentialRef) Key() string {
	prefix := c.clientPrefix()
	if c.Files != nil {
		f := c.Files
		return prefix + "file:" + f.Certificate + "|" + f.PrivateKey + "|" + f.CACerts + "|" + f.CRL
	}
	return prefix + "secret:" + c.Secret
}

// VirtualHost is the set of routes for some Host header values.
type VirtualHost struct {
	Name string `json:"name"` // e.g. "frontend.foocorp.com:443"
	// Domains matched against the request Host (lower case, port stripped): exact names,
	// "*.suffix" wildcards or "*". Exact beats wildcard, longer wildcard beats shorter.
	Domains []string `json:"domains"`
	Routes  []Route  `json:"routes"` // in order; first match wins
}

// Route is one VirtualService http[] rule, flattened.
type Route struct {
	// Name identifies the rule: "<vs-namespace>/<vs-name>/<rule name or index>".
	Name  string  `json:"name"`
	Match []Match `json:"match,omitempty"` // OR of matches; empty = match everything
	// StatPrefix (HTTPMatchRequest.statPrefix of the match the route was built from): the
	// route's requests are also recorded under the stats name "route/<StatPrefix>".
	StatPrefix string `json:"statPrefix,omitempty"`
	// Exactly one action is set.
	Forward  *Forward  `json:"forward,omitempty"`
	Redirect *Redirect `json:"redirect,omitempty"`
	Direct   *Direct   `json:"direct,omitempty"`
	// Filter policies of the rule, applied whatever its action (policy.go); nil: none.
	Fault *Fault `json:"fault,omitempty"`
	CORS  *CORS  `json:"cors,omitempty"`
	// Fail: the rule could not be honoured (the translator reported why); the requests it
	// would match get this answer, never a later rule.
	Fail *Fail `json:"fail,omitempty"`
}

// Fail is the answer of a rule that fails closed.
type Fail struct {
	Status int    `json:"status"` // 500
	Body   string `json:"body"`   // names the rule and the reason
	// Flag is the response flag for access data, in the style of Envoy's %RESPONSE_FLAGS%:
	// FailFlag ("FC", fail closed: a rule portcullis could not honour).
	Flag string `json:"flag"`
}

// FailFlag is the response flag of a Fail answer. Envoy has no such flag; "FC" is unused
// by Envoy, so it cannot be mistaken for one of its own.
const FailFlag = "FC"

// Match is one HTTPMatchRequest: all its conditions must hold.
type Match struct {
	URI         *StringMatch  `json:"uri,omitempty"`
	Method      *StringMatch  `json:"method,omitempty"`
	Authority   *StringMatch  `json:"authority,omitempty"`
	Scheme      *StringMatch  `json:"scheme,omitempty"`      // "http" or "https", as Envoy's :scheme
	Headers     []HeaderMatch `json:"headers,omitempty"`     // sorted by Name (lower case)
	QueryParams []HeaderMatch `json:"queryParams,omitempty"` // sorted by Name
	// WithoutHeaders hold when their matcher does NOT match: a Present matcher means the
	// header is absent; a value matcher treats a missing header as "" (Envoy's invert_match
	// with treat_missing_header_as_empty, as Istio configures it). Sorted by Name.
	WithoutHeaders []HeaderMatch `json:"withoutHeaders,omitempty"`
	IgnoreURICase  bool          `json:"ignoreUriCase,omitempty"`
}

// MatchKind of a StringMatch.
type MatchKind string

const (
	Exact  MatchKind = "exact"
	Prefix MatchKind = "prefix"
	Regex  MatchKind = "regex"
	// Present matches any value of a header or query parameter that is present (Istio's
	// empty StringMatch "{}" or regex "*"; Envoy's present_match).
	Present MatchKind = "present"
)

// StringMatch is Istio's StringMatch. Regex is RE2, anchored (full match), as in Envoy.
type StringMatch struct {
	Kind  MatchKind `json:"kind"`
	Value string    `json:"value"`
}

// HeaderMatch matches one header (or query parameter) by name (header names lower case).
type HeaderMatch struct {
	Name  string      `json:"name"`
	Value StringMatch `json:"value"`
}

// Forward proxies to weighted clusters.
type Forward struct {
	Clusters []WeightedCluster `json:"clusters"`
	// Timeout in milliseconds; 0 = no route timeout.
	TimeoutMillis int64 `json:"timeoutMillis,omitempty"`
	// Rewrite of the path (prefix) and authority before forwarding (VirtualService rewrite).
	Rewrite *Rewrite `json:"rewrite,omitempty"`
	// Header manipulation (VirtualService headers.request / headers.response).
	RequestHeaders  *HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderOps `json:"responseHeaders,omitempty"`
	// Retry policy (nil: Istio's default, DefaultRetry; Retries 0: disabled) and request
	// mirrors (policy.go).
	Retry   *Retry   `json:"retry,omitempty"`
	Mirrors []Mirror `json:"mirrors,omitempty"`
}

// Rewrite: URI replaces the part of the path matched by the rule's prefix (or the whole path
// for exact/regex matches), as Istio does; Authority replaces the Host header. Regex (RE2)
// with Substitution rewrites the path as Envoy's regex_rewrite (every match replaced,
// \1-style groups); it is exclusive with URI.
type Rewrite struct {
	URI          string `json:"uri,omitempty"`
	Authority    string `json:"authority,omitempty"`
	Regex        string `json:"regex,omitempty"`
	Substitution string `json:"substitution,omitempty"`
}

// HeaderOps are applied in the order Remove, Set, Add. Header names are canonical.
type HeaderOps struct {
	Set    map[string]string `json:"set,omitempty"`
	Add    map[string]string `json:"add,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// WeightedCluster is one destination of a route. Weights of a route sum to 100 (or there is
// exactly one cluster with weight 100).
type WeightedCluster struct {
	Cluster string `json:"cluster"` // Cluster.Name
	Weight  uint32 `json:"weight"`
	// RequestHeaders/ResponseHeaders, when set, replace the Forward's for requests sent to
	// this cluster: the destination's headers (HTTPRouteDestination.headers) composed with
	// the rule's, the rule's applied last as Envoy applies route-level after weighted-cluster
	// headers.
	RequestHeaders  *HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderOps `json:"responseHeaders,omitempty"`
	// Authority, when set, replaces the Forward's Rewrite.Authority for this cluster (a
	// destination's headers.request.set of "host" or ":authority", as Istio translates it).
	Authority string `json:"authority,omitempty"`
	// Fail, when set, answers this share of the route's requests instead of a cluster
	// (Cluster is ""): a Gateway API backendRef that cannot be used, whose share of the
	// requests the spec answers 500 while the valid backends serve the rest.
	Fail *Fail `json:"fail,omitempty"`
}

// Redirect is a VirtualService HTTPRedirect (or httpsRedirect with Scheme "https").
//
// URI replaces the whole path (Envoy path_redirect); PrefixRewrite replaces only the part the
// route's prefix match covered (Envoy prefix_rewrite, Istio redirect.prefixRewrite). Port 0
// keeps the request's port unless the scheme changes.
type Redirect struct {
	Scheme        string `json:"scheme,omitempty"`
	Authority     string `json:"authority,omitempty"`
	URI           string `json:"uri,omitempty"`
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
	Port          uint32 `json:"port,omitempty"`
	Code          int    `json:"code"`
	// ResponseHeaders: the rule's headers.response, applied to the redirect as Envoy
	// applies route-level response headers to direct responses.
	ResponseHeaders *HeaderOps `json:"responseHeaders,omitempty"`
}

// Direct is a VirtualService directResponse.
type Direct struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
	// ResponseHeaders: the rule's headers.response (see Redirect.ResponseHeaders).
	ResponseHeaders *HeaderOps `json:"responseHeaders,omitempty"`
}

// Cluster is an upstream service: a destination host and port, and its endpoints.
type Cluster struct {
	// Name: "outbound|<port>|<subset>|<host>" as in Istio.
	Name string `json:"name"`
	Host string `json:"host"`
	Port uint32 `json:"port"`
	// Endpoints are "ip:port" (or "hostname:port" when DNS is true), in a stable order.
	// Empty means the destination resolved but has no ready endpoints: requests get 503.
	Endpoints []string `json:"endpoints"`
	// DNS: endpoints are host names resolved at connect time (ServiceEntry resolution DNS).
	DNS bool `json:"dns,omitempty"`

	// Traffic policy: the DestinationRule's trafficPolicy for this cluster's port and
	// subset, merged as Istio merges them (see cluster.go). nil = Istio's defaults.

	// Protocol of the upstream connection (see UpstreamProtocol); "" = HTTP/1.1.
	Protocol UpstreamProtocol `json:"protocol,omitempty"`
	// EndpointWeights parallel to Endpoints (ServiceEntry endpoint weight); nil = equal.
	EndpointWeights []uint32 `json:"endpointWeights,omitempty"`
	// TLS originated to the endpoints (trafficPolicy.tls); nil = plaintext.
	TLS *UpstreamTLS `json:"tls,omitempty"`
	// LB: trafficPolicy.loadBalancer; nil = round robin.
	LB *LoadBalancer `json:"loadBalancer,omitempty"`
	// Pool: trafficPolicy.connectionPool; nil = Envoy's defaults.
	Pool *ConnectionPool `json:"connectionPool,omitempty"`
	// Outlier: trafficPolicy.outlierDetection; nil = none.
	Outlier *OutlierDetection `json:"outlierDetection,omitempty"`
	// ProxyProtocol: trafficPolicy.proxyProtocol; nil = no PROXY header.
	ProxyProtocol *ProxyProtocol `json:"proxyProtocol,omitempty"`
}
