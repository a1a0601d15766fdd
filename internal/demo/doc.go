// Package demo runs the FooCorp secure-ingress walkthrough as one command: it generates
// both teams' PKIs and the walkthrough's manifests (verbatim) into a directory, starts the
// two backends, runs the gateway in-process, and prints the walkthrough's curl commands
// adapted to the local port. Only cli imports it.
//
// Imports: internal/app, internal/certs, golang.org/x/sync/errgroup, standard library.
package demo
