// Package explain describes why the gateway answers a request the way it does: the
// Decision type that `portcullis explain` prints and the admin /explain endpoint serves,
// its text rendering, and the Query built from a curl-like request description.
//
// The decision itself is computed by the dataplane (dataplane.Explain) with the same code
// that serves requests: the listener's SNI table and client-certificate verifier, the
// Host/SNI binding, the authorization engine, the router (router.Table.MatchTrace, built
// on the same walk as Match) and the upstream clusters. This package only carries and
// renders it, so it cannot drift from what the gateway does (design 0017).
//
// Imports: standard library and internal/snapshot.
package explain
