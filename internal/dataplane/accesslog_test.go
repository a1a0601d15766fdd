package dataplane_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// lines is a Sink that formats entries as the access log's text format does.
type lines struct {
	mu  sync.Mutex
	out []string
}

func (l *lines) Log(e *accesslog.Entry) {
	b := accesslog.AppendText(nil, e)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = append(l.out, strings.TrimSuffix(string(b), "\n"))
}

// last parses the newest line, waiting for it: the sink runs after the response.
func (l *lines) last(t *testing.T, n int) map[string]string {
	t.Helper()
	waitFor(t, "access log line", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.out) >= n
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := accesslog.ParseText(l.out[n-1])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAccessLogLines(t *testing.T) {
	f := newFooCorp(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := hostPort(down)
	down.Close()
	fr := &f.snap.Listeners[0].Servers[0].VirtualHosts[0]
	exact := func(p string) []snapshot.Match {
		return []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Exact, Value: p}}}
	}
	fr.Routes[0].Match = exact("/")
	empty, dead := forward("default/frontend/empty", "outbound|80||empty.ux.svc.cluster.local"), forward("default/frontend/dead", "outbound|80||dead.ux.svc.cluster.local")
	empty.Match, dead.Match = exact("/empty"), exact("/dead")
	fr.Routes = append(fr.Routes, empty, dead)
	f.snap.Clusters = append(f.snap.Clusters, cluster("outbound|80||empty.ux.svc.cluster.local"),
		cluster("outbound|80||dead.ux.svc.cluster.local", downAddr))
	log := &lines{}
	g := startGatewayOpts(t, f.snap, f.creds, dataplane.Options{Requests: log})
	c := g.client(t, f.frontendClient(t, g))
	base := "https://" + frontendHost

	cases := []struct {
		path, host                    string
		code, flags, details, cluster string
	}{
		{"/", "", "200", "-", "via_upstream", "outbound|80||frontend.ux.svc.cluster.local"},
		{"/nowhere", "", "404", "NR", "route_not_found", "-"},
		{"/", inventoryHost, "421", "-", "misdirected_request", "-"},
		{"/empty", "", "503", "UH", "no_healthy_upstream", "outbound|80||empty.ux.svc.cluster.local"},
		{"/dead", "", "503", "UF,URX", "upstream_reset_before_response_started{connection_failure}", "outbound|80||dead.ux.svc.cluster.local"},
	}
	for i, tc := range cases {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		req.Header.Set("User-Agent", "portcullis-test")
		req.Header.Set("X-Request-Id", "rid-"+tc.code)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		l := log.last(t, i+1)
		want := map[string]string{
			"METHOD": "GET", "PATH": tc.path, "PROTOCOL": "HTTP/1.1", "RESPONSE_CODE": tc.code,
			"RESPONSE_FLAGS": tc.flags, "RESPONSE_CODE_DETAILS": tc.details, "UPSTREAM_CLUSTER": tc.cluster,
			"USER-AGENT": "portcullis-test", "X-REQUEST-ID": "rid-" + tc.code,
			"REQUESTED_SERVER_NAME": frontendHost, "DOWNSTREAM_LOCAL_ADDRESS": g.dp.Addr(443).String(),
			"AUTHORITY": cmpOr(tc.host, frontendHost),
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.path, tc.host, k, l[k], v)
			}
		}
		if tc.code == "200" && (l["UPSTREAM_HOST"] != hostPort(f.frontend) || l["ROUTE_NAME"] != "default/frontend/0" || l["BYTES_SENT"] == "0") {
			t.Errorf("200: upstream host %s route %s bytes %s", l["UPSTREAM_HOST"], l["ROUTE_NAME"], l["BYTES_SENT"])
		}
		if _, _, err := net.SplitHostPort(l["DOWNSTREAM_REMOTE_ADDRESS"]); err != nil {
			t.Errorf("remote address %q: %v", l["DOWNSTREAM_REMOTE_ADDRESS"], err)
		}
	}

	// A failed handshake (unknown SNI) is one connection-level line with the reason.
	conn, err := tls.Dial("tcp", g.dp.Addr(443).String(), &tls.Config{ServerName: "unknown.example", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("handshake with an unknown SNI succeeded")
	}
	l := log.last(t, len(cases)+1)
	if l["RESPONSE_CODE"] != "0" || l["CONNECTION_TERMINATION_DETAILS"] != "tls_handshake_failed{unknown_sni}" || l["METHOD"] != "-" {
		t.Errorf("handshake failure line: %v", l)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
