package decode

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestSecretData(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		wantData map[string][]byte
		wantType corev1.SecretType
	}{
		{
			name:     "data is base64-decoded",
			in:       "data:\n  cert: Y2VydA==\n  key: a2V5\n",
			wantData: map[string][]byte{"cert": []byte("cert"), "key": []byte("key")},
			wantType: corev1.SecretTypeOpaque,
		},
		{
			name:     "stringData merges and wins",
			in:       "type: kubernetes.io/tls\ndata:\n  tls.crt: b2xk\n  ca.crt: Y2E=\nstringData:\n  tls.crt: new\n  tls.key: k\n",
			wantData: map[string][]byte{"tls.crt": []byte("new"), "tls.key": []byte("k"), "ca.crt": []byte("ca")},
			wantType: corev1.SecretTypeTLS,
		},
		{
			name:     "empty secret",
			in:       "",
			wantData: map[string][]byte{},
			wantType: corev1.SecretTypeOpaque,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Decode([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: istio-system}\n"+c.in), "s.yaml")
			if len(b.Diagnostics) != 0 || len(b.Secrets) != 1 {
				t.Fatalf("got %d secrets, diagnostics %v", len(b.Secrets), b.Diagnostics)
			}
			s := b.Secrets[0]
			if diff := cmp.Diff(c.wantData, s.Data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			if s.Type != c.wantType || s.StringData != nil || s.Name != "s" || s.Namespace != "istio-system" {
				t.Errorf("got type %q stringData %v name %s/%s", s.Type, s.StringData, s.Namespace, s.Name)
			}
		})
	}
}
