package security

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// A hand-built TLS 1.2 ClientHello lets a test send what crypto/tls's client never would
// (an IP literal or a trailing dot in SNI, an old protocol version) and read the server's
// first answer: an alert, or a ServerHello and (TLS 1.2 sends it in clear) the certificate.

// TLS alert descriptions the tests expect.
const (
	alertHandshakeFailure  = 40
	alertDecodeError       = 50
	alertProtocolVersion   = 70
	alertUnrecognizedName  = 112
	alertInternalError     = 80
	alertIllegalParameter  = 47
	alertInsufficientSecur = 71
)

// helloResult is the server's first answer to a ClientHello.
type helloResult struct {
	alert   int               // alert description, -1 when the server answered with a ServerHello
	version uint16            // ServerHello version
	cert    *x509.Certificate // the server certificate (TLS 1.2 only)
}

func (r helloResult) String() string {
	if r.alert >= 0 {
		return fmt.Sprintf("alert %d", r.alert)
	}
	names := ""
	if r.cert != nil {
		names = fmt.Sprint(r.cert.DNSNames)
	}
	return fmt.Sprintf("ServerHello %#x, certificate %s", r.version, names)
}

// clientHello builds a ClientHello record: legacy version ver, SNI sni (omitted when
// sni is nil), ECDHE-ECDSA/RSA AES-GCM suites, no supported_versions (so at most TLS 1.2).
func clientHello(ver uint16, sni []byte) []byte {
	var ext []byte
	addExt := func(typ uint16, data []byte) {
		ext = binary.BigEndian.AppendUint16(ext, typ)
		ext = binary.BigEndian.AppendUint16(ext, uint16(len(data)))
		ext = append(ext, data...)
	}
	if sni != nil {
		var d []byte
		d = binary.BigEndian.AppendUint16(d, uint16(len(sni)+3))
		d = append(d, 0)
		d = binary.BigEndian.AppendUint16(d, uint16(len(sni)))
		d = append(d, sni...)
		addExt(0, d)
	}
	addExt(10, []byte{0, 4, 0, 0x1d, 0, 0x17})                       // supported_groups: x25519, P-256
	addExt(11, []byte{1, 0})                                         // ec_point_formats: uncompressed
	addExt(13, []byte{0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01})     // signature_algorithms
	addExt(0xff01, []byte{0})                                        // renegotiation_info (empty)
	addExt(23, nil)                                                  // extended_master_secret
	suites := []byte{0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30} // ECDHE-{ECDSA,RSA}-AES-GCM

	var body []byte
	body = binary.BigEndian.AppendUint16(body, ver)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	body = append(body, random...)
	body = append(body, 0) // session id
	body = binary.BigEndian.AppendUint16(body, uint16(len(suites)))
	body = append(body, suites...)
	body = append(body, 1, 0) // compression: null
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)

	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 3, 1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(hs)))
	return append(rec, hs...)
}

// hello sends a hand-built ClientHello to addr and reads the server's first answer.
func hello(addr string, ver uint16, sni []byte) (helloResult, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return helloResult{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(clientHello(ver, sni)); err != nil {
		return helloResult{}, err
	}
	res := helloResult{alert: -1}
	var hs []byte // handshake bytes across records
	for {
		var h [5]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return res, fmt.Errorf("reading record: %w", err)
		}
		rec := make([]byte, binary.BigEndian.Uint16(h[3:]))
		if _, err := io.ReadFull(c, rec); err != nil {
			return res, err
		}
		switch h[0] {
		case 21: // alert
			if len(rec) < 2 {
				return res, errors.New("short alert")
			}
			res.alert = int(rec[1])
			return res, nil
		case 22:
			hs = append(hs, rec...)
		default:
			return res, fmt.Errorf("unexpected record type %d", h[0])
		}
		for len(hs) >= 4 {
			n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if len(hs) < 4+n {
				break
			}
			typ, msg := hs[0], hs[4:4+n]
			hs = hs[4+n:]
			switch typ {
			case 2: // ServerHello
				if len(msg) >= 2 {
					res.version = binary.BigEndian.Uint16(msg)
				}
			case 11: // Certificate: 3-byte list length, then 3-byte length + DER each
				if len(msg) < 6 {
					return res, errors.New("short certificate message")
				}
				l := int(msg[3])<<16 | int(msg[4])<<8 | int(msg[5])
				if len(msg) < 6+l {
					return res, errors.New("short certificate")
				}
				res.cert, err = x509.ParseCertificate(msg[6 : 6+l])
				return res, err
			case 14: // ServerHelloDone without a certificate
				return res, nil
			}
		}
	}
}
