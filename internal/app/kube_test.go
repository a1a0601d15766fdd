package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestGatewayCredentialDiagnostics(t *testing.T) {
	tlsFor := func(secret string) *snapshot.TLS {
		return &snapshot.TLS{Mode: snapshot.TLSMutual, Credential: snapshot.CredentialRef{Secret: secret, NeedCA: true}}
	}
	snap := &snapshot.Snapshot{Listeners: []snapshot.Listener{{Servers: []snapshot.Server{
		{Name: "default/foocorp-gateway/https-frontend", TLS: tlsFor("istio-system/frontend-credential")},
		{Name: "default/foocorp-gateway/https-inventory", TLS: tlsFor("istio-system/inventory-credential")},
		{Name: "default/plain/http"},
	}}}}
	tests := []struct {
		name  string
		creds []diag.Diagnostic
		want  []diag.Diagnostic
	}{
		{name: "none"},
		{
			name:  "missing secret is restated on the gateway",
			creds: []diag.Diagnostic{{Severity: diag.Error, Kind: "Secret", Namespace: "istio-system", Name: "inventory-credential", Message: "secret not found"}},
			want: []diag.Diagnostic{{Severity: diag.Error, Kind: "Gateway", Namespace: "default", Name: "foocorp-gateway",
				Message: `server https-inventory: credentialName "inventory-credential" (Secret istio-system/inventory-credential): secret not found`}},
		},
		{
			name:  "bad key names the field",
			creds: []diag.Diagnostic{{Severity: diag.Error, Kind: "Secret", Namespace: "istio-system", Name: "frontend-credential", Field: "data.key", Message: "not a private key"}},
			want: []diag.Diagnostic{{Severity: diag.Error, Kind: "Gateway", Namespace: "default", Name: "foocorp-gateway",
				Message: `server https-frontend: credentialName "frontend-credential" (Secret istio-system/frontend-credential data.key): not a private key`}},
		},
		{
			name: "file credentials and unused secrets are not restated",
			creds: []diag.Diagnostic{
				{Severity: diag.Error, File: "/etc/certs/tls.crt", Message: "unreadable"},
				{Severity: diag.Error, Kind: "Secret", Namespace: "istio-system", Name: "unused", Message: "secret not found"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, gatewayCredentialDiagnostics(snap, tc.creds)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := gatewayCredentialDiagnostics(nil, []diag.Diagnostic{{Kind: "Secret"}}); got != nil {
		t.Errorf("nil snapshot: %v", got)
	}
}
