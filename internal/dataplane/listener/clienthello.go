package listener

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
)

// TLS record and handshake constants (RFC 8446 section 5.1, 4).
const (
	recordHeaderLen      = 5
	recordTypeAlert      = 21
	recordTypeHandshake  = 22
	handshakeClientHello = 1
	// maxRecordPayload is the largest TLSPlaintext fragment (2^14); a larger record is
	// not a ClientHello crypto/tls would accept.
	maxRecordPayload = 1 << 14
	// maxHelloLen bounds the ClientHello message as crypto/tls bounds handshake
	// messages (maxHandshake, 64 KiB): any hello it would serve we can route.
	maxHelloLen   = 1 << 16
	extServerName = 0
	// maxBuffered bounds what is read while looking for the hello (tiny records cost a
	// header each): past it the connection is not routed as passthrough.
	maxBuffered = 2 * maxHelloLen
)

// errNotHello: the bytes are not (the start of) a well-formed TLS ClientHello. The caller
// replays them into crypto/tls, which answers as for any other malformed handshake.
var errNotHello = errors.New("not a tls clienthello")

// helloReader reassembles the ClientHello from TLS records read from a connection,
// keeping every byte it read (to be replayed to whoever handles the connection next).
// A ClientHello may span several records and each record several reads.
type helloReader struct {
	data []byte // every byte read so far
	off  int    // start of the first record not yet consumed
	msg  []byte // handshake bytes reassembled from the records consumed
	// useless counts consecutive warning alerts, which crypto/tls drops (up to
	// maxUselessRecords) before the hello.
	useless int
}

// maxUselessRecords is crypto/tls's bound on consecutive records it drops.
const maxUselessRecords = 16

// readClientHello reads from r until a complete ClientHello is buffered and returns all
// bytes read and the SNI host name in it ("" when the hello carries none). err is
// errNotHello for anything else (the bytes read are still returned) or r's error.
func readClientHello(r io.Reader) (data []byte, sni string, err error) {
	h := helloReader{data: make([]byte, 0, 2048)}
	for {
		done, err := h.consume()
		if err != nil {
			return h.data, "", err
		}
		if done {
			sni, err := parseClientHello(h.msg)
			return h.data, sni, err
		}
		if len(h.data) >= maxBuffered {
			return h.data, "", errNotHello
		}
		if len(h.data) == cap(h.data) {
			h.data = append(h.data, 0)[:len(h.data)]
		}
		n, rerr := r.Read(h.data[len(h.data):cap(h.data)])
		h.data = h.data[:len(h.data)+n]
		if rerr != nil && n == 0 {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return h.data, "", rerr
		}
	}
}

// consume moves the complete records of data into msg; done once msg holds the whole
// ClientHello (trailing handshake bytes in its last record are left in msg).
func (h *helloReader) consume() (done bool, err error) {
	for {
		if len(h.msg) >= 4 {
			if h.msg[0] != handshakeClientHello {
				return false, errNotHello
			}
			n := int(h.msg[1])<<16 | int(h.msg[2])<<8 | int(h.msg[3])
			if n > maxHelloLen {
				return false, errNotHello
			}
			if len(h.msg) >= 4+n {
				h.msg = h.msg[:4+n]
				return true, nil
			}
		}
		rest := h.data[h.off:]
		if len(rest) < recordHeaderLen {
			return false, nil
		}
		// As crypto/tls before a version is negotiated: handshake or alert records, any
		// record version below 0x1000 (clients send 0x0301 for compatibility), at most
		// 2^14 bytes, no empty handshake record; warning alerts (but close_notify) are
		// dropped, up to maxUselessRecords in a row.
		typ := rest[0]
		if (typ != recordTypeHandshake && typ != recordTypeAlert) || rest[1] >= 0x10 {
			return false, errNotHello
		}
		n := int(binary.BigEndian.Uint16(rest[3:5]))
		if n > maxRecordPayload || (typ == recordTypeHandshake && n == 0) {
			return false, errNotHello
		}
		if len(rest) < recordHeaderLen+n {
			return false, nil
		}
		payload := rest[recordHeaderLen : recordHeaderLen+n]
		h.off += recordHeaderLen + n
		if typ == recordTypeAlert {
			h.useless++
			if n != 2 || payload[1] == 0 || payload[0] != 1 || h.useless > maxUselessRecords {
				return false, errNotHello
			}
			continue
		}
		h.useless = 0
		if h.msg == nil {
			// The hello's first record (most hellos have one): msg shares data's bytes,
			// capped so that a second record's append copies instead of overwriting.
			h.msg = payload[:n:n]
			continue
		}
		h.msg = append(h.msg, payload...)
	}
}

// parseClientHello returns the server_name of a ClientHello handshake message (with its
// 4-byte header), read as crypto/tls reads it: the one host_name entry of the extension
// (several, or a trailing dot, make the hello malformed), "" when absent. Under ECH this is
// the outer (public) name, which is what a passthrough gateway can route by. GREASE and
// unknown extensions are skipped.
func parseClientHello(msg []byte) (string, error) {
	p := parser(msg[4:])
	// version, random, session id (crypto/tls takes any length here), cipher suites,
	// compression methods. Elsewhere we may be laxer than crypto/tls, never stricter: a
	// hello it serves is routed by the same name (FuzzClientHello).
	if !p.skip(2+32) || !p.skipVec8() || !p.skipVec16() || !p.skipVec8() {
		return "", errNotHello
	}
	if p.empty() {
		return "", nil // no extensions
	}
	exts, ok := p.vec16()
	if !ok || !p.empty() {
		return "", errNotHello
	}
	seen := map[uint16]bool{}
	sni := ""
	for !exts.empty() {
		typ, ok1 := exts.u16()
		body, ok2 := exts.vec16()
		if !ok1 || !ok2 || seen[typ] {
			return "", errNotHello
		}
		seen[typ] = true
		if typ != extServerName {
			continue
		}
		names, ok := body.vec16()
		if !ok || !body.empty() {
			return "", errNotHello
		}
		for !names.empty() {
			kind, ok1 := names.u8()
			name, ok2 := names.vec16()
			if !ok1 || !ok2 {
				return "", errNotHello
			}
			if kind != 0 {
				continue
			}
			if sni != "" || len(name) == 0 {
				return "", errNotHello
			}
			sni = string(name)
			if strings.HasSuffix(sni, ".") {
				return "", errNotHello
			}
		}
	}
	return sni, nil
}

// parser reads big-endian TLS structures, every read bounds-checked.
type parser []byte

func (p *parser) empty() bool { return len(*p) == 0 }

func (p *parser) skip(n int) bool {
	if len(*p) < n {
		return false
	}
	*p = (*p)[n:]
	return true
}

func (p *parser) u8() (byte, bool) {
	if len(*p) < 1 {
		return 0, false
	}
	v := (*p)[0]
	*p = (*p)[1:]
	return v, true
}

func (p *parser) u16() (uint16, bool) {
	if len(*p) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*p)
	*p = (*p)[2:]
	return v, true
}

func (p *parser) vec16() (parser, bool) {
	n, ok := p.u16()
	if !ok || len(*p) < int(n) {
		return nil, false
	}
	v := (*p)[:n]
	*p = (*p)[n:]
	return v, true
}

func (p *parser) skipVec16() bool { _, ok := p.vec16(); return ok }

func (p *parser) skipVec8() bool {
	n, ok := p.u8()
	return ok && p.skip(int(n))
}
