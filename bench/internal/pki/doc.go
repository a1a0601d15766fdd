// Package pki writes the walkthrough's PKI layout for benchmark runs, so the harness works
// before (and independently of) `portcullis certs`:
//
//	DIR/HOST/1_root/certs/ca.cert.pem
//	DIR/HOST/2_intermediate/certs/{intermediate.cert.pem,ca-chain.cert.pem}
//	DIR/HOST/3_application/{private,certs}/HOST.{key,cert}.pem   (server, SAN=HOST)
//	DIR/HOST/4_client/{private,certs}/HOST.{key,cert}.pem        (client, CN=HOST)
//
// ECDSA P-256 throughout, a separate root and intermediate per host unless a shared CA is
// passed (config-scale runs with thousands of hosts). Keys are PKCS#8 ("PRIVATE KEY"),
// which Go, OpenSSL, nginx and HAProxy all read.
//
// Imports: standard library, internal/certs (the layout).
package pki
