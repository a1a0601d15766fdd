package policy

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/bench/internal/backend"
	"github.com/portcullis/portcullis/bench/internal/pki"
)

// The direct server must pass every probe; a server without the SNI/Host binding must not.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{backend.FrontendHost, backend.InventoryHost}
	for _, h := range hosts {
		if _, err := pki.Host(dir, h); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := backend.DirectTLS(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		handler http.Handler
		wantOK  bool
	}{
		{"bound", backend.Direct(backend.Handler()), true},
		{"unbound", onlyRoot(backend.Handler()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: tc.handler, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0)}
			go srv.ServeTLS(ln, "", "")
			defer srv.Close()
			cs, err := Check(context.Background(), ln.Addr().String(), dir, hosts[0], hosts[1])
			if err != nil {
				t.Fatal(err)
			}
			if OK(cs) != tc.wantOK {
				t.Fatalf("OK = %v, want %v: %s", OK(cs), tc.wantOK, cmp.Diff(nil, cs))
			}
		})
	}
}

func onlyRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
