package app

import (
	"github.com/portcullis/portcullis/internal/diag"
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
	return out
}

// secretData turns bundle Secrets into the credential store's input ("ns/name" -> data).
func secretData(b *resources.Bundle) map[string]map[string][]byte {
	out := make(map[string]map[string][]byte, len(b.Secrets))
	for _, s := range b.Secrets {
		out[s.Namespace+"/"+s.Name] = s.Data
	}
	return out
}

// translateBundle runs the pure translator.
func translateBundle(b *resources.Bundle, o Options) (*snapshot.Snapshot, []diag.Diagnostic) {
	return translate.Translate(b, translate.Options{Namespace: o.Namespace, Labels: o.Labels})
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
