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
	b = append(b, ` "`...)
	b = appendText(b, e.UpstreamTransportFailure) // %UPSTREAM_TRANSPORT_FAILURE_REASON%
	b = append(b, `" `...)
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

// opt is a string field's JSON value: null when absent, as Envoy prints one.
func opt(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// AppendJSON appends e as one line of Istio's JSON format.
func AppendJSON(b []byte, e *Entry) []byte {
	// Istio's default JSON keys, plus Envoy's downstream TLS operators and the handshake
	// failure reason; encoding/json sorts a map's keys, as Envoy prints a format Struct.
	j := map[string]any{
		"authority":                           opt(e.Authority),
		"bytes_received":                      e.BytesReceived,
		"bytes_sent":                          e.BytesSent,
		"connection_termination_details":      opt(e.Termination),
		"downstream_local_address":            opt(e.DownstreamLocal),
		"downstream_peer_fingerprint_256":     nil,
		"downstream_peer_subject":             nil,
		"downstream_remote_address":           opt(e.DownstreamRemote),
		"downstream_tls_version":              opt(e.TLSVersion),
		"downstream_transport_failure_reason": opt(e.ConnectionFailure),
		"duration":                            e.Duration.Milliseconds(),
		"method":                              opt(e.Method),
		"path":                                opt(e.Path),
		"protocol":                            opt(e.Protocol),
		"request_id":                          opt(e.RequestID),
		"requested_server_name":               opt(e.ServerName),
		"response_code":                       e.Code,
		"response_code_details":               opt(e.Details),
		"response_flags":                      opt(e.Flags),
		"route_name":                          opt(e.Route),
		"start_time":                          e.Start.UTC().Format(startTime),
		"upstream_cluster":                    opt(e.UpstreamCluster),
		"upstream_host":                       opt(e.UpstreamHost),
		"upstream_local_address":              nil,
		"upstream_service_time":               nil,
		"upstream_transport_failure_reason":   opt(e.UpstreamTransportFailure),
		"user_agent":                          opt(e.UserAgent),
		"x_forwarded_for":                     opt(e.ForwardedFor),
	}
	if c := e.PeerCert; c != nil {
		sum := sha256.Sum256(c.Raw)
		j["downstream_peer_fingerprint_256"] = hex.EncodeToString(sum[:])
		j["downstream_peer_subject"] = c.Subject.String()
	}
	out, err := json.Marshal(j)
	if err != nil { // strings and integers only: cannot fail
		panic(err)
	}
	b = append(b, out...)
	return append(b, '\n')
}
