// Package gatewaytest runs the real gateway in-process for the feature and security tests:
// built from app.Options as `portcullis run` builds it, stopped and checked at test cleanup,
// its log printed when the test failed.
package gatewaytest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/testkit"
)

// Start builds and runs a gateway, logging at debug level into logs, and returns once
// Gateway port 443 is listening (readiness is the caller's to wait for: a test may
// expect it to stay unready).
func Start(t testing.TB, o app.Options, logs *testkit.SyncBuffer) *app.Gateway {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gw, err := app.New(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("gateway did not stop within 15s")
		}
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	testkit.Eventually(t, 10*time.Second, "port 443 listening", func() error {
		if gw.Addr(443) == nil {
			return fmt.Errorf("not listening")
		}
		return nil
	})
	return gw
}
