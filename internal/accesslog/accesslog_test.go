package accesslog_test

import (
	"bufio"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/accesslog"
)

func sample() accesslog.Entry {
	return accesslog.Entry{
		Start: time.Date(2026, 12, 2, 1, 2, 3, 456e6, time.UTC), Duration: 12 * time.Millisecond,
		Method: "POST", Path: "/api?x=1", Protocol: "HTTP/2", Authority: "www.example.com",
		Code: 200, Flags: "-", Details: "via_upstream", BytesReceived: 5, BytesSent: 42,
		UserAgent: "curl/8", RequestID: "rid", UpstreamHost: "10.0.0.1:8080",
		UpstreamCluster: "outbound|8080||be.ns.svc.cluster.local", DownstreamLocal: "127.0.0.1:443",
		DownstreamRemote: "127.0.0.1:5555", ServerName: "www.example.com", Route: "ns/vs/0",
		TLSVersion: "TLSv1.3",
	}
}

func TestTextFormat(t *testing.T) {
	e := sample()
	line := string(accesslog.AppendText(nil, &e))
	want := `[2026-12-02T01:02:03.456Z] "POST /api?x=1 HTTP/2" 200 - via_upstream - "-" 5 42 12 - "-" "curl/8" "rid" "www.example.com" "10.0.0.1:8080" outbound|8080||be.ns.svc.cluster.local - 127.0.0.1:443 127.0.0.1:5555 www.example.com ns/vs/0` + "\n"
	if line != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
	f, err := accesslog.ParseText(strings.TrimSuffix(line, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f["RESPONSE_CODE"] != "200" || f["ROUTE_NAME"] != "ns/vs/0" || f["UPSTREAM_LOCAL_ADDRESS"] != "-" {
		t.Errorf("parsed %v", f)
	}
}

func TestJSONFormat(t *testing.T) {
	e := sample()
	// The writer reads only the certificate's DER and subject.
	e.PeerCert = &x509.Certificate{Raw: []byte("DER bytes"), Subject: pkix.Name{CommonName: "alice", Organization: []string{"example"}}}
	var m map[string]any
	if err := json.Unmarshal(accesslog.AppendJSON(nil, &e), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"method": "POST", "path": "/api?x=1", "response_code": 200.0,
		"bytes_sent": 42.0, "duration": 12.0, "upstream_cluster": "outbound|8080||be.ns.svc.cluster.local",
		"start_time": "2026-12-02T01:02:03.456Z", "downstream_tls_version": "TLSv1.3", "x_forwarded_for": nil,
		"upstream_service_time": nil, "requested_server_name": "www.example.com", "route_name": "ns/vs/0"} {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if fp, _ := m["downstream_peer_fingerprint_256"].(string); fp != "0511f0a9efd74cabcabb875d612bf61a93bd7d61a139cd38c0bcf1da00de5fd3" {
		t.Errorf("fingerprint %q", fp)
	}
	if s, _ := m["downstream_peer_subject"].(string); !strings.Contains(s, "CN=alice") {
		t.Errorf("subject %q", s)
	}
	// Istio's JSON keys are all present.
	for _, k := range []string{"authority", "bytes_received", "bytes_sent", "connection_termination_details",
		"downstream_local_address", "downstream_remote_address", "duration", "method", "path", "protocol",
		"request_id", "requested_server_name", "response_code", "response_code_details", "response_flags",
		"route_name", "start_time", "upstream_cluster", "upstream_host", "upstream_local_address",
		"upstream_service_time", "upstream_transport_failure_reason", "user_agent", "x_forwarded_for"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %s missing", k)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for s := bufio.NewScanner(f); s.Scan(); {
		out = append(out, s.Text())
	}
	return out
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := accesslog.Open(path, accesslog.Text, 16)
	if err != nil {
		t.Fatal(err)
	}
	e := sample()
	l.Log(&e)
	waitWritten(t, l, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil { // SIGUSR1
		t.Fatal(err)
	}
	l.Log(&e)
	waitWritten(t, l, 2)
	// Moved again without a signal: the writer notices within a second.
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.Log(&e)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path + ".1", path + ".2", path} {
		if n := len(readLines(t, p)); n != 1 {
			t.Errorf("%s: %d lines, want 1", filepath.Base(p), n)
		}
	}
}

func waitWritten(t *testing.T, l *accesslog.Logger, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Written() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries written, want %d", l.Written(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := accesslog.Open(path, accesslog.JSON, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := sample()
	for range 2000 {
		l.Log(&e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	written, dropped := l.Written(), l.Dropped()
	if written+dropped != 2000 || dropped == 0 {
		t.Errorf("written %d dropped %d, want 2000 in all with some dropped", written, dropped)
	}
	if n := uint64(len(readLines(t, path))); n != written {
		t.Errorf("%d lines in the file, %d counted written (Close must flush)", n, written)
	}
}

func TestParseFormat(t *testing.T) {
	if _, err := accesslog.ParseFormat("yaml"); err == nil {
		t.Error("yaml accepted")
	}
}
