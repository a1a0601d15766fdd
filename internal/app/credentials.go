package app

import (
	"github.com/portcullis/portcullis/internal/credential"
	"github.com/portcullis/portcullis/internal/dataplane"
)

// credentialView adapts the credential store to the interface the dataplane declares, so
// the dataplane never imports the credential package.
type credentialView struct{ s *credential.Store }

func (v credentialView) Lookup(key string) (dataplane.Credential, bool) {
	c, ok := v.s.Get(key)
	if !ok {
		return dataplane.Credential{}, false
	}
	return dataplane.Credential{
		Certificate:   c.Certificate,
		ClientCAs:     c.ClientCAs,
		CAFingerprint: c.CAFingerprint,
		CRLs:          c.CRLs,
		Version:       c.Version,
	}, true
}

// ClientCredential serves upstream client credentials (DestinationRule trafficPolicy.tls)
// from the same store: the client certificate, and the CA bundle and CRLs that verify
// the upstream.
func (v credentialView) ClientCredential(key string) (dataplane.ClientCredential, bool) {
	c, ok := v.s.Get(key)
	if !ok {
		return dataplane.ClientCredential{}, false
	}
	return dataplane.ClientCredential{Certificate: c.Certificate, RootCAs: c.ClientCAs, CRLs: c.CRLs, Version: c.Version}, true
}
