package dataplane

import (
	"net/http"
	"sync"

	"github.com/portcullis/portcullis/internal/dataplane/upstream"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// exchange is the per-request scratch state of the handler: the status recorder wrapped
// around the ResponseWriter, the observer of the matched virtual host and the upstream
// Target. It is pooled (one allocation per request less, three objects in all), and lives
// exactly as long as the handler call: net/http never uses it after the handler returns,
// and ReverseProxy finishes with the writer (and the Target) before ServeHTTP returns.
type exchange struct {
	statusRecorder
	obs RequestObserver // nil: the request matched no virtual host
	// routeObs records the request again under its route's statPrefix; nil when none.
	routeObs RequestObserver
	target   upstream.Target
	policy   policyWriter // retries and CORS headers of a forwarded request (retry.go)
	// Set for the access log and Istio's metrics (requestlog.go): the matched route and
	// the picked cluster, and the request body counter (only when a Sink is configured).
	route   *snapshot.Route
	cluster string
	body    *countedBody
}

// exchanges pools *exchange.
type exchanges struct{ p sync.Pool }

func (x *exchanges) get(w http.ResponseWriter) *exchange {
	e, _ := x.p.Get().(*exchange)
	if e == nil {
		e = new(exchange)
	}
	e.ResponseWriter = w
	return e
}

func (x *exchanges) put(e *exchange) {
	*e = exchange{} // drop references (writer, headers, certificates) before pooling
	x.p.Put(e)
}

// statusRecorder remembers the final status of a response for the observer. Unwrap lets
// http.ResponseController (used by ReverseProxy to flush and hijack) reach the real writer.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	flags ResponseFlags // Envoy's response flags of the request (flags.go)
	sent  int64         // response body bytes written
	// transportFailure: %UPSTREAM_TRANSPORT_FAILURE_REASON% of the last failed attempt.
	transportFailure string
}

// UpstreamFailed records the response flag of a failure the proxy is about to answer.
func (s *statusRecorder) UpstreamFailed(r *http.Request, err error) bool {
	s.flags |= failureFlag(r.Context(), err)
	s.noteTransportFailure(err) // upstreamtls.go
	return false
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 && code >= 200 { // 1xx are informational, not the final status
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.sent += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
