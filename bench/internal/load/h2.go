package load

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// h2Worker owns one HTTP/2 connection (a Transport limited to one connection) and runs
// cfg.Streams request loops on it.
func h2Worker(ctx context.Context, r *run, t Target) {
	protos := new(http.Protocols)
	protos.SetHTTP2(true)
	addr := t.Addr
	tr := &http.Transport{
		TLSClientConfig:     t.TLS.Clone(),
		Protocols:           protos,
		ForceAttemptHTTP2:   true,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		TLSHandshakeTimeout: r.cfg.Timeout,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: r.cfg.Timeout}
	path := t.Path
	if path == "" {
		path = "/"
	}
	url := "https://" + t.Host + path
	// One request first so the connection exists before the streams start (otherwise
	// each stream loop could race to dial its own connection).
	first := r.newStats()
	for !r.done() {
		if k := h2Do(ctx, client, url, t, &bytes.Buffer{}); k == "" {
			break
		} else {
			r.fail(first, k)
		}
		if backoff(ctx) {
			return
		}
	}
	var wg sync.WaitGroup
	for range r.cfg.Streams {
		wg.Go(func() {
			ws := r.newStats()
			var body bytes.Buffer
			for !r.done() {
				start := time.Now()
				k := h2Do(ctx, client, url, t, &body)
				if k == "" {
					r.ok(ws, start)
				} else if !r.done() {
					r.fail(ws, k)
				}
			}
		})
	}
	wg.Wait()
}

func h2Do(ctx context.Context, client *http.Client, url string, t Target, body *bytes.Buffer) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "request"
	}
	req.Header.Set("User-Agent", "portcullis-bench")
	resp, err := client.Do(req)
	if err != nil {
		return kind("h2", err)
	}
	body.Reset()
	_, err = body.ReadFrom(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return kind("read", err)
	case resp.ProtoMajor != 2:
		return "not_h2"
	case resp.StatusCode != http.StatusOK:
		return statusKind(resp.StatusCode)
	case t.Expect != "" && !strings.Contains(body.String(), t.Expect):
		return "body_mismatch"
	}
	return ""
}
