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

type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}
func (nopObserver) HandshakeFailure(string)            {}
func (nopObserver) ListenerError(uint32, error)        {}
