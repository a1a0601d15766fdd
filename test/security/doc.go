// Package security holds black-box adversarial tests of the gateway's security
// properties. Each test runs the real gateway in-process (app.New / Run) on 127.0.0.1 with
// the walkthrough's two MUTUAL hosts plus a SIMPLE and an OPTIONAL_MUTUAL host on one port,
// backends that echo what they received, and hostile clients: raw TLS connections with
// hand-written HTTP/1.1 bytes, hand-built ClientHellos, and raw HTTP/2 frames
// (golang.org/x/net/http2). Every attack is a named subtest; docs/istio-compatibility.md
// ("Hostile clients") records the outcome of each, including behaviours that are a choice.
//
// Imports: internal/app, internal/certs, internal/cli (flag defaults), internal/testkit,
// standard library, golang.org/x/net/http2, go.uber.org/goleak.
package security
