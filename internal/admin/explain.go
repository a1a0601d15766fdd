package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/explain"
)

// Explainer explains one request against the live snapshot (the gateway implements it).
type Explainer interface {
	Explain(in explain.Input) (*explain.Decision, error)
}

// explain serves /explain?url=…&sni=…&method=…&header=k:v… (GET or form POST; cert=PEM
// presents a client certificate chain, whose key is not needed). JSON by default; text
// with format=text or Accept: text/plain.
func (s *Server) explain(ex Explainer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in := explain.Input{
			URL: r.Form.Get("url"), SNI: r.Form.Get("sni"), Method: r.Form.Get("method"),
			Headers: r.Form["header"], CertPEM: []byte(r.Form.Get("cert")),
		}
		if in.URL == "" {
			http.Error(w, "url is required: /explain?url=https://HOST/PATH[&sni=…&method=…&header=Name:value]", http.StatusBadRequest)
			return
		}
		d, err := ex.Explain(in)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Form.Get("format") == "text" || strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_ = explain.WriteText(w, d, time.Now())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			s.logger.Warn("admin encode failed", "err", err)
		}
	}
}
