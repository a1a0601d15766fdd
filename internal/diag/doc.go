// Package diag holds Diagnostic, the one shape every problem found in user input takes:
// decode errors, translation findings and credential failures alike. It imports only the
// standard library so that every layer (decode, translate, credential, admin, cli) can use it.
//
// Imports: standard library only.
package diag
