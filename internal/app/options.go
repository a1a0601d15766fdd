package app

import (
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/internal/status"
	"github.com/portcullis/portcullis/internal/translate"
)

// Options is everything `portcullis run` can be told.
type Options struct {
	// ConfigPaths are files or directories of YAML/JSON manifests.
	ConfigPaths []string
	// CredentialsDir holds one sub-directory per Secret (Kubernetes secret-volume layout).
	CredentialsDir string

	// Namespace is the gateway's own namespace: credentialName is resolved there.
	Namespace string
	// Labels are the gateway's labels, matched against Gateway.spec.selector.
	Labels map[string]string
	// RootNamespace is Istio's rootNamespace: its AuthorizationPolicies and
	// RequestAuthentications apply to every namespace (default istio-system).
	RootNamespace string
	// Authz: numTrustedProxies for remoteIpBlocks, the CA bundle and refresh period of
	// jwksUri fetches.
	TrustedProxies int
	JWKSCAFile     string
	JWKSRefresh    time.Duration
	// DefaultExportTo: exportTo of objects that set none (Istio meshConfig
	// defaultVirtualServiceExportTo, defaultDestinationRuleExportTo, defaultServiceExportTo).
	DefaultExportTo translate.ExportDefaults

	// PortMap maps Gateway server ports to listen addresses; other ports listen on
	// ListenHost:PORT.
	PortMap    map[uint32]string
	ListenHost string

	AdminAddr          string
	Pprof              bool
	RequireCredentials bool

	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	DrainTimeout      time.Duration
	// StreamIdleTimeout ends an exchange with no bytes moving either way (default 5m;
	// negative disables). RequestTimeout bounds receiving a whole request (0: none).
	StreamIdleTimeout time.Duration
	RequestTimeout    time.Duration
	// TLS13SessionTickets lets TLS 1.3 clients resume sessions (off by default).
	TLS13SessionTickets bool
	// L4Accept has the event loop accept passthrough-only ports (dataplane.Options).
	L4Accept bool
	// ProxyProtocolFrom: accept a downstream PROXY header from peers in these prefixes
	// (required from them), within ProxyProtocolTimeout; empty: off (design 0029).
	ProxyProtocolFrom    []netip.Prefix
	ProxyProtocolTimeout time.Duration
	// CredentialRecheck is how often credentials are re-evaluated without an input change
	// (a not-yet-valid certificate becoming valid, file mounts); default 30 s.
	CredentialRecheck time.Duration

	// AccessLog is the access log's path ("/dev/stdout" for standard output); "" disables
	// it (the default). AccessLogFormat is "text" (Istio's default) or "json".
	AccessLog       string
	AccessLogFormat string
	// IstioMetrics exports Istio's standard metrics (istio_requests_total...) beside
	// portcullis's own.
	IstioMetrics bool
	// TracingEndpoint is the OTLP collector spans are exported to; "" disables tracing.
	// TracingProtocol is "grpc" or "http"; TracingSampling the percentage of new traces
	// sampled (Istio's default 1); TracingInsecure exports in plain text.
	TracingEndpoint string
	TracingProtocol string
	TracingSampling float64
	TracingInsecure bool

	// GatewayControllerName: the Gateway API GatewayClass controllerName this gateway
	// owns (default portcullis.io/gateway-controller).
	GatewayControllerName string
	// GatewayAddressPool: each Gateway API Gateway without spec.addresses binds an address
	// of its own from this prefix (zero: off). GatewayPublishAddresses: status.addresses
	// of Gateways without one (default: ListenHost when it is one IP address).
	GatewayAddressPool      netip.Prefix
	GatewayPublishAddresses []string
	// GatewayPublishService "namespace/name" (Kubernetes mode): status.addresses of
	// Gateways without one are that Service's load balancer addresses instead.
	GatewayPublishService string
	// StatusSink receives the Gateway API status of every snapshot (nil: kept only for
	// the admin endpoint).
	StatusSink status.Sink

	// Kubernetes mode.
	Kubeconfig      string
	KubeContext     string
	InCluster       bool
	WatchNamespaces []string

	// Gateway API status writer (Kubernetes mode, status.go): unless StatusSink is set, the
	// statuses go to the API server. LeaderElect makes only the holder of the Lease LeaseNamespace/LeaseName (default: Namespace,
	// portcullis-status) write statuses, as LeaderIdentity (default $POD_NAME, else the
	// host name and a random suffix); false writes from this replica unconditionally.
	LeaderElect bool
	// DisableGatewayAPI: Kubernetes mode watches the Istio API only (no Gateway API, no
	// Secrets beyond Namespace, no status writer).
	DisableGatewayAPI bool
	LeaseName         string
	LeaseNamespace    string
	LeaderIdentity    string
	// LeaseDuration, RenewDeadline, RetryPeriod: client-go leader election's (default
	// 15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Defaults fills unset fields with the documented defaults.
func (o *Options) Defaults() {
	if o.Namespace == "" {
		o.Namespace = "istio-system"
	}
	if len(o.Labels) == 0 {
		o.Labels = map[string]string{"istio": "ingressgateway"}
	}
	if o.ListenHost == "" {
		o.ListenHost = "0.0.0.0"
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.StreamIdleTimeout == 0 {
		o.StreamIdleTimeout = 5 * time.Minute
	}
	if o.CredentialRecheck <= 0 {
		o.CredentialRecheck = 30 * time.Second
	}
}
