package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// names is a Registerer that records the names of the metrics registered on it.
type names map[string]bool

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (n names) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			n[m[1]] = true
		}
	}
	return nil
}

func (n names) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = n.Register(c)
	}
}

func (n names) Unregister(prometheus.Collector) bool { return false }

// TestDashboardMetricsExist checks every metric the shipped Grafana dashboard queries is
// one portcullis exports (histogram series by their _bucket/_sum/_count names).
func TestDashboardMetricsExist(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/portcullis.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	have := names{}
	m := New(have)
	m.AccessLog(func() uint64 { return 0 }, func() uint64 { return 0 })
	m.WatchConnections(func(func(uint32, int, int)) {})
	NewIstio(have, Workload{})
	ident := regexp.MustCompile(`\b(?:portcullis|istio)_[a-z0-9_]+`)
	used := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range ident.FindAllString(tg.Expr, -1) {
				used++
				base := name
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if s, ok := strings.CutSuffix(name, suf); ok && have[s] {
						base = s
					}
				}
				if !have[base] {
					t.Errorf("panel %q queries %s, which portcullis does not export", p.Title, name)
				}
			}
		}
	}
	if used < 10 {
		t.Errorf("only %d metric references found: is the dashboard parsed?", used)
	}
}
