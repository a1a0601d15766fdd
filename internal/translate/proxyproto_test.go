package translate

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestProxyProtocol checks testdata/proxyproto.in.yaml: versions (V1 by default), a
// subset's override, the TLV annotation, and its invalid uses failing routes closed.
func TestProxyProtocol(t *testing.T) {
	b, opts := loadCase(t, "testdata/proxyproto.in.yaml")
	snap, diags := Translate(b, opts)
	pp := map[string]*snapshot.ProxyProtocol{}
	for i := range snap.Clusters {
		pp[snap.Clusters[i].Name] = snap.Clusters[i].ProxyProtocol
	}
	for name, want := range map[string]*snapshot.ProxyProtocol{
		"outbound|80||v1.internal":    {Version: 1},
		"outbound|80|a|v1.internal":   {Version: 2},
		"outbound|5432||v2.internal":  {Version: 2},
		"outbound|5432||tlv.internal": {Version: 2, TLVs: true},
	} {
		if got := pp[name]; got == nil || *got != *want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	for _, name := range []string{"outbound|80||badtlv.internal", "outbound|80||v1tlv.internal", "outbound|80||none.internal"} {
		if got := pp[name]; got != nil {
			t.Errorf("%s: %+v, want none", name, got)
		}
	}
	var errs, warns []string
	for _, d := range diags {
		s := d.Name + " " + d.Field + ": " + d.Message
		if d.Severity == diag.Error {
			errs = append(errs, s)
		} else {
			warns = append(warns, s)
		}
	}
	all := strings.Join(errs, "\n")
	for _, want := range []string{
		`badtlv metadata.annotations[portcullis.io/proxy-protocol-tlvs]: value "yes" is not supported`,
		`v1tlv spec.trafficPolicy.proxyProtocol.version: the TLVs of portcullis.io/proxy-protocol-tlvs need PROXY protocol version V2`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing error %q in:\n%s", want, all)
		}
	}
	if w := strings.Join(warns, "\n"); !strings.Contains(w, "none metadata.annotations[portcullis.io/proxy-protocol-tlvs]: no trafficPolicy.proxyProtocol") {
		t.Errorf("missing warning on the annotation without proxyProtocol:\n%s", w)
	}
	for _, l := range snap.Listeners {
		for _, s := range l.Servers {
			for _, vh := range s.VirtualHosts {
				for _, r := range vh.Routes {
					bad := strings.HasSuffix(r.Name, "/badtlv") || strings.HasSuffix(r.Name, "/v1tlv")
					if bad != (r.Fail != nil) {
						t.Errorf("route %s: fail %+v", r.Name, r.Fail)
					}
				}
			}
		}
	}
}
