package translate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestConnectionPoolMerge checks testdata/pool.in.yaml field by field: the top-level pool,
// portLevelSettings replacing it wholesale (a field they leave unset falls back to the
// default, not to the top level), a subset's pool replacing the top level, a subset's
// portLevelSettings replacing the subset's, L4 destinations reading the same pool, and an
// invalid pool failing its routes closed.
func TestConnectionPoolMerge(t *testing.T) {
	b, opts := loadCase(t, "testdata/pool.in.yaml")
	snap, diags := Translate(b, opts)
	pools := map[string]*snapshot.ConnectionPool{}
	for i := range snap.Clusters {
		pools[snap.Clusters[i].Name] = snap.Clusters[i].Pool
	}
	top := pools["outbound|80||api.internal"]
	if top == nil || top.MaxConnections != 10 || top.MaxPendingRequests != 2 || top.MaxRequests != 20 ||
		top.MaxRetries != 4 || top.MaxRequestsPerConnection != 5 || top.ConnectTimeoutMillis != 250 ||
		top.IdleTimeoutMillis != 30000 || top.MaxConnectionDurationMillis != 60000 ||
		top.Keepalive == nil || *top.Keepalive != (snapshot.TCPKeepalive{Probes: 3, TimeSeconds: 30, IntervalSeconds: 5}) {
		t.Errorf("top level: %+v", top)
	}
	if v1 := pools["outbound|80|v1|api.internal"]; v1 == nil || v1.MaxConnections != 10 || v1.MaxRequestsPerConnection != 5 || v1.Keepalive == nil {
		t.Errorf("subset without a policy inherits the top level: %+v", v1)
	}
	port := pools["outbound|8080||api.internal"]
	want := snapshot.ConnectionPool{MaxRequests: 1, ConnectTimeoutMillis: 10000, IdleTimeoutMillis: 3600000, TCPIdleTimeoutMillis: 3600000}
	if port == nil || *port != want {
		t.Errorf("port level (replaces wholesale, no inheritance): %+v, want %+v", port, want)
	}
	v2 := pools["outbound|80|v2|api.internal"]
	want = snapshot.ConnectionPool{MaxConnections: 1, ConnectTimeoutMillis: 10000}
	if v2 == nil || *v2 != want {
		t.Errorf("subset pool replaces the top level: %+v, want %+v", v2, want)
	}
	v2port := pools["outbound|8080|v2|api.internal"]
	want = snapshot.ConnectionPool{MaxPendingRequests: 7, ConnectTimeoutMillis: 10000, IdleTimeoutMillis: 3600000, TCPIdleTimeoutMillis: 3600000}
	if v2port == nil || *v2port != want {
		t.Errorf("subset port level: %+v, want %+v", v2port, want)
	}
	var l4 *snapshot.L4Destination
	for _, l := range snap.Listeners {
		for _, s := range l.Servers {
			for _, r := range s.TCPRoutes {
				l4 = &r.Destinations[0]
			}
		}
	}
	if l4 == nil || l4.MaxConnections != 1 || l4.IdleTimeoutMillis != 0 || l4.ConnectTimeoutMillis != 10000 {
		t.Errorf("L4 destination of subset v2: %+v", l4)
	}
	if pools["outbound|80||bad.internal"] != nil {
		t.Error("an invalid pool must not reach the snapshot")
	}
	var drErrs, failed int
	for _, d := range diags {
		switch {
		case d.Kind == kindDestinationRule && d.Name == "bad":
			drErrs++
		case d.Kind == kindVirtualService && strings.HasPrefix(d.Field, "spec.http[5]") && strings.Contains(d.Message, "fails closed"):
			failed++
		}
	}
	if drErrs != 3 || failed != 1 {
		t.Errorf("invalid pool: %d DestinationRule errors (want 3), %d failed rules (want 1): %v", drErrs, failed, diags)
	}
	served := 0
	for _, l := range snap.Listeners {
		for _, s := range l.Servers {
			for _, vh := range s.VirtualHosts {
				for _, r := range vh.Routes {
					if strings.HasSuffix(r.Name, "/invalid") && r.Fail == nil {
						t.Errorf("route to the invalid pool's host is served: %+v", r)
					}
					if r.Forward != nil {
						served++
					}
				}
			}
		}
	}
	if served != 5 {
		t.Errorf("%d routes forward, want 5", served)
	}
}

// TestHTTP2PoolSettings: maxConcurrentStreams and http2KeepAlive reach the snapshot, and
// Istio's validation of them (non-negative; interval and timeout both required, valid
// durations) reports the field.
func TestHTTP2PoolSettings(t *testing.T) {
	cp := &networking.ConnectionPoolSettings{Http: &networking.ConnectionPoolSettings_HTTPSettings{
		MaxConcurrentStreams: 7,
		Http2KeepAlive: &networking.ConnectionPoolSettings_HTTPSettings_ConnectionKeepalive{
			Interval: durationpb.New(10 * time.Second), Timeout: durationpb.New(2 * time.Second)},
	}}
	var f findings
	checkPool(&f, "p", cp)
	if len(f) != 0 {
		t.Fatalf("valid settings reported: %v", f)
	}
	p := connectionPool(cp)
	if p.MaxConcurrentStreams != 7 || p.H2Keepalive == nil || *p.H2Keepalive != (snapshot.H2Keepalive{IntervalMillis: 10000, TimeoutMillis: 2000}) {
		t.Fatalf("pool %+v", p)
	}
	cp.Http.MaxConcurrentStreams = -1
	cp.Http.Http2KeepAlive = &networking.ConnectionPoolSettings_HTTPSettings_ConnectionKeepalive{Interval: durationpb.New(time.Microsecond)}
	checkPool(&f, "p", cp)
	var got []string
	for _, x := range f {
		got = append(got, x.field)
	}
	want := []string{"p.http.maxConcurrentStreams", "p.http.http2KeepAlive.interval", "p.http.http2KeepAlive.timeout"}
	if !slices.Equal(got, want) {
		t.Fatalf("findings on %v, want %v: %v", got, want, f)
	}
}

// HTTP/2-only pool settings on a cluster that speaks HTTP/1.1 (or the client's protocol)
// have no effect, as in Istio; validate says so on the route that reaches it. On an
// HTTP/2 port they apply and nothing is said.
func TestHTTP2PoolSettingsOnHTTP1Cluster(t *testing.T) {
	const cfg = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: apps}
spec:
  hosts: [api.internal]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: apps}
spec:
  host: api.internal
  trafficPolicy:
    connectionPool:
      http: {maxConcurrentStreams: 8}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: apps}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /grpc}}]
    route: [{destination: {host: api.internal, port: {number: 81}}}]
  - route: [{destination: {host: api.internal, port: {number: 80}}}]
`
	in := filepath.Join(t.TempDir(), "h2.yaml")
	if err := os.WriteFile(in, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	b, opts := loadCase(t, in)
	_, diags := Translate(b, opts)
	var got []string
	for _, d := range diags {
		if strings.Contains(d.Message, "maxConcurrentStreams") {
			got = append(got, d.Kind+" "+d.Field+": "+d.Message)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "VirtualService spec.http[1].route[0].destination.host") ||
		!strings.Contains(got[0], "api.internal port 80 is not one, so they have no effect") {
		t.Fatalf("findings: %q", got)
	}
}
