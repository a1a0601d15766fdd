//go:build tools

// Package tools pins the test control plane binaries built by hack/kube/build.sh:
// kube-apiserver, kubectl and etcd (and, with --nodes, kube-controller-manager and
// kube-scheduler). It is never compiled; it only holds the imports
// so that `go mod tidy` (in this module only) keeps their dependencies.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
