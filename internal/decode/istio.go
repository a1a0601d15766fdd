package decode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	telemetry "istio.io/api/telemetry/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
)

const istioGroup = "networking.istio.io"

// istioVersions are the served versions of networking.istio.io; all alias v1alpha3 types.
var istioVersions = map[string]bool{"v1alpha3": true, "v1beta1": true, "v1": true}

// istioKinds are the networking.istio.io kinds portcullis reads.
var istioKinds = map[string]bool{"Gateway": true, "VirtualService": true, "DestinationRule": true, "ServiceEntry": true}

// securityGroup: AuthorizationPolicy and RequestAuthentication (v1 aliases v1beta1 types).
const securityGroup = "security.istio.io"

// securityKind reports whether portcullis reads kind in version of security.istio.io.
func securityKind(version, kind string) bool {
	return (version == "v1beta1" || version == "v1") && (kind == "AuthorizationPolicy" || kind == "RequestAuthentication")
}

// telemetryGroup: Telemetry (v1 aliases v1alpha1 types).
const telemetryGroup = "telemetry.istio.io"

// istioEnvelope is the Kubernetes part of an Istio object, read strictly; spec is decoded
// by protojson and status is ignored (it is written by controllers, not users).
type istioEnvelope struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       json.RawMessage   `json:"spec"`
	Status     json.RawMessage   `json:"status,omitempty"`
}

func (d *docDecoder) decodeIstio(js []byte, tm typeMeta) {
	var env istioEnvelope
	if !d.strict(js, &env, tm) || !d.checkMeta(&env.Metadata, tm) {
		return
	}
	tm.Metadata.Namespace = env.Metadata.Namespace
	meta := resources.Meta{
		Namespace:   env.Metadata.Namespace,
		Name:        env.Metadata.Name,
		APIVersion:  env.APIVersion,
		Labels:      env.Metadata.Labels,
		Annotations: env.Metadata.Annotations,
		Source:      d.source(),
	}
	var spec proto.Message
	switch env.Kind {
	case "Gateway":
		spec = &networking.Gateway{}
	case "VirtualService":
		spec = &networking.VirtualService{}
	case "DestinationRule":
		spec = &networking.DestinationRule{}
	case "ServiceEntry":
		spec = &networking.ServiceEntry{}
	case "AuthorizationPolicy":
		spec = &security.AuthorizationPolicy{}
	case "RequestAuthentication":
		spec = &security.RequestAuthentication{}
	case "Telemetry":
		spec = &telemetry.Telemetry{}
	}
	if fe := unmarshalSpec(env.Spec, spec); fe != nil {
		d.add(diag.Error, tm, fe.Field, fe.Message)
		d.keepUnreadable(spec, meta, fe.Field+": "+fe.Message)
		return
	}
	b := d.bundle
	switch s := spec.(type) {
	case *networking.Gateway:
		b.Gateways = append(b.Gateways, resources.Gateway{Meta: meta, Spec: s})
	case *networking.VirtualService:
		b.VirtualServices = append(b.VirtualServices, resources.VirtualService{Meta: meta, Spec: s})
	case *networking.DestinationRule:
		b.DestinationRules = append(b.DestinationRules, resources.DestinationRule{Meta: meta, Spec: s})
	case *networking.ServiceEntry:
		b.ServiceEntries = append(b.ServiceEntries, resources.ServiceEntry{Meta: meta, Spec: s})
	case *security.AuthorizationPolicy:
		b.AuthorizationPolicies = append(b.AuthorizationPolicies, resources.AuthorizationPolicy{Meta: meta, Spec: s})
	case *security.RequestAuthentication:
		b.RequestAuthentications = append(b.RequestAuthentications, resources.RequestAuthentication{Meta: meta, Spec: s})
	case *telemetry.Telemetry:
		b.Telemetries = append(b.Telemetries, resources.Telemetry{Meta: meta, Spec: s})
	}
}

// unmarshalSpec decodes spec JSON into m with protojson, rejecting unknown fields, and
// rewrites protojson's error into a field path under "spec" and a readable message.
func unmarshalSpec(spec json.RawMessage, m proto.Message) *fieldError {
	if isNull(spec) {
		return nil // an empty spec is valid protobuf; translate judges whether it is useful
	}
	// Compact so that protojson's "line 1:col" maps straight to a byte offset.
	var buf bytes.Buffer
	if err := json.Compact(&buf, spec); err != nil {
		return &fieldError{Field: "spec", Message: err.Error()}
	}
	js, fe := normalizeDurations(buf.Bytes(), m.ProtoReflect().Descriptor())
	if fe != nil {
		return fe
	}
	err := protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(js, m)
	if err == nil {
		return nil
	}
	return describeProtoError(js, m.ProtoReflect().Descriptor(), err)
}

// protoErrRE picks protojson's position and reason out of messages such as
// `proto: (line 1:57): unknown field "hostz"` (the space after "proto:" is sometimes a
// non-breaking space, deliberately, so match it loosely).
var protoErrRE = regexp.MustCompile(`^proto:[\s\x{a0}]*(.*?)\s*\(line (\d+):(\d+)\):[\s\x{a0}]*(.*)$`)

var (
	invalidValueRE = regexp.MustCompile(`^invalid value for (\S+) field (\S+): (.*)$`)
	unexpectedRE   = regexp.MustCompile(`^unexpected token (.*)$`)
)

func describeProtoError(js []byte, md protoreflect.MessageDescriptor, err error) *fieldError {
	msg := err.Error()
	m := protoErrRE.FindStringSubmatch(msg)
	if m == nil {
		msg = strings.TrimLeft(strings.TrimPrefix(msg, "proto:"), " \u00a0")
		return &fieldError{Field: "spec", Message: msg}
	}
	prefix, reason := m[1], m[4]
	col, _ := strconv.Atoi(m[3])
	segs := segmentsAt(js, runeOffset(js, col-1))
	fd := fieldAt(md, segs)
	field := "spec" + renderPath(segs)
	switch sm := invalidValueRE.FindStringSubmatch(reason); {
	case sm != nil && fd != nil && fd.Enum() != nil:
		reason = fmt.Sprintf("invalid value %s for enum %s (valid: %s)", sm[3], fd.Enum().FullName(), enumNames(fd.Enum()))
	case sm != nil:
		reason = fmt.Sprintf("invalid value %s: want %s", sm[3], sm[1])
	default:
		if um := unexpectedRE.FindStringSubmatch(reason); um != nil && fd != nil {
			reason = fmt.Sprintf("wrong type: got %s, want %s", tokenName(um[1]), protoTypeName(fd, segs))
			prefix = "" // protojson calls a wrong type a "syntax error"; it is not one
		}
	}
	if prefix != "" {
		reason = prefix + ": " + reason
	}
	return &fieldError{Field: field, Message: reason}
}

// tokenName describes a JSON token as protojson prints it (`[`, `{`, `"x"`, `12`).
func tokenName(tok string) string {
	switch tok {
	case "[":
		return "list"
	case "{":
		return "object"
	}
	return tok
}

// runeOffset converts a 0-based rune column into a byte offset in js.
func runeOffset(js []byte, runes int) int {
	off := 0
	for i := 0; i < runes && off < len(js); i++ {
		_, n := utf8.DecodeRune(js[off:])
		off += n
	}
	return off
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]string, vals.Len())
	for i := range names {
		names[i] = string(vals.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

// protoTypeName names what the field at segs expects, in JSON words.
func protoTypeName(fd protoreflect.FieldDescriptor, segs []pathSeg) string {
	element := len(segs) > 0 && segs[len(segs)-1].isIndex
	switch {
	case fd.IsMap() && !element:
		return "object"
	case fd.IsList() && !element:
		return "list"
	case fd.Message() != nil:
		if fd.Message().FullName() == "google.protobuf.Duration" {
			return `duration string such as "500ms", "5s" or "1h30m"`
		}
		return "object (" + string(fd.Message().FullName()) + ")"
	case fd.Enum() != nil:
		return "one of " + enumNames(fd.Enum())
	default:
		return fd.Kind().String()
	}
}

// keepUnreadable keeps a security policy whose spec failed to decode, marked, so that
// internal/authz fails closed for it: a DENY policy with a typo must not vanish.
func (d *docDecoder) keepUnreadable(spec proto.Message, meta resources.Meta, reason string) {
	switch spec.(type) {
	case *security.AuthorizationPolicy:
		d.bundle.AuthorizationPolicies = append(d.bundle.AuthorizationPolicies,
			resources.AuthorizationPolicy{Meta: meta, Spec: &security.AuthorizationPolicy{}, Unreadable: reason})
	case *security.RequestAuthentication:
		d.bundle.RequestAuthentications = append(d.bundle.RequestAuthentications,
			resources.RequestAuthentication{Meta: meta, Spec: &security.RequestAuthentication{}, Unreadable: reason})
	}
}
