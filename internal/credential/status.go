package credential

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/portcullis/portcullis/internal/diag"
)

// Status describes one referenced credential for /certs and /config_dump. It holds no
// key material.
type Status struct {
	Key           string    `json:"key"`
	Name          string    `json:"name"`
	Source        string    `json:"source"`
	Serving       bool      `json:"serving"`
	Version       string    `json:"version,omitempty"`
	Serial        string    `json:"serial,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	Issuer        string    `json:"issuer,omitempty"`
	SANs          []string  `json:"sans,omitempty"`
	NotBefore     time.Time `json:"notBefore,omitzero"`
	NotAfter      time.Time `json:"notAfter,omitzero"`
	CAFingerprint string    `json:"caFingerprint,omitempty"`
	Users         []string  `json:"users,omitempty"` // servers using it (SyncSnapshot only)
	LastError     string    `json:"lastError,omitempty"`
	LastGood      time.Time `json:"lastGood,omitzero"`
}

// Status lists every referenced credential, served or not, sorted by key.
func (s *Store) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.entries))
	for k, e := range s.entries {
		st := Status{Key: k, Name: e.name, Source: e.source, Users: e.users, LastGood: e.lastGood}
		if e.lastErr != nil {
			st.LastError = e.lastErr.Error()
		}
		if c := e.served; c != nil {
			st.Serving, st.Version, st.Serial, st.Subject, st.Issuer = true, c.Version, c.Serial, c.Subject, c.Issuer
			st.SANs, st.NotBefore, st.NotAfter, st.CAFingerprint = c.SANs, c.NotBefore, c.NotAfter, c.CAFingerprint
			st.Source = c.Source
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Diagnostics reports every credential problem, one per failing input, for
// `portcullis validate` and the admin endpoints.
func (s *Store) Diagnostics() []diag.Diagnostic {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(s.entries))
	var out []diag.Diagnostic
	for _, k := range keys {
		e := s.entries[k]
		for _, err := range Errors(e.lastErr) {
			d := err.Diagnostic()
			if e.served != nil {
				d.Message += " (serving last good version " + e.served.Version + ")"
			}
			out = append(out, d)
		}
	}
	return out
}
