package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/gcfloor"
	"github.com/portcullis/portcullis/internal/source/kube"
	"github.com/portcullis/portcullis/internal/translate"
)

// sourceFlags are shared by run and validate.
type sourceFlags struct {
	config         []string
	credentialsDir string
	namespace      string
	labels         []string
	rootNamespace  string
	exportVS       []string
	exportDR       []string
	exportSE       []string
	gwController   string
	gwAddrPool     string
	gwPublish      []string
	gwPublishSvc   string
}

func (f *sourceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.config, "config", "c", nil, "manifest file or directory (*.yaml, *.yml, *.json; repeatable)")
	fl.StringVar(&f.credentialsDir, "credentials-dir", "", "directory of secrets, one sub-directory per secret and one file per key (Kubernetes secret-volume layout)")
	fl.StringVar(&f.namespace, "namespace", "istio-system", "the gateway's namespace: credentialName secrets are read from it")
	fl.StringVar(&f.rootNamespace, "root-namespace", "istio-system", "Istio's rootNamespace: AuthorizationPolicies and RequestAuthentications there apply to every namespace")
	fl.StringArrayVar(&f.labels, "labels", []string{"istio=ingressgateway"}, "the gateway's labels k=v[,k=v], matched against Gateway.spec.selector")
	fl.StringSliceVar(&f.exportVS, "default-virtual-service-export-to", []string{"*"}, "exportTo of VirtualServices that set none (Istio meshConfig defaultVirtualServiceExportTo)")
	fl.StringSliceVar(&f.exportDR, "default-destination-rule-export-to", []string{"*"}, "exportTo of DestinationRules that set none (Istio meshConfig defaultDestinationRuleExportTo)")
	fl.StringVar(&f.gwController, "gateway-controller-name", "portcullis.io/gateway-controller", "Gateway API: the GatewayClass controllerName this gateway owns; only Gateways of those classes are served")
	fl.StringVar(&f.gwAddrPool, "gateway-address-pool", "", "Gateway API: CIDR from which each Gateway without spec.addresses gets an IP address of its own, which its listeners bind (e.g. 127.0.10.0/24); empty: Gateways share the listen host")
	fl.StringSliceVar(&f.gwPublish, "gateway-publish-address", nil, "Gateway API: status.addresses of Gateways that bind no address of their own (IPs or hostnames where the listen host is reachable; default: --listen-host when it is one IP address)")
	fl.StringVar(&f.gwPublishSvc, "gateway-publish-service", "", "Gateway API, Kubernetes mode: namespace/name of a Service (e.g. the gateway's LoadBalancer Service) whose status.loadBalancer.ingress addresses are the status.addresses of Gateways that bind no address of their own; instead of --gateway-publish-address")
	fl.StringSliceVar(&f.exportSE, "default-service-export-to", []string{"*"}, "exportTo of ServiceEntries that set none (Istio meshConfig defaultServiceExportTo)")
}

func (f *sourceFlags) apply(o *app.Options) error {
	labels, err := parseLabels(f.labels)
	if err != nil {
		return err
	}
	o.ConfigPaths = f.config
	o.CredentialsDir = f.credentialsDir
	o.Namespace = f.namespace
	o.Labels = labels
	o.RootNamespace = f.rootNamespace
	o.GatewayControllerName = f.gwController
	if f.gwAddrPool != "" {
		p, err := netip.ParsePrefix(f.gwAddrPool)
		if err != nil {
			return fmt.Errorf("--gateway-address-pool: %v", err)
		}
		o.GatewayAddressPool = p.Masked()
	}
	o.GatewayPublishAddresses = f.gwPublish
	if f.gwPublishSvc != "" {
		if len(f.gwPublish) > 0 {
			return fmt.Errorf("--gateway-publish-service and --gateway-publish-address exclude each other")
		}
		if _, _, err := kube.ParsePublishService(f.gwPublishSvc); err != nil {
			return fmt.Errorf("--gateway-publish-service: %v", err)
		}
		o.GatewayPublishService = f.gwPublishSvc
	}
	for _, d := range []struct {
		flag string
		list []string
	}{{"--default-virtual-service-export-to", f.exportVS}, {"--default-destination-rule-export-to", f.exportDR}, {"--default-service-export-to", f.exportSE}} {
		if err := translate.ValidateExportTo(d.list); err != nil {
			return fmt.Errorf("%s: %v", d.flag, err)
		}
	}
	o.DefaultExportTo = translate.ExportDefaults{VirtualService: f.exportVS, DestinationRule: f.exportDR, ServiceEntry: f.exportSE}
	return nil
}

func newRunCmd(g *globals) *cobra.Command {
	var (
		src           sourceFlags
		portMap       []string
		podLabelsFile string
		gcFloorMiB    int
		releaseIdle   bool
		o             app.Options
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the gateway",
		Long: `Run the gateway: serve the Gateways, VirtualServices and credentials found in --config
(and --credentials-dir, or a Kubernetes API server with --kubeconfig), reloading them live.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := src.apply(&o); err != nil {
				return err
			}
			if err := podDefaults(cmd, &o, podLabelsFile); err != nil {
				return err
			}
			pm, err := parsePortMap(portMap)
			if err != nil {
				return err
			}
			o.PortMap = pm
			if o.StreamIdleTimeout == 0 {
				o.StreamIdleTimeout = -1 // the flag's 0 disables; Options' zero means default
			}
			if len(o.ConfigPaths) == 0 && o.Kubeconfig == "" && !o.InCluster && o.CredentialsDir == "" {
				return errors.New("nothing to serve: give --config DIR (or --kubeconfig / --in-cluster)")
			}
			logger, err := g.logger()
			if err != nil {
				return err
			}
			if os.Getenv("GOGC") == "" && gcFloorMiB > 0 { // an explicit GOGC is the operator's choice
				defer gcfloor.Start(uint64(gcFloorMiB) << 20).Stop()
			}
			if releaseIdle {
				defer gcfloor.StartReleaser().Stop()
			}
			return app.Run(cmd.Context(), o, logger)
		},
	}
	src.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&portMap, "port-map", nil, "GATEWAYPORT=HOST:PORT: listen for Gateway port GATEWAYPORT on HOST:PORT (repeatable)")
	fl.StringVar(&o.ListenHost, "listen-host", "0.0.0.0", "host to listen on for Gateway ports not in --port-map")
	fl.StringVar(&o.AdminAddr, "admin", "127.0.0.1:15000", "admin listener address (/healthz/ready, /metrics, /config_dump, /certs, /explain, /ui); empty disables")
	fl.BoolVar(&o.Pprof, "pprof", false, "serve /debug/pprof/ on the admin listener")
	fl.BoolVar(&o.RequireCredentials, "require-credentials", false, "report ready only when every referenced credential is loaded")
	fl.DurationVar(&o.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time allowed to read request headers")
	fl.DurationVar(&o.IdleTimeout, "idle-timeout", 5*time.Minute, "keep-alive idle timeout for client connections")
	fl.DurationVar(&o.StreamIdleTimeout, "stream-idle-timeout", 5*time.Minute, "a request/response exchange with no bytes moving either way for this long is ended (408 before the response starts, reset after), as Envoy's stream_idle_timeout; 0 disables")
	fl.DurationVar(&o.RequestTimeout, "request-timeout", 0, "time allowed to receive a whole request (headers and body), as Envoy's request_timeout; 0 disables")
	fl.Var(prefixList{&o.ProxyProtocolFrom}, "proxy-protocol-from", "CIDR[,CIDR...]: accept a PROXY protocol header (v1 or v2) from load balancers at these addresses on every Gateway port, as Istio's gatewayTopology.proxyProtocol: their connections must start with one, and its source address is the client's (access log, remoteIpBlocks, X-Forwarded-For, useSourceIp, upstream PROXY headers); other peers are served as direct clients and never read for one; empty (the default) disables")
	fl.DurationVar(&o.ProxyProtocolTimeout, "proxy-protocol-timeout", 15*time.Second, "a connection from a --proxy-protocol-from peer without a complete PROXY header within this time is closed (Envoy's listener_filters_timeout)")
	fl.BoolVar(&o.TLS13SessionTickets, "tls13-session-tickets", false, "issue session tickets to TLS 1.3 clients so they can resume (TLS 1.2 tickets are always on); off because Go's TLS stack advertises them as valid for 7 days, which audits flag, although they are refused after 24 h")
	fl.BoolVar(&o.L4Accept, "l4-accept", true, "on Linux, an event loop accepts the connections of ports whose servers are all TLS PASSTHROUGH (no --proxy-protocol-from), reads their ClientHello and carries their streams, instead of Go's listener (design 0036); false: Go's listener")
	fl.IntVar(&o.MaxHeaderBytes, "max-header-bytes", 64<<10, "maximum size of request headers")
	fl.DurationVar(&o.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long in-flight requests may finish")
	fl.StringVar(&o.Kubeconfig, "kubeconfig", "", "watch a Kubernetes API server using this kubeconfig")
	fl.StringVar(&o.KubeContext, "context", "", "kubeconfig context")
	fl.BoolVar(&o.InCluster, "in-cluster", false, "watch the Kubernetes API server of the pod this runs in")
	fl.StringVar(&podLabelsFile, "pod-labels-file", kube.DefaultPodLabelsFile, "downward-API labels file: the default of --labels when present")
	fl.IntVar(&gcFloorMiB, "gc-heap-floor", 64, "MiB: the garbage collector lets the heap grow to at least this before collecting (fewer collections, a shorter latency tail, up to this much more memory at small heaps); 0 or an explicit GOGC disables")
	fl.BoolVar(&releaseIdle, "release-idle-memory", true, "after a busy period, once the process has been quiet for a second, collect and return free memory to the operating system (idle connections then hold only what they use)")
	fl.IntVar(&o.TrustedProxies, "num-trusted-proxies", 0, "Istio's numTrustedProxies: remoteIpBlocks and remote.ip use this many-th address from the right of X-Forwarded-For (0: the peer address)")
	fl.StringVar(&o.JWKSCAFile, "jwks-ca-file", "", "PEM CA bundle trusted, in addition to the system roots, for RequestAuthentication jwksUri fetches")
	fl.DurationVar(&o.JWKSRefresh, "jwks-refresh-interval", 20*time.Minute, "how often jwksUri key sets are re-fetched (failures retry with backoff; the last good key set is kept)")
	fl.StringVar(&o.AccessLog, "access-log", "", "write an access log of every request and failed TLS handshake to this file (/dev/stdout for standard output); reopened on SIGUSR1 and when the file is moved; empty disables")
	fl.StringVar(&o.AccessLogFormat, "access-log-format", "text", "access log format: text (Istio's default text format) or json (Istio's JSON format)")
	fl.BoolVar(&o.IstioMetrics, "istio-metrics", true, "export Istio's standard metrics (istio_requests_total, istio_request_duration_milliseconds, ...) as an ingress gateway reports them")
	fl.StringVar(&o.TracingEndpoint, "tracing-endpoint", "", "export request spans over OTLP to this collector (host:port, or a URL for http); empty disables tracing")
	fl.StringVar(&o.TracingProtocol, "tracing-protocol", "grpc", "OTLP protocol of --tracing-endpoint: grpc or http")
	fl.Float64Var(&o.TracingSampling, "tracing-sampling", 1, "percentage of new traces sampled (Istio's default 1); a sampling decision in the incoming traceparent or B3 headers is kept")
	fl.BoolVar(&o.TracingInsecure, "tracing-insecure", false, "export spans in plain text (no TLS) to --tracing-endpoint")
	fl.StringSliceVar(&o.WatchNamespaces, "watch-namespaces", nil, "restrict Istio resources and Services to these namespaces (default all)")
	fl.BoolVar(&o.DisableGatewayAPI, "no-gateway-api", false, "Kubernetes mode: do not watch the Gateway API even when the API server serves it (nor, then, Secrets and ConfigMaps outside --namespace, or Namespaces); no status writer")
	fl.BoolVar(&o.LeaderElect, "leader-elect", true, "Kubernetes mode: only the replica holding the Lease --leader-elect-lease writes Gateway API statuses (false: this replica writes them unconditionally; run one replica then)")
	fl.StringVar(&o.LeaseName, "leader-elect-lease", app.DefaultLeaseName, "name of the Lease the replicas compete for to write statuses")
	fl.StringVar(&o.LeaseNamespace, "leader-elect-namespace", "", "namespace of that Lease (default: the gateway's --namespace)")
	fl.StringVar(&o.LeaderIdentity, "leader-elect-identity", "", "this replica's name in the Lease (default $POD_NAME, else the host name and a random suffix)")
	fl.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long the other replicas wait after the leader's last renewal before taking the Lease")
	fl.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "the leader stops writing statuses when it could not renew the Lease for this long (less than the lease duration)")
	fl.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "how often the replicas try to acquire or renew the Lease")
	return cmd
}

// podDefaults applies the downward-API defaults when running in a pod: --namespace
// defaults to the pod's namespace and --labels to the pod's labels (read from
// --pod-labels-file), unless given on the command line.
func podDefaults(cmd *cobra.Command, o *app.Options, labelsFile string) error {
	if !cmd.Flags().Changed("namespace") {
		if ns := kube.PodNamespace(os.Getenv, os.ReadFile); ns != "" {
			o.Namespace = ns
		}
	}
	if !cmd.Flags().Changed("labels") && labelsFile != "" {
		labels, ok, err := kube.PodLabels(labelsFile)
		if err != nil {
			return err
		}
		if ok && len(labels) > 0 {
			o.Labels = labels
		}
	}
	return nil
}
