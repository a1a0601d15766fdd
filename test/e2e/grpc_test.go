package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// protoHost is the gateway host of the protocol tests (gRPC, h2c, WebSocket).
const protoHost = "api.example.com"

// protoEnv is a gateway with an HTTPS port (SIMPLE TLS, ALPN h2 and http/1.1) and a plain
// HTTP port for protoHost, routing by path to the tests' backends (ServiceEntries on
// 127.0.0.1).
type protoEnv struct {
	dir, pki, config string
	https, http      int // the gateway's listen ports for 443 and 80
	gw               *gateway
	roots            *x509.CertPool
}

// protoRoutes is the VirtualService's http list (after the fixed gRPC routes).
type protoBackends struct {
	grpc, h2only, dual, ws int // backend ports; 0: none
}

func setupProto(t *testing.T, b protoBackends, extraArgs ...string) *protoEnv {
	t.Helper()
	e := &protoEnv{dir: t.TempDir()}
	e.pki = filepath.Join(e.dir, "pki")
	e.config = filepath.Join(e.dir, "config")
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "certs", "--dir", e.pki, "--host", protoHost, "--secrets-out", e.config); err != nil {
		t.Fatalf("portcullis certs: %v\n%s", err, out)
	}
	ca, err := os.ReadFile(filepath.Join(e.pki, protoHost, "2_intermediate", "certs", "ca-chain.cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	e.roots = x509.NewCertPool()
	e.roots.AppendCertsFromPEM(ca)
	e.write(t, "gateway.yaml", `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: api-credential}
    hosts: [`+protoHost+`]
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [`+protoHost+`]
`)
	route := func(prefix, host string, extra string) string {
		return fmt.Sprintf("  - match: [{uri: {prefix: %s}}]\n%s    route: [{destination: {host: %s, port: {number: 80}}}]\n", prefix, extra, host)
	}
	var vs, se strings.Builder
	vs.WriteString("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: api, namespace: default}\n" +
		"spec:\n  hosts: [" + protoHost + "]\n  gateways: [gw]\n  http:\n")
	entry := func(name, protocol string, port int) {
		fmt.Fprintf(&se, `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec:
  hosts: [%s.backend.internal]
  resolution: STATIC
  ports: [{number: 80, name: p, protocol: %s, targetPort: %d}]
  endpoints: [{address: 127.0.0.1}]
`, name, name, protocol, port)
	}
	dr := func(name, http string) {
		fmt.Fprintf(&se, `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s, namespace: default}
spec:
  host: %s.backend.internal
  trafficPolicy: {connectionPool: {http: %s}}
`, name, name, http)
	}
	if b.grpc != 0 {
		// Istio applies a route timeout to gRPC as max_grpc_timeout: grpc-timeout capped by it.
		vs.WriteString(route("/grpc.testing.TestService/EmptyCall", "grpc.backend.internal", "    timeout: 300ms\n"))
		vs.WriteString(route("/grpc.testing.TestService/", "grpc.backend.internal", ""))
		entry("grpc", "GRPC", b.grpc)
	}
	if b.h2only != 0 {
		vs.WriteString(route("/h2only/upgraded", "upgraded.backend.internal", ""))
		vs.WriteString(route("/h2only/plain", "plain.backend.internal", ""))
		entry("upgraded", "HTTP", b.h2only)
		dr("upgraded", "{h2UpgradePolicy: UPGRADE}")
		entry("plain", "HTTP", b.h2only)
	}
	if b.dual != 0 {
		vs.WriteString(route("/dual/client", "client.backend.internal", ""))
		entry("client", "HTTP", b.dual)
		dr("client", "{useClientProtocol: true}")
	}
	if b.ws != 0 {
		vs.WriteString(route("/ws", "ws.backend.internal", ""))
		entry("ws", "HTTP", b.ws)
	}
	e.write(t, "routes.yaml", vs.String()+se.String())
	e.https, e.http = freePort(t), freePort(t)
	args := append([]string{"--config", e.config,
		"--port-map", "443=127.0.0.1:" + strconv.Itoa(e.https), "--port-map", "80=127.0.0.1:" + strconv.Itoa(e.http)}, extraArgs...)
	e.gw = startGateway(t, args...)
	return e
}

// write replaces a config file in one step (as kubectl apply would).
func (e *protoEnv) write(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(e.config, name)
	if err := os.WriteFile(p+".tmp", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
}

// tlsConfig is a client's TLS configuration for protoHost offering protos by ALPN.
func (e *protoEnv) tlsConfig(protos ...string) *tls.Config {
	return &tls.Config{RootCAs: e.roots, ServerName: protoHost, NextProtos: protos}
}

// grpcConn dials the gateway: TLS (ALPN h2) on the HTTPS port, or h2c on the plain one.
func (e *protoEnv) grpcConn(t *testing.T, useTLS bool) testpb.TestServiceClient {
	t.Helper()
	addr, creds := "127.0.0.1:"+strconv.Itoa(e.http), insecure.NewCredentials()
	if useTLS {
		addr, creds = "127.0.0.1:"+strconv.Itoa(e.https), credentials.NewTLS(e.tlsConfig())
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds), grpc.WithAuthority(protoHost),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(32<<20), grpc.MaxCallSendMsgSize(32<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

// testService is the gRPC backend: grpc-go's interop TestService, recording what it saw.
type testService struct {
	testpb.UnimplementedTestServiceServer
	ended chan string // "<method> <ctx error>" when a call blocked until its context ended
}

func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	<-ctx.Done() // answered by nobody: the route timeout must end it
	s.ended <- "EmptyCall " + ctx.Err().Error()
	return nil, ctx.Err()
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	hdr := metadata.Pairs("x-backend", "grpc", "x-request-bytes", strconv.Itoa(len(req.GetPayload().GetBody())))
	if d, ok := ctx.Deadline(); ok {
		hdr.Append("x-deadline-ms", strconv.FormatInt(time.Until(d).Milliseconds(), 10))
	}
	if v := md.Get(":authority"); len(v) > 0 {
		hdr.Append("x-authority", v[0])
	}
	_ = grpc.SetHeader(ctx, hdr)
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done"))
	if len(md.Get("x-block")) > 0 {
		<-ctx.Done()
		s.ended <- "UnaryCall " + ctx.Err().Error()
		return nil, ctx.Err()
	}
	if rs := req.GetResponseStatus(); rs != nil && rs.Code != 0 {
		return nil, status.Error(codes.Code(rs.Code), rs.Message)
	}
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: bytes.Repeat([]byte{'r'}, int(req.ResponseSize))}}, nil
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	for _, p := range req.ResponseParameters {
		time.Sleep(time.Duration(p.IntervalUs) * time.Microsecond)
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.Size)}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *testService) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	total := 0
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(req.GetPayload().GetBody())
	}
}

// FullDuplexCall echoes each message at once (a ping-pong needs both directions open);
// a message with a response status ends the call with it (the backend aborts).
func (s *testService) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			s.ended <- "FullDuplexCall " + stream.Context().Err().Error()
			return err
		}
		if rs := req.GetResponseStatus(); rs != nil && rs.Code != 0 {
			return status.Error(codes.Code(rs.Code), rs.Message)
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

func startGRPCBackend(t *testing.T) (int, *testService) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := &testService{ended: make(chan string, 16)}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(32<<20), grpc.MaxSendMsgSize(32<<20))
	testpb.RegisterTestServiceServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().(*net.TCPAddr).Port, svc
}

// wantEnded waits for the backend to report that a call's context ended.
func wantEnded(t *testing.T, svc *testService, want ...string) {
	t.Helper()
	select {
	case got := <-svc.ended:
		if !slices.Contains(want, got) {
			t.Fatalf("backend: %q, want one of %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("backend never saw %q", want)
	}
}

// TestGRPC drives a real grpc-go server (port protocol GRPC: HTTP/2 to the backend)
// through the gateway with a real grpc-go client, over TLS (ALPN h2) and over h2c on the
// plain HTTP port: every kind of call, metadata both ways, trailers and error statuses,
// deadlines, large messages and cancellation in both directions.
func TestGRPC(t *testing.T) {
	port, svc := startGRPCBackend(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	e := setupProto(t, protoBackends{grpc: port}, "--access-log", logPath, "--access-log-format", "json")
	for _, useTLS := range []bool{true, false} {
		name := map[bool]string{true: "tls", false: "h2c"}[useTLS]
		t.Run(name, func(t *testing.T) {
			c := e.grpcConn(t, useTLS)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			t.Run("unary with metadata and trailers", func(t *testing.T) {
				var hdr, trl metadata.MD
				resp, err := c.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-client", "1"),
					&testpb.SimpleRequest{ResponseSize: 5, Payload: &testpb.Payload{Body: []byte("abc")}},
					grpc.Header(&hdr), grpc.Trailer(&trl))
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.GetPayload().GetBody()) != 5 || first(hdr, "x-backend") != "grpc" ||
					first(hdr, "x-request-bytes") != "3" || first(trl, "x-trailer") != "done" ||
					first(hdr, "x-authority") != protoHost {
					t.Fatalf("payload %d bytes, header %v, trailer %v", len(resp.GetPayload().GetBody()), hdr, trl)
				}
			})
			t.Run("error status with message", func(t *testing.T) {
				_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.PermissionDenied), Message: "not you"}})
				if s := status.Convert(err); s.Code() != codes.PermissionDenied || s.Message() != "not you" {
					t.Fatalf("got %v, want PermissionDenied \"not you\"", err)
				}
			})
			t.Run("server streaming", func(t *testing.T) {
				params := make([]*testpb.ResponseParameters, 5)
				for i := range params {
					params[i] = &testpb.ResponseParameters{Size: int32(100 * (i + 1)), IntervalUs: 20000}
				}
				st, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
				if err != nil {
					t.Fatal(err)
				}
				for i := range params {
					m, err := st.Recv()
					if err != nil || len(m.GetPayload().GetBody()) != 100*(i+1) {
						t.Fatalf("message %d: %v (%d bytes)", i, err, len(m.GetPayload().GetBody()))
					}
				}
				if _, err := st.Recv(); err != io.EOF {
					t.Fatalf("end of stream: %v", err)
				}
			})
			t.Run("client streaming", func(t *testing.T) {
				st, err := c.StreamingInputCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 10 {
					if err := st.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 1000+i)}}); err != nil {
						t.Fatal(err)
					}
				}
				resp, err := st.CloseAndRecv()
				if err != nil || resp.AggregatedPayloadSize != 10045 {
					t.Fatalf("got %v, %v; want 10045", resp, err)
				}
			})
			t.Run("bidirectional ping-pong", func(t *testing.T) {
				st, err := c.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 20 { // each answer arrives before the next message is sent
					msg := []byte("ping " + strconv.Itoa(i))
					if err := st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: msg}}); err != nil {
						t.Fatal(err)
					}
					m, err := st.Recv()
					if err != nil || !bytes.Equal(m.GetPayload().GetBody(), msg) {
						t.Fatalf("pong %d: %v %q", i, err, m.GetPayload().GetBody())
					}
				}
				_ = st.CloseSend()
				if _, err := st.Recv(); err != io.EOF {
					t.Fatalf("end of stream: %v", err)
				}
			})
			t.Run("8 MiB messages both ways", func(t *testing.T) {
				big := bytes.Repeat([]byte("0123456789abcdef"), (8<<20)/16)
				resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 8 << 20, Payload: &testpb.Payload{Body: big}},
					grpc.Header(new(metadata.MD)))
				if err != nil || len(resp.GetPayload().GetBody()) != 8<<20 {
					t.Fatalf("%v (%d bytes)", err, len(resp.GetPayload().GetBody()))
				}
			})
			t.Run("grpc-timeout reaches the backend", func(t *testing.T) {
				dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
				defer dcancel()
				var hdr metadata.MD
				if _, err := c.UnaryCall(dctx, &testpb.SimpleRequest{}, grpc.Header(&hdr)); err != nil {
					t.Fatal(err)
				}
				ms, err := strconv.Atoi(first(hdr, "x-deadline-ms"))
				if err != nil || ms <= 1000 || ms > 3000 {
					t.Fatalf("backend's deadline %q ms, want the client's 3 s", first(hdr, "x-deadline-ms"))
				}
			})
			t.Run("deadline exceeded ends the backend's call", func(t *testing.T) {
				dctx, dcancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "x-block", "1"), 300*time.Millisecond)
				defer dcancel()
				_, err := c.UnaryCall(dctx, &testpb.SimpleRequest{})
				// The backend's call ends: by its own deadline (the grpc-timeout it was
				// sent) or by the gateway's cancel at the same instant.
				wantEnded(t, svc, "UnaryCall context deadline exceeded", "UnaryCall context canceled")
				// The client's own deadline, the gateway's answer at that deadline (a
				// gRPC local reply, UNAVAILABLE "upstream request timeout", as Envoy's),
				// or the backend's reset of the stream at the grpc-timeout it was sent
				// (grpc-go's server resets a call at its deadline; Envoy answers that
				// with UNAVAILABLE "upstream connect error or disconnect/reset before
				// headers"): the three timers race as they do with Envoy.
				if s := status.Convert(err); s.Code() != codes.DeadlineExceeded &&
					(s.Code() != codes.Unavailable || (s.Message() != "upstream request timeout" &&
						!strings.HasPrefix(s.Message(), "upstream connect error or disconnect/reset before headers"))) {
					t.Fatalf("got %v, want DeadlineExceeded", err)
				}
			})
			t.Run("route timeout caps a longer grpc-timeout", func(t *testing.T) {
				dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
				defer dcancel()
				start := time.Now()
				_, err := c.EmptyCall(dctx, &testpb.Empty{})
				took := time.Since(start)
				wantEnded(t, svc, "EmptyCall context deadline exceeded", "EmptyCall context canceled")
				if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != "upstream request timeout" || took > 5*time.Second {
					t.Fatalf("got %v after %v, want Unavailable \"upstream request timeout\" after the route's 300ms", err, took)
				}
			})
			t.Run("client cancel reaches the backend", func(t *testing.T) {
				cctx, ccancel := context.WithCancel(ctx)
				st, err := c.FullDuplexCall(cctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("x")}}); err != nil {
					t.Fatal(err)
				}
				if _, err := st.Recv(); err != nil {
					t.Fatal(err)
				}
				ccancel()
				wantEnded(t, svc, "FullDuplexCall context canceled")
			})
			t.Run("backend abort reaches the client", func(t *testing.T) {
				st, err := c.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_ = st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("x")}})
				if _, err := st.Recv(); err != nil {
					t.Fatal(err)
				}
				_ = st.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.Aborted), Message: "backend gave up"}})
				_, err = st.Recv()
				if s := status.Convert(err); s.Code() != codes.Aborted || s.Message() != "backend gave up" {
					t.Fatalf("got %v, want Aborted \"backend gave up\"", err)
				}
			})
		})
	}

	// The access log shows the client's protocol (HTTP/2) for every call, and the route
	// timeout's gRPC local reply as Envoy logs it: 200 with flag UT. The metrics count the
	// calls as grpc with their grpc-status, trailers-only or in trailers.
	var lines []map[string]any
	eventually(t, 10*time.Second, "access log lines", func() error {
		lines = jsonLines(t, logPath)
		for _, l := range lines {
			if l["path"] == "/grpc.testing.TestService/EmptyCall" {
				return nil
			}
		}
		return fmt.Errorf("no EmptyCall line among %d", len(lines))
	})
	for _, l := range lines {
		if l["protocol"] != "HTTP/2" || l["upstream_cluster"] != "outbound|80||grpc.backend.internal" {
			t.Errorf("access log line: protocol %v, cluster %v", l["protocol"], l["upstream_cluster"])
		}
		if l["path"] == "/grpc.testing.TestService/EmptyCall" && (l["response_code"] != 200.0 || l["response_flags"] != "UT") {
			t.Errorf("route timeout logged as %v %v, want 200 UT", l["response_code"], l["response_flags"])
		}
	}
	_, metrics := httpGet(t, "http://"+e.gw.admin+"/metrics")
	for _, want := range []string{`grpc_response_status="0"`, `grpc_response_status="7"`, `grpc_response_status="10"`,
		`grpc_response_status="14"`, `request_protocol="grpc"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func first(md metadata.MD, k string) string {
	if v := md.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestH2Upstream: the reproduction. A backend that speaks only HTTP/2 (h2c) on a
// port declared HTTP gets HTTP/1.1 and fails (503) unless the DestinationRule sets
// h2UpgradePolicy UPGRADE; useClientProtocol forwards in the client's protocol; and a
// cleartext HTTP/2 client is served on the plain HTTP port.
func TestH2Upstream(t *testing.T) {
	h2only := serveProtocols(t, false)
	dual := serveProtocols(t, true)
	e := setupProto(t, protoBackends{h2only: h2only, dual: dual})
	for _, tc := range []struct {
		name, path string
		h2, tls    bool
		want       string
	}{
		{"UPGRADE, HTTP/1.1 client", "/h2only/upgraded", false, true, "200 HTTP/2.0"},
		{"UPGRADE, h2c client", "/h2only/upgraded", true, false, "200 HTTP/2.0"},
		{"no upgrade", "/h2only/plain", true, true, "503 "},
		{"useClientProtocol, HTTP/1.1 client", "/dual/client", false, true, "200 HTTP/1.1"},
		{"useClientProtocol, HTTP/2 client", "/dual/client", true, true, "200 HTTP/2.0"},
		{"useClientProtocol, h2c client", "/dual/client", true, false, "200 HTTP/2.0"},
		{"useClientProtocol, plain HTTP/1.1 client", "/dual/client", false, false, "200 HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: e.tlsConfig()}
			base := "https://" + protoHost + ":" + strconv.Itoa(e.https)
			switch {
			case tc.tls && tc.h2:
				tr.Protocols.SetHTTP2(true)
			case tc.tls:
				tr.Protocols.SetHTTP1(true)
			case tc.h2:
				tr.Protocols.SetUnencryptedHTTP2(true)
			default:
				tr.Protocols.SetHTTP1(true)
			}
			if !tc.tls {
				base = "http://" + protoHost + ":" + strconv.Itoa(e.http)
			}
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantClient := map[bool]int{true: 2, false: 1}[tc.h2]
			if got := strconv.Itoa(resp.StatusCode) + " " + resp.Header.Get("X-Backend-Saw"); got != tc.want || resp.ProtoMajor != wantClient {
				t.Fatalf("got %q over %s (%s), want %q over HTTP/%d", got, resp.Proto, bytes.TrimSpace(body), tc.want, wantClient)
			}
		})
	}
}

// serveProtocols starts a backend answering with the protocol it saw: h2c only, or
// HTTP/1.1 and h2c (dual).
func serveProtocols(t *testing.T, dual bool) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Protocols: new(http.Protocols), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend-Saw", r.Proto)
		_, _ = io.WriteString(w, "ok\n")
	})}
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.Protocols.SetHTTP1(dual)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
