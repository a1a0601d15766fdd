package certs

import (
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// DefaultNamespace is where Istio's ingress gateway reads credentials.
const DefaultNamespace = "istio-system"

// Manifest is one generated Secret.
type Manifest struct {
	Host string
	Name string // Secret name, e.g. frontend-credential
	YAML []byte
}

// SecretName is the credential Secret of a host: its first label + "-credential"
// (frontend.foocorp.com -> frontend-credential; a leading "*" becomes "wildcard").
func SecretName(host string) string {
	label, _, _ := strings.Cut(host, ".")
	if label == "*" {
		label = "wildcard"
	}
	return strings.ToLower(label) + "-credential"
}

// SecretManifests returns, per host in order, the Secret that
//
//	kubectl create -n NAMESPACE secret generic NAME --from-file=key=... --from-file=cert=... \
//	  --from-file=cacert=.../2_intermediate/certs/ca-chain.cert.pem --dry-run=client -o yaml
//
// prints, byte for byte: kubectl builds the same core/v1 Secret (no type, empty
// creationTimestamp omitted since apimachinery's omitzero) and prints it with
// sigs.k8s.io/yaml, which is what is used here. namespace "" means istio-system.
func SecretManifests(dir string, hosts []string, namespace string) ([]Manifest, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	out := make([]Manifest, 0, len(hosts))
	for _, h := range hosts {
		if err := checkHost(h); err != nil {
			return nil, err
		}
		p := PathsFor(dir, h)
		data := map[string][]byte{}
		for _, f := range []struct{ key, path string }{
			{"key", p.ServerKey}, {"cert", p.ServerCert}, {"cacert", p.Chain},
		} {
			b, err := os.ReadFile(f.path)
			if err != nil {
				return nil, fmt.Errorf("host %s: secret key %q: %w", h, f.key, err)
			}
			data[f.key] = b
		}
		name := SecretName(h)
		secret := &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: corev1.SchemeGroupVersion.String(), Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Data:       data,
		}
		y, err := yaml.Marshal(secret)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", h, err)
		}
		out = append(out, Manifest{Host: h, Name: name, YAML: y})
	}
	return out, nil
}
