package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"

	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/internal/resources"
)

// Hash returns a hex SHA-256 of the bundle's whole content: every object's identity,
// source and spec, and the diagnostics. Equal content gives equal hashes whichever
// pointers hold it. Istio specs are hashed from deterministic protobuf bytes (protojson
// output is deliberately unstable; reflect.DeepEqual is wrong for proto messages);
// Kubernetes objects from encoding/json, which sorts map keys.
func Hash(b *resources.Bundle) string {
	w := hashWriter{h: sha256.New()}
	istio := func(name string, n int, at func(int) (resources.Meta, proto.Message)) {
		w.section(name, n)
		for i := range n {
			m, spec := at(i)
			w.json(m)
			w.proto(spec)
		}
	}
	istio("gateways", len(b.Gateways), func(i int) (resources.Meta, proto.Message) {
		return b.Gateways[i].Meta, b.Gateways[i].Spec
	})
	istio("virtualservices", len(b.VirtualServices), func(i int) (resources.Meta, proto.Message) {
		return b.VirtualServices[i].Meta, b.VirtualServices[i].Spec
	})
	istio("destinationrules", len(b.DestinationRules), func(i int) (resources.Meta, proto.Message) {
		return b.DestinationRules[i].Meta, b.DestinationRules[i].Spec
	})
	istio("serviceentries", len(b.ServiceEntries), func(i int) (resources.Meta, proto.Message) {
		return b.ServiceEntries[i].Meta, b.ServiceEntries[i].Spec
	})
	istio("authorizationpolicies", len(b.AuthorizationPolicies), func(i int) (resources.Meta, proto.Message) {
		return b.AuthorizationPolicies[i].Meta, b.AuthorizationPolicies[i].Spec
	})
	istio("requestauthentications", len(b.RequestAuthentications), func(i int) (resources.Meta, proto.Message) {
		return b.RequestAuthentications[i].Meta, b.RequestAuthentications[i].Spec
	})
	istio("telemetries", len(b.Telemetries), func(i int) (resources.Meta, proto.Message) {
		return b.Telemetries[i].Meta, b.Telemetries[i].Spec
	})
	w.section("secrets", len(b.Secrets))
	for _, o := range b.Secrets {
		w.json(o)
	}
	w.section("services", len(b.Services))
	for _, o := range b.Services {
		w.json(o)
	}
	w.section("endpointslices", len(b.EndpointSlices))
	for _, o := range b.EndpointSlices {
		w.json(o)
	}
	w.section("gatewayapi", 1)
	w.json(b.GatewayAPI)
	w.section("configmaps", len(b.ConfigMaps))
	for _, o := range b.ConfigMaps {
		w.json(o)
	}
	w.section("diagnostics", len(b.Diagnostics))
	for _, d := range b.Diagnostics {
		w.json(d)
	}
	return hex.EncodeToString(w.h.Sum(nil))
}

// hashWriter writes length-prefixed records, so that no two different sequences of
// records produce the same byte stream.
type hashWriter struct{ h hash.Hash }

func (w hashWriter) record(p []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p)))
	w.h.Write(n[:])
	w.h.Write(p)
}

func (w hashWriter) section(name string, count int) {
	w.record([]byte(name))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(count))
	w.record(n[:])
}

func (w hashWriter) json(v any) {
	p, err := json.Marshal(v)
	if err != nil {
		p = []byte("unhashable: " + err.Error())
	}
	w.record(p)
}

func (w hashWriter) proto(m proto.Message) {
	p, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		p = []byte("unhashable: " + err.Error())
	}
	w.record(p)
}
