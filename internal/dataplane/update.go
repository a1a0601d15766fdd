package dataplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/dataplane/listener"
	"github.com/portcullis/portcullis/internal/dataplane/tcpproxy"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Update makes s the served configuration. It builds the complete runtime state first; if
// that fails, the previous state keeps serving and the error is returned. Otherwise it
// binds sockets for new ports, swaps the state in with one atomic store, and drains
// listeners of removed ports (bounded by DrainTimeout). Ports present before and after
// keep their sockets and connections. A port that cannot be bound is reported in the
// returned error and through Observer.ListenerError while every other port serves; the
// next Update retries it.
func (d *Dataplane) Update(s *snapshot.Snapshot) error {
	if s == nil {
		return errors.New("dataplane: nil snapshot")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return errors.New("dataplane: stopped")
	}
	st, err := buildState(s, d.creds, d.tickets(), d.obs, d.logger)
	if err == nil {
		st.clusters = d.balancers.Clusters(s.Clusters) // keeps endpoint state across snapshots
		st.clusters.UseTLS(d.upTLS)
		st.authz, err = compileAuthz(d.opts.Authz, s.Security)
	}
	if err != nil {
		d.logger.Error("snapshot rejected, keeping the previous one", "version", s.Version, "error", err)
		return fmt.Errorf("snapshot %s rejected: %w", s.Version, err)
	}
	var errs []error
	var added []listenKey
	for _, port := range openOrder(st.ports) {
		if d.listeners[port] != nil {
			continue
		}
		l, err := d.listen(port)
		if err != nil {
			d.logger.Error("cannot listen", "port", port.port, "bind", port.bind, "error", err)
			d.obs.ListenerError(port.port, err)
			errs = append(errs, fmt.Errorf("port %d%s: %w", port.port, bindNote(port.bind), err))
			continue
		}
		d.listeners[port] = l
		added = append(added, port)
	}

	d.state.Store(st)

	for _, port := range added {
		if d.running {
			d.serve(port, d.listeners[port])
		}
		d.logger.Info("listener opened", "port", port.port, "bind", port.bind, "addr", d.listeners[port].Addr().String())
	}
	for port, l := range d.listeners {
		if _, keep := st.ports[port]; keep {
			continue
		}
		delete(d.listeners, port)
		if !d.running {
			_ = l.Close()
			continue
		}
		d.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), d.opts.DrainTimeout)
			defer cancel()
			_ = d.drain(ctx, port, l)
		})
	}
	d.ready.Store(d.running)
	d.logger.Debug("dataplane state swapped", "version", s.Version, "listeners", len(st.ports), "clusters", len(s.Clusters))
	return errors.Join(errs...)
}

// CredentialsChanged rebuilds the per-SNI TLS tables from the current credentials (routes
// are not re-translated) and swaps them in. New handshakes use the new certificates and
// CAs at once; established connections continue. When a server's client-auth policy
// (mode, CA bundle, SANs, CRLs) changed, each established connection's client certificate
// is re-verified against the new policy on its next request; one that no longer passes
// (revoked, CA removed) gets 421 and cannot handshake again.
func (d *Dataplane) CredentialsChanged() { d.rebuildTLS("tls credentials reloaded") }

// rebuildTLS swaps in freshly built TLS tables (new credentials or ticket key epoch).
func (d *Dataplane) rebuildTLS(event string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.state.Load()
	if old == nil || d.stopped {
		return
	}
	d.state.Store(old.withCredentials(d.creds, d.tickets(), d.logger))
	d.logger.Info(event, "version", old.snap.Version)
}

// tickets is the session ticket key input for tables built now.
func (d *Dataplane) tickets() listener.Tickets {
	return listener.Tickets{Secret: d.secret, Epoch: d.epoch(time.Now()), TLS13: d.opts.TLS13SessionTickets}
}

func (d *Dataplane) epoch(now time.Time) uint64 {
	return uint64(now.UnixNano() / int64(d.opts.TicketKeyRotation))
}

// untilNextEpoch is how long until the ticket keys rotate.
func (d *Dataplane) untilNextEpoch(now time.Time) time.Duration {
	p := int64(d.opts.TicketKeyRotation)
	return time.Duration(p - now.UnixNano()%p)
}

// openOrder lists the listeners in the order they are opened: those on the default listen
// host first, so that on a port with both (and a wildcard listen host, which Linux will not
// share with a specific address) it is always the bound listener that fails, not the
// default one, whatever the map order.
func openOrder(ports map[listenKey]*portState) []listenKey {
	keys := make([]listenKey, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b listenKey) int {
		if (a.bind == "") != (b.bind == "") {
			if a.bind == "" {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.port, b.port), strings.Compare(a.bind, b.bind))
	})
	return keys
}

// bindNote is " (bind ADDR)" for a listener with a bind address, "" otherwise.
func bindNote(bind string) string {
	if bind == "" {
		return ""
	}
	return " (bind " + bind + ")"
}

// listen binds a gateway listener. d.mu is held.
func (d *Dataplane) listen(port listenKey) (*listener.Listener, error) {
	return listener.Listen(listener.Config{
		Addr:              d.opts.addr(port),
		TLS:               func() *listener.Table { return d.state.Load().tlsTable(port) },
		Handler:           d.handler(port),
		ReadHeaderTimeout: d.opts.ReadHeaderTimeout,
		IdleTimeout:       d.opts.IdleTimeout,
		MaxHeaderBytes:    d.opts.MaxHeaderBytes,
		StreamIdleTimeout: max(d.opts.StreamIdleTimeout, 0),
		RequestTimeout:    max(d.opts.RequestTimeout, 0),
		HandshakeFailure:  d.obs.HandshakeFailure,
		HandshakeLog:      d.handshakeLog(),
		Logger:            d.logger.With("port", port.port, "bind", port.bind),
		Stream:            d.streamHandler(port),
		CloseStream:       d.l4proxy.Close,
		TCP:               d.tcpPort(port),
		ProxyProtocol:     d.opts.ProxyProtocol,
		Accept:            d.loopAccept(),
		StreamLoop:        d.streamLoopHandler(port),
	})
}

// loopAccept is listener.Config.Accept: nil unless Options.L4Accept.
func (d *Dataplane) loopAccept() func(*net.TCPListener, tcpproxy.Acceptor) (func(), error) {
	if !d.opts.L4Accept || l4Engine != tcpproxy.EngineLoop {
		return nil
	}
	return d.l4proxy.Accept
}
