package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/explain"
)

func newExplainCmd() *cobra.Command {
	var (
		src               sourceFlags
		portMap           []string
		in                explain.Input
		certFile, keyFile string
		output            string
	)
	cmd := &cobra.Command{
		Use:   "explain [flags] https://HOST[:PORT]/PATH",
		Short: "Explain how the gateway would answer one request, step by step",
		Long: `Explain how the gateway would answer one request, described like a curl command: the
listener and server the SNI selects, the credential served, the client-certificate check,
the Host/SNI binding (421), authorization, the VirtualService rule chosen and the rules that
did not match, its actions and the destination's endpoints. The decision is computed by the
gateway's own code on the snapshot 'run' would serve from the same --config. Exits 0 when
the decision is computed, whatever it is.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o app.Options
			if err := src.apply(&o); err != nil {
				return err
			}
			if len(o.ConfigPaths) == 0 && o.CredentialsDir == "" {
				return fmt.Errorf("nothing to explain against: give --config")
			}
			pm, err := parsePortMap(portMap)
			if err != nil {
				return err
			}
			in.URL, in.PortMap = args[0], pm
			if (certFile == "") != (keyFile == "") {
				return fmt.Errorf("--cert and --key go together")
			}
			if certFile != "" {
				if in.CertPEM, err = os.ReadFile(certFile); err != nil {
					return err
				}
				if in.KeyPEM, err = os.ReadFile(keyFile); err != nil {
					return err
				}
			}
			d, ds, err := app.Explain(o, in)
			if err != nil {
				return err
			}
			if len(ds) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: the configuration has %d finding(s); see `portcullis validate`\n", len(ds))
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			case "text", "":
				return explain.WriteText(out, d, time.Now())
			}
			return fmt.Errorf("-o %q: want text or json", output)
		},
	}
	src.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&portMap, "port-map", nil, "GATEWAYPORT=HOST:PORT as given to run: a URL port that is a mapped listen port stands for its Gateway port")
	fl.StringVar(&in.SNI, "sni", "", "TLS server name to send (default: the URL's host, as curl)")
	fl.StringVarP(&in.Method, "request", "X", "GET", "request method")
	fl.StringArrayVarP(&in.Headers, "header", "H", nil, "request header 'Name: value' (repeatable; 'Host: x' replaces the URL's authority)")
	fl.StringVar(&certFile, "cert", "", "client certificate chain (PEM) to present")
	fl.StringVar(&keyFile, "key", "", "private key (PEM) of --cert")
	fl.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
