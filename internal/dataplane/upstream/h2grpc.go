package upstream

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// isGRPC reports whether r is a gRPC request (Envoy's Grpc::Common::isGrpcRequestHeaders:
// content-type application/grpc, alone or followed by '+' or ';').
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/grpc") && (len(ct) == 16 || ct[16] == '+' || ct[16] == ';')
}

// LocalReply answers r with the gateway's own reply of code and text msg: as Envoy's
// local replies, a gRPC request gets it as a gRPC status (grpcLocalReply), others as
// text/plain with msg and a newline.
func LocalReply(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if isGRPC(r) {
		grpcLocalReply(w, code, msg)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// grpcLocalReply answers a gRPC request that failed upstream as Envoy's local replies do
// for gRPC: HTTP 200, trailers-only, grpc-status mapped from the HTTP status Envoy would
// have sent (Grpc::Utility::httpToGrpcStatus: 503 and 504 are UNAVAILABLE) and the
// reply's text as grpc-message. The access log then shows 200 with the failure's flag
// (e.g. "200 UT"), as Envoy's does.
func grpcLocalReply(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(httpToGRPCStatus(code)))
	h.Set("Grpc-Message", grpcMessage(msg))
	w.WriteHeader(http.StatusOK)
}

// httpToGRPCStatus is the gRPC status of an HTTP status (Envoy's and grpc-go's table).
func httpToGRPCStatus(code int) int {
	switch code {
	case http.StatusBadRequest:
		return 13 // INTERNAL
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// grpcMessage percent-encodes s as the grpc-message field requires (bytes outside
// printable ASCII, and '%').
func grpcMessage(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
