package dataplane

import "github.com/portcullis/portcullis/internal/metrics"

var _ StreamObserver = (*metrics.Metrics)(nil)
