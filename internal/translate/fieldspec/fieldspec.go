package fieldspec

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Status is what portcullis does with a field.
type Status int

const (
	// Implemented: the field behaves as Istio (Envoy) says.
	Implemented Status = iota + 1
	// Rejected: a value set here is an error naming the field and Reason; the rule, policy
	// or object it belongs to fails closed.
	Rejected
	// NoEffect: accepted, and correctly has no effect at an ingress gateway (Reason says why).
	NoEffect
)

func (s Status) String() string {
	switch s {
	case Implemented:
		return "implemented"
	case Rejected:
		return "rejected"
	case NoEffect:
		return "no effect"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Rule is the declaration of one field. Reason is required for Rejected and NoEffect and
// optional (a note for the docs) for Implemented.
type Rule struct {
	Status Status
	Reason string
}

// Message declares the fields of one message: proto field name → Rule.
type Message map[string]Rule

// Root is a kind portcullis reads: its name as users write it and its spec message.
type Root struct {
	Kind string // e.g. "VirtualService"
	Spec protoreflect.MessageDescriptor
}

var (
	messages = map[protoreflect.FullName]Message{}
	roots    []Root
)

// Declare registers the declaration of one message. It panics on a second declaration of the
// same message (two files claiming one message is a programming error).
func Declare(msg protoreflect.FullName, m Message) {
	if _, dup := messages[msg]; dup {
		panic("fieldspec: message declared twice: " + string(msg))
	}
	messages[msg] = m
}

// AddRoot registers a kind whose spec the walk starts from.
func AddRoot(kind string, spec protoreflect.MessageDescriptor) {
	roots = append(roots, Root{Kind: kind, Spec: spec})
}

// Lookup returns the declaration of a field.
func Lookup(msg protoreflect.FullName, field string) (Rule, bool) {
	r, ok := messages[msg][field]
	return r, ok
}

// Roots returns the registered root kinds sorted by Kind.
func Roots() []Root {
	out := append([]Root(nil), roots...)
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
