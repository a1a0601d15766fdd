package gatewayapi

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/status"
)

// BackendTLSPolicy (design 0027): TLS originated to a Service, translated into a derived
// DestinationRule (trafficPolicy.tls, or portLevelSettings for a sectionName) whose
// upstream TLS the translator builds as for any DestinationRule (design 0019): mode
// SIMPLE, sni = validation.hostname, subjectAltNames = the policy's SANs or else the
// hostname, the CA from a derived Secret read through the credential store (or the
// system roots for wellKnownCACertificates System). A policy that cannot be honoured
// makes the backends it targets answer 500 (resources.FailBackendHost): never plaintext.

// btlsPolicy is one BackendTLSPolicy with its verdict.
type btlsPolicy struct {
	obj *resources.BackendTLSPolicy
	// accept: the Accepted reason when False; refs: the ResolvedRefs reason when False.
	accept, acceptMsg string
	refs, refsMsg     string
	// fail: the policy cannot be honoured; routes to its targets answer 500.
	fail string
	tls  *networking.ClientTLSSettings
	ca   []byte // PEM bundle of its caCertificateRefs
	// ancestors: the Gateways of the routes using a Service it applies to, by key.
	ancestors   map[string]gwv1.ParentReference
	ancestorKey []string
}

func (p *btlsPolicy) diag(t *translator, sev diag.Severity, field, format string, args ...any) {
	t.diag(sev, "BackendTLSPolicy", &p.obj.ObjectMeta, p.obj.Source, field, format, args...)
}

// refuse sets Accepted False (the first reason wins) and fails the policy closed.
func (p *btlsPolicy) refuse(reason gwv1.PolicyConditionReason, msg string) {
	p.notAccepted(reason, msg)
	if p.fail == "" {
		p.fail = msg
	}
}

// notAccepted sets Accepted False (the first reason wins).
func (p *btlsPolicy) notAccepted(reason gwv1.PolicyConditionReason, msg string) {
	if p.accept == "" {
		p.accept, p.acceptMsg = string(reason), msg
	}
}

// backendTLSPolicies validates every BackendTLSPolicy and picks, per target Service and
// sectionName, the one that applies (oldest first, then namespace/name); the others are
// Conflicted. Before routes: backend() consults t.btls.
func (t *translator) backendTLSPolicies() {
	t.btls = map[string][]*btlsPolicy{}
	t.btlsAll = nil
	for i := range t.in.GatewayAPI.BackendTLSPolicies {
		t.btlsAll = append(t.btlsAll, &btlsPolicy{obj: &t.in.GatewayAPI.BackendTLSPolicies[i]})
	}
	ps := append([]*btlsPolicy(nil), t.btlsAll...)
	sort.SliceStable(ps, func(i, j int) bool { return olderFirst(&ps[i].obj.ObjectMeta, &ps[j].obj.ObjectMeta) })
	for _, p := range ps {
		t.btlsValidate(p)
		for k, tr := range p.obj.Spec.TargetRefs {
			f := fmt.Sprintf("spec.targetRefs[%d]", k)
			key := p.obj.Namespace + "/" + string(tr.Name)
			svc := t.services[key]
			switch {
			case tr.Group != "" || tr.Kind != "Service":
				p.refuse(gwv1.PolicyReasonInvalid, fmt.Sprintf("target kind %s/%s is not supported (core Service)", tr.Group, tr.Kind))
				p.diag(t, diag.Error, f, "%s; the target is not configured", p.acceptMsg)
				continue
			case svc == nil:
				p.notAccepted(gwv1.PolicyReasonTargetNotFound, fmt.Sprintf("Service %s not found", key))
				p.diag(t, diag.Warning, f, "%s; the policy applies to nothing", p.acceptMsg)
				continue
			}
			section := ""
			if tr.SectionName != nil {
				section = string(*tr.SectionName)
				if portNumber(svc, section) == 0 {
					p.notAccepted(gwv1.PolicyReasonTargetNotFound, fmt.Sprintf("Service %s has no port named %q", key, section))
					p.diag(t, diag.Error, f+".sectionName", "%s; the policy applies to nothing", p.acceptMsg)
					continue
				}
			}
			tk := key + "|" + section
			if ws := t.btls[tk]; len(ws) > 0 {
				msg := fmt.Sprintf("BackendTLSPolicy %s targets the same Service and sectionName and takes precedence", objKey(&ws[0].obj.ObjectMeta))
				p.notAccepted(gwv1.PolicyReasonConflicted, msg)
				p.diag(t, diag.Warning, f, "%s; this policy is not applied there", msg)
			}
			t.btls[tk] = append(t.btls[tk], p) // the first applies
		}
	}
	t.btlsDestinationRules()
}

// btlsValidate checks the policy's validation and options, and resolves its CA.
func (t *translator) btlsValidate(p *btlsPolicy) {
	spec := &p.obj.Spec
	for _, k := range sortedOptionKeys(spec.Options) {
		p.refuse(gwv1.PolicyReasonInvalid, fmt.Sprintf("option %q is not supported (portcullis defines no BackendTLSPolicy option)", k))
		p.diag(t, diag.Error, "spec.options["+k+"]", "%s; routes to its targets answer 500", p.acceptMsg)
	}
	v := &spec.Validation
	s := &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_SIMPLE, Sni: string(v.Hostname)}
	for k, san := range v.SubjectAltNames {
		f := fmt.Sprintf("spec.validation.subjectAltNames[%d]", k)
		switch {
		case san.Type == gwv1.HostnameSubjectAltNameType && san.Hostname != "":
			s.SubjectAltNames = append(s.SubjectAltNames, string(san.Hostname))
		case san.Type == gwv1.URISubjectAltNameType && san.URI != "":
			s.SubjectAltNames = append(s.SubjectAltNames, string(san.URI))
		default:
			p.refuse(gwv1.PolicyReasonInvalid, fmt.Sprintf("subjectAltName of type %q without its value", san.Type))
			p.diag(t, diag.Error, f, "%s; routes to its targets answer 500", p.acceptMsg)
		}
	}
	if len(s.SubjectAltNames) == 0 {
		// Without subjectAltNames the hostname authenticates the backend.
		s.SubjectAltNames = []string{string(v.Hostname)}
	}
	wk := v.WellKnownCACertificates
	switch {
	case wk != nil && *wk != "" && len(v.CACertificateRefs) > 0:
		p.refuse(gwv1.PolicyReasonInvalid, "caCertificateRefs and wellKnownCACertificates are mutually exclusive")
		p.diag(t, diag.Error, "spec.validation", "%s; routes to its targets answer 500", p.acceptMsg)
	case wk != nil && *wk == gwv1.WellKnownCACertificatesSystem:
		// The system roots: no credentialName (the translator's SystemRoots).
	case wk != nil && *wk != "":
		p.refuse(gwv1.PolicyReasonInvalid, fmt.Sprintf("wellKnownCACertificates %q is not supported (System)", *wk))
		p.diag(t, diag.Error, "spec.validation.wellKnownCACertificates", "%s; routes to its targets answer 500", p.acceptMsg)
	case len(v.CACertificateRefs) == 0:
		p.refuse(gwv1.PolicyReasonInvalid, "one of caCertificateRefs or wellKnownCACertificates is required")
		p.diag(t, diag.Error, "spec.validation", "%s; routes to its targets answer 500", p.acceptMsg)
	default:
		t.btlsCA(p)
		s.CredentialName = btlsSecretName(p)
	}
	p.tls = s
}

// btlsCA reads the PEM bundles of the policy's caCertificateRefs (ConfigMap or Secret,
// key ca.crt, in the policy's namespace). Any invalid reference fails the policy closed
// (ResolvedRefs False); all invalid: Accepted False, NoValidCACertificate.
func (t *translator) btlsCA(p *btlsPolicy) {
	valid := 0
	for k, ref := range p.obj.Spec.Validation.CACertificateRefs {
		key := p.obj.Namespace + "/" + string(ref.Name)
		var pem []byte
		reason, msg := "", ""
		switch {
		case ref.Group != "" || (ref.Kind != "ConfigMap" && ref.Kind != "Secret"):
			reason, msg = string(gwv1.BackendTLSPolicyReasonInvalidKind), fmt.Sprintf("caCertificateRefs[%d]: kind %s/%s is not supported (core ConfigMap or Secret)", k, ref.Group, ref.Kind)
		case ref.Kind == "ConfigMap":
			d, ok := t.configMaps[key]
			pem = []byte(d["ca.crt"])
			if !ok {
				msg = fmt.Sprintf("caCertificateRefs[%d]: ConfigMap %s not found", k, key)
			}
		default:
			d, ok := t.secrets[key]
			pem = d["ca.crt"]
			if !ok {
				msg = fmt.Sprintf("caCertificateRefs[%d]: Secret %s not found", k, key)
			}
		}
		if reason == "" && msg == "" && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			msg = fmt.Sprintf("caCertificateRefs[%d]: %s %s has no PEM certificate in key ca.crt", k, ref.Kind, key)
		}
		if msg != "" {
			if reason == "" {
				reason = string(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef)
			}
			if p.refs == "" {
				p.refs, p.refsMsg = reason, msg
			}
			if p.fail == "" {
				p.fail = msg
			}
			p.diag(t, diag.Error, fmt.Sprintf("spec.validation.caCertificateRefs[%d]", k), "%s; routes to its targets answer 500", msg)
			continue
		}
		valid++
		p.ca = append(append(p.ca, pem...), '\n')
	}
	if valid == 0 {
		p.refuse(gwv1.BackendTLSPolicyReasonNoValidCACertificate, "no valid CA certificate: "+p.refsMsg)
	}
}

// btlsSecretName is the derived Secret (in the gateway's namespace) holding the CA bundle
// of policy p under ca.crt.
func btlsSecretName(p *btlsPolicy) string {
	return "backendtlspolicy." + p.obj.Namespace + "." + p.obj.Name
}

// btlsDestinationRules emits one DestinationRule per Service with an applicable policy
// that can be honoured, and the Secrets holding their CAs.
func (t *translator) btlsDestinationRules() {
	bySvc := map[string][]string{}
	var svcs []string
	for tk := range t.btls {
		svc, _, _ := strings.Cut(tk, "|")
		if bySvc[svc] == nil {
			svcs = append(svcs, svc)
		}
		bySvc[svc] = append(bySvc[svc], tk)
	}
	sort.Strings(svcs)
	secrets := map[string]bool{}
	for _, sk := range svcs {
		svc := t.services[sk]
		host := svc.Name + "." + svc.Namespace + ".svc.cluster.local"
		if dr := t.userDestinationRule(svc); dr != "" {
			for _, tk := range bySvc[sk] {
				p := t.btls[tk][0]
				p.refuse(gwv1.PolicyReasonConflicted, fmt.Sprintf("DestinationRule %s also configures host %s; portcullis does not merge a BackendTLSPolicy into it (set its trafficPolicy.tls instead)", dr, host))
				p.diag(t, diag.Error, "spec.targetRefs", "%s; routes to the Service answer 500", p.acceptMsg)
			}
			continue
		}
		tp := &networking.TrafficPolicy{}
		var owner *btlsPolicy
		sort.Strings(bySvc[sk])
		for _, tk := range bySvc[sk] {
			p := t.btls[tk][0]
			if p.fail != "" {
				continue
			}
			if owner == nil {
				owner = p
			}
			if p.ca != nil && !secrets[btlsSecretName(p)] {
				secrets[btlsSecretName(p)] = true
				t.btlsSecret(p)
			}
			_, section, _ := strings.Cut(tk, "|")
			if section == "" {
				tp.Tls = p.tls
				continue
			}
			tp.PortLevelSettings = append(tp.PortLevelSettings, &networking.TrafficPolicy_PortTrafficPolicy{
				Port: &networking.PortSelector{Number: uint32(portNumber(svc, section))}, Tls: p.tls,
			})
		}
		if owner == nil {
			continue
		}
		name := svc.Name + ".backendtlspolicy"
		t.derived("DestinationRule", svc.Namespace, name, derivedFrom{kind: "BackendTLSPolicy", ns: owner.obj.Namespace, name: owner.obj.Name,
			field: "spec.validation", what: "TLS to Service " + sk + ": "})
		t.out.DestinationRules = append(t.out.DestinationRules, resources.DestinationRule{
			Meta: resources.Meta{Namespace: svc.Namespace, Name: name, APIVersion: Group + "/v1", Source: owner.obj.Source,
				CreationTimestamp: owner.obj.CreationTimestamp.Unix()},
			Spec: &networking.DestinationRule{Host: host, TrafficPolicy: tp},
		})
	}
}

// userDestinationRule names a DestinationRule of the input whose host is svc's (its
// FQDN, or a short name in the Service's namespace), or "".
func (t *translator) userDestinationRule(svc *resources.Service) string {
	fq := svc.Name + "." + svc.Namespace + ".svc.cluster.local"
	for _, dr := range t.in.DestinationRules {
		h := strings.ToLower(dr.Spec.GetHost())
		if h == fq || h == svc.Name+"."+svc.Namespace || (h == svc.Name && dr.Namespace == svc.Namespace) {
			return dr.Namespace + "/" + dr.Name
		}
	}
	return ""
}

func (t *translator) btlsSecret(p *btlsPolicy) {
	name := btlsSecretName(p)
	t.derived("Secret", t.opts.Namespace, name, derivedFrom{kind: "BackendTLSPolicy", ns: p.obj.Namespace, name: p.obj.Name,
		field: "spec.validation.caCertificateRefs", what: "CA bundle: "})
	t.out.Secrets = append(t.out.Secrets, resources.Secret{
		Source: p.obj.Source,
		Secret: &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: t.opts.Namespace, Name: name},
			Data:       map[string][]byte{"ca.crt": p.ca}, Type: corev1.SecretTypeOpaque,
		},
	})
}

// backendTLS is the policy applying to port of Service svc (its sectionName's, else the
// whole Service's), recording the route's Gateways as the policy's ancestors. fail: the
// policy cannot be honoured (the backend answers 500).
func (t *translator) backendTLS(r *route, svc *resources.Service, port int32) (fail string) {
	key := svc.Namespace + "/" + svc.Name
	ps := t.btls[key+"|"+portName(svc, port)]
	if len(ps) == 0 {
		ps = t.btls[key+"|"]
	}
	if len(ps) == 0 {
		return ""
	}
	for _, p := range ps { // the losers of a conflict report on the same Gateways
		p.addAncestors(r)
	}
	if p := ps[0]; p.fail != "" {
		return fmt.Sprintf("BackendTLSPolicy %s cannot be honoured: %s", objKey(&p.obj.ObjectMeta), p.fail)
	}
	return ""
}

// addAncestors records the Gateways of route r as ancestors of p.
func (p *btlsPolicy) addAncestors(r *route) {
	if p.ancestors == nil {
		p.ancestors = map[string]gwv1.ParentReference{}
	}
	for _, pa := range r.parents {
		ref := pa.ref
		ns := gwv1.Namespace(r.meta.Namespace)
		if ref.Namespace != nil {
			ns = *ref.Namespace
		}
		anc := gwv1.ParentReference{Group: ptr(gwv1.Group(Group)), Kind: ptr(gwv1.Kind("Gateway")), Namespace: &ns, Name: ref.Name}
		k := string(ns) + "/" + string(ref.Name)
		if _, ok := p.ancestors[k]; !ok {
			p.ancestors[k] = anc
			p.ancestorKey = append(p.ancestorKey, k)
		}
	}
}

// btlsUpdates is the status of every policy used by a route of ours: per Gateway, the
// same Accepted and ResolvedRefs conditions.
func (t *translator) btlsUpdates() []status.Update {
	var out []status.Update
	for _, p := range t.btlsAll {
		o := p.obj
		if len(p.ancestorKey) == 0 {
			continue
		}
		gen := o.Generation
		acc := cond(string(gwv1.PolicyConditionAccepted), p.accept == "", string(gwv1.PolicyReasonAccepted), "", gen)
		if p.accept != "" {
			acc.Reason, acc.Message = p.accept, p.acceptMsg
		}
		refs := cond(string(gwv1.BackendTLSPolicyConditionResolvedRefs), p.refs == "", string(gwv1.BackendTLSPolicyReasonResolvedRefs), "", gen)
		if p.refs != "" {
			refs.Reason, refs.Message = p.refs, p.refsMsg
		}
		st := &gwv1.PolicyStatus{}
		keys := append([]string(nil), p.ancestorKey...)
		sort.Strings(keys)
		for _, k := range keys {
			st.Ancestors = append(st.Ancestors, gwv1.PolicyAncestorStatus{
				AncestorRef: p.ancestors[k], ControllerName: gwv1.GatewayController(t.opts.ControllerName),
				Conditions: []metav1.Condition{acc, refs},
			})
		}
		out = append(out, status.Update{Group: Group, Kind: "BackendTLSPolicy", Namespace: o.Namespace, Name: o.Name, Generation: gen, Status: st})
	}
	return out
}

func portNumber(svc *resources.Service, name string) int32 {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	return 0
}

func portName(svc *resources.Service, port int32) string {
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return p.Name
		}
	}
	return ""
}

func sortedOptionKeys(m map[gwv1.AnnotationKey]gwv1.AnnotationValue) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

func ptr[T any](v T) *T { return &v }
