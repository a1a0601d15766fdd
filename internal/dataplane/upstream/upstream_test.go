package upstream

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestClientCertHeader(t *testing.T) {
	u, _ := url.Parse("spiffe://foo.com/ns/a;b")
	leaf := &x509.Certificate{
		Raw:      []byte("der"),
		Subject:  pkix.Name{CommonName: `a "quoted", name`, Organization: []string{"FooCorp"}},
		DNSNames: []string{"a.foo.com", "b.foo.com"},
		URIs:     []*url.URL{u},
	}
	got := ClientCertHeader(leaf)
	wantRest := `;Subject="CN=a \"quoted\"\, name,O=FooCorp";URI="spiffe://foo.com/ns/a;b";DNS=a.foo.com;DNS=b.foo.com`
	if len(got) < 69 || got[:5] != "Hash=" || got[69:] != wantRest {
		t.Fatalf("got  %s\nwant Hash=<64 hex>%s", got, wantRest)
	}
}

func TestStatusFor(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 503},
		{"dial timeout", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, 503},
		{"route timeout", fmt.Errorf("wrapped: %w", context.DeadlineExceeded), 504},
		{"read timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, 504},
		{"reset", errors.New("connection reset by peer"), 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := StatusFor(tc.err); got != tc.want {
				t.Fatalf("StatusFor(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestRoundRobin(t *testing.T) {
	cs := NewClusters([]snapshot.Cluster{{Name: "c", Endpoints: []string{"a:1", "b:1", "c:1"}}, {Name: "empty"}})
	var got []string
	for range 6 {
		ep, ok := cs.Get("c").Pick(nil)
		if !ok {
			t.Fatal("no endpoint")
		}
		got = append(got, ep)
	}
	if diff := cmp.Diff([]string{"a:1", "b:1", "c:1", "a:1", "b:1", "c:1"}, got); diff != "" {
		t.Fatal(diff)
	}
	if _, ok := cs.Get("empty").Pick(nil); ok {
		t.Fatal("empty cluster picked an endpoint")
	}
	if _, ok := cs.Get("missing").Pick(nil); ok {
		t.Fatal("missing cluster picked an endpoint")
	}
}

func TestApplyHeaderOps(t *testing.T) {
	h := http.Header{"X-Drop": {"1"}, "X-Set": {"old"}, "X-Add": {"a"}}
	ApplyHeaderOps(h, &snapshot.HeaderOps{Remove: []string{"X-Drop"}, Set: map[string]string{"X-Set": "new"},
		Add: map[string]string{"X-Add": "b"}})
	want := http.Header{"X-Set": {"new"}, "X-Add": {"a", "b"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Fatal(diff)
	}
}

// Istio sets no response deadline unless a route has a timeout: neither does the proxy
// by default (it used to cut every response head at 60 s).
func TestNoDefaultResponseHeaderTimeout(t *testing.T) {
	p := NewProxy(Options{}, nil)
	defer p.CloseIdleConnections()
	if p.transport.respHeaderTimeout != 0 || p.transport.fallback.ResponseHeaderTimeout != 0 {
		t.Errorf("default response-header timeout %v / %v, want none", p.transport.respHeaderTimeout, p.transport.fallback.ResponseHeaderTimeout)
	}
	p2 := NewProxy(Options{ResponseHeaderTimeout: 90 * time.Second}, nil)
	defer p2.CloseIdleConnections()
	if p2.transport.respHeaderTimeout != 90*time.Second {
		t.Errorf("explicit timeout: %v", p2.transport.respHeaderTimeout)
	}
}
