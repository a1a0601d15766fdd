package e2ekube

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// kubeAuthzPolicies: a DENY policy on the frontend's /admin paths and a
// RequestAuthentication whose inline key set no test token matches, in the root namespace;
// and a policy Istio accepts but portcullis cannot enforce (an experimental key).
const (
	kubeDenyAdmin = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: e2e-deny-admin, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {hosts: [frontend.foocorp.com], paths: ["/admin*"]}}]
`
	kubeUnenforceable = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: e2e-unenforceable, namespace: istio-system}
spec:
  action: DENY
  rules:
  - when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}]
`
)

// TestAuthzOnKubernetes: security policies applied and deleted with kubectl take effect
// without a restart; what cannot be enforced fails closed and is reported as an Event.
func TestAuthzOnKubernetes(t *testing.T) {
	c := needCluster(t)
	_, client := c.walkthroughGateway(t, "authorizationpolicies.security.istio.io", "e2e-deny-admin", "e2e-unenforceable")
	// No backend runs: an allowed request to a route gets 503, one without a route 404.
	if err := expect(client, frontendHost, "/admin", http.StatusNotFound, ""); err != nil {
		t.Fatal(err)
	}

	c.mustKubectl(t, "", kubeDenyAdmin, "apply", "-f", "-")
	eventually(t, 10*time.Second, "DENY applied", func() error {
		return expect(client, frontendHost, "/admin/x", http.StatusForbidden, "RBAC: access denied")
	})
	if err := expect(client, frontendHost, "/", http.StatusServiceUnavailable, ""); err != nil {
		t.Errorf("the DENY policy denied more than /admin: %v", err)
	}

	c.mustKubectl(t, "", kubeUnenforceable, "apply", "-f", "-")
	eventually(t, 10*time.Second, "unenforceable DENY fails closed", func() error {
		return expect(client, frontendHost, "/", http.StatusForbidden, "RBAC: access denied")
	})
	eventually(t, 20*time.Second, "event on the policy", func() error {
		out, err := c.kubectl(t, "", "", "describe", "authorizationpolicies.security.istio.io", "-n", "istio-system", "e2e-unenforceable")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "ConfigError") || !strings.Contains(out, "experimental") {
			return fmt.Errorf("no ConfigError event yet:\n%s", out)
		}
		return nil
	})

	c.mustKubectl(t, "", "", "delete", "-n", "istio-system", "authorizationpolicies.security.istio.io", "e2e-deny-admin", "e2e-unenforceable")
	eventually(t, 10*time.Second, "policies removed", func() error {
		return expect(client, frontendHost, "/admin", http.StatusNotFound, "")
	})
}
