package app

import (
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/gatewayapi"
)

// publishStatus keeps the Gateway API translation of the snapshot just applied (its status
// for /config_dump, its derived objects to attribute credential findings) and hands the
// status to the status writer, if any.
func (g *gateway) publishStatus(r gatewayapi.Result) {
	g.mu.Lock()
	g.gwStatus, g.gwapi = r.Status, r
	g.mu.Unlock()
	if g.opts.StatusSink != nil {
		g.opts.StatusSink.Publish(r.Status)
	}
}

// credentialDiagnostics are the credential store's findings, those about Secrets derived
// from Gateway API listeners reported on the listeners.
func (g *gateway) credentialDiagnostics() []diag.Diagnostic {
	g.mu.Lock()
	r := g.gwapi
	g.mu.Unlock()
	return r.Attribute(g.creds.Diagnostics())
}
