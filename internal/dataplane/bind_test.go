package dataplane_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/testkit"
)

// boundHTTP is a plain-HTTP listener of port 80 bound to bind, answering every request
// for www.example.com with body.
func boundHTTP(bind, body string) snapshot.Listener {
	return snapshot.Listener{Name: "http_" + bind + "_80", Port: 80, Bind: bind, Protocol: snapshot.HTTP,
		Servers: []snapshot.Server{{Name: bind + ":80/http", Hosts: []string{"www.example.com"}, VirtualHosts: []snapshot.VirtualHost{{
			Name: "www.example.com:80", Domains: []string{"www.example.com"},
			Routes: []snapshot.Route{{Name: body, Direct: &snapshot.Direct{Status: 200, Body: body}}},
		}}}}}
}

func getBody(t *testing.T, addr string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = "www.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// One Gateway port on two bind addresses is two listeners with their own route tables;
// removing one leaves the other serving.
func TestBindAddressesAreSeparateListeners(t *testing.T) {
	snap := &snapshot.Snapshot{Version: "v1", Clusters: []snapshot.Cluster{},
		Listeners: []snapshot.Listener{boundHTTP("127.0.0.2", "two"), boundHTTP("127.0.0.3", "three")}}
	g := startGateway(t, snap, nil)
	a2, a3 := g.dp.BindAddr("127.0.0.2", 80), g.dp.BindAddr("127.0.0.3", 80)
	if a2 == nil || a3 == nil || g.dp.Addr(80) != nil {
		t.Fatalf("listeners: 127.0.0.2 %v, 127.0.0.3 %v, default %v", a2, a3, g.dp.Addr(80))
	}
	if !strings.HasPrefix(a2.String(), "127.0.0.2:") || !strings.HasPrefix(a3.String(), "127.0.0.3:") {
		t.Fatalf("bound %s and %s", a2, a3)
	}
	if got := getBody(t, a2.String()); got != "two" {
		t.Errorf("127.0.0.2: %q, want two", got)
	}
	if got := getBody(t, a3.String()); got != "three" {
		t.Errorf("127.0.0.3: %q, want three", got)
	}
	if cs := g.dp.Connections(); len(cs) != 1 || cs[0].Port != 80 {
		t.Errorf("connections by port: %+v, want one entry for port 80", cs)
	}

	next := &snapshot.Snapshot{Version: "v2", Clusters: []snapshot.Cluster{},
		Listeners: []snapshot.Listener{boundHTTP("127.0.0.3", "three-v2")}}
	if err := g.dp.Update(next); err != nil {
		t.Fatal(err)
	}
	if g.dp.BindAddr("127.0.0.2", 80) != nil {
		t.Error("the 127.0.0.2 listener is still open after its removal")
	}
	if got := g.dp.BindAddr("127.0.0.3", 80); got == nil || got.String() != a3.String() {
		t.Fatalf("the 127.0.0.3 listener changed: %v, was %s", got, a3)
	}
	if got := getBody(t, a3.String()); got != "three-v2" {
		t.Errorf("127.0.0.3 after update: %q, want three-v2", got)
	}
}

// On a port with a default-host listener and a bound one, a wildcard listen host cannot
// share the port with the specific address (Linux): the default listener is opened first,
// so it is always the bound one that fails and is reported, whatever the map order.
func TestBindBesideWildcardFailsTheBoundListener(t *testing.T) {
	port := uint32(testkit.FreePort(t))
	snap := &snapshot.Snapshot{Version: "v1", Clusters: []snapshot.Cluster{}, Listeners: []snapshot.Listener{
		{Name: "http_80", Port: port, Protocol: snapshot.HTTP, Servers: boundHTTP("", "default").Servers},
		boundHTTP("127.0.0.2", "two"),
	}}
	snap.Listeners[1].Port = port
	for i := range 5 { // map order varies between runs of the loop
		dp := dataplane.New(dataplane.Options{ListenHost: "0.0.0.0"}, nil, nil, nil)
		err := dp.Update(snap)
		if err == nil || !strings.Contains(err.Error(), "(bind 127.0.0.2)") {
			t.Fatalf("try %d: Update error %v, want the bound listener's", i, err)
		}
		if dp.Addr(port) == nil || dp.BindAddr("127.0.0.2", port) != nil {
			t.Fatalf("try %d: default %v, bound %v; want the default listener open", i, dp.Addr(port), dp.BindAddr("127.0.0.2", port))
		}
		_ = dp.Update(&snapshot.Snapshot{Version: "empty", Listeners: []snapshot.Listener{}, Clusters: []snapshot.Cluster{}})
	}
}
