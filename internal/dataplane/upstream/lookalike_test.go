package upstream

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDropLookalikes(t *testing.T) {
	h := http.Header{
		"X_forwarded_client_cert": {"forged"},
		"X-Forwarded_client-Cert": {"forged"},
		"x_forwarded_for":         {"1.2.3.4"},
		"X_Forwarded_Host":        {"evil"},
		"X_forwarded_proto":       {"http"},
		"X_request_id":            {"kept"},
		"X-Forwarded-Client-Cert": {"set by the gateway"},
	}
	dropLookalikes(h)
	want := http.Header{"X_request_id": {"kept"}, "X-Forwarded-Client-Cert": {"set by the gateway"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Fatal(diff)
	}
}
