package feature

import (
	"strings"
	"testing"
	"time"
)

// A secret updated with valid content is served to new handshakes within a second, by
// every way a file gets replaced, while an established keep-alive connection keeps
// working and no request fails.
func TestSecretUpdate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    setup
		how  how
	}{
		{"credentials-dir ..data symlink swap", setup{credentialsDir: true}, inPlace},
		{"Secret manifest rewritten in place", setup{}, inPlace},
		{"Secret manifest renamed over", setup{}, renameOver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.s)
			ka := e.newClient(inv, inv, true)
			first := ka.mustOK(t, "/", "inventory")
			if want := e.serverSerial(inv); first.serial != want {
				t.Fatalf("serving serial %s, want %s", first.serial, want)
			}
			load := startLoad(t, 2*time.Millisecond,
				worker(e.newClient(inv, inv, false), "/", "inventory"),
				worker(e.newClient(inv, inv, true), "/", "inventory"),
				worker(e.newClient(fe, fe, false), "/", "frontend"),
			)

			var serials []string
			for i := range 3 {
				serial := e.rotateServer(inv, tc.how)
				serials = append(serials, serial)
				took := e.servesSerial(inv, serial)
				t.Logf("rotation %d: serial %s served after %v", i+1, serial, took)
				e.logged("push", "credential pushed", "name=inventory-credential", "serial="+serial)
			}

			for _, serial := range serials { // each push is logged once
				if n := strings.Count(e.logs.String(), "serial="+serial+" "); n != 1 {
					t.Errorf("serial %s: %d push log lines, want 1", serial, n)
				}
			}
			again := ka.mustOK(t, "/", "inventory")
			if again.serial != first.serial || ka.dials.Load() != 1 {
				t.Errorf("keep-alive connection: serial %s (want the original %s), %d dials (want 1)",
					again.serial, first.serial, ka.dials.Load())
			}
			t.Logf("%d requests during the rotations, none failed", load.finish(t))
		})
	}
}
