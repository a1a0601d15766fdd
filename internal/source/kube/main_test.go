package kube

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// istio.io/client-go's fake clientset predates streaming lists and does not say so
	// (k8s.io/client-go's fake does), so its informers would wait 10 s for a bookmark that
	// never comes before falling back to LIST. client-go reads feature gates from the
	// environment once, at first use.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}
