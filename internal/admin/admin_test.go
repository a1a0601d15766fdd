package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

// stuckState blocks /healthz/ready until released, like a handler that outlives the
// shutdown grace period.
type stuckState struct{ entered, release chan struct{} }

func (s stuckState) Ready() (bool, string) {
	close(s.entered)
	<-s.release
	return true, ""
}
func (stuckState) ConfigDump() any { return nil }
func (stuckState) Certs() any      { return nil }

func TestRunCutsRequestsThatOutliveShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := stuckState{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(st.release)
	s := New(Options{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry()}, st, slog.New(slog.DiscardHandler))
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	reqErr := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + s.Addr().String() + "/healthz/ready")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		reqErr <- err
	}()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("request never reached the handler")
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	select {
	case err := <-reqErr:
		if err == nil {
			t.Error("request still answered after Run returned; want its connection cut")
		}
	case <-time.After(5 * time.Second):
		t.Error("connection left open after Run returned: the stuck request outlives the server")
	}
}
