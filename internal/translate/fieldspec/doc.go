// Package fieldspec declares, for every field of every Istio message portcullis reads, what
// portcullis does with it: implements it as Istio/Envoy does, rejects it with a reason, or
// accepts it as having no effect at an ingress gateway (with the reason). A test walks the
// istio.io/api protobuf descriptors from each registered root kind and fails when a reachable
// field has no declaration, so a field added by a newer istio.io/api can never be ignored
// silently. docs/istio-compatibility.md carries the table generated from these declarations.
//
// Declarations are keyed by the message's full protobuf name and the field's proto name:
// a message used in several places has one declaration (its Reason may say where it differs).
// Each area of the code registers its own messages from its own file (init functions, the
// one place the architecture test allows them: the registry is read-only once the program
// runs), so no two files declare the same message.
//
// Imports: google.golang.org/protobuf, istio.io/api (the descriptors of the root kinds),
// standard library.
package fieldspec
