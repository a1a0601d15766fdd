// Package authztest is a test identity provider for authz tests: real keys, a JWKS
// endpoint over HTTPS on loopback, real signed tokens. Only tests import it.
//
// Imports: github.com/go-jose/go-jose/v4, standard library.
package authztest
