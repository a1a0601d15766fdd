package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/bench/internal/pki"
	"github.com/portcullis/portcullis/internal/decode"
	"github.com/portcullis/portcullis/internal/source/file"
)

func layout(t *testing.T) Layout {
	t.Helper()
	dir := t.TempDir()
	hosts := []string{"frontend.foocorp.com", "inventory.foocorp.com"}
	for _, h := range hosts {
		if _, err := pki.Host(filepath.Join(dir, "pki"), h); err != nil {
			t.Fatal(err)
		}
	}
	return Layout{Dir: filepath.Join(dir, "target"), PKI: filepath.Join(dir, "pki"), Hosts: hosts,
		Upstream: map[string]string{hosts[0]: "127.0.0.1:19001", hosts[1]: "127.0.0.1:19002"},
		Listen:   "127.0.0.1:18443", Admin: "127.0.0.1:18000", Pool: 64}
}

// The generated Istio YAML must decode cleanly with the gateway's own strict decoder.
func TestPortcullisConfigDecodes(t *testing.T) {
	l := layout(t)
	if _, err := Portcullis(l, "portcullis", "", false); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"gateway.yaml": 1, "virtualservices.yaml": 2, "backends.yaml": 2, "secrets.yaml": 2}
	for name, n := range want {
		b, err := os.ReadFile(filepath.Join(l.Dir, "config", name))
		if err != nil {
			t.Fatal(err)
		}
		bundle := decode.Decode(b, name)
		if len(bundle.Diagnostics) > 0 {
			t.Fatalf("%s: %v", name, bundle.Diagnostics)
		}
		got := len(bundle.Gateways) + len(bundle.VirtualServices) + len(bundle.ServiceEntries) + len(bundle.Secrets)
		if got != n {
			t.Errorf("%s: %d objects, want %d", name, got, n)
		}
	}
}

// withBackends is l with upstream TLS and a gRPC route (the backends suite's layout).
func withBackends(l Layout) Layout {
	l.UpstreamTLS = &UpstreamTLS{CA: filepath.Join(l.PKI, "upstream-ca.pem"), SNI: "upstream.bench.internal"}
	l.GRPC = &GRPCRoute{Path: "/grpc.health.v1.Health/Check", Addr: "127.0.0.1:19004"}
	for h := range l.Upstream {
		l.Upstream[h] = "127.0.0.1:19003"
	}
	return l
}

// The backends layout must decode cleanly too: a DestinationRule originating TLS, a GRPC
// ServiceEntry, and the gRPC route before "/".
func TestPortcullisBackendsConfigDecodes(t *testing.T) {
	l := withBackends(layout(t))
	if _, err := Portcullis(l, "portcullis", "", false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(l.Dir, "config", "backends.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := decode.Decode(b, "backends.yaml")
	if len(bundle.Diagnostics) > 0 {
		t.Fatalf("backends.yaml: %v", bundle.Diagnostics)
	}
	if len(bundle.DestinationRules) != 1 || len(bundle.ServiceEntries) != 2 {
		t.Fatalf("%d DestinationRules, %d ServiceEntries; want 1 and 2", len(bundle.DestinationRules), len(bundle.ServiceEntries))
	}
	if tls := bundle.DestinationRules[0].Spec.GetTrafficPolicy().GetTls(); tls.GetSni() != "upstream.bench.internal" || tls.GetMode().String() != "SIMPLE" {
		t.Errorf("DestinationRule tls = %v", tls)
	}
}

// The secret-volume layout must be what `--credentials-dir` reads, before and after a rotation.
func TestCredentialsDirLoads(t *testing.T) {
	l := layout(t)
	cred := filepath.Join(t.TempDir(), "credentials")
	if _, err := Portcullis(l, "portcullis", cred, false); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		b, err := file.Load(file.Options{CredentialsDir: cred})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Secrets) != 2 || len(b.Diagnostics) > 0 {
			t.Fatalf("round %d: %d secrets, diagnostics %v; want 2 and none", round, len(b.Secrets), b.Diagnostics)
		}
		p := pki.PathsFor(l.PKI, l.Hosts[0])
		files := map[string][]byte{}
		for k, path := range map[string]string{"cert": p.ServerCert, "key": p.ServerKey, "cacert": p.Chain} {
			if files[k], err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}
		if err := WriteVolume(filepath.Join(cred, label(l.Hosts[0])+"-credential"), files); err != nil {
			t.Fatal(err)
		}
	}
}

// nginx and HAProxy must accept their generated configurations (skipped where not installed).
func TestPeerConfigsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		bin  string
		make func(Layout, string) (*Peer, error)
		args func(*Peer) []string
	}{
		{"nginx", "nginx", Nginx, nginxCheck},
		{"haproxy", "haproxy", HAProxy, haproxyCheck},
		{"nginx-backends", "nginx", backends(Nginx), nginxCheck},
		{"haproxy-backends", "haproxy", backends(HAProxy), haproxyCheck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, err := exec.LookPath(tc.bin)
			if err != nil {
				if bin, err = exec.LookPath("/usr/sbin/" + tc.bin); err != nil {
					t.Skipf("%s not installed", tc.bin)
				}
			}
			p, err := tc.make(layout(t), bin)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, tc.args(p)...).CombinedOutput(); err != nil {
				t.Fatalf("%s rejects its config: %v\n%s", tc.bin, err, out)
			}
		})
	}
}

func nginxCheck(p *Peer) []string   { return append(p.Argv[1:], "-t") }
func haproxyCheck(p *Peer) []string { return append([]string{"-c"}, p.Argv[2:]...) }

// backends configures make for withBackends' layout, with a real CA file in place.
func backends(make func(Layout, string) (*Peer, error)) func(Layout, string) (*Peer, error) {
	return func(l Layout, bin string) (*Peer, error) {
		l = withBackends(l)
		chain, err := os.ReadFile(pki.PathsFor(l.PKI, l.Hosts[0]).Chain)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(l.UpstreamTLS.CA, chain, 0o644); err != nil {
			return nil, err
		}
		return make(l, bin)
	}
}
