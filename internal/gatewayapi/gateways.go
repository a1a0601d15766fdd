package gatewayapi

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/status"
)

// gateway is one Gateway of ours.
type gateway struct {
	obj       *resources.KubeGateway
	listeners []*listener
	// accepted: false when the Gateway as a whole is refused (reason, msg).
	accepted    bool
	reason, msg string
	// bind: the IP address the Gateway's listeners bind ("" = the default listen host);
	// addrMsg: why the Gateway got no address (pool exhausted); addresses: its
	// status.addresses (addresses.go).
	bind      string
	addrMsg   string
	addresses []gwv1.GatewayStatusAddress
}

// listener is one listener of one of our Gateways.
type listener struct {
	gw    *gateway
	spec  *gwv1.Listener
	field string // spec.listeners[i]
	host  string // lower-case hostname, "" for none

	// Accepted condition: ok unless acceptReason is set.
	acceptReason, acceptMsg string
	// Conflicted: reason set when conflicted.
	conflictReason, conflictMsg string
	// ResolvedRefs: ok unless refsReason is set.
	refsReason, refsMsg string
	kinds               []gwv1.RouteGroupKind // supported kinds after allowedRoutes
	nsSelector          labels.Selector       // allowedRoutes from: Selector (nil: none valid)
	attached            int32

	// TLS (HTTPS terminate): the certificate Secret's data (nil: unresolved), the CA
	// bundle (nil: no client validation), and the validation mode.
	certData     map[string][]byte
	caPEM        []byte
	optionalMTLS bool
	passthrough  bool
}

func (l *listener) name() string { return string(l.spec.Name) }

// usable: the listener generates dataplane configuration.
func (l *listener) usable() bool {
	return l.acceptReason == "" && l.conflictReason == "" && l.gw.addrMsg == ""
}

// istioName is the derived Istio Gateway of the listener: "<gateway>.<listener>" in the
// Gateway's namespace.
func (l *listener) istioName() string { return l.gw.obj.Name + "." + l.name() }

func (l *listener) istioKey() string { return l.gw.obj.Namespace + "/" + l.istioName() }

func (l *listener) diag(t *translator, sev diag.Severity, field, format string, args ...any) {
	t.diag(sev, "Gateway", &l.gw.obj.ObjectMeta, l.gw.obj.Source, l.field+field, format, args...)
}

func (l *listener) refuse(reason, msg string) {
	if l.acceptReason == "" {
		l.acceptReason, l.acceptMsg = reason, msg
	}
}

func (l *listener) unresolved(reason, msg string) {
	if l.refsReason == "" {
		l.refsReason, l.refsMsg = reason, msg
	}
}

// gateways selects and validates our Gateways and their listeners.
func (t *translator) gateways() {
	for i := range t.in.GatewayAPI.Gateways {
		g := &t.in.GatewayAPI.Gateways[i]
		if _, ours := t.ourClasses[string(g.Spec.GatewayClassName)]; !ours {
			continue
		}
		if _, dup := t.gwByKey[objKey(&g.ObjectMeta)]; dup {
			t.diag(diag.Error, "Gateway", &g.ObjectMeta, g.Source, "metadata.name", "Gateway %s is defined twice; the first definition is used", objKey(&g.ObjectMeta))
			continue
		}
		gw := &gateway{obj: g, accepted: true}
		t.gwByKey[objKey(&g.ObjectMeta)] = gw
		t.gws = append(t.gws, gw)
		t.gatewaySpec(gw)
	}
	sort.SliceStable(t.gws, func(i, j int) bool { return olderFirst(&t.gws[i].obj.ObjectMeta, &t.gws[j].obj.ObjectMeta) })
	t.assignAddresses() // addresses.go
	for _, gw := range t.gws {
		gw.addresses = t.statusAddresses(gw)
	}
}

func (t *translator) gatewaySpec(gw *gateway) {
	g := gw.obj
	warn := func(field, format string, args ...any) {
		t.diag(diag.Warning, "Gateway", &g.ObjectMeta, g.Source, field, format, args...)
	}
	t.specAddress(gw) // addresses.go
	if inf := g.Spec.Infrastructure; inf != nil {
		if inf.ParametersRef != nil {
			warn("spec.infrastructure.parametersRef", "parametersRef is not supported; ignored")
		}
		if len(inf.Labels)+len(inf.Annotations) > 0 {
			warn("spec.infrastructure", "labels and annotations apply to resources a controller creates; portcullis creates none; ignored")
		}
	}
	if al := g.Spec.AllowedListeners; al != nil && al.Namespaces != nil && al.Namespaces.From != nil && *al.Namespaces.From != gwv1.NamespacesFromNone {
		warn("spec.allowedListeners", "ListenerSets are not supported: no ListenerSet attaches to this Gateway")
	}
	if g.Spec.DefaultScope != "" {
		warn("spec.defaultScope", "defaultScope is not supported; ignored")
	}
	if tc := g.Spec.TLS; tc != nil && tc.Backend != nil && tc.Backend.ClientCertificateRef != nil {
		gw.accepted, gw.reason = false, string(gwv1.GatewayReasonInvalidClientCertificateRef)
		gw.msg = "spec.tls.backend.clientCertificateRef (client certificates to backends) is not supported"
		t.diag(diag.Error, "Gateway", &g.ObjectMeta, g.Source, "spec.tls.backend.clientCertificateRef", "%s; Gateway not accepted", gw.msg)
	}
	seen := map[string]int{}
	for i := range g.Spec.Listeners {
		l := &listener{gw: gw, spec: &g.Spec.Listeners[i], field: fmt.Sprintf("spec.listeners[%d]", i)}
		gw.listeners = append(gw.listeners, l)
		if j, dup := seen[l.name()]; dup {
			l.refuse(string(gwv1.ListenerReasonUnsupportedValue), fmt.Sprintf("listener name %q is already used by spec.listeners[%d]", l.name(), j))
			l.diag(t, diag.Error, ".name", "%s; listener not accepted", l.acceptMsg)
			continue
		}
		seen[l.name()] = i
		t.listenerSpec(l)
	}
}

// routeKinds a listener protocol accepts; nil for a protocol portcullis does not serve.
func routeKinds(p gwv1.ProtocolType) []string {
	switch p {
	case gwv1.HTTPProtocolType, gwv1.HTTPSProtocolType:
		return []string{"HTTPRoute", "GRPCRoute"}
	case gwv1.TLSProtocolType:
		return []string{"TLSRoute"}
	case gwv1.TCPProtocolType:
		return []string{"TCPRoute"}
	}
	return nil
}

func (t *translator) listenerSpec(l *listener) {
	s := l.spec
	if s.Hostname != nil {
		l.host = lower(*s.Hostname)
	}
	kinds := routeKinds(s.Protocol)
	if kinds == nil {
		l.refuse(string(gwv1.ListenerReasonUnsupportedProtocol), fmt.Sprintf("protocol %s is not supported (HTTP, HTTPS, TLS, TCP)", s.Protocol))
		l.diag(t, diag.Error, ".protocol", "%s; listener not accepted", l.acceptMsg)
		return
	}
	if s.Protocol == gwv1.TCPProtocolType && l.host != "" {
		l.diag(t, diag.Warning, ".hostname", "hostname has no effect on a TCP listener (plain TCP carries no name); ignored")
		l.host = ""
	}
	// allowedRoutes.kinds
	l.kinds = nil
	if ar := s.AllowedRoutes; ar != nil && len(ar.Kinds) > 0 {
		var bad []string
		for _, k := range ar.Kinds {
			grp := Group
			if k.Group != nil {
				grp = string(*k.Group)
			}
			if grp == Group && contains(kinds, string(k.Kind)) {
				l.kinds = append(l.kinds, routeKind(string(k.Kind)))
			} else {
				bad = append(bad, grp+"/"+string(k.Kind))
			}
		}
		if len(bad) > 0 {
			l.unresolved(string(gwv1.ListenerReasonInvalidRouteKinds), fmt.Sprintf("route kinds %s are not supported on a %s listener", strings.Join(bad, ", "), s.Protocol))
			l.diag(t, diag.Error, ".allowedRoutes.kinds", "%s", l.refsMsg)
		}
	} else {
		for _, k := range kinds {
			l.kinds = append(l.kinds, routeKind(k))
		}
	}
	if ar := s.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil && *ar.Namespaces.From == gwv1.NamespacesFromSelector {
		sel, err := metav1.LabelSelectorAsSelector(ar.Namespaces.Selector)
		switch {
		case ar.Namespaces.Selector == nil:
			err = fmt.Errorf("from: Selector requires a selector")
			fallthrough
		case err != nil:
			l.diag(t, diag.Error, ".allowedRoutes.namespaces.selector", "%v: no route from another namespace attaches to this listener", err)
		default:
			l.nsSelector = sel
		}
	}
	switch s.Protocol {
	case gwv1.HTTPProtocolType, gwv1.TCPProtocolType:
		if s.TLS != nil {
			l.refuse(string(gwv1.ListenerReasonUnsupportedValue), fmt.Sprintf("tls is not allowed on a %s listener", s.Protocol))
			l.diag(t, diag.Error, ".tls", "%s; listener not accepted", l.acceptMsg)
		}
	case gwv1.HTTPSProtocolType, gwv1.TLSProtocolType:
		t.listenerTLS(l)
	}
}

func routeKind(k string) gwv1.RouteGroupKind {
	g := gwv1.Group(Group)
	return gwv1.RouteGroupKind{Group: &g, Kind: gwv1.Kind(k)}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// listenerTLS validates tls of an HTTPS or TLS listener and resolves its certificate.
func (t *translator) listenerTLS(l *listener) {
	s := l.spec
	if s.TLS == nil {
		l.refuse(string(gwv1.ListenerReasonUnsupportedValue), fmt.Sprintf("a %s listener requires tls", s.Protocol))
		l.diag(t, diag.Error, ".tls", "%s; listener not accepted", l.acceptMsg)
		return
	}
	mode := gwv1.TLSModeTerminate
	if s.TLS.Mode != nil {
		mode = *s.TLS.Mode
	}
	if len(s.TLS.Options) > 0 {
		l.diag(t, diag.Warning, ".tls.options", "no TLS option is supported; ignored")
	}
	switch {
	case mode == gwv1.TLSModePassthrough && s.Protocol == gwv1.HTTPSProtocolType:
		l.refuse(string(gwv1.ListenerReasonUnsupportedValue), "tls mode Passthrough requires protocol TLS")
		l.diag(t, diag.Error, ".tls.mode", "%s; listener not accepted", l.acceptMsg)
		return
	case mode == gwv1.TLSModePassthrough:
		l.passthrough = true
		if len(s.TLS.CertificateRefs) > 0 {
			l.diag(t, diag.Warning, ".tls.certificateRefs", "certificateRefs have no effect in mode Passthrough; ignored")
		}
		return
	}
	if len(s.TLS.CertificateRefs) == 0 {
		l.unresolved(string(gwv1.ListenerReasonInvalidCertificateRef), "tls mode Terminate requires certificateRefs")
		l.diag(t, diag.Error, ".tls.certificateRefs", "%s; the listener serves no host", l.refsMsg)
		return
	}
	if len(s.TLS.CertificateRefs) > 1 {
		l.diag(t, diag.Warning, ".tls.certificateRefs[1]", "only the first certificateRef is served; the others are ignored")
	}
	ref := s.TLS.CertificateRefs[0]
	field := ".tls.certificateRefs[0]"
	grp, kind, ns := refParts(ref.Group, ref.Kind, ref.Namespace, "", "Secret", l.gw.obj.Namespace)
	key := ns + "/" + string(ref.Name)
	switch {
	case grp != "" || kind != "Secret":
		l.unresolved(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef kind %s/%s is not supported (core Secret)", grp, kind))
	case !t.granted("Gateway", l.gw.obj.Namespace, "", "Secret", ns, string(ref.Name)):
		l.unresolved(string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("certificateRef to Secret %s in another namespace is not allowed by any ReferenceGrant in %s", key, ns))
	default:
		data, ok := t.secrets[key]
		if !ok {
			l.unresolved(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("Secret %s not found", key))
			break
		}
		crt, k := data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey]
		if len(crt) == 0 && len(k) == 0 { // Istio's generic layout, as credentialName accepts
			crt, k = data["cert"], data["key"]
		}
		if _, err := tls.X509KeyPair(crt, k); err != nil {
			l.unresolved(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("Secret %s has no valid tls.crt/tls.key pair: %v", key, err))
			break
		}
		l.certData = map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: k}
	}
	if l.certData == nil {
		l.diag(t, diag.Error, field, "%s; the listener's hosts are not served", l.refsMsg)
	}
}

// frontends applies spec.tls.frontend client validation to HTTPS and TLS Terminate listeners.
func (t *translator) frontends() {
	for _, gw := range t.gws {
		fe := gw.obj.Spec.TLS
		if fe == nil || fe.Frontend == nil {
			continue
		}
		for _, l := range gw.listeners {
			if (l.spec.Protocol != gwv1.HTTPSProtocolType && (l.spec.Protocol != gwv1.TLSProtocolType || l.passthrough)) || l.acceptReason != "" {
				continue
			}
			v, field := fe.Frontend.Default.Validation, "spec.tls.frontend.default.validation"
			for k, pp := range fe.Frontend.PerPort {
				if pp.Port == l.spec.Port {
					v, field = pp.TLS.Validation, fmt.Sprintf("spec.tls.frontend.perPort[%d].tls.validation", k)
				}
			}
			if v != nil {
				t.frontendValidation(l, v, field)
			}
		}
	}
}

func (t *translator) frontendValidation(l *listener, v *gwv1.FrontendTLSValidation, field string) {
	g := l.gw.obj
	var bundle []byte
	valid := 0
	for k, ref := range v.CACertificateRefs {
		f := fmt.Sprintf("%s.caCertificateRefs[%d]", field, k)
		ns := g.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		key := ns + "/" + string(ref.Name)
		var pem []byte
		var reason, msg string
		switch {
		case ref.Group != "" || (ref.Kind != "ConfigMap" && ref.Kind != "Secret"):
			reason, msg = string(gwv1.ListenerReasonInvalidCACertificateKind), fmt.Sprintf("caCertificateRef kind %s/%s is not supported (core ConfigMap or Secret)", ref.Group, ref.Kind)
		case !t.granted("Gateway", g.Namespace, "", string(ref.Kind), ns, string(ref.Name)):
			reason, msg = string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("caCertificateRef to %s %s in another namespace is not allowed by any ReferenceGrant in %s", ref.Kind, key, ns)
		case ref.Kind == "ConfigMap":
			if d, ok := t.configMaps[key]; ok {
				pem = []byte(d["ca.crt"])
			} else {
				reason, msg = string(gwv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s not found", key)
			}
		default:
			if d, ok := t.secrets[key]; ok {
				pem = d["ca.crt"]
			} else {
				reason, msg = string(gwv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("Secret %s not found", key)
			}
		}
		if reason == "" && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			reason, msg = string(gwv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("%s %s has no PEM certificate in key ca.crt", ref.Kind, key)
		}
		if reason != "" {
			l.unresolved(reason, msg)
			t.diag(diag.Error, "Gateway", &g.ObjectMeta, g.Source, f, "%s (listener %s)", msg, l.name())
			continue
		}
		valid++
		bundle = append(append(bundle, pem...), '\n')
	}
	if valid == 0 {
		// Fail closed: a listener that should verify clients and cannot is not served.
		l.refuse(string(gwv1.ListenerReasonNoValidCACertificate), "no valid CA certificate to validate client certificates")
		l.diag(t, diag.Error, "", "listener %s: %s; listener not accepted (its hosts are not served)", l.name(), l.acceptMsg)
		return
	}
	l.caPEM = bundle
	if v.Mode == gwv1.AllowInsecureFallback {
		l.optionalMTLS = true
		t.diag(diag.Warning, "Gateway", &g.ObjectMeta, g.Source, field+".mode",
			"AllowInsecureFallback is served as optional mutual TLS: a client without a certificate is let in, but a certificate that fails verification is refused (listener %s)", l.name())
	}
}

// conflicts marks listeners that cannot share a port with an earlier one (same Gateway in
// spec order, then older Gateways first): ProtocolConflict (HTTP vs HTTPS/TLS vs TCP) and
// HostnameConflict (the same hostname twice on a port). Ports are per address: Gateways
// bound to different addresses never conflict.
func (t *translator) conflicts() {
	type portUse struct {
		family string
		first  *listener
		hosts  map[string]*listener
	}
	type addrPort struct {
		bind string
		port gwv1.PortNumber
	}
	ports := map[addrPort]*portUse{}
	family := func(p gwv1.ProtocolType) string {
		switch p {
		case gwv1.HTTPSProtocolType, gwv1.TLSProtocolType:
			return "TLS"
		}
		return string(p)
	}
	for _, gw := range t.gws {
		if !gw.accepted || gw.addrMsg != "" {
			continue
		}
		for _, l := range gw.listeners {
			if l.acceptReason != "" {
				continue
			}
			key := addrPort{bind: gw.bind, port: l.spec.Port}
			pu := ports[key]
			if pu == nil {
				pu = &portUse{family: family(l.spec.Protocol), first: l, hosts: map[string]*listener{}}
				ports[key] = pu
			}
			other := pu.hosts[l.host]
			switch {
			case pu.family != family(l.spec.Protocol):
				l.conflictReason = string(gwv1.ListenerReasonProtocolConflict)
				l.conflictMsg = fmt.Sprintf("port %d already serves %s for listener %s of Gateway %s", l.spec.Port, pu.first.spec.Protocol, pu.first.name(), objKey(&pu.first.gw.obj.ObjectMeta))
			case l.spec.Protocol == gwv1.TCPProtocolType && pu.first != l:
				l.conflictReason = string(gwv1.ListenerReasonProtocolConflict)
				l.conflictMsg = fmt.Sprintf("port %d already has TCP listener %s of Gateway %s; plain TCP carries no name to tell listeners apart", l.spec.Port, pu.first.name(), objKey(&pu.first.gw.obj.ObjectMeta))
			case other != nil:
				h := l.host
				if h == "" {
					h = "(no hostname)"
				}
				l.conflictReason = string(gwv1.ListenerReasonHostnameConflict)
				l.conflictMsg = fmt.Sprintf("hostname %s on port %d is already served by listener %s of Gateway %s", h, l.spec.Port, other.name(), objKey(&other.gw.obj.ObjectMeta))
			default:
				pu.hosts[l.host] = l
				continue
			}
			l.diag(t, diag.Error, "", "listener %s conflicts: %s; not served", l.name(), l.conflictMsg)
		}
	}
}

// credentialName of the derived Secret of a TLS listener (in Options.Namespace).
func (l *listener) credentialName() string {
	base := "gwapi." + l.gw.obj.Namespace + "." + l.gw.obj.Name + "." + l.name()
	sum := sha256.Sum256([]byte(l.gw.obj.Namespace + "/" + l.gw.obj.Name + "/" + l.name()))
	name := base + "." + hex.EncodeToString(sum[:4])
	if len(name) > 253 {
		name = "gwapi." + hex.EncodeToString(sum[:8])
	}
	return name
}

// istioGateway builds the derived Istio Gateway of a usable listener and its Secrets.
func (t *translator) istioGateway(l *listener) {
	g := l.gw.obj
	host := l.host
	if host == "" {
		host = "*"
	}
	srv := &networking.Server{
		Port:  &networking.Port{Number: uint32(l.spec.Port), Name: l.name(), Protocol: string(l.spec.Protocol)},
		Hosts: []string{host},
		Bind:  l.gw.bind,
	}
	switch {
	case l.passthrough:
		srv.Tls = &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_PASSTHROUGH}
	case l.spec.Protocol == gwv1.HTTPSProtocolType || l.spec.Protocol == gwv1.TLSProtocolType: // TLS: Terminate (l4.go)
		mode := networking.ServerTLSSettings_SIMPLE
		if l.caPEM != nil {
			mode = networking.ServerTLSSettings_MUTUAL
			if l.optionalMTLS {
				mode = networking.ServerTLSSettings_OPTIONAL_MUTUAL
			}
		}
		cred := l.credentialName()
		t.derived("Secret", t.opts.Namespace, cred, derivedFrom{ns: g.Namespace, name: g.Name, field: l.field + ".tls",
			what: "credential of listener " + l.name() + ": "})
		srv.Tls = &networking.ServerTLSSettings{Mode: mode, CredentialName: cred}
		// An unresolved certificate derives no Secret: the credential store then finds
		// none and the listener's hosts are not served, as when an Istio credentialName
		// Secret is deleted.
		if l.certData != nil {
			t.derivedSecret(l, cred, map[string][]byte{
				corev1.TLSCertKey: l.certData[corev1.TLSCertKey], corev1.TLSPrivateKeyKey: l.certData[corev1.TLSPrivateKeyKey],
			})
			if l.caPEM != nil {
				t.derivedSecret(l, cred+"-cacert", map[string][]byte{"ca.crt": l.caPEM})
			}
		}
	}
	t.derived("Gateway", g.Namespace, l.istioName(), derivedFrom{ns: g.Namespace, name: g.Name, field: l.field,
		what: "listener " + l.name() + ": "})
	t.out.Gateways = append(t.out.Gateways, resources.Gateway{
		Meta: resources.Meta{
			Namespace: g.Namespace, Name: l.istioName(), APIVersion: Group + "/v1",
			Source: g.Source, CreationTimestamp: g.CreationTimestamp.Unix(),
		},
		Spec: &networking.Gateway{Selector: t.opts.Labels, Servers: []*networking.Server{srv}},
	})
}

func (t *translator) derivedSecret(l *listener, name string, data map[string][]byte) {
	t.out.Secrets = append(t.out.Secrets, resources.Secret{
		Source: l.gw.obj.Source,
		Secret: &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: t.opts.Namespace, Name: name},
			Data:       data, Type: corev1.SecretTypeOpaque,
		},
	})
}

// update is the Gateway's status.
func (gw *gateway) update() status.Update {
	g := gw.obj
	gen := g.Generation
	st := &gwv1.GatewayStatus{Addresses: gw.addresses}
	programmed, acceptedListeners := 0, 0
	invalid := false
	for _, l := range gw.listeners {
		ls := gwv1.ListenerStatus{Name: l.spec.Name, SupportedKinds: l.kinds, AttachedRoutes: l.attached}
		if ls.SupportedKinds == nil {
			ls.SupportedKinds = []gwv1.RouteGroupKind{}
		}
		acc := cond("Accepted", l.acceptReason == "", string(gwv1.ListenerReasonAccepted), "", gen)
		if l.acceptReason != "" {
			acc.Reason, acc.Message = l.acceptReason, l.acceptMsg
			invalid = true
		} else {
			acceptedListeners++
		}
		conf := cond("Conflicted", false, string(gwv1.ListenerReasonNoConflicts), "", gen)
		if l.conflictReason != "" {
			conf = cond("Conflicted", true, l.conflictReason, l.conflictMsg, gen)
			invalid = true
		}
		refs := cond("ResolvedRefs", l.refsReason == "", string(gwv1.ListenerReasonResolvedRefs), "", gen)
		if l.refsReason != "" {
			refs.Reason, refs.Message = l.refsReason, l.refsMsg
			invalid = true
		}
		ok := gw.accepted && l.usable() && l.refsReason == ""
		prog := cond("Programmed", ok, string(gwv1.ListenerReasonProgrammed), "", gen)
		if !ok {
			prog.Reason = string(gwv1.ListenerReasonInvalid)
			prog.Message = "the listener is not served"
		} else {
			programmed++
		}
		ls.Conditions = []metav1.Condition{acc, prog, refs, conf}
		st.Listeners = append(st.Listeners, ls)
	}
	acc := cond("Accepted", gw.accepted, string(gwv1.GatewayReasonAccepted), "", gen)
	switch {
	case !gw.accepted:
		acc.Reason, acc.Message = gw.reason, gw.msg
	case acceptedListeners == 0 && len(gw.listeners) > 0:
		// The Gateway API accepts a Gateway only when at least one listener is accepted.
		acc = cond("Accepted", false, string(gwv1.GatewayReasonListenersNotValid), "no listener is accepted", gen)
	case invalid:
		acc.Reason, acc.Message = string(gwv1.GatewayReasonListenersNotValid), "some listeners are not valid; the others are served"
	}
	prog := cond("Programmed", gw.accepted && programmed > 0, string(gwv1.GatewayReasonProgrammed), strconv.Itoa(programmed)+" listeners served", gen)
	if gw.accepted && gw.addrMsg != "" {
		prog.Reason, prog.Message = string(gwv1.GatewayReasonAddressNotAssigned), gw.addrMsg
	} else if prog.Status != metav1.ConditionTrue {
		prog.Reason, prog.Message = string(gwv1.GatewayReasonInvalid), "no listener is served"
	}
	st.Conditions = []metav1.Condition{acc, prog}
	return status.Update{Group: Group, Kind: "Gateway", Namespace: g.Namespace, Name: g.Name, Generation: gen, UID: string(g.UID), Status: st}
}
