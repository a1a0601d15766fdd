package dataplane

import "time"

// Observer receives data-plane events (the metrics package implements it). Methods are
// called concurrently from request and connection goroutines and must be cheap.
type Observer interface {
	// Request is called once per request. vhost is the name of the snapshot VirtualHost
	// that matched (bounded cardinality; never the raw Host header), or "" when none did
	// (404 without a virtual host, 421, 503 on a removed port).
	Request(vhost string, code int, d time.Duration)
	// HandshakeFailure is called once per failed TLS handshake with a reason:
	// "unknown_sni", "no_client_cert", "bad_client_cert", "no_credential" or "protocol".
	HandshakeFailure(reason string)
	// ListenerError reports a port that could not be bound or stopped serving.
	ListenerError(port uint32, err error)
}

// RequestObserver records the requests of one virtual host: called once per request with
// its final status code and duration. It is an alias of an interface literal so that an
// observer package can implement VirtualHostObserver without importing this one.
type RequestObserver = interface {
	Observe(code int, d time.Duration)
}

// VirtualHostObserver is optionally implemented by an Observer whose per-request work can
// be resolved ahead (label lookups): the dataplane calls ForVirtualHost once per virtual
// host when it builds a snapshot's state (vhost "" for requests that match none) and then
// only the returned RequestObserver per request, instead of Request.
type VirtualHostObserver interface {
	ForVirtualHost(vhost string) RequestObserver
}

// requestObserver resolves vhost's RequestObserver from obs.
func requestObserver(obs Observer, vhost string) RequestObserver {
	if v, ok := obs.(VirtualHostObserver); ok {
		return v.ForVirtualHost(vhost)
	}
	return legacyObserver{obs: obs, vhost: vhost}
}

// legacyObserver adapts an Observer without ForVirtualHost to RequestObserver.
type legacyObserver struct {
	obs   Observer
	vhost string
}

func (l legacyObserver) Observe(code int, d time.Duration) { l.obs.Request(l.vhost, code, d) }

type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}
func (nopObserver) HandshakeFailure(string)            {}
func (nopObserver) ListenerError(uint32, error)        {}
