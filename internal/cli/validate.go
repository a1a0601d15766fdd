package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/diag"
)

func newValidateCmd(g *globals) *cobra.Command {
	var (
		src    sourceFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check configuration and credentials without serving; exit 1 on any finding",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o app.Options
			if err := src.apply(&o); err != nil {
				return err
			}
			if len(o.ConfigPaths) == 0 && o.CredentialsDir == "" {
				return fmt.Errorf("nothing to validate: give --config")
			}
			ds, st, err := app.ValidateStatus(o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				if ds == nil {
					ds = []diag.Diagnostic{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(ds); err != nil {
					return err
				}
			case "text", "":
				for _, d := range ds {
					fmt.Fprintln(out, d.String())
				}
				if len(ds) == 0 {
					fmt.Fprintln(out, "ok: no findings")
				}
				printStatus(out, st)
			default:
				return fmt.Errorf("-o %q: want text or json", output)
			}
			if len(ds) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	src.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
