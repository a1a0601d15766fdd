package report

import (
	"strings"
	"testing"
	"time"
)

func TestFindingsSurviveRegeneration(t *testing.T) {
	r := &Results{Started: time.Unix(0, 0), Machine: map[string]string{}}
	fresh := Markdown(r, "x.json")
	if Findings(fresh) != placeholder {
		t.Fatalf("fresh report lacks the findings placeholder")
	}
	edited := strings.Replace(fresh, placeholder, findingsBegin+"\nportcullis spends its time in X.\n"+findingsEnd, 1)
	again := WithFindings(Markdown(r, "y.json"), Findings(edited))
	if !strings.Contains(again, "portcullis spends its time in X.") || !strings.Contains(again, "y.json") {
		t.Fatalf("regenerated report lost the findings or the new figures:\n%s", again)
	}
}
