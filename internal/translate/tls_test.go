package translate

import (
	"crypto/tls"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCipherSuites(t *testing.T) {
	tests := []struct {
		name      string
		in        []string
		want      []uint16
		wantError bool
	}{
		{"none", nil, nil, false},
		{"openssl names", []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, false},
		{"iana name", []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, false},
		{"duplicate kept once", []string{"ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, false},
		{"insecure 3DES", []string{"DES-CBC3-SHA"}, nil, true},
		{"insecure RC4", []string{"ECDHE-RSA-RC4-SHA"}, nil, true},
		{"unknown", []string{"FANCY-CIPHER"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f findings
			got := cipherSuites(&f, "spec.servers[0].tls.cipherSuites", tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if f.hasError() != tc.wantError {
				t.Errorf("errors = %v, want error %v", f, tc.wantError)
			}
		})
	}
}
