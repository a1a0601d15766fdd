package feature

import (
	"fmt"
	"strings"
	"testing"
)

// Rewriting files with the content they already have does nothing: no credential push,
// no snapshot swap, no reload.
func TestUnchangedContentIsNoOp(t *testing.T) {
	e := newEnv(t, setup{credentialsDir: true})
	const pushes = `portcullis_credential_pushes_total{credential="istio-system/inventory-credential"}`
	const swaps = `portcullis_snapshot_swaps_total`
	before := []string{e.metric(pushes), e.metric(swaps)}
	suppressed := strings.Count(e.logs.String(), "configuration unchanged")

	e.publishSecret(inv, inPlace) // a ..data swap to identical files
	e.write("virtualservices.yaml", string(read(t, e.config+"/virtualservices.yaml")))
	eventually(t, within, "the store suppresses the unchanged bundle", func() error {
		if strings.Count(e.logs.String(), "configuration unchanged") == suppressed {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	if after := []string{e.metric(pushes), e.metric(swaps)}; after[0] != before[0] || after[1] != before[1] {
		t.Errorf("pushes, swaps: before %v, after %v; want no change", before, after)
	}
	e.newClient(inv, inv, false).mustOK(t, "/", "inventory")
}
