// Package store is the fan-in between configuration sources and the translator. Each source
// (the file loader, the Kubernetes informers) publishes its latest complete
// resources.Bundle under its own name; the store merges the latest bundle of every source
// (in source-name order), waits for the burst to settle (debounce: 100 ms of quiet, at most
// 1 s after the first change), drops the result if its content is identical to what it last
// delivered, and hands the merged bundle to one callback, always from the same goroutine,
// latest wins: intermediate states of a burst are never delivered.
//
// Equality is a content hash (see Hash): Istio specs are hashed from deterministic
// protobuf wire bytes, never compared with reflect.DeepEqual.
//
// Imports: internal/resources, internal/diag, google.golang.org/protobuf, standard library.
package store
