package report

import "strings"

// The markers around the hand-written part of docs/performance.md.
const (
	findingsBegin = "<!-- findings: hand-written, kept when the report is regenerated -->"
	findingsEnd   = "<!-- /findings -->"
)

// Findings returns the hand-written block of a previous report (markers included), or "".
func Findings(md string) string {
	i := strings.Index(md, findingsBegin)
	if i < 0 {
		return ""
	}
	j := strings.Index(md[i:], findingsEnd)
	if j < 0 {
		return ""
	}
	return md[i : i+j+len(findingsEnd)]
}

// WithFindings inserts block into a freshly rendered report, before its method section
// (replacing the empty placeholder the renderer writes).
func WithFindings(md, block string) string {
	if cur := Findings(md); cur != "" {
		return strings.Replace(md, cur, block, 1)
	}
	return md + "\n" + block + "\n"
}

// placeholder is what a fresh report carries until someone writes findings.
const placeholder = findingsBegin + "\n" + findingsEnd
