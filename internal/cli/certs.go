package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/certs"
)

// newCertsCmd is `portcullis certs`: generate the walkthrough's per-host PKI and,
// optionally, the credential Secrets that `kubectl create secret generic` would make.
func newCertsCmd() *cobra.Command {
	var (
		o          certs.Options
		secretsOut string
		namespace  string
	)
	cmd := &cobra.Command{
		Use:   "certs --dir DIR --host HOST [--host HOST2]",
		Short: "Generate a root CA, intermediate CA, server and client certificate per host",
		Long: `Generate, for every --host, its own PKI in the layout of the Istio secure ingress
walkthrough:

  DIR/HOST/1_root/{private/ca.key.pem,certs/ca.cert.pem}
  DIR/HOST/2_intermediate/{private/intermediate.key.pem,certs/intermediate.cert.pem,certs/ca-chain.cert.pem}
  DIR/HOST/3_application/{private/HOST.key.pem,certs/HOST.cert.pem}   server certificate (serverAuth)
  DIR/HOST/4_client/{private/HOST.key.pem,certs/HOST.cert.pem}        client certificate (clientAuth)

With --secrets-out, also write <first-label>-credential.yaml Secrets (keys key, cert,
cacert) identical to what "kubectl create secret generic --dry-run=client -o yaml"
prints; "--secrets-out -" prints them to standard output.`,
		Example: `  portcullis certs --dir certs --host frontend.foocorp.com --host inventory.foocorp.com --secrets-out manifests`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				return errors.New("--dir is required")
			}
			if len(o.Hosts) == 0 {
				return errors.New("--host is required (repeat it for several hosts)")
			}
			if err := certs.Generate(o); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, h := range o.Hosts {
				p := certs.PathsFor(o.Dir, h)
				fmt.Fprintf(out, "%s: server %s, client %s, CA chain %s\n", h, p.ServerCert, p.ClientCert, p.Chain)
			}
			if secretsOut == "" {
				return nil
			}
			ms, err := certs.SecretManifests(o.Dir, o.Hosts, namespace)
			if err != nil {
				return err
			}
			return writeManifests(cmd, ms, secretsOut)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", "", "output directory (one sub-directory per host)")
	f.StringArrayVar(&o.Hosts, "host", nil, "host name to issue certificates for (repeatable)")
	f.StringVar(&o.KeyType, "key-type", certs.ECDSAP256, "key type: "+certs.ECDSAP256+" or "+certs.RSA2048)
	f.DurationVar(&o.Validity, "validity", 365*24*time.Hour, "validity of server and client certificates (CAs live longer)")
	f.StringVar(&secretsOut, "secrets-out", "", `directory for Secret manifests ("-" for standard output); empty: none`)
	f.StringVar(&namespace, "namespace", certs.DefaultNamespace, "namespace of the Secret manifests")
	cmd.AddCommand(newCertsInspectCmd())
	return cmd
}

func writeManifests(cmd *cobra.Command, ms []certs.Manifest, dir string) error {
	if dir == "-" {
		for i, m := range ms {
			if i > 0 { // the separator kubectl prints between objects
				fmt.Fprint(cmd.OutOrStdout(), "---\n")
			}
			if _, err := cmd.OutOrStdout().Write(m.YAML); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, m := range ms {
		path := filepath.Join(dir, m.Name+".yaml")
		// Secrets hold private keys: owner-only.
		if err := os.WriteFile(path, m.YAML, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: secret %s\n", m.Host, path)
	}
	return nil
}
