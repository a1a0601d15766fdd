package load

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

var errMalformed = errors.New("malformed response")

// readResponse reads one HTTP/1.1 response into body with a minimal parser (status line,
// Content-Length or chunked, Connection: close). It allocates nothing in the common case,
// which keeps the generator cheap: it shares its core with the backend.
func readResponse(br *bufio.Reader, body *bytes.Buffer) (status int, closeConn bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, errMalformed
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	closeConn = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, true, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, true, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			n, err := strconv.Atoi(string(value))
			if err != nil {
				return status, true, errMalformed
			}
			length = n
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("connection")):
			closeConn = bytes.EqualFold(value, []byte("close"))
		}
	}
	body.Reset()
	switch {
	case chunked:
		return status, closeConn, readChunked(br, body)
	case length >= 0:
		_, err = io.CopyN(body, br, int64(length))
		return status, closeConn, err
	default: // body until EOF
		_, err = body.ReadFrom(br)
		return status, true, err
	}
}

func readChunked(br *bufio.Reader, body *bytes.Buffer) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			for { // trailers until the empty line
				line, err = br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := io.CopyN(body, br, n); err != nil {
			return err
		}
		if _, err := br.Discard(2); err != nil {
			return err
		}
	}
}
