package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/bench/internal/pki"
)

// Nginx writes an nginx.conf for l (one worker) and returns how to run it in the
// foreground. The SNI/Host binding is an explicit `if ($host != $ssl_server_name)` in each
// server: nginx otherwise picks the server block for a request by Host, so a frontend
// client certificate could reach inventory with Host: inventory.
func Nginx(l Layout, nginxBin string) (*Peer, error) {
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(l.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	names, order := upstreams(l)
	var b strings.Builder
	fmt.Fprintf(&b, `worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
worker_rlimit_nofile 19000;
events { worker_connections 18000; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_tickets off;
  ssl_session_cache off;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $remote_addr;
  proxy_set_header X-Forwarded-Proto https;
  proxy_set_header X-Forwarded-Host $http_host;
  # As portcullis: the client certificate's hash and subject (nginx offers SHA-1 only).
  proxy_set_header X-Forwarded-Client-Cert "Hash=$ssl_client_fingerprint;Subject=\"$ssl_client_s_dn\"";
  proxy_buffering on;
`, l.Dir)
	for _, addr := range order {
		fmt.Fprintf(&b, "  upstream %s { server %s; keepalive %d; keepalive_requests 100000000; }\n", names[addr], addr, l.Pool)
	}
	scheme, grpcLoc := "http", ""
	if t := l.UpstreamTLS; t != nil {
		scheme = "https"
		fmt.Fprintf(&b, "  proxy_ssl_verify on;\n  proxy_ssl_trusted_certificate %s;\n  proxy_ssl_server_name on;\n  proxy_ssl_name %s;\n  proxy_ssl_session_reuse on;\n", t.CA, t.SNI)
	}
	if g := l.GRPC; g != nil {
		fmt.Fprintf(&b, "  upstream grpc0 { server %s; keepalive %d; keepalive_requests 100000000; }\n", g.Addr, l.Pool)
		grpcLoc = fmt.Sprintf(`    location = %s {
      grpc_set_header X-Forwarded-For $remote_addr;
      grpc_set_header X-Forwarded-Proto https;
      grpc_set_header X-Forwarded-Host $http_host;
      grpc_set_header X-Forwarded-Client-Cert "Hash=$ssl_client_fingerprint;Subject=\"$ssl_client_s_dn\"";
      grpc_pass grpc://grpc0;
    }
`, g.Path)
	}
	// Unknown SNI: fail the handshake, as portcullis does.
	fmt.Fprintf(&b, "  server { listen %s ssl http2 default_server; ssl_reject_handshake on; }\n", l.Listen)
	for _, h := range l.Hosts {
		p := pki.PathsFor(l.PKI, h)
		fmt.Fprintf(&b, `  server {
    listen %s ssl http2;
    server_name %s;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_client_certificate %s;
    ssl_verify_client on;
    ssl_verify_depth 2;
    if ($host != $ssl_server_name) { return 421; }
%s    location = / { proxy_pass %s://%s; }
    location / { return 404; }
  }
`, l.Listen, h, p.ServerCert, p.ServerKey, p.Chain, grpcLoc, scheme, names[l.Upstream[h]])
	}
	b.WriteString("}\n")
	conf := filepath.Join(l.Dir, "nginx.conf")
	if err := writeFile(conf, b.String()); err != nil {
		return nil, err
	}
	return &Peer{Name: "nginx", Argv: []string{nginxBin, "-p", l.Dir, "-c", conf, "-e", filepath.Join(l.Dir, "logs", "error.log")},
		Workers: true, Dir: l.Dir}, nil
}
