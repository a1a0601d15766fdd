package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"

	"github.com/portcullis/portcullis/internal/dataplane/internal/testpki"
	"github.com/portcullis/portcullis/internal/snapshot"
)

var (
	ppClient = &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40001}
	ppLocal  = &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8443}
)

func parseHeader(t *testing.T, b []byte) *proxyproto.Header {
	t.Helper()
	h, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("parse %q: %v", b, err)
	}
	return h
}

func TestProxyHeaderVersions(t *testing.T) {
	for _, v := range []int{1, 2} {
		b, err := proxyHeader(&snapshot.ProxyProtocol{Version: v, TLVs: true}, ppClient, ppLocal, nil, "db.example.com")
		if err != nil {
			t.Fatal(err)
		}
		h := parseHeader(t, b)
		if int(h.Version) != v || h.Command != proxyproto.PROXY {
			t.Fatalf("v%d: version %d command %v", v, h.Version, h.Command)
		}
		if h.SourceAddr.String() != ppClient.String() || h.DestinationAddr.String() != ppLocal.String() {
			t.Errorf("v%d: addresses %v -> %v", v, h.SourceAddr, h.DestinationAddr)
		}
		tlvs, _ := h.TLVs()
		if v == 1 && len(tlvs) != 0 {
			t.Errorf("v1 header carries TLVs: %v", tlvs)
		}
		if v == 2 && (len(tlvs) != 1 || tlvs[0].Type != proxyproto.PP2_TYPE_AUTHORITY || string(tlvs[0].Value) != "db.example.com") {
			t.Errorf("v2 passthrough TLVs = %v, want only the authority", tlvs)
		}
	}
	if b, _ := proxyHeader(&snapshot.ProxyProtocol{Version: 1}, ppClient, ppLocal, nil, ""); string(b) != "PROXY TCP4 203.0.113.7 127.0.0.1 40001 8443\r\n" {
		t.Errorf("v1 header = %q", b)
	}
	// TLVs off: a v2 header with no TLV at all.
	b, _ := proxyHeader(&snapshot.ProxyProtocol{Version: 2}, ppClient, ppLocal, nil, "db.example.com")
	if tlvs, _ := parseHeader(t, b).TLVs(); len(tlvs) != 0 {
		t.Errorf("TLVs without the annotation: %v", tlvs)
	}
}

// TestProxyHeaderTLSTLVs terminates a real TLS connection (with and without a client
// certificate) and checks the PP2_TYPE_SSL TLV a backend reads.
func TestProxyHeaderTLSTLVs(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	cert, clientCert := ca.Server(t, "gateway.test"), ca.Client(t, "client-one")
	for _, withCert := range []bool{true, false} {
		sc, cc := net.Pipe()
		srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13})
		ccfg := &tls.Config{InsecureSkipVerify: true, ServerName: "db.example.com"} //nolint:gosec // test peer
		if withCert {
			ccfg.Certificates = []tls.Certificate{clientCert}
		}
		cli := tls.Client(cc, ccfg)
		errc := make(chan error, 1)
		go func() { errc <- cli.Handshake() }()
		if err := srv.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		b, err := proxyHeader(&snapshot.ProxyProtocol{Version: 2, TLVs: true}, ppClient, ppLocal, srv, "db.example.com")
		if err != nil {
			t.Fatal(err)
		}
		tlvs, _ := parseHeader(t, b).TLVs()
		ssl, ok := tlvparse.FindSSL(tlvs)
		if !ok {
			t.Fatalf("no PP2_TYPE_SSL in %v", tlvs)
		}
		ver, _ := ssl.SSLVersion()
		cipher, _ := ssl.SSLCipher()
		cn, hasCN := ssl.ClientCN()
		if !ssl.ClientSSL() || ver != "TLSv1.3" || cipher == "" {
			t.Errorf("ssl TLV: client %x version %q cipher %q", ssl.Client, ver, cipher)
		}
		if withCert && (!ssl.Verified() || !ssl.ClientCertConn() || !ssl.ClientCertSess() || cn != "client-one") {
			t.Errorf("with certificate: verified %v conn %v sess %v cn %q", ssl.Verified(), ssl.ClientCertConn(), ssl.ClientCertSess(), cn)
		}
		if !withCert && (ssl.Verified() || ssl.ClientCertConn() || hasCN) {
			t.Errorf("without certificate: verified %v conn %v cn %q", ssl.Verified(), ssl.ClientCertConn(), cn)
		}
		_ = srv.Close()
		_ = cli.Close()
	}
}

// BenchmarkStreamProxyHeader is the per-connection cost of an upstream PROXY header: a
// loopback connect, the header built and written (none, V1, V2, V2 with TLVs), and the
// close. Compare the sub-benchmarks' ns/op: building the header is about a microsecond
// (BenchmarkProxyHeaderBuild) of a connection that costs over a hundred.
func BenchmarkStreamProxyHeader(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	for _, bc := range []struct {
		name string
		pp   *snapshot.ProxyProtocol
	}{
		{"none", nil},
		{"v1", &snapshot.ProxyProtocol{Version: 1}},
		{"v2", &snapshot.ProxyProtocol{Version: 2}},
		{"v2-tlvs", &snapshot.ProxyProtocol{Version: 2, TLVs: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if bc.pp != nil {
					h, err := proxyHeader(bc.pp, ppClient, c.LocalAddr(), nil, "db.example.com")
					if err != nil {
						b.Fatal(err)
					}
					if err := writeHeader(ctx, c, h); err != nil {
						b.Fatal(err)
					}
				}
				_ = c.Close()
			}
		})
	}
}

// BenchmarkProxyHeaderBuild is the header alone, without the connection.
func BenchmarkProxyHeaderBuild(b *testing.B) {
	pp := &snapshot.ProxyProtocol{Version: 2, TLVs: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proxyHeader(pp, ppClient, ppLocal, nil, "db.example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
