package accesslog

import (
	"crypto/x509"
	"time"
)

// Entry is one completed request (or, with ConnectionFailure set, one connection that
// failed its TLS handshake), as Envoy's access log command operators name its facts.
// Empty strings print as "-" (text) or null (JSON). An Entry never holds key material:
// of the client certificate only its subject and SHA-256 fingerprint.
type Entry struct {
	Start    time.Time     // %START_TIME%
	Duration time.Duration // %DURATION%

	Method    string // %REQ(:METHOD)%
	Path      string // %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%
	Protocol  string // %PROTOCOL%: HTTP/1.1, HTTP/2
	Authority string // %REQ(:AUTHORITY)%

	Code          int    // %RESPONSE_CODE% (0 for a connection failure)
	Flags         string // %RESPONSE_FLAGS%, Envoy's short names, "-" when none
	Details       string // %RESPONSE_CODE_DETAILS%
	Termination   string // %CONNECTION_TERMINATION_DETAILS%
	BytesReceived int64  // %BYTES_RECEIVED%: request body bytes
	BytesSent     int64  // %BYTES_SENT%: response body bytes
	GRPCStatus    string // grpc-status of a gRPC response (trailer or header), "" otherwise

	ForwardedFor string // %REQ(X-FORWARDED-FOR)%
	UserAgent    string // %REQ(USER-AGENT)%
	RequestID    string // %REQ(X-REQUEST-ID)%

	UpstreamHost    string // %UPSTREAM_HOST%: the endpoint of the last try
	UpstreamCluster string // %UPSTREAM_CLUSTER%: "outbound|port|subset|host"
	UpstreamService string // the cluster's destination host (Istio's destination_service)
	// UpstreamTransportFailure: %UPSTREAM_TRANSPORT_FAILURE_REASON%, why TLS to the
	// upstream failed (e.g. "TLS_error:CERTIFICATE_VERIFY_FAILED:..."); "" when it did not.
	UpstreamTransportFailure string

	DownstreamLocal  string // %DOWNSTREAM_LOCAL_ADDRESS%
	DownstreamRemote string // %DOWNSTREAM_REMOTE_ADDRESS%
	ServerName       string // %REQUESTED_SERVER_NAME%: the TLS SNI
	Route            string // %ROUTE_NAME%
	VirtualHost      string // the matched virtual host ("" none)

	TLSVersion string // %DOWNSTREAM_TLS_VERSION%: TLSv1.2, TLSv1.3
	// PeerCert is the client's leaf certificate: the writer prints its subject
	// (%DOWNSTREAM_PEER_SUBJECT%) and SHA-256 fingerprint
	// (%DOWNSTREAM_PEER_FINGERPRINT_256%) off the request path.
	PeerCert  *x509.Certificate
	MutualTLS bool // a verified client certificate was presented

	// ConnectionFailure, when set, makes this a connection-level entry: the reason a TLS
	// handshake failed (Envoy logs it as %DOWNSTREAM_TRANSPORT_FAILURE_REASON%).
	ConnectionFailure string
}

// Sink consumes completed requests. Log is called on the request's goroutine, after the
// response, once per request; the Entry is reused afterwards, so a Sink copies what it
// keeps and never blocks.
type Sink interface {
	Log(e *Entry)
}

// Sinks fans an Entry out to several sinks.
type Sinks []Sink

// Log calls every sink in order.
func (s Sinks) Log(e *Entry) {
	for _, k := range s {
		k.Log(e)
	}
}

// Fields is the set of an Entry's fields a Sink reads. The data plane fills only what its
// sink reads: building the rest (addresses, TLS facts, headers) is per-request work wasted
// when nothing prints it.
type Fields uint8

const (
	// MetricFields are what Istio's standard metrics read: Code, Duration, Flags,
	// GRPCStatus, UpstreamService, BytesReceived and BytesSent.
	MetricFields Fields = 1 << iota
	// AllFields is every field (MetricFields included).
	AllFields Fields = 1<<iota | MetricFields
)

// FieldReader is implemented by a Sink that reads only some of an Entry's fields.
type FieldReader interface {
	Reads() Fields
}

// Reads is the set of fields s reads: what it declares as a FieldReader, the union over
// Sinks, AllFields for any other sink (and none for nil).
func Reads(s Sink) Fields {
	switch s := s.(type) {
	case nil:
		return 0
	case FieldReader: // Sinks too
		return s.Reads()
	}
	return AllFields
}

// Reads is the union of what its sinks read.
func (s Sinks) Reads() Fields {
	var f Fields
	for _, k := range s {
		f |= Reads(k)
	}
	return f
}
