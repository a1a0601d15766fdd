package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePortMap(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    map[uint32]string
		wantErr bool
	}{
		{name: "one", in: []string{"443=127.0.0.1:8443"}, want: map[uint32]string{443: "127.0.0.1:8443"}},
		{name: "two", in: []string{"443=127.0.0.1:8443", "80=:8080"}, want: map[uint32]string{443: "127.0.0.1:8443", 80: ":8080"}},
		{name: "ipv6", in: []string{"443=[::1]:8443"}, want: map[uint32]string{443: "[::1]:8443"}},
		{name: "no equals", in: []string{"443"}, wantErr: true},
		{name: "bad port", in: []string{"x=127.0.0.1:1"}, wantErr: true},
		{name: "zero port", in: []string{"0=127.0.0.1:1"}, wantErr: true},
		{name: "bad addr", in: []string{"443=127.0.0.1"}, wantErr: true},
		{name: "duplicate", in: []string{"443=:1", "443=:2"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePortMap(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Fatalf("(-want +got)\n%s", d)
				}
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels([]string{"istio=ingressgateway,app=x", "team=a"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"istio": "ingressgateway", "app": "x", "team": "a"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
	if _, err := parseLabels([]string{"novalue"}); err == nil {
		t.Fatal("want error for label without =")
	}
}
