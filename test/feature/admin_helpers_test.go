package feature

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// certStatus is what the tests read of /certs.
type certStatus struct {
	Key       string   `json:"key"`
	Name      string   `json:"name"`
	Source    string   `json:"source"`
	Serving   bool     `json:"serving"`
	Serial    string   `json:"serial"`
	Version   string   `json:"version"`
	Users     []string `json:"users"`
	LastError string   `json:"lastError"`
}

// certs fetches /certs and returns the status of the credential named name
// ("istio-system/inventory-credential" or a file path).
func (e *env) certs(name string) (certStatus, error) {
	code, body := e.adminGet("/certs")
	if code != http.StatusOK {
		return certStatus{}, fmt.Errorf("/certs: %d %s", code, body)
	}
	var all []certStatus
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		e.t.Fatalf("/certs: %v\n%s", err, body)
	}
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	return certStatus{}, fmt.Errorf("/certs has no %s:\n%s", name, body)
}

// metric returns the value of the sample whose line starts with series (name{labels}),
// or "" when there is none.
func (e *env) metric(series string) string {
	_, body := e.adminGet("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// diagnostics returns the messages of /config_dump's diagnostics.
func (e *env) diagnostics() []string {
	_, body := e.adminGet("/config_dump")
	var dump struct {
		Diagnostics []struct {
			Name    string `json:"name"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(body), &dump); err != nil {
		e.t.Fatalf("/config_dump: %v", err)
	}
	var out []string
	for _, d := range dump.Diagnostics {
		out = append(out, d.Name+" "+d.Field+": "+d.Message)
	}
	return out
}
