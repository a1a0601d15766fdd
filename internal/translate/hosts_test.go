package translate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIntersect(t *testing.T) {
	tests := []struct {
		name, a, b, want string
		ok               bool
	}{
		{"equal", "a.com", "a.com", "a.com", true},
		{"different", "a.com", "b.com", "", false},
		{"star left", "*", "a.com", "a.com", true},
		{"star right", "*.a.com", "*", "*.a.com", true},
		{"wildcard covers exact", "*.a.com", "x.a.com", "x.a.com", true},
		{"wildcard covers deep exact", "*.a.com", "y.x.a.com", "y.x.a.com", true},
		{"wildcard does not cover apex", "*.a.com", "a.com", "", false},
		{"exact under wildcard, reversed", "x.a.com", "*.a.com", "x.a.com", true},
		{"nested wildcards", "*.a.com", "*.x.a.com", "*.x.a.com", true},
		{"nested wildcards reversed", "*.x.a.com", "*.a.com", "*.x.a.com", true},
		{"disjoint wildcards", "*.a.com", "*.b.com", "", false},
		{"suffix is not a label boundary", "*.a.com", "xa.com", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := intersect(tc.a, tc.b)
			if got != tc.want || ok != tc.ok {
				t.Errorf("intersect(%q, %q) = %q, %v; want %q, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseServerHost(t *testing.T) {
	tests := []struct {
		name, raw string
		want      serverHost
		wantErr   bool
	}{
		{"bare", "Foo.Example.com", serverHost{ns: "*", host: "foo.example.com"}, false},
		{"namespace", "ux/foo.com", serverHost{ns: "ux", host: "foo.com"}, false},
		{"dot is gateway namespace", "./foo.com", serverHost{ns: "gwns", host: "foo.com"}, false},
		{"any namespace", "*/*.foo.com", serverHost{ns: "*", host: "*.foo.com"}, false},
		{"star", "*", serverHost{ns: "*", host: "*"}, false},
		{"empty", "", serverHost{}, true},
		{"empty after namespace", "ux/", serverHost{}, true},
		{"two slashes", "a/b/c.com", serverHost{}, true},
		{"bad namespace", "Bad_NS/foo.com", serverHost{}, true},
		{"inner wildcard", "foo.*.com", serverHost{}, true},
		{"partial wildcard", "*foo.com", serverHost{}, true},
		{"space", "foo .com", serverHost{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServerHost(tc.raw, "gwns")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(serverHost{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveGatewayRef(t *testing.T) {
	tests := []struct {
		ref, want string
		ok        bool
	}{
		{"gw", "vsns/gw", true},
		{"other/gw", "other/gw", true},
		{"./gw", "vsns/gw", true},
		{"gw.other", "other/gw", true},
		{"gw.other.svc.cluster.local", "other/gw", true},
		{"mesh", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, ok := resolveGatewayRef(tc.ref, "vsns")
			if got != tc.want || ok != tc.ok {
				t.Errorf("resolveGatewayRef(%q) = %q, %v; want %q, %v", tc.ref, got, ok, tc.want, tc.ok)
			}
		})
	}
}
