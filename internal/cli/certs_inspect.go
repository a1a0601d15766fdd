package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// certStatus is what `certs inspect` reads of the admin /certs document (one element per
// credential; see credential.Status, which produces it).
type certStatus struct {
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	Source    string    `json:"source"`
	Serving   bool      `json:"serving"`
	Version   string    `json:"version"`
	Serial    string    `json:"serial"`
	Subject   string    `json:"subject"`
	SANs      []string  `json:"sans"`
	NotAfter  time.Time `json:"notAfter"`
	Users     []string  `json:"users"`
	LastError string    `json:"lastError"`
}

// newCertsInspectCmd is `portcullis certs inspect`: the credentials a running gateway
// serves, read from its admin listener.
func newCertsInspectCmd() *cobra.Command {
	var (
		admin   string
		output  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "inspect [--admin HOST:PORT] [-o table|json]",
		Short: "Show the credentials a running gateway serves (from its admin /certs)",
		Long: `Fetch /certs from a running gateway's admin listener and print, for every credential
the configuration references: its source, whether it is served, the serial and expiry of
the certificate served, the days left, the servers using it and the last error (an
invalid update keeps the last good version serving; the error says why the update was
rejected). -o json prints the admin document unchanged.`,
		Example: `  portcullis certs inspect --admin 127.0.0.1:15000
  portcullis certs inspect -o json | jq '.[] | select(.lastError != null)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("-o: %q is not table or json", output)
			}
			body, err := fetchCerts(cmd.Context(), admin, timeout)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				_, err := out.Write(body)
				return err
			}
			var sts []certStatus
			if err := json.Unmarshal(body, &sts); err != nil {
				return fmt.Errorf("admin %s: /certs: %w", admin, err)
			}
			return printCertTable(out, sts, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&admin, "admin", "127.0.0.1:15000", "admin listener of the running gateway (HOST:PORT or http:// URL)")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the admin listener")
	return cmd
}

func fetchCerts(ctx context.Context, admin string, timeout time.Duration) ([]byte, error) {
	base := admin
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/certs", nil)
	if err != nil {
		return nil, fmt.Errorf("--admin %q: %w", admin, err)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin %s: %w", admin, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("admin %s: /certs: %w", admin, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin %s: /certs: %s: %s", admin, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// printCertTable prints one row per credential; now computes the days left.
func printCertTable(w io.Writer, sts []certStatus, now time.Time) error {
	if len(sts) == 0 {
		_, err := fmt.Fprintln(w, "no credentials referenced")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CREDENTIAL\tSOURCE\tSERVING\tSERIAL\tNOT AFTER\tDAYS LEFT\tUSERS\tLAST ERROR")
	for _, s := range sts {
		serving, notAfter, days := "no", "-", "-"
		if s.Serving {
			serving = "yes"
		}
		if !s.NotAfter.IsZero() {
			notAfter = s.NotAfter.UTC().Format(time.RFC3339)
			days = fmt.Sprintf("%d", int(math.Floor(s.NotAfter.Sub(now).Hours()/24)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, dash(s.Source), serving, dash(s.Serial),
			notAfter, days, dash(strings.Join(s.Users, ",")), dash(oneLine(s.LastError)))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a multi-line error on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
