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
