package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/pki"
)

// Portcullis writes the walkthrough's Istio resources for l into l.Dir/config — one
// Gateway with a MUTUAL server per host (its own credentialName), one VirtualService per
// host routing exact "/" to the host's service, ServiceEntries placing the services at
// the backend addresses — and the credentials either as Secrets in the config
// (credDir == "") or in credDir in the secret-volume layout (NAME/{cert,key,cacert}),
// which portcullis watches for rotation.
func Portcullis(l Layout, bin, credDir string, pprof bool) (*Peer, error) {
	cfg := filepath.Join(l.Dir, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		return nil, err
	}
	var gw, vs, secrets strings.Builder
	gw.WriteString("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: bench-gateway\n  namespace: default\nspec:\n  selector:\n    istio: ingressgateway\n  servers:\n")
	svc := serviceNames(l)
	for i, h := range l.Hosts {
		cred := label(h) + "-credential"
		fmt.Fprintf(&gw, "  - port: {number: 443, name: https-%d, protocol: HTTPS}\n    tls: {mode: MUTUAL, credentialName: %s}\n    hosts: [%q]\n", i, cred, h)
		if i > 0 {
			vs.WriteString("---\n")
		}
		fmt.Fprintf(&vs, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: %s\n  namespace: default\nspec:\n  hosts: [%q]\n  gateways: [bench-gateway]\n  http:\n", label(h), h)
		if l.GRPC != nil {
			fmt.Fprintf(&vs, "  - match:\n    - uri: {exact: %s}\n    route:\n    - destination: {host: %s, port: {number: 80}}\n", l.GRPC.Path, grpcService)
		}
		fmt.Fprintf(&vs, "  - match:\n    - uri: {exact: /}\n    route:\n    - destination: {host: %s, port: {number: 80}}\n", svc[l.Upstream[h]])
		if err := writeCredential(&secrets, pki.PathsFor(l.PKI, h), cred, credDir); err != nil {
			return nil, err
		}
	}
	files := map[string]string{"gateway.yaml": gw.String(), "virtualservices.yaml": vs.String(), "backends.yaml": serviceEntries(svc) + upstreamExtras(l, svc)}
	if credDir == "" {
		files["secrets.yaml"] = secrets.String()
	}
	for name, content := range files {
		if err := writeFile(filepath.Join(cfg, name), content); err != nil {
			return nil, err
		}
	}
	argv := []string{bin, "run", "--config", cfg, "--port-map", "443=" + l.Listen, "--admin", l.Admin}
	if credDir != "" {
		argv = append(argv, "--credentials-dir", credDir)
	}
	if pprof {
		argv = append(argv, "--pprof")
	}
	return &Peer{Name: "portcullis", Argv: argv, Env: []string{"GOMAXPROCS=1"},
		ReadyURL: "http://" + l.Admin + "/healthz/ready", Dir: l.Dir}, nil
}

// serviceNames names one in-cluster service per backend address.
func serviceNames(l Layout) map[string]string {
	names, _ := upstreams(l)
	out := make(map[string]string, len(names))
	for addr, n := range names {
		out[addr] = n + ".bench.svc.cluster.local"
	}
	return out
}

func serviceEntries(svc map[string]string) string {
	addrs := make([]string, 0, len(svc))
	for a := range svc {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var b strings.Builder
	for i, addr := range addrs {
		host, port, _ := strings.Cut(addr, ":")
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: %s\n  namespace: bench\nspec:\n  hosts: [%s]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports:\n  - {number: 80, name: http, protocol: HTTP, targetPort: %s}\n  endpoints:\n  - address: %s\n",
			strings.SplitN(svc[addr], ".", 2)[0], svc[addr], port, host)
	}
	return b.String()
}

// grpcService is the in-cluster name of the gRPC backend (Layout.GRPC).
const grpcService = "grpc.bench.svc.cluster.local"

// upstreamExtras is what Layout.UpstreamTLS and Layout.GRPC add: a DestinationRule per
// service originating TLS (SIMPLE, the upstream's CA, SNI and the name it must carry), and
// a ServiceEntry whose port says GRPC, so the gateway speaks HTTP/2 (h2c) to it.
func upstreamExtras(l Layout, svc map[string]string) string {
	var b strings.Builder
	if t := l.UpstreamTLS; t != nil {
		names := make([]string, 0, len(svc))
		for _, n := range svc {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: %s-tls\n  namespace: bench\nspec:\n  host: %s\n  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: %s, sni: %s, subjectAltNames: [%s]}\n",
				strings.SplitN(n, ".", 2)[0], n, t.CA, t.SNI, t.SNI)
		}
	}
	if g := l.GRPC; g != nil {
		host, port, _ := strings.Cut(g.Addr, ":")
		fmt.Fprintf(&b, "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: grpc\n  namespace: bench\nspec:\n  hosts: [%s]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports:\n  - {number: 80, name: grpc, protocol: GRPC, targetPort: %s}\n  endpoints:\n  - address: %s\n",
			grpcService, port, host)
	}
	return b.String()
}

// writeCredential appends a Secret for p to secrets, or writes credDir/name/{cert,key,cacert}.
func writeCredential(secrets *strings.Builder, p pki.Paths, name, credDir string) error {
	data := map[string]string{}
	for key, path := range map[string]string{"cert": p.ServerCert, "key": p.ServerKey, "cacert": p.Chain} {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		data[key] = string(b)
	}
	if credDir != "" {
		files := map[string][]byte{}
		for k, v := range data {
			files[k] = []byte(v)
		}
		return WriteVolume(filepath.Join(credDir, name), files)
	}
	fmt.Fprintf(secrets, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: istio-system\nstringData:\n", name)
	for _, key := range []string{"cert", "key", "cacert"} {
		fmt.Fprintf(secrets, "  %s: |\n", key)
		for _, line := range strings.Split(strings.TrimRight(data[key], "\n"), "\n") {
			fmt.Fprintf(secrets, "    %s\n", line)
		}
	}
	return nil
}

// Direct is the Go floor: the backend binary serving the hosts itself over per-SNI mutual
// TLS, no proxying.
func Direct(l Layout, backendBin string) *Peer {
	return &Peer{Name: "direct", Argv: []string{backendBin, "-listen", l.Listen, "-tls-pki", l.PKI, "-hosts", strings.Join(l.Hosts, ",")},
		Env: []string{"GOMAXPROCS=1"}}
}
