package feature

import (
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// BenchmarkRotation measures the time from writing a rotated credential to the first new
// handshake that is served its serial, over b.N rotations, and reports p50, p99 and max
// in milliseconds (ns/op is the whole iteration, key generation included). Run it with
// enough rotations for a p99, e.g.
//
//	go test ./test/feature -run '^$' -bench Rotation -benchtime 200x
func BenchmarkRotation(b *testing.B) {
	for _, bc := range []struct {
		name      string
		s         setup
		how       how
		fileMount bool
	}{
		{"secret-manifest-rename", setup{}, renameOver, false},
		{"credentials-dir-data-swap", setup{credentialsDir: true}, inPlace, false},
		{"file-mount-rename", setup{}, renameOver, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, bc.s)
			if bc.fileMount {
				e.useFileMount(inv)
			}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now() // file mount: IssueServer's own writes are the rotation
				if err := certs.IssueServer(e.pki, inv, certs.Options{}); err != nil {
					b.Fatal(err)
				}
				serial := e.serverSerial(inv)
				if !bc.fileMount {
					start = time.Now()
					e.publishSecret(inv, bc.how)
				}
				lat = append(lat, servedAfter(b, e, serial, start))
			}
			slices.Sort(lat)
			ms := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}

// servedAfter handshakes with inventory back to back (each new connection paces the
// next) until serial is served, and returns the time since start.
func servedAfter(b *testing.B, e *env, serial string, start time.Time) time.Duration {
	b.Helper()
	c := e.newClient(inv, inv, false)
	defer c.tr.CloseIdleConnections()
	for time.Since(start) < 5*time.Second {
		if r, err := c.get("/"); err == nil && r.serial == serial {
			return time.Since(start)
		}
	}
	b.Fatalf("serial %s not served within 5s", serial)
	return 0
}
