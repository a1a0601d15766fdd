package cli

import (
	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the FooCorp secure-ingress walkthrough locally (two hosts, two PKIs, mutual TLS on one port)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			o.Out = cmd.OutOrStdout()
			return demo.Run(cmd.Context(), o, logger)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", "", "directory for the PKI and manifests (default: a new temporary directory)")
	fl.IntVar(&o.Port, "port", 8443, "local port standing in for the Gateway's port 443")
	fl.StringVar(&o.Admin, "admin", "127.0.0.1:15000", "admin listener address")
	fl.BoolVar(&o.Check, "check", false, "send the walkthrough's two requests, print the answers and exit")
	return cmd
}
