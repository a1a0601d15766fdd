package accesslog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// Format is how entries are written.
type Format int

const (
	// Text is Istio's default text format (meshConfig.accessLogEncoding TEXT).
	Text Format = iota
	// JSON is Istio's default JSON format (meshConfig.accessLogEncoding JSON), plus the
	// downstream TLS facts.
	JSON
)

// ParseFormat reads "text" or "json".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text", "":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("access log format %q: want text or json", s)
}

// startTime is Envoy's default %START_TIME% layout (UTC, milliseconds).
const startTime = "2006-01-02T15:04:05.000Z"

// AppendText appends e in Istio's default text format:
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//	%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//	"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
//	%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//	%REQUESTED_SERVER_NAME% %ROUTE_NAME%
//
// on one line. A connection-level entry (failed handshake) carries its reason in
// %CONNECTION_TERMINATION_DETAILS%.
func AppendText(b []byte, e *Entry) []byte {
	b = append(b, '[')
	b = e.Start.UTC().AppendFormat(b, startTime)
	b = append(b, "] \""...)
	b = appendText(b, e.Method)
	b = append(b, ' ')
	b = appendText(b, e.Path)
	b = append(b, ' ')
	b = appendText(b, e.Protocol)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, ' ')
	b = appendText(b, e.Flags)
	b = append(b, ' ')
	b = appendText(b, e.Details)
	b = append(b, ' ')
	b = appendText(b, termination(e))
	b = append(b, ` "-" `...) // %UPSTREAM_TRANSPORT_FAILURE_REASON%: plain-text upstreams only
	b = strconv.AppendInt(b, e.BytesReceived, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.BytesSent, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Duration.Milliseconds(), 10)
	b = append(b, " - \""...) // %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%: not set by portcullis
	for i, s := range [...]string{e.ForwardedFor, e.UserAgent, e.RequestID, e.Authority, e.UpstreamHost} {
		if i > 0 {
			b = append(b, "\" \""...)
		}
		b = appendText(b, s)
	}
	b = append(b, "\" "...)
	for _, s := range [...]string{e.UpstreamCluster, "", e.DownstreamLocal, e.DownstreamRemote, e.ServerName, e.Route} {
		b = appendText(b, s) // "" second: %UPSTREAM_LOCAL_ADDRESS% is not tracked
		b = append(b, ' ')
	}
	b[len(b)-1] = '\n'
	return b
}

func termination(e *Entry) string {
	if e.ConnectionFailure != "" {
		return e.ConnectionFailure
	}
	return e.Termination
}

func appendText(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return append(b, s...)
}

// jsonEntry is Istio's default JSON access log (keys sorted, as Envoy prints a format
// Struct), plus Envoy's downstream TLS operators and the handshake failure reason. nil
// prints null, as Envoy prints an absent value in JSON.
type jsonEntry struct {
	Authority                      *string `json:"authority"`
	BytesReceived                  int64   `json:"bytes_received"`
	BytesSent                      int64   `json:"bytes_sent"`
	ConnectionTerminationDetails   *string `json:"connection_termination_details"`
	DownstreamLocalAddress         *string `json:"downstream_local_address"`
	DownstreamPeerFingerprint256   *string `json:"downstream_peer_fingerprint_256"`
	DownstreamPeerSubject          *string `json:"downstream_peer_subject"`
	DownstreamRemoteAddress        *string `json:"downstream_remote_address"`
	DownstreamTLSVersion           *string `json:"downstream_tls_version"`
	DownstreamTransportFailure     *string `json:"downstream_transport_failure_reason"`
	Duration                       int64   `json:"duration"`
	Method                         *string `json:"method"`
	Path                           *string `json:"path"`
	Protocol                       *string `json:"protocol"`
	RequestID                      *string `json:"request_id"`
	RequestedServerName            *string `json:"requested_server_name"`
	ResponseCode                   int     `json:"response_code"`
	ResponseCodeDetails            *string `json:"response_code_details"`
	ResponseFlags                  *string `json:"response_flags"`
	RouteName                      *string `json:"route_name"`
	StartTime                      string  `json:"start_time"`
	UpstreamCluster                *string `json:"upstream_cluster"`
	UpstreamHost                   *string `json:"upstream_host"`
	UpstreamLocalAddress           *string `json:"upstream_local_address"`
	UpstreamServiceTime            *string `json:"upstream_service_time"`
	UpstreamTransportFailureReason *string `json:"upstream_transport_failure_reason"`
	UserAgent                      *string `json:"user_agent"`
	XForwardedFor                  *string `json:"x_forwarded_for"`
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AppendJSON appends e as one line of Istio's JSON format.
func AppendJSON(b []byte, e *Entry) []byte {
	j := jsonEntry{
		Authority:                    opt(e.Authority),
		BytesReceived:                e.BytesReceived,
		BytesSent:                    e.BytesSent,
		ConnectionTerminationDetails: opt(e.Termination),
		DownstreamLocalAddress:       opt(e.DownstreamLocal),
		DownstreamRemoteAddress:      opt(e.DownstreamRemote),
		DownstreamTLSVersion:         opt(e.TLSVersion),
		DownstreamTransportFailure:   opt(e.ConnectionFailure),
		Duration:                     e.Duration.Milliseconds(),
		Method:                       opt(e.Method),
		Path:                         opt(e.Path),
		Protocol:                     opt(e.Protocol),
		RequestID:                    opt(e.RequestID),
		RequestedServerName:          opt(e.ServerName),
		ResponseCode:                 e.Code,
		ResponseCodeDetails:          opt(e.Details),
		ResponseFlags:                opt(e.Flags),
		RouteName:                    opt(e.Route),
		StartTime:                    e.Start.UTC().Format(startTime),
		UpstreamCluster:              opt(e.UpstreamCluster),
		UpstreamHost:                 opt(e.UpstreamHost),
		UserAgent:                    opt(e.UserAgent),
		XForwardedFor:                opt(e.ForwardedFor),
	}
	if c := e.PeerCert; c != nil {
		sum := sha256.Sum256(c.Raw)
		j.DownstreamPeerFingerprint256 = opt(hex.EncodeToString(sum[:]))
		j.DownstreamPeerSubject = opt(c.Subject.String())
	}
	out, err := json.Marshal(&j)
	if err != nil { // strings and integers only: cannot fail
		panic(err)
	}
	b = append(b, out...)
	return append(b, '\n')
}
