package app

import (
	"fmt"
	"net/netip"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/gatewayapi"
	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/translate"
)

// credentialRefs lists the credentials a snapshot references (one per key).
func credentialRefs(s *snapshot.Snapshot) []snapshot.CredentialRef {
	seen := map[string]bool{}
	var out []snapshot.CredentialRef
	for _, l := range s.Listeners {
		for _, srv := range l.Servers {
			if srv.TLS == nil || seen[srv.TLS.Credential.Key()] {
				continue
			}
			seen[srv.TLS.Credential.Key()] = true
			out = append(out, srv.TLS.Credential)
		}
	}
	for _, r := range snapshot.ClusterCredentialRefs(s.Clusters) { // upstream TLS
		if !seen[r.Key()] {
			seen[r.Key()] = true
			out = append(out, r)
		}
	}
	return out
}

// secretData turns bundle Secrets into the credential store's input ("ns/name" -> data).
// The same Secret defined twice (two files) is a conflict: the first definition wins and
// the later one is reported.
func secretData(b *resources.Bundle) (map[string]map[string][]byte, []diag.Diagnostic) {
	out := make(map[string]map[string][]byte, len(b.Secrets))
	first := make(map[string]resources.Source, len(b.Secrets))
	var ds []diag.Diagnostic
	for _, s := range b.Secrets {
		k := s.Namespace + "/" + s.Name
		if src, dup := first[k]; dup {
			ds = append(ds, diag.Diagnostic{
				Severity: diag.Error, Kind: "Secret", Namespace: s.Namespace, Name: s.Name,
				File: s.Source.File, Index: s.Source.Index, Field: "metadata.name",
				Message: fmt.Sprintf("Secret %s is already defined in %s#%d; this definition is ignored", k, src.File, src.Index),
			})
			continue
		}
		first[k] = s.Source
		out[k] = s.Data
	}
	return out, ds
}

// translateBundle runs the pure translator.
func translateBundle(b *resources.Bundle, o Options) (*snapshot.Snapshot, []diag.Diagnostic) {
	return translateWith(b, o, nil)
}

func translateWith(b *resources.Bundle, o Options, http2 map[string]bool) (*snapshot.Snapshot, []diag.Diagnostic) {
	return translate.Translate(b, translate.Options{Namespace: o.Namespace, Labels: o.Labels, RootNamespace: o.RootNamespace, DefaultExportTo: o.DefaultExportTo, UpstreamHTTP2: http2})
}

// gatewayAPI derives the Istio objects and the status of the Gateway API objects of b
// (internal/gatewayapi); the result's Bundle is what the translator reads.
func gatewayAPI(b *resources.Bundle, o Options) gatewayapi.Result {
	return gatewayapi.Translate(b, gatewayapi.Options{ControllerName: o.GatewayControllerName, Namespace: o.Namespace, Labels: o.Labels,
		AddressPool: o.GatewayAddressPool, PublishAddresses: publishAddresses(o)})
}

// publishAddresses: --gateway-publish-address, else the listen host when it is one
// (non-wildcard) IP address.
func publishAddresses(o Options) []string {
	if len(o.GatewayPublishAddresses) > 0 {
		return o.GatewayPublishAddresses
	}
	if a, err := netip.ParseAddr(o.ListenHost); err == nil && !a.IsUnspecified() {
		return []string{a.Unmap().String()}
	}
	return nil
}

// mountedFiles lists the files of file-mount credentials, for the watcher.
func mountedFiles(refs []snapshot.CredentialRef) []string {
	var files []string
	for _, r := range refs {
		if f := r.Files; f != nil {
			for _, p := range []string{f.Certificate, f.PrivateKey, f.CACerts, f.CRL} {
				if p != "" {
					files = append(files, p)
				}
			}
		}
	}
	return files
}
