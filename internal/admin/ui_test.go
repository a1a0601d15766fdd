package admin

import (
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/explain"
)

type explainState struct {
	stuckState
	got explain.Input
}

func (s *explainState) Explain(in explain.Input) (*explain.Decision, error) {
	s.got = in
	return &explain.Decision{Outcome: explain.OutcomeResponse, Status: 421, Summary: "421 because"}, nil
}

func serve(t *testing.T, st State, method, target string, body io.Reader, hdr ...string) (int, string, http.Header) {
	t.Helper()
	s := New(Options{Gatherer: prometheus.NewRegistry()}, st, slog.New(slog.DiscardHandler))
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.srv.Handler.ServeHTTP(w, r)
	return w.Code, w.Body.String(), w.Header()
}

func TestExplainEndpoint(t *testing.T) {
	st := &explainState{}
	code, body, _ := serve(t, st, "GET", "/explain?url=https://a.example/x&sni=b&method=POST&header=X-A:+1&header=Host:+c", nil)
	if code != 200 || !strings.Contains(body, `"status": 421`) {
		t.Fatalf("%d %s", code, body)
	}
	if st.got.URL != "https://a.example/x" || st.got.SNI != "b" || st.got.Method != "POST" || len(st.got.Headers) != 2 || st.got.Headers[1] != "Host: c" {
		t.Fatalf("input %+v", st.got)
	}
	code, body, _ = serve(t, st, "GET", "/explain?url=https://a/", nil, "Accept", "text/plain")
	if code != 200 || !strings.Contains(body, "outcome: 421 because") {
		t.Fatalf("text: %d %s", code, body)
	}
	code, _, _ = serve(t, st, "POST", "/explain", strings.NewReader("url=https://a/&cert=PEM"), "Content-Type", "application/x-www-form-urlencoded")
	if code != 200 || string(st.got.CertPEM) != "PEM" {
		t.Fatalf("form post: %d %+v", code, st.got)
	}
	if code, _, _ = serve(t, st, "GET", "/explain", nil); code != 400 {
		t.Fatalf("no url: %d", code)
	}
	// A State without Explain has no /explain.
	if code, _, _ = serve(t, stuckState{}, "GET", "/explain?url=https://a/", nil); code != 404 {
		t.Fatalf("without an Explainer: %d", code)
	}
}

// TestUIServesEmbeddedAssets: the page and its assets come from the binary, and nothing in
// them loads from another origin (the view works offline).
func TestUIServesEmbeddedAssets(t *testing.T) {
	code, body, h := serve(t, stuckState{}, "GET", "/ui", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `<script src="/ui/app.js">`) {
		t.Fatalf("/ui: %d %s %s", code, h.Get("Content-Type"), body)
	}
	for _, p := range []string{"/ui/app.js", "/ui/style.css"} {
		if code, _, _ := serve(t, stuckState{}, "GET", p, nil); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["'](https?:)?//`)
	err := fs.WalkDir(uiFiles, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := uiFiles.ReadFile(path)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s loads from another origin: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
