//go:build tools

// Package tools pins the programs hack/kube/build.sh --nodes builds from this module
// besides the node agent itself: echo-basic, the Gateway API conformance backend that
// the agent runs for the image registry.k8s.io/gateway-api/echo-basic.
package tools

import (
	_ "sigs.k8s.io/gateway-api/conformance/echo-basic"
)
