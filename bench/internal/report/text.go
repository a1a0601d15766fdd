package report

const method = `## Method

- portcullis is built from the working tree when the run starts (the commit above; "+dirty"
  means uncommitted changes to Go sources were built in).
- Targets: **portcullis** (GOMAXPROCS=1), **nginx** (1 worker), **HAProxy** (nbthread 1), and
  **direct**: the Go backend answering by itself over the same per-SNI mutual TLS (no
  proxying; the floor). Each target is pinned with ` + "`taskset -c 0`" + `; the load generator and
  the plain-HTTP backend share core 1.
- Equivalent configurations (bench/internal/peers): per-SNI certificate and per-host client CA
  (ECDSA P-256, separate root and intermediate per host), unknown SNI refused, no session
  tickets, Host bound to the SNI (421 otherwise — nginx and HAProxy need an explicit rule for
  this), exact "/" routed by Host to the host's upstream (404 otherwise), X-Forwarded-For/-Proto/-Host
  and X-Forwarded-Client-Cert (certificate hash and subject, as portcullis sends) added, HTTP/1.1 keep-alive to the upstream with the same idle pool size, no access logs.
  Every target passes the policy probes below before it is measured.
- Load generator (bench/cmd/loadgen): TLS 1.3 with X25519 only (OpenSSL 3.0 has no
  post-quantum hybrid), client certificates of both hosts, connections spread over the two
  hosts. **h1**: HTTP/1.1 keep-alive, one request in flight per connection. **h2**: HTTP/2,
  several streams per connection. **handshake**: a new TCP connection and a full mutual-TLS
  handshake per request (no session cache, no tickets), ` + "`Connection: close`" + `.
  **hold**: open N connections, one request each, keep them idle; KiB per connection =
  RSS growth / N once the connections have been idle for 2 s and RSS has settled (a
  collected runtime returns what the burst of handshakes left behind once it is quiet).
  **hold-h2**: the same over HTTP/2 (ALPN h2, the client's preface and SETTINGS, one
  request).
- CPU per request = the target's utime+stime from /proc/PID/stat (all threads; nginx master
  and worker) over the measured window, divided by the requests completed in it. A warm-up
  precedes each window and is not counted. Rounds are interleaved (each round runs every
  target once, in a rotated order), so drift of the machine spreads over all targets.
`

const limits = `## What limits these numbers

- Two cores. The load generator and the backend share core 1: when that core is saturated
  (client util near 1.0 above) req/s and latency are bounded by the client, not the target —
  then compare CPU per request, which stays exact, and target utilization.
- Full handshakes are expensive for the client too (it verifies a two-certificate chain and
  signs its own certificate verify), so handshakes/s of a fast server may be client-bound.
- CPU accounting has the kernel tick's resolution (10 ms), negligible over multi-second windows.
  Where the kernel accounts interrupt time separately, softirq work (part of loopback TCP
  receive processing) is charged to no process: the same for every target, and visible as
  "else" in the table above.
- The hold figure includes whatever the target allocates at first use (buffers, TLS contexts),
  amortized over N connections; Go targets also carry GC slack (RSS is not live heap).
- Loopback networking: no NIC, no interrupts, no latency; the figures are CPU cost, not
  wire performance.
`
