// Package deploy holds no code: it is the home of the deployment artifacts (the Helm chart
// in helm/portcullis, helm/render.sh, check.sh) and of their tests, so that `go test ./...`
// checks them. The tests read the chart's values.yaml, the Dockerfile and .dockerignore,
// and, when a Kubernetes API server is available (KUBECONFIG and PORTCULLIS_KUBE_BIN, as
// hack/test.sh sets them), run check.sh against it and run the real Kubernetes source as
// the chart's ServiceAccount, to prove the chart's RBAC is enough for it.
//
// Imports (tests only): internal/diag, internal/resources, internal/source/kube,
// istio.io/api, istio.io/client-go, k8s.io/api, k8s.io/apimachinery, k8s.io/client-go,
// github.com/google/go-cmp, sigs.k8s.io/yaml, standard library.
package deploy
