package app

import (
	"github.com/portcullis/portcullis/internal/authz/engine"
	"github.com/portcullis/portcullis/internal/dataplane"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/explain"
)

// Explain loads the configuration and credentials as `run` would and explains the request
// in against the snapshot it would serve. The diagnostics are Validate's (a finding may
// be why the request is treated as it is); the error is for what prevents explaining.
func Explain(o Options, in explain.Input) (*explain.Decision, []diag.Diagnostic, error) {
	o.Defaults()
	q, err := explain.NewQuery(in)
	if err != nil {
		return nil, nil, err
	}
	snap, store, ds, _, err := loadOffline(o)
	if err != nil {
		return nil, nil, err
	}
	az, err := engine.NewRuntime(engine.RuntimeOptions{
		TrustedHops: o.TrustedProxies, JWKSCAFile: o.JWKSCAFile, JWKSRefresh: o.JWKSRefresh,
		Logger: discardLogger(),
	})
	if err != nil {
		return nil, ds, err
	}
	d, err := dataplane.ExplainSnapshot(snap, credentialView{store}, az, q)
	return d, ds, err
}

// Explain implements admin.Explainer: in explained against the live snapshot and
// credentials (the dataplane's current state).
func (g *gateway) Explain(in explain.Input) (*explain.Decision, error) {
	in.PortMap = g.opts.PortMap
	q, err := explain.NewQuery(in)
	if err != nil {
		return nil, err
	}
	return g.dp.Explain(q), nil
}
