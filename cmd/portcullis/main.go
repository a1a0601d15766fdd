// Command portcullis is a secure ingress gateway that serves Istio networking configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/internal/cli"
)

func main() {
	// X-Request-Id UUIDs come from a 256-byte pool refilled from crypto/rand, not one
	// crypto/rand read each (as Envoy buffers its own). Enabled here, before any goroutine
	// can generate one: the switch itself is not safe against concurrent use. Go never
	// forks without exec, so no child can reuse the pool; the IDs are correlation IDs,
	// not secrets (docs/design/0032-request-path-cost.md).
	uuid.EnableRandPool()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
