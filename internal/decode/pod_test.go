package decode

import (
	"strings"
	"testing"
)

// TestDecodePod: a Pod manifest (as kubectl prints it) keeps namespace, name, labels and
// status.podIP; a misspelt field or a bad podIP is an error and drops the Pod.
func TestDecodePod(t *testing.T) {
	b := Decode([]byte(`apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web, version: v2}}
spec: {containers: [{name: web, image: x, ports: [{containerPort: 8080}]}], nodeName: n1}
status: {phase: Running, podIP: 10.1.2.3, podIPs: [{ip: 10.1.2.3}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad-ip, namespace: shop}
status: {podIP: 10.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: typo, namespace: shop}
spec: {containerz: []}
`), "pods.yaml")
	if len(b.Pods) != 1 {
		t.Fatalf("pods %+v, want only web-1", b.Pods)
	}
	p := b.Pods[0]
	if p.Namespace != "default" || p.Name != "web-1" || p.Labels["version"] != "v2" || p.IP != "10.1.2.3" {
		t.Fatalf("pod %+v", p)
	}
	var msgs []string
	for _, d := range b.Diagnostics {
		msgs = append(msgs, d.Field+": "+d.Message)
	}
	all := strings.Join(msgs, "\n")
	if len(b.Diagnostics) != 2 || !strings.Contains(all, "status.podIP") || !strings.Contains(all, "containerz") {
		t.Fatalf("diagnostics:\n%s", all)
	}
}
