package upstream

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDropH2CUpgrade(t *testing.T) {
	cases := []struct {
		name     string
		in, want http.Header
	}{
		{"h2c", http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade"}, "Http2-Settings": {"AAA"}, "A": {"b"}}, http.Header{"A": {"b"}}},
		{"upper case in a list", http.Header{"Upgrade": {"foo/1, H2C"}, "Connection": {"Upgrade"}}, http.Header{}},
		{"websocket kept", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}},
		{"h2c-like token kept", http.Header{"Upgrade": {"h2cx"}, "Connection": {"Upgrade"}}, http.Header{"Upgrade": {"h2cx"}, "Connection": {"Upgrade"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dropH2CUpgrade(tc.in)
			if diff := cmp.Diff(tc.want, tc.in); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

func TestRefusedUpgradeType(t *testing.T) {
	for _, tc := range []struct {
		conn, upgrade string
		want          bool
	}{
		{"Upgrade", "websocket", false},
		{"keep-alive, upgrade", "WebSocket", false},
		{"Upgrade", "h2c", false},
		{"Upgrade", "foo/1, h2c", false},
		{"Upgrade", "foo/1", true},
		{"Upgrade", "TLS/1.2", true},
		{"keep-alive", "foo/1", false}, // not an upgrade: Connection does not name it
	} {
		r, _ := http.NewRequest("GET", "http://a/", nil)
		r.Header.Set("Connection", tc.conn)
		r.Header.Set("Upgrade", tc.upgrade)
		if got := refusedUpgradeType(r); got != tc.want {
			t.Errorf("Connection %q Upgrade %q: refused %v, want %v", tc.conn, tc.upgrade, got, tc.want)
		}
	}
}
