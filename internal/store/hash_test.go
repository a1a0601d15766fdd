package store

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

func TestHash(t *testing.T) {
	secret := func(v string) *resources.Bundle {
		return &resources.Bundle{Secrets: []resources.Secret{{Secret: &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "istio-system"},
			Data:       map[string][]byte{"cert": []byte(v), "key": []byte("k")},
		}}}}
	}
	withDiag := gw("a")
	withDiag.Diagnostics = []diag.Diagnostic{{Severity: diag.Warning, Message: "m"}}
	moved := gw("a")
	moved.Gateways[0].Source.Index = 1
	cases := []struct {
		name  string
		a, b  *resources.Bundle
		equal bool
	}{
		{"same gateway content", gw("a"), gw("a"), true},
		{"different gateway host", gw("a"), gw("b"), false},
		{"same secret content", secret("x"), secret("x"), true},
		{"different secret data", secret("x"), secret("y"), false},
		{"diagnostics count", gw("a"), withDiag, false},
		{"source position counts", gw("a"), moved, false},
		{"empty bundles", &resources.Bundle{}, &resources.Bundle{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Hash(c.a) == Hash(c.b); got != c.equal {
				t.Errorf("equal hashes = %v, want %v", got, c.equal)
			}
		})
	}
}
