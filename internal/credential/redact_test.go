package credential

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestKeyNeverPrints renders a credential every way a developer might and checks that no
// trace of the private key appears.
func TestKeyNeverPrints(t *testing.T) {
	ca := newCA(t, "frontend")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	s := New(nil, newClock(t0).Now, nil)
	s.Sync([]snapshot.CredentialRef{mutual}, map[string]map[string][]byte{frontend: m.generic()})
	c, ok := s.Get(mutual.Key())
	if !ok {
		t.Fatal("not served")
	}
	blk, _ := pem.Decode(m.key)
	raw, err := c.Certificate.PrivateKey.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	scalar := new(big.Int).SetBytes(raw) // the private scalar D, without the deprecated field
	secrets := []string{string(m.key), base64.StdEncoding.EncodeToString(blk.Bytes)[:40], scalar.String(), fmt.Sprintf("%x", scalar.Bytes())}

	wrapper := struct {
		Cred  *Credential
		Value Credential
	}{c, *c}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, *c), fmt.Sprintf(verb, wrapper))
	}
	js, err := json.Marshal(wrapper)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(js))
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("x", "cred", c, "value", *c)
	}
	outs = append(outs, logs.String())
	st, _ := json.Marshal(s.Status())
	outs = append(outs, string(st))

	for _, out := range outs {
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Fatalf("key material leaked in %q", out)
			}
		}
	}
	// And the display fields are there.
	for _, out := range []string{fmt.Sprintf("%+v", c), string(js), logs.String()} {
		if !strings.Contains(out, c.Serial) || !strings.Contains(out, "frontend.foocorp.com") {
			t.Errorf("display fields missing in %q", out)
		}
	}
}
