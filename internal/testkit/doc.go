// Package testkit holds the few helpers the project's tests share across packages: a
// thread-safe log buffer, polling with a deadline (no fixed sleeps), and a TCP proxy that
// can cut its connections (to take an API server away from one client), and the test
// control plane (RealCluster, InstallGatewayAPICRDs in kube.go), and SignCRL (crl.go).
// Only tests import it.
//
// Imports: k8s.io/client-go (rest, clientcmd: the control plane's client config),
// standard library.
package testkit
