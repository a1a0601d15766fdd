// Package snapshot: see snapshot.go. Imports: standard library only.
package snapshot
