package upstream

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// agreeWithReadResponse checks the lean parser against http.ReadResponse on one raw
// response (head and whatever follows): a head the lean path accepts must be one
// http.ReadResponse accepts and frames the same way — status, body length, whether the
// connection may be kept, and the header map the client gets. A head it refuses is
// handed to http.ReadResponse itself, so refusing is always safe.
func agreeWithReadResponse(t *testing.T, raw []byte, method string) {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	head, err := peekHead(br)
	if err != nil || head == nil {
		return
	}
	h, ok := parseHead(head, method == http.MethodHead)
	if !ok {
		return
	}
	req, _ := http.NewRequest(method, "http://a.example/", nil)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		t.Fatalf("lean accepted %q; http.ReadResponse refused it: %v", head, err)
	}
	body, berr := io.ReadAll(resp.Body)
	if resp.StatusCode != h.status {
		t.Fatalf("%q: lean status %d, ReadResponse %d", head, h.status, resp.StatusCode)
	}
	avail := int64(len(raw) - len(head))
	if h.length <= avail && (berr != nil || int64(len(body)) != h.length) {
		t.Fatalf("%q: lean frames a body of %d bytes; ReadResponse read %d (%v)", head, h.length, len(body), berr)
	}
	if h.length > avail && berr == nil {
		t.Fatalf("%q: lean expects %d body bytes, %d there; ReadResponse read %d without error", head, h.length, avail, len(body))
	}
	if h.keep == resp.Close {
		t.Fatalf("%q: lean keep-alive %v, ReadResponse Close %v", head, h.keep, resp.Close)
	}
	want := resp.Header.Clone()
	removeHopByHop(want)
	// The connection's last head, as it is after other responses: a different one (it must
	// not be shared), then this one (shared: the header must be the same).
	last := "HTTP/1.1 200 OK\r\nContent-Length: 2"
	if len(head) > 4 && string(head[:len(head)-4]) == last {
		last = "HTTP/1.1 200 OK\r\nContent-Length: 3"
	}
	for round := range 2 {
		got := http.Header{}
		fillHeader(got, head, h, &last, nil)
		if round == 1 && len(head)-4 <= maxSharedHead && last != string(head[:len(head)-4]) {
			t.Fatalf("%q: not kept for the next head: %q", head, last)
		}
		w := want.Clone()
		if resp.ContentLength >= 0 && method != http.MethodHead && resp.StatusCode != 204 && resp.StatusCode != 304 {
			w["Content-Length"] = got["Content-Length"] // ReadResponse folds equal duplicates
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Fatalf("%q (round %d): header (-ReadResponse +lean):\n%s", head, round, diff)
		}
	}
}

// removeHopByHop is ReverseProxy's removal of hop-by-hop fields from a response.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(k)
	}
}

// framingHeads are the Content-Length and Transfer-Encoding spellings on which parsers
// have disagreed.
var framingHeads = []string{
	"Content-Length: 5", "Content-Length: -0", "Content-Length: +5", "Content-Length: 005",
	"Content-Length: 0", "Content-Length:5", "Content-Length:  5  ", "Content-Length: 5 ",
	"Content-Length:\t5", "Content-Length: 5 5", "Content-Length: 5, 5", "Content-Length: 5,5",
	"Content-Length: 5\r\nContent-Length: 5", "Content-Length: 5\r\nContent-Length: 6",
	"Content-Length: 5\r\nContent-Length:  5", "Content-Length: ", "Content-Length: 0x5",
	"Content-Length: 5_0", "Content-Length: 99999999999999999999", "Content-Length: 9223372036854775807",
	"Content-Length: 9223372036854775808", "Content-Length: -1", "Content-Length: ５",
	"content-length: 5", "CONTENT-LENGTH: 5", "Content-Length : 5", " Content-Length: 5",
	"Transfer-Encoding: chunked", "Transfer-Encoding: identity\r\nContent-Length: 5",
	"Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked\r\nContent-Length: 5",
	"Transfer-Encoding:", "Connection: close\r\nContent-Length: 5", "Connection: keep-alive, close\r\nContent-Length: 5",
	"Connection: x-close\r\nContent-Length: 5", "Connection: keep-alive\r\nContent-Length: 5",
	"Connection: Keep-Alive, close\r\nContent-Length: 5", "Connection: keep-alive\r\nConnection: close\r\nContent-Length: 5",
}

// TestParseHeadAgreesWithReadResponse: the lean parser frames every one of these responses
// as http.ReadResponse does, or leaves it to http.ReadResponse. It used to accept
// "Content-Length: -0", which http.ReadResponse refuses.
func TestParseHeadAgreesWithReadResponse(t *testing.T) {
	for _, f := range framingHeads {
		for _, status := range []string{"200 OK", "204 No Content", "304 Not Modified", "404 Not Found"} {
			for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
				for _, method := range []string{"GET", "HEAD"} {
					raw := proto + " " + status + "\r\n" + f + "\r\n\r\nhelloextra"
					t.Run("", func(t *testing.T) { agreeWithReadResponse(t, []byte(raw), method) })
				}
			}
		}
	}
}

// FuzzParseHead: any response, any method: the lean parser never frames one differently
// from http.ReadResponse.
func FuzzParseHead(f *testing.F) {
	for _, h := range framingHeads {
		f.Add([]byte("HTTP/1.1 200 OK\r\n"+h+"\r\n\r\nhelloextra"), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok"), true)
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		agreeWithReadResponse(t, raw, method)
	})
}
