// Package testpki generates throwaway PKIs for data-plane tests: a CA, server and client
// certificates (ECDSA P-256, fast), CRLs, and listener.Credential values built from them.
//
// Imports: standard library and internal/dataplane/listener.
package testpki
