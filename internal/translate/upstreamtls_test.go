package translate

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestUpstreamTLSAsIstio(t *testing.T) {
	tr := &translator{opts: Options{Namespace: "istio-system"}}
	mode := func(m networking.ClientTLSSettings_TLSmode) *networking.ClientTLSSettings {
		return &networking.ClientTLSSettings{Mode: m}
	}
	cases := []struct {
		name    string
		in      *networking.ClientTLSSettings
		wantErr string // substring of the first error; "" none
		check   func(t *testing.T, f findings, key string, sys, auto bool)
	}{
		{name: "DISABLE is plaintext", in: mode(networking.ClientTLSSettings_DISABLE)},
		{name: "ISTIO_MUTUAL", in: mode(networking.ClientTLSSettings_ISTIO_MUTUAL), wantErr: "mesh CA"},
		{name: "SIMPLE defaults to the system roots and auto SNI/SAN", in: mode(networking.ClientTLSSettings_SIMPLE),
			check: func(t *testing.T, _ findings, key string, sys, auto bool) {
				if key != "" || !sys || !auto {
					t.Errorf("key %q system %v auto %v", key, sys, auto)
				}
			}},
		{name: "SIMPLE credentialName reads only the CA", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, CredentialName: "up"},
			check: func(t *testing.T, _ findings, key string, sys, _ bool) {
				if key != "client-ca:secret:istio-system/up" || sys {
					t.Errorf("key %q system %v", key, sys)
				}
			}},
		{name: "MUTUAL credentialName", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_MUTUAL, CredentialName: "up"},
			check: func(t *testing.T, _ findings, key string, _, _ bool) {
				if key != "client:secret:istio-system/up" {
					t.Errorf("key %q", key)
				}
			}},
		{name: "MUTUAL needs a certificate and key", in: mode(networking.ClientTLSSettings_MUTUAL), wantErr: "client certificate required"},
		{name: "credentialName with files", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, CredentialName: "up", CaCertificates: "/ca"},
			wantErr: "cannot specify"},
		{name: "insecureSkipVerify with a CA", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, CaCertificates: "/ca",
			InsecureSkipVerify: wrapperspb.Bool(true)}, wantErr: "insecureSkipVerify"},
		{name: "insecureSkipVerify warns", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, InsecureSkipVerify: wrapperspb.Bool(true)},
			check: func(t *testing.T, f findings, _ string, sys, auto bool) {
				if len(f) != 1 || f[0].sev != diag.Warning || sys || auto {
					t.Errorf("findings %v system %v auto %v", f, sys, auto)
				}
			}},
		{name: "empty SAN", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, SubjectAltNames: []string{""}}, wantErr: "empty subject"},
		{name: "caCrl without a CA", in: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, CaCrl: "/crl"}, wantErr: "caCrl needs caCertificates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f findings
			out := tr.upstreamTLS(&f, "tls", tc.in, nil)
			var firstErr string
			for _, x := range f {
				if x.sev == diag.Error {
					firstErr = x.msg
					break
				}
			}
			if tc.wantErr != "" {
				if !strings.Contains(firstErr, tc.wantErr) {
					t.Fatalf("first error %q, want %q (findings %v)", firstErr, tc.wantErr, f)
				}
				return
			}
			if firstErr != "" {
				t.Fatalf("unexpected error %q", firstErr)
			}
			if tc.in.Mode == networking.ClientTLSSettings_DISABLE {
				if out != nil {
					t.Fatalf("DISABLE: %+v", out)
				}
				return
			}
			key := ""
			if out.Credential != nil {
				key = out.Credential.Key()
			}
			if tc.check != nil {
				tc.check(t, f, key, out.SystemRoots, out.AutoSAN())
			}
		})
	}
}

func TestPassthroughUpstreamTLSWarns(t *testing.T) {
	var f findings
	c := snapshot.Cluster{Host: "db.internal", TLS: &snapshot.UpstreamTLS{Mode: "SIMPLE"}}
	passthroughUpstreamTLS(&f, "spec.tcp[0]", "spec.tcp[0].route[0]", c)
	if len(f) != 0 {
		t.Fatalf("tcp route: %v", f)
	}
	passthroughUpstreamTLS(&f, "spec.tls[0]", "spec.tls[0].route[0]", c)
	if len(f) != 1 || f[0].sev != diag.Warning || f[0].field != "spec.tls[0].route[0].destination" {
		t.Fatalf("tls route: %v", f)
	}
}
