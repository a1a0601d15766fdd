package credential

import (
	"os"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Upstream client credentials (DestinationRule trafficPolicy.tls) in the same store.
func TestClientCredentials(t *testing.T) {
	ca := newCA(t, "upstream")
	m := newMaterial(t, ca, "gateway.client")
	const name = "istio-system/upstream"
	caOnly := snapshot.CredentialRef{Secret: name, Client: true, CAOnly: true, NeedCA: true}
	mutual := snapshot.CredentialRef{Secret: name, Client: true, NeedCA: true}
	server := snapshot.CredentialRef{Secret: name} // a server SIMPLE credential of the same Secret

	t.Run("CA only reads no certificate", func(t *testing.T) {
		c, err := Load(caOnly, map[string]map[string][]byte{name: {"ca.crt": ca.chainPEM()}}, t0)
		if err != nil || c.Certificate != nil || c.ClientCAs == nil {
			t.Fatalf("%v %v", c, err)
		}
	})
	t.Run("CA only from the -cacert Secret alone, as Istio's <name>-cacert resource", func(t *testing.T) {
		c, err := Load(caOnly, map[string]map[string][]byte{name + "-cacert": {"cacert": ca.chainPEM()}}, t0)
		if err != nil || c.ClientCAs == nil {
			t.Fatalf("%v %v", c, err)
		}
	})
	t.Run("CA only without a CA", func(t *testing.T) {
		if _, err := Load(caOnly, map[string]map[string][]byte{name: {"tls.crt": m.cert, "tls.key": m.key}}, t0); !HasReason(err, ReasonMissingCA) {
			t.Fatalf("want missing_ca, got %v", err)
		}
	})
	t.Run("MUTUAL reads the certificate and the CA", func(t *testing.T) {
		c, err := Load(mutual, map[string]map[string][]byte{name: m.tlsStyle()}, t0)
		if err != nil || c.Certificate == nil || c.ClientCAs == nil || c.Subject == "" {
			t.Fatalf("%v %v", c, err)
		}
	})
	t.Run("client and server entries of one Secret are separate", func(t *testing.T) {
		f := newFixture(t)
		// No CA in the Secret: the client's CA-only entry fails, the server's SIMPLE one serves.
		f.store.Sync([]snapshot.CredentialRef{server, caOnly}, map[string]map[string][]byte{name: {"cert": m.cert, "key": m.key}})
		if _, ok := f.store.Get(server.Key()); !ok {
			t.Fatal("the server credential is not served")
		}
		if _, ok := f.store.Get(caOnly.Key()); ok {
			t.Fatal("the CA-only client credential is served without a CA")
		}
		if server.Key() == caOnly.Key() || caOnly.Key() == mutual.Key() {
			t.Fatalf("keys collide: %s %s %s", server.Key(), caOnly.Key(), mutual.Key())
		}
	})
	t.Run("files: CA only", func(t *testing.T) {
		dir := t.TempDir()
		p := dir + "/ca.pem"
		if err := os.WriteFile(p, ca.chainPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		ref := snapshot.CredentialRef{Files: &snapshot.FileCredential{CACerts: p}, Client: true, CAOnly: true, NeedCA: true}
		c, err := Load(ref, nil, t0)
		if err != nil || c.ClientCAs == nil || c.Certificate != nil {
			t.Fatalf("%v %v", c, err)
		}
	})
}
