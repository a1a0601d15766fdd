package fieldspec

import (
	"fmt"
	"sort"
	"sync"

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

// registry holds every declaration. It is built once, on first use, from the declare
// functions of each area's file (declarations), and is read-only afterwards.
type registry struct {
	messages map[protoreflect.FullName]Message
	roots    []Root
}

// loaded is the registry, built on first use.
var loaded = sync.OnceValue(func() *registry {
	r := &registry{messages: map[protoreflect.FullName]Message{}}
	for _, declare := range declarations() {
		declare(r)
	}
	return r
})

// declarations are the declare functions of every area; each declares its own messages.
func declarations() []func(*registry) {
	return []func(*registry){
		declareVirtualService, declarePolicies, declareL4,
		declareGateway, declareDestinationRule, declareServiceEntry,
	}
}

// declare registers the declaration of one message. It panics on a second declaration of
// the same message (two files claiming one message is a programming error).
func (r *registry) declare(msg protoreflect.FullName, m Message) {
	if _, dup := r.messages[msg]; dup {
		panic("fieldspec: message declared twice: " + string(msg))
	}
	r.messages[msg] = m
}

// addRoot registers a kind whose spec the walk starts from.
func (r *registry) addRoot(kind string, spec protoreflect.MessageDescriptor) {
	r.roots = append(r.roots, Root{Kind: kind, Spec: spec})
}

// Lookup returns the declaration of a field.
func Lookup(msg protoreflect.FullName, field string) (Rule, bool) {
	r, ok := loaded().messages[msg][field]
	return r, ok
}

// Roots returns the registered root kinds sorted by Kind.
func Roots() []Root {
	out := append([]Root(nil), loaded().roots...)
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
