// Package diag: see diag.go. Imports: standard library only.
package diag
