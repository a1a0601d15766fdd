// Package policy checks that a benchmark target enforces the walkthrough's security
// policy before it is measured, so no peer is faster for doing less: the right client
// certificate gets the host's body; a Host other than the SNI gets 421; a missing or
// foreign client certificate and an unknown SNI are refused; another path gets 404.
//
// Imports: standard library and bench/internal/load, bench/internal/backend.
package policy
