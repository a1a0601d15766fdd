package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/load"
)

// colors of the targets' lines in the plot.
var colors = map[string]string{"portcullis": "#1f77b4", "baseline": "#7f7f7f", "nginx": "#2ca02c", "haproxy": "#d62728", "direct": "#9467bd"}

// Panel geometry (pixels).
const (
	panelW, panelH = 420, 260
	marginL        = 64
	marginT        = 40
	gapX, gapY     = 80, 70
)

// Plot renders the open-loop results as an SVG: for HTTP/1.1 and HTTP/2, CPU per request
// (linear) and p99 latency (log scale) against offered load, one line per target (median
// over rounds). It returns "" when the run has no open-loop results.
func Plot(r *Results) string {
	var rows []struct{ Case, Title string }
	for _, rc := range RateCases {
		if len(r.percents(rc.Case)) > 0 {
			rows = append(rows, rc)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	ts := targets(r)
	width := marginL + 2*panelW + gapX + 20
	height := marginT + len(rows)*(panelH+gapY) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14">Open loop: CPU per request and p99 latency against offered load (%% of the best peer's saturated req/s)</text>`+"\n", marginL)
	fmt.Fprintf(&b, `<text x="%d" y="34" text-anchor="end" fill="#555">%s, commit %s</text>`+"\n",
		width-20, r.Started.UTC().Format("2006-01-02 15:04 UTC"), esc(r.Machine["commit"]))
	lx := marginL
	for _, t := range ts {
		if !hasRate(r, t) {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="30" x2="%d" y2="30" stroke="%s" stroke-width="3"/><text x="%d" y="34">%s</text>`+"\n", lx, lx+20, color(t), lx+24, esc(t))
		lx += 40 + 8*len(t)
	}
	for i, rc := range rows {
		y0 := marginT + 20 + i*(panelH+gapY)
		panel(&b, r, ts, rc.Case, marginL, y0, rc.Title+": CPU µs per request", cpu, false)
		panel(&b, r, ts, rc.Case, marginL+panelW+gapX, y0, rc.Title+": p99 latency ms (log)", p99, true)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func hasRate(r *Results, t string) bool {
	for _, run := range r.Runs {
		if run.Target == t && run.Percent > 0 && run.Result != nil {
			return true
		}
	}
	return false
}

func color(t string) string {
	if c, ok := colors[t]; ok {
		return c
	}
	return "#ff7f0e"
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// panel draws one chart at (x0, y0): x is offered load 0–100 %, y is f (log10 when logY).
func panel(b *strings.Builder, r *Results, ts []string, kase string, x0, y0 int, title string, f func(*load.Result) float64, logY bool) {
	ps := r.percents(kase)
	lo, hi := math.Inf(1), 0.0
	for _, t := range ts {
		for _, p := range ps {
			if s := r.CollectAt(t, kase, p, f); s.N > 0 && s.Median > 0 {
				lo, hi = min(lo, s.Median), max(hi, s.Median)
			}
		}
	}
	if hi == 0 {
		return
	}
	// The y range: linear from 0, or whole decades around the data.
	ymin, ymax := 0.0, niceCeil(hi*1.1)
	if logY {
		ymin, ymax = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if ymax == ymin {
			ymax *= 10
		}
	}
	sy := func(v float64) float64 {
		if logY {
			return float64(y0+panelH) - (math.Log10(v)-math.Log10(ymin))/(math.Log10(ymax)-math.Log10(ymin))*panelH
		}
		return float64(y0+panelH) - (v-ymin)/(ymax-ymin)*panelH
	}
	sx := func(p int) float64 { return float64(x0) + float64(p)/100*panelW }
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13">%s</text>`+"\n", x0, y0-8, esc(title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", x0, y0, panelW, panelH)
	for p := 0; p <= 100; p += 25 {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%d %%</text>`+"\n",
			sx(p), y0, sx(p), y0+panelH, sx(p), y0+panelH+16, p)
	}
	for _, v := range yTicks(ymin, ymax, logY) {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0, sy(v), x0+panelW, sy(v), x0-6, sy(v)+4, trimNum(v))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">offered load</text>`+"\n", x0+panelW/2, y0+panelH+34)
	for _, t := range ts {
		var pts []string
		for _, p := range ps {
			if s := r.CollectAt(t, kase, p, f); s.N > 0 && s.Median > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(p), sy(s.Median)))
			}
		}
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color(t), strings.Join(pts, " "))
		for _, pt := range pts {
			x, y, _ := strings.Cut(pt, ",")
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, color(t))
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

// yTicks are five linear ticks, or 1-2-5 ticks per decade on a log axis.
func yTicks(lo, hi float64, logY bool) []float64 {
	var out []float64
	if !logY {
		for i := 0; i <= 5; i++ {
			out = append(out, lo+(hi-lo)*float64(i)/5)
		}
		return out
	}
	for d := lo; d < hi*1.01; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= hi*1.01 {
				out = append(out, v)
			}
		}
	}
	return out
}

func trimNum(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
