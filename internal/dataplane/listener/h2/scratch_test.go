package h2

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

var originTargets = []string{
	"/", "/a", "/a/b/c", "/a?", "/a?b", "/a?b=c&d=e", "/a??", "/a?b?", "/?", "/??",
	"/a//b", "//a", "///a", "/a/./b/../c", "/a;b", "/a:b@c", "/!$&'()*+,;=", "/~a_b-c.d",
	"/a b", "/a%20b", "/a#b", "/\x7f", "/é", "*", "a", "", "/a?b#c", "/a?%zz", "/[a]", "/a|b",
	"/a^b`c{d}", "/a\"b<c>d\\e",
}

// TestOriginURLMatchesParseRequestURI: where OriginURL takes a target, its URL is the
// one url.ParseRequestURI gives; it takes the plain ones.
func TestOriginURLMatchesParseRequestURI(t *testing.T) {
	for _, target := range originTargets {
		checkOriginURL(t, target)
	}
	for _, target := range []string{"/", "/a?b=c", "/a?", "//a", "/a/b?c?d"} {
		var u url.URL
		if !OriginURL(&u, target) {
			t.Errorf("OriginURL refused %q", target)
		}
	}
}

func FuzzOriginURL(f *testing.F) {
	for _, target := range originTargets {
		f.Add(target)
	}
	f.Fuzz(checkOriginURL)
}

func checkOriginURL(t *testing.T, target string) {
	u := url.URL{Scheme: "stale", Host: "stale", Path: "/stale", RawQuery: "stale", Fragment: "stale"}
	if !OriginURL(&u, target) {
		return
	}
	want, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatalf("OriginURL took %q, ParseRequestURI refused it: %v", target, err)
	}
	if !reflect.DeepEqual(*want, u) {
		t.Fatalf("URL of %q: OriginURL %#v, ParseRequestURI %#v", target, u, *want)
	}
}

// TestPutScratchClearsEverything: a scratch given back holds nothing of its request.
func TestPutScratchClearsEverything(t *testing.T) {
	s := &Server{}
	sc := s.getScratch()
	sc.vals = append(sc.vals[:0], "secret-1", "secret-2")
	sc.header["Authorization"] = sc.vals[0:1:1]
	sc.header["Cookie"] = sc.vals[1:2:2]
	sc.resp["Set-Cookie"] = []string{"secret-3"}
	w := &responseWriter{st: &stream{sc: sc}}
	lent := w.HeaderValues(2)
	lent[0], lent[1] = "secret-4", "secret-5"
	sc.resp["X-Lent"] = lent[:1:1]
	if again := w.HeaderValues(1); again != nil {
		t.Errorf("values lent twice in one response")
	}
	sc.url = url.URL{Path: "/secret", RawQuery: "token=secret"}
	sc.req = http.Request{Method: "POST", URL: &sc.url, Header: sc.header, Host: "secret.example", RequestURI: "/secret"}
	s.putScratch(sc)
	if len(sc.header) != 0 || len(sc.resp) != 0 {
		t.Errorf("header maps kept %v and %v", sc.header, sc.resp)
	}
	for i, v := range sc.vals[:cap(sc.vals)] {
		if v != "" {
			t.Errorf("vals[%d] kept %q", i, v)
		}
	}
	if sc.rvals != [lentValues]string{} || sc.rvalsLent {
		t.Errorf("lent values kept %q (lent %v)", sc.rvals, sc.rvalsLent)
	}
	if !reflect.DeepEqual(sc.url, url.URL{}) {
		t.Errorf("URL kept %#v", sc.url)
	}
	if sc.req.Method != "" || sc.req.URL != nil || sc.req.Header != nil || sc.req.Host != "" || sc.req.RequestURI != "" {
		t.Errorf("request kept %+v", sc.req)
	}
}

// TestPutScratchDropsLargeMaps: a map that grew past maxScratchFields is not pooled (it
// would keep its size).
func TestPutScratchDropsLargeMaps(t *testing.T) {
	s := &Server{}
	sc := s.getScratch()
	for i := range maxScratchFields + 1 {
		sc.resp[fmt.Sprint("X-", i)] = nil
	}
	s.putScratch(sc)
	if len(sc.resp) != maxScratchFields+1 {
		t.Fatalf("a large scratch was cleared (pooled)")
	}
}

// TestStreamsDoNotSeeEarlierRequests: streams of one connection, one after another,
// with different header fields, targets and response fields; the scratch of one (pooled
// when its handler returns) is the next's. No handler sees a request field, query or
// response field of an earlier stream, and no response carries one.
func TestStreamsDoNotSeeEarlierRequests(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var problems []string
		if len(w.Header()) != 0 {
			problems = append(problems, fmt.Sprintf("response header at start: %v", w.Header()))
		}
		me := r.Header.Get("X-Me")
		for k := range r.Header {
			if k != "X-Me" && k != http.CanonicalHeaderKey("X-"+me) && k != "Accept-Encoding" && k != "User-Agent" {
				problems = append(problems, "request field "+k)
			}
		}
		if r.URL.RawQuery != me || r.URL.Path != "/"+me || r.RequestURI != "/"+me+"?"+me {
			problems = append(problems, fmt.Sprintf("URL %#v, RequestURI %q", *r.URL, r.RequestURI))
		}
		w.Header().Set("X-Resp-"+me, me)
		w.Header().Set("X-Problems", strings.Join(problems, "; "))
		_, _ = io.WriteString(w, me)
	}))
	do := func(i int, me string) error {
		req, _ := http.NewRequest(http.MethodGet, e.url("/"+me+"?"+me), nil)
		req.Header.Set("X-Me", me)
		req.Header.Set("X-"+me, fmt.Sprint(i))
		resp, err := e.client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if p := resp.Header.Get("X-Problems"); p != "" {
			return fmt.Errorf("request %d (%s): %s", i, me, p)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "X-Resp-") && k != http.CanonicalHeaderKey("X-Resp-"+me) {
				return fmt.Errorf("request %d (%s): response field %s of another request", i, me, k)
			}
		}
		if string(body) != me {
			return fmt.Errorf("request %d: body %q", i, body)
		}
		return nil
	}
	for i := range 200 { // one after another
		if err := do(i, []string{"odd", "even"}[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent streams on the one connection, each goroutine with its own fields.
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				if err := do(i, fmt.Sprint("g", g)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
