package load

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in, body string
		status         int
		close, err     bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", 200, false, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nT: v\r\n\r\n", "hello", 200, false, false},
		{"close", "HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "", 421, true, false},
		{"http/1.0 until EOF", "HTTP/1.0 200 OK\r\n\r\nabc", "abc", 200, true, false},
		{"garbage", "SSH-2.0\r\n\r\n", "", 0, false, true},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", "", 200, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body bytes.Buffer
			status, closeConn, err := readResponse(bufio.NewReader(strings.NewReader(tc.in)), &body)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if status != tc.status || closeConn != tc.close || body.String() != tc.body {
				t.Fatalf("got %d close=%v %q; want %d close=%v %q", status, closeConn, body.String(), tc.status, tc.close, tc.body)
			}
		})
	}
}
