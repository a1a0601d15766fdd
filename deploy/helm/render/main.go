// Command render is `helm template` (and `helm lint`) for machines without a helm binary:
// it renders a chart with Helm's own engine (helm.sh/helm/v3 pkg/engine, the same code the
// helm CLI runs), so a chart that renders here renders the same with Helm.
//
// It lives in its own Go module (deploy/helm/render/go.mod) so that Helm and its
// dependencies never enter the project's go.mod. deploy/helm/render.sh builds and runs it.
//
// Usage:
//
//	render [--name NAME] [--namespace NS] [--kube-version V] [--lint] [-f FILE]... [--set K=V]... [FILE...] CHART_DIR
//
// The last argument is the chart directory; other bare arguments are values files.
// Output is the manifests in Helm's install order, each preceded by "---" and
// "# Source: <template>", exactly as `helm template` prints them.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
)

type options struct {
	name, namespace, kubeVersion string
	lint                         bool
	valueFiles, sets             []string
	chart                        string
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err == nil {
		err = run(o, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func parseArgs(args []string) (options, error) {
	o := options{name: "portcullis", namespace: "istio-system", kubeVersion: "v1.37.2"}
	var bare []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		key, val, hasVal := strings.Cut(a, "=")
		next := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag %s needs a value", key)
			}
			i++
			return args[i], nil
		}
		var err error
		switch key {
		case "--name":
			o.name, err = next()
		case "-n", "--namespace":
			o.namespace, err = next()
		case "--kube-version":
			o.kubeVersion, err = next()
		case "-f", "--values":
			var v string
			v, err = next()
			o.valueFiles = append(o.valueFiles, v)
		case "--set":
			var v string
			v, err = next()
			o.sets = append(o.sets, v)
		case "--lint":
			o.lint = true
		default:
			if strings.HasPrefix(a, "-") {
				return o, fmt.Errorf("unknown flag %q", a)
			}
			bare = append(bare, a)
		}
		if err != nil {
			return o, err
		}
	}
	if len(bare) == 0 {
		return o, errors.New("usage: render [--name NAME] [--namespace NS] [--lint] [-f FILE]... [--set K=V]... [FILE...] CHART_DIR")
	}
	o.chart = bare[len(bare)-1]
	o.valueFiles = append(o.valueFiles, bare[:len(bare)-1]...)
	return o, nil
}

// values merges the values files in order, then the --set expressions, like helm does.
func values(o options) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range o.valueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		base = mergeMaps(base, v.AsMap())
	}
	for _, s := range o.sets {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return base, nil
}

// mergeMaps is helm's pkg/cli/values mergeMaps: b wins, nested maps merge.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if bv, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(bv, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func run(o options, stdout, stderr io.Writer) error {
	vals, err := values(o)
	if err != nil {
		return err
	}
	kv, err := chartutil.ParseKubeVersion(o.kubeVersion)
	if err != nil {
		return fmt.Errorf("--kube-version %s: %w", o.kubeVersion, err)
	}
	if o.lint {
		return runLint(o, vals, kv, stderr)
	}
	ch, err := loader.Load(o.chart)
	if err != nil {
		return fmt.Errorf("chart %s: %w", o.chart, err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	rel := chartutil.ReleaseOptions{Name: o.name, Namespace: o.namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(ch, vals, rel, caps)
	if err != nil {
		return err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return err
	}
	if len(hooks) > 0 {
		return fmt.Errorf("chart has %d hooks; this renderer does not print hooks", len(hooks))
	}
	for _, m := range manifests {
		if _, err := fmt.Fprintf(stdout, "---\n# Source: %s\n%s\n", m.Name, m.Content); err != nil {
			return err
		}
	}
	return nil
}

func runLint(o options, vals map[string]any, kv *chartutil.KubeVersion, stderr io.Writer) error {
	l := lint.AllWithKubeVersion(o.chart, vals, o.namespace, kv)
	for _, m := range l.Messages {
		fmt.Fprintln(stderr, m.Error())
	}
	if l.HighestSeverity >= support.WarningSev {
		return fmt.Errorf("lint %s: %d message(s), at least one warning or error", o.chart, len(l.Messages))
	}
	fmt.Fprintf(stderr, "lint %s: ok (%d info message(s))\n", o.chart, len(l.Messages))
	return nil
}
