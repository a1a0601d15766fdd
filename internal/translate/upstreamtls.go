package translate

import (
	"fmt"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Upstream TLS (issue 12 item 1): DestinationRule trafficPolicy.tls as Istio's cluster
// builder turns it into Envoy's UpstreamTlsContext for a gateway (cluster_tls.go,
// constructUpstreamTLS), with Istio's validation (ValidateTLS) as findings.

// applyUpstreamTLS sets the TLS of rc's cluster from its merged policy. A setting that
// cannot be honoured fails the cluster closed (every route to it answers 500): sending in
// plaintext what the rule says to encrypt is never an option. The findings themselves are
// reported once per DestinationRule, with exact field paths, by checkUpstreamTLS.
func (t *translator) applyUpstreamTLS(rc *resolvedCluster, se *resources.ServiceEntry) {
	s := rc.policy.GetTls()
	if s == nil {
		return
	}
	var f findings
	rc.cluster.TLS = t.upstreamTLS(&f, "tls", s, se)
	for _, x := range f {
		if x.sev == diag.Error {
			rc.fail = fmt.Sprintf("DestinationRule %s trafficPolicy.%s: %s", nsName(&rc.policyRule.Meta), x.field, x.msg)
			rc.cluster.TLS = nil
			return
		}
	}
}

// checkUpstreamTLS reports the findings of every tls block of dr: the top-level policy,
// its portLevelSettings, and each subset's (and their portLevelSettings).
func (t *translator) checkUpstreamTLS(dr *resources.DestinationRule, host string) {
	var f findings
	se := t.idx.serviceEntry(host)
	check := func(base string, tp *networking.TrafficPolicy) {
		if tp == nil {
			return
		}
		if s := tp.GetTls(); s != nil {
			t.upstreamTLS(&f, base+".tls", s, se)
		}
		for i, p := range tp.GetPortLevelSettings() {
			if s := p.GetTls(); s != nil {
				t.upstreamTLS(&f, fmt.Sprintf("%s.portLevelSettings[%d].tls", base, i), s, se)
			}
		}
	}
	check("spec.trafficPolicy", dr.Spec.GetTrafficPolicy())
	for i, ss := range dr.Spec.GetSubsets() {
		check(fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), ss.GetTrafficPolicy())
	}
	t.report(kindDestinationRule, &dr.Meta, f)
}

// upstreamTLS converts one ClientTLSSettings; nil means plaintext (DISABLE) or an error
// (reported in f).
func (t *translator) upstreamTLS(f *findings, base string, s *networking.ClientTLSSettings, se *resources.ServiceEntry) *snapshot.UpstreamTLS {
	out := &snapshot.UpstreamTLS{SNI: s.Sni}
	switch s.Mode {
	case networking.ClientTLSSettings_DISABLE:
		return nil
	case networking.ClientTLSSettings_ISTIO_MUTUAL:
		f.errorf(base+".mode", "ISTIO_MUTUAL needs Istio's mesh CA (workload certificates issued by istiod), which portcullis does not have; "+
			"use MUTUAL with a credentialName or clientCertificate/privateKey")
		return nil
	case networking.ClientTLSSettings_SIMPLE, networking.ClientTLSSettings_MUTUAL:
		out.Mode = s.Mode.String()
	default:
		f.errorf(base+".mode", "unknown tls mode %s", s.Mode)
		return nil
	}
	mutual := s.Mode == networking.ClientTLSSettings_MUTUAL
	// caCertCredentialName is rejected by its field declaration (fieldspec), with the reason.
	for i, san := range s.SubjectAltNames {
		if san == "" {
			f.errorf(fmt.Sprintf("%s.subjectAltNames[%d]", base, i), "empty subject alternative name")
		}
	}
	out.SubjectAltNames = append([]string(nil), s.SubjectAltNames...)
	if len(out.SubjectAltNames) == 0 && se != nil && len(se.Spec.SubjectAltNames) > 0 {
		// Istio uses the ServiceEntry's subjectAltNames when the DestinationRule has none.
		out.SubjectAltNames = append([]string(nil), se.Spec.SubjectAltNames...)
	}
	insecure := s.GetInsecureSkipVerify().GetValue()
	if insecure {
		out.InsecureSkipVerify, out.SubjectAltNames = true, nil
		f.warnf(base+".insecureSkipVerify", "insecureSkipVerify: the upstream's certificate is not verified; anyone on the path can impersonate it")
		switch {
		case !mutual && (s.CaCertificates != "" || s.CredentialName != "" || len(s.SubjectAltNames) > 0):
			f.errorf(base+".insecureSkipVerify", "cannot specify caCertificates, credentialName or subjectAltNames when insecureSkipVerify is true (mode SIMPLE)")
		case mutual && (s.CaCertificates != "" || len(s.SubjectAltNames) > 0):
			f.errorf(base+".insecureSkipVerify", "cannot specify caCertificates or subjectAltNames when insecureSkipVerify is true (mode MUTUAL)")
		}
	}
	ns := t.opts.Namespace
	files := s.ClientCertificate != "" || s.PrivateKey != "" || s.CaCertificates != "" || s.CaCrl != ""
	switch {
	case s.CredentialName != "":
		if files {
			f.errorf(base+".credentialName", "cannot specify clientCertificate, privateKey, caCertificates or caCrl when credentialName is set")
		}
		if errs := validation.IsDNS1123Subdomain(s.CredentialName); len(errs) > 0 {
			f.errorf(base+".credentialName", "credentialName %q is not a valid Secret name (the Secret is looked up in the gateway's namespace %s)", s.CredentialName, ns)
		}
		ref := &snapshot.CredentialRef{Secret: ns + "/" + s.CredentialName, Client: true, NeedCA: !insecure, CAOnly: !mutual}
		if mutual || !insecure {
			out.Credential = ref
		}
	case mutual:
		if s.ClientCertificate == "" {
			f.errorf(base+".clientCertificate", "client certificate required for mutual tls (or set credentialName)")
		}
		if s.PrivateKey == "" {
			f.errorf(base+".privateKey", "private key required for mutual tls (or set credentialName)")
		}
		fc := &snapshot.FileCredential{Certificate: s.ClientCertificate, PrivateKey: s.PrivateKey}
		if !insecure && s.CaCertificates != "" {
			fc.CACerts, fc.CRL = s.CaCertificates, s.CaCrl
		}
		out.Credential = &snapshot.CredentialRef{Files: fc, Client: true, NeedCA: fc.CACerts != ""}
	default: // SIMPLE from files
		if s.ClientCertificate != "" || s.PrivateKey != "" {
			f.warnf(base+".clientCertificate", "clientCertificate and privateKey have no effect in mode SIMPLE (no client certificate is sent); ignored")
		}
		if !insecure && s.CaCertificates != "" {
			out.Credential = &snapshot.CredentialRef{Files: &snapshot.FileCredential{CACerts: s.CaCertificates, CRL: s.CaCrl},
				Client: true, CAOnly: true, NeedCA: true}
		}
	}
	if !insecure && s.CredentialName == "" && s.CaCertificates == "" {
		out.SystemRoots = true // Istio's default caCertificates: "system"
		if s.CaCrl != "" {
			f.errorf(base+".caCrl", "caCrl needs caCertificates: portcullis checks a CRL against the CA bundle that signed it, and the system roots are not one")
		}
	}
	return out
}

// passthroughUpstreamTLS warns when a tls[] (passthrough) destination's DestinationRule
// originates TLS: as Envoy, the client's own TLS then travels inside the gateway's TLS
// connection, which the backend must expect.
func passthroughUpstreamTLS(f *findings, base, field string, c snapshot.Cluster) {
	if c.TLS != nil && strings.HasPrefix(base, "spec.tls[") {
		f.warnf(field+".destination", "DestinationRule trafficPolicy.tls of %s originates TLS on a passthrough route: "+
			"the client's TLS is sent inside the gateway's TLS connection (as Envoy does), which the backend must terminate first", c.Host)
	}
}
