package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

func TestHealthTransitions(t *testing.T) {
	var reports []bool
	h := &health{report: func(up bool) { reports = append(reports, up) }, logger: slog.New(slog.DiscardHandler)}
	r := cache.NewReflector(&cache.ListWatch{}, &corev1.Secret{}, cache.NewStore(cache.MetaNamespaceKeyFunc), 0)
	gone := apierrors.NewGone("too old")
	expired := apierrors.NewResourceExpired("expired")
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "x", errors.New("rbac"))

	steps := []struct {
		name string
		do   func()
		want []bool // all reports so far
	}{
		{"watch closed normally is not a loss", func() { h.watchError(r, io.EOF) }, nil},
		{"unexpected EOF is not a loss", func() { h.watchError(r, io.ErrUnexpectedEOF) }, nil},
		{"expired and gone are not losses", func() { h.watchError(r, gone); h.watchError(r, expired) }, nil},
		{"synced", func() { h.set(true, nil) }, []bool{true}},
		{"same state is not reported twice", func() { h.set(true, nil) }, []bool{true}},
		{"connection refused is a loss", func() { h.watchError(r, syscall.ECONNREFUSED) }, []bool{true, false}},
		{"repeated failures report once", func() { h.watchError(r, forbidden) }, []bool{true, false}},
		{"probe succeeds", func() {
			ctx, cancel := context.WithCancel(context.Background())
			calls := 0
			h.run(ctx, 1, func(context.Context) error {
				if calls++; calls == 2 {
					cancel()
				}
				return nil
			})
		}, []bool{true, false, true}},
	}
	for _, s := range steps {
		s.do()
		if !slices.Equal(reports, s.want) {
			t.Fatalf("%s: reports %v, want %v", s.name, reports, s.want)
		}
	}
	if !h.isUp() {
		t.Error("isUp false after a successful probe")
	}
}
