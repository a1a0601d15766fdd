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
