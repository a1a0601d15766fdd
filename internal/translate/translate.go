package translate

import (
	"maps"
	"sort"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/telemetry"
)

// Options describe the gateway workload this snapshot is for.
type Options struct {
	// Namespace the gateway runs in; credentialName Secrets are resolved here.
	// Default "istio-system".
	Namespace string
	// Labels of the gateway workload; a Gateway applies when its spec.selector is a subset.
	// Default {istio: ingressgateway}.
	Labels map[string]string
	// RootNamespace is Istio's meshConfig.rootNamespace: its security policies apply to
	// every namespace. Default "istio-system".
	RootNamespace string
	// DefaultExportTo applies to objects without exportTo (see ExportDefaults).
	DefaultExportTo ExportDefaults
	// UpstreamHTTP2: "host:port" of destinations reached over HTTP/2 whatever their
	// policy says (the backends of Gateway API GRPCRoutes).
	UpstreamHTTP2 map[string]bool
}

// DefaultNamespace and the default label pair of Istio's ingress gateway.
const (
	DefaultNamespace  = "istio-system"
	defaultLabelKey   = "istio"
	defaultLabelValue = "ingressgateway"
)

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if len(o.Labels) == 0 {
		o.Labels = map[string]string{defaultLabelKey: defaultLabelValue}
	} else {
		o.Labels = maps.Clone(o.Labels)
	}
	return o
}

// Translate builds the snapshot for b. It never fails as a whole: whatever cannot be served is
// left out and reported. Diagnostics include b.Diagnostics, grouped by source document (file,
// then index) and, within a document, in the order the translator found them (which follows
// the spec: servers[2] before servers[10]).
func Translate(b *resources.Bundle, opts Options) (*snapshot.Snapshot, []diag.Diagnostic) {
	if b == nil {
		b = &resources.Bundle{}
	}
	t := newTranslator(b, opts.withDefaults())
	t.checkPolicies()
	gws := t.selectGateways()
	ports := t.buildServers(gws)
	t.bindVirtualServices(gws)
	snap := t.assemble(ports)
	var secDiags []diag.Diagnostic
	snap.Security, secDiags = authz.Translate(b, authz.Options{Namespace: t.opts.Namespace, Labels: t.opts.Labels, RootNamespace: opts.RootNamespace})
	t.diags = append(t.diags, secDiags...)
	var telDiags []diag.Diagnostic
	snap.Telemetry, telDiags = telemetry.Translate(b, telemetry.Options{Namespace: t.opts.Namespace, Labels: t.opts.Labels, RootNamespace: opts.RootNamespace})
	t.diags = append(t.diags, telDiags...)
	snap.Version = version(snap)

	diags := make([]diag.Diagnostic, 0, len(b.Diagnostics)+len(t.diags))
	diags = append(diags, b.Diagnostics...)
	diags = append(diags, t.diags...)
	sortDiagnostics(diags)
	return snap, diags
}

// translator holds the state of one Translate call. It is never shared.
type translator struct {
	opts  Options
	b     *resources.Bundle
	diags []diag.Diagnostic
	idx   *index

	// clusters resolved so far, by name, with the findings their resolution produced (so
	// every route that uses a bad destination gets its own diagnostic).
	clusters map[string]*resolvedCluster
	// usedClusters are referenced by at least one emitted route.
	usedClusters map[string]bool
	// rejected: "Kind ns/name" of each DestinationRule and ServiceEntry checked → its
	// first rejected field and reason ("" when none).
	rejected map[string]string
}

func newTranslator(b *resources.Bundle, opts Options) *translator {
	t := &translator{
		opts:         opts,
		b:            b,
		clusters:     map[string]*resolvedCluster{},
		usedClusters: map[string]bool{},
		rejected:     map[string]string{},
	}
	t.idx = t.buildIndex()
	return t
}

// sortDiagnostics orders by source document only; the stable sort keeps spec order within
// a document (diag.Sort would put "servers[10]" before "servers[2]").
func sortDiagnostics(ds []diag.Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].File != ds[j].File {
			return ds[i].File < ds[j].File
		}
		return ds[i].Index < ds[j].Index
	})
}
