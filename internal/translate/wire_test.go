package translate

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// unsafeOnWire returns the first string of s that would reach an HTTP message with CR,
// LF or NUL (or a header name that is not a token): translation must never emit one.
func unsafeOnWire(s *snapshot.Snapshot) error {
	ctl := func(v string) bool { return strings.ContainsAny(v, "\r\n\x00") }
	ops := func(where string, h *snapshot.HeaderOps) error {
		if h == nil {
			return nil
		}
		for _, m := range []map[string]string{h.Set, h.Add} {
			for k, v := range m {
				if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
					return fmt.Errorf("%s: header %q: %q", where, k, v)
				}
			}
		}
		for _, k := range h.Remove {
			if !httpguts.ValidHeaderFieldName(k) {
				return fmt.Errorf("%s: remove %q", where, k)
			}
		}
		return nil
	}
	for _, c := range s.Clusters {
		for _, e := range c.Endpoints {
			if strings.ContainsAny(e, "\r\n\x00 ") {
				return fmt.Errorf("cluster %s: endpoint %q", c.Name, e)
			}
		}
	}
	for _, l := range s.Listeners {
		for _, srv := range l.Servers {
			for _, vh := range srv.VirtualHosts {
				for _, r := range vh.Routes {
					if fw := r.Forward; fw != nil {
						if rw := fw.Rewrite; rw != nil && (ctl(rw.URI) || ctl(rw.Authority)) {
							return fmt.Errorf("%s: rewrite %q %q", r.Name, rw.URI, rw.Authority)
						}
						if err := ops(r.Name, fw.RequestHeaders); err != nil {
							return err
						}
						if err := ops(r.Name, fw.ResponseHeaders); err != nil {
							return err
						}
					}
					if rd := r.Redirect; rd != nil && (ctl(rd.URI) || ctl(rd.Authority) || ctl(rd.Scheme)) {
						return fmt.Errorf("%s: redirect %q %q", r.Name, rd.URI, rd.Authority)
					}
					for _, m := range r.Match {
						for _, sm := range []*snapshot.StringMatch{m.URI, m.Method, m.Authority} {
							if sm != nil && ctl(sm.Value) {
								return fmt.Errorf("%s: match %q", r.Name, sm.Value)
							}
						}
						for _, h := range append(append([]snapshot.HeaderMatch{}, m.Headers...), m.QueryParams...) {
							if ctl(h.Name) || ctl(h.Value.Value) {
								return fmt.Errorf("%s: match %q=%q", r.Name, h.Name, h.Value.Value)
							}
						}
					}
				}
			}
		}
	}
	return nil
}

// TestGoldenOutputsAreWireSafe: no golden case's snapshot carries an unsafe string,
// including testdata/wire, which is made of them.
func TestGoldenOutputsAreWireSafe(t *testing.T) {
	for _, in := range []string{"testdata/wire.in.yaml", "testdata/actions.in.yaml", "testdata/matches.in.yaml"} {
		b, opts := loadCase(t, in)
		snap, _ := Translate(b, opts)
		if err := unsafeOnWire(snap); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}
