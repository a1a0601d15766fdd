// Package testkit holds the few helpers the project's tests share across packages: a
// thread-safe log buffer, polling with a deadline (no fixed sleeps), and a TCP proxy that
// can cut its connections (to take an API server away from one client). Only tests import
// it.
//
// Imports: standard library only.
package testkit
