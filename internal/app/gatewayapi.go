package app

import "github.com/portcullis/portcullis/internal/status"

// publishStatus keeps the Gateway API status of the snapshot just applied for the admin
// endpoint (/config_dump) and hands it to the status writer, if any.
func (g *gateway) publishStatus(st []status.Update) {
	g.mu.Lock()
	g.gwStatus = st
	g.mu.Unlock()
	if g.opts.StatusSink != nil {
		g.opts.StatusSink.Publish(st)
	}
}
