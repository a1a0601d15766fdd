package router

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHostsLookup(t *testing.T) {
	h := NewHosts([][]string{
		0: {"frontend.foocorp.com"},
		1: {"*.foocorp.com"},
		2: {"*.eu.foocorp.com", "Inventory.FooCorp.com."},
		3: {"*"},
		4: {"frontend.foocorp.com", "*.foocorp.com", "*", "only-four.example"}, // all but one already claimed
		5: {"", "*foo.com", "foo.*"},                                           // ignored / literal only
	})
	cases := []struct {
		name, host string
		want       int
	}{
		{"exact", "frontend.foocorp.com", 0},
		{"exact beats wildcard", "frontend.foocorp.com", 0},
		{"wildcard one label", "api.foocorp.com", 1},
		{"wildcard several labels", "a.b.foocorp.com", 1},
		{"longest wildcard wins", "x.eu.foocorp.com", 2},
		{"longest wildcard, deeper name", "a.b.eu.foocorp.com", 2},
		{"wildcard does not match its bare suffix", "foocorp.com", 3},
		{"bare suffix of longer wildcard falls to shorter", "eu.foocorp.com", 1},
		{"star catches the rest", "example.org", 3},
		{"pattern lower-cased and trailing dot dropped", "inventory.foocorp.com", 2},
		{"case-insensitive", "FrontEnd.FOOCORP.com", 0},
		{"case-insensitive wildcard", "API.EU.FooCorp.COM", 2},
		{"port stripped", "frontend.foocorp.com:443", 0},
		{"empty port stripped", "frontend.foocorp.com:", 0},
		{"trailing dot", "frontend.foocorp.com.", 0},
		{"trailing dot and port", "frontend.foocorp.com.:8443", 0},
		{"first claimer keeps, unclaimed pattern works", "only-four.example", 4},
		{"literal non-Istio wildcard", "*foo.com", 5},
		{"non-Istio wildcard does not glob", "afoo.com", 3},
		{"empty name only matches star", "", 3},
		{"leading dot is not a label", ".foocorp.com", 3},
		{"ipv6 with port", "[::1]:443", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, h.Lookup(tc.host)); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tc.host, diff)
			}
		})
	}
}

func TestHostsNoMatch(t *testing.T) {
	h := NewHosts([][]string{{"a.example"}, {"*.b.example"}})
	for _, host := range []string{"", "b.example", "c.example", "a.example.com", "xa.example"} {
		if got := h.Lookup(host); got != -1 {
			t.Errorf("Lookup(%q) = %d, want -1", host, got)
		}
	}
	var nilHosts *Hosts
	if got := nilHosts.Lookup("a.example"); got != -1 {
		t.Errorf("nil Hosts Lookup = %d, want -1", got)
	}
}

func TestHostName(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "foo.com", "foo.com"},
		{"port", "foo.com:8080", "foo.com"},
		{"trailing dot", "foo.com.", "foo.com"},
		{"dot and port", "foo.com.:80", "foo.com"},
		{"case kept", "Foo.Com", "Foo.Com"},
		{"ipv6 bracketed", "[::1]", "[::1]"},
		{"ipv6 bracketed port", "[2001:db8::1]:443", "[2001:db8::1]"},
		{"ipv6 bare", "2001:db8::1", "2001:db8::1"},
		{"non-numeric port kept", "foo.com:http", "foo.com:http"},
		{"ipv4 port", "127.0.0.1:443", "127.0.0.1"},
		{"empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, HostName(tc.in)); diff != "" {
				t.Errorf("HostName(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestHostsLookupZeroAlloc(t *testing.T) {
	h := NewHosts([][]string{{"a.example.com"}, {"*.example.com"}, {"*"}})
	for _, host := range []string{"a.example.com", "A.EXAMPLE.COM:443", "x.y.example.com", "other.org."} {
		if n := testing.AllocsPerRun(100, func() { h.Lookup(host) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", host, n)
		}
	}
}
