// Package feature holds feature tests of the live-reload semantics (credentials and
// configuration). Each test runs the real gateway in-process (app.New / Run) on 127.0.0.1
// with a temporary configuration directory, real files, real fsnotify and real TLS
// clients, and polls with a deadline instead of sleeping. One file per semantic; see
// docs/operations.md, "Credentials and live reload".
//
// Imports: internal/app, internal/certs, internal/cli (certs inspect), standard library,
// go.uber.org/goleak.
package feature
