package h2

import (
	"net/http"
	"net/url"
	"strings"
)

// scratch holds what a stream's request and response heads are built in: the request,
// its URL, the request header map and the backing array of its values, the response
// header map. A stream takes one from the Server's pool when it is opened and gives it
// back when its handler has returned (handlerDone), so that under load a request
// allocates none of them (design 0039: they were ~60 % of the bytes an HTTP/2 request
// allocated, and those bytes set how often the collector runs).
//
// It is given back only when nothing can use it any more: the handler has returned (the
// http.Handler contract: the request and the ResponseWriter are not used after
// ServeHTTP), the response head was encoded (headersLocked encodes synchronously), and
// the stream's own references are dropped. What the stream keeps past that (its body
// pipe, read by an upstream transport that may still be sending it; its context; its
// trailers map) is not in a scratch. A stream whose handler never ran (reset while
// queued, refused) leaves its scratch to the collector.
type scratch struct {
	req    http.Request
	url    url.URL
	header http.Header // the request's, cleared
	vals   []string    // the request header values' backing array
	resp   http.Header // the response's, cleared
	// The backing array lent for the response header's values (responseWriter.HeaderValues).
	rvals     [lentValues]string
	rvalsLent bool
}

// lentValues is how many response header values a stream lends.
const lentValues = 8

// maxScratchFields bounds the header maps kept for reuse: a map keeps the size it grew
// to, so one that held more fields (a rare large head) is left to the collector.
const maxScratchFields = 32

func (s *Server) getScratch() *scratch {
	if sc, ok := s.scratch.Get().(*scratch); ok {
		return sc
	}
	return &scratch{header: make(http.Header), resp: make(http.Header)}
}

// putScratch resets sc completely and pools it, unless a map in it grew large. Every
// field is cleared, so nothing of one request can show in the next: no header key or
// value, no URL part, no Request field.
func (s *Server) putScratch(sc *scratch) {
	if len(sc.header) > maxScratchFields || len(sc.resp) > maxScratchFields || cap(sc.vals) > maxScratchFields {
		return
	}
	clear(sc.header)
	clear(sc.resp)
	clear(sc.vals[:cap(sc.vals)])
	sc.req, sc.url = http.Request{}, url.URL{}
	sc.rvals, sc.rvalsLent = [lentValues]string{}, false
	s.scratch.Put(sc)
}

// OriginURL sets *u to what url.ParseRequestURI returns for target when target is in
// origin form ('/' first) and made of visible ASCII but '%' and '#' (so there is nothing
// to unescape or reject), and reports whether it did; other targets need ParseRequestURI.
// It allocates nothing (scratch_test.go compares it with ParseRequestURI).
func OriginURL(u *url.URL, target string) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '#' {
			return false
		}
	}
	*u = url.URL{}
	path := target
	if strings.HasSuffix(target, "?") && strings.Count(target, "?") == 1 {
		u.ForceQuery = true
		path = target[:len(target)-1]
	} else {
		path, u.RawQuery, _ = strings.Cut(target, "?")
	}
	u.Path = path
	if u.EscapedPath() != path { // as url.URL.setPath: keep the original when it is not the default encoding
		u.RawPath = path
	}
	return true
}
