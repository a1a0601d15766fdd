package app

import (
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/status"
)

// Ready implements admin.State: ready once the first snapshot is serving; with
// --require-credentials, also only when every referenced credential is loaded.
func (g *gateway) Ready() (bool, string) {
	g.mu.Lock()
	applied, refs, updateErr := g.applied, g.refs, g.updateErr
	g.mu.Unlock()
	if !g.kubeSynced() {
		return false, "kubernetes informers not synced yet"
	}
	if !applied || !g.dp.Ready() {
		return false, "no configuration snapshot serving yet"
	}
	if updateErr != nil {
		return false, updateErr.Error()
	}
	if g.opts.RequireCredentials {
		var missing []string
		for _, r := range refs {
			if _, ok := g.creds.Get(r.Key()); !ok {
				missing = append(missing, r.Key())
			}
		}
		if len(missing) > 0 {
			return false, fmt.Sprintf("credentials not loaded: %s", strings.Join(missing, ", "))
		}
	}
	return true, ""
}

// Certs implements admin.State: every referenced credential, the servers using it and
// its last error.
func (g *gateway) Certs() any { return g.creds.Status() }

// configDump is the /config_dump document.
type configDump struct {
	Snapshot    *snapshot.Snapshot `json:"snapshot"`
	Diagnostics []diag.Diagnostic  `json:"diagnostics"`
	Credentials any                `json:"credentials"`
	// GatewayAPIStatus: the status computed for the Gateway API objects of ours.
	GatewayAPIStatus []status.Update `json:"gatewayAPIStatus,omitempty"`
}

// ConfigDump implements admin.State. Key material is never included: the snapshot holds
// only credential references and the credential status only display fields.
func (g *gateway) ConfigDump() any {
	g.mu.Lock()
	snap := g.snap
	ds := append([]diag.Diagnostic{}, g.diagnostics...)
	st := g.gwStatus
	g.mu.Unlock()
	ds = append(ds, g.creds.Diagnostics()...)
	diag.Sort(ds)
	return configDump{Snapshot: snap, Diagnostics: ds, Credentials: g.Certs(), GatewayAPIStatus: st}
}
