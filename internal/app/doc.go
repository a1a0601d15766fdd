// Package app is the composition root: New builds every component from Options (file and
// Kubernetes sources, store, translator, credential store, dataplane, admin listener,
// metrics on a registry of its own) and connects them — the store's callback translates
// the latest bundle, syncs the credential store and swaps the snapshot into the dataplane;
// credential changes reach the listeners through an adapter (credentialView), so the
// dataplane never imports the credential store. Run runs them all under one errgroup
// until the context ends. Validate runs decode and translate once, for `portcullis
// validate`. Only app and the commands (cli, demo) know every package.
//
// Imports: every internal component — internal/{accesslog, admin, authz/engine, credential,
// dataplane, diag, explain, gatewayapi, metrics, resources, snapshot, source/file, source/kube,
// status, store, tracing, translate} —
// github.com/prometheus/client_golang, sigs.k8s.io/gateway-api (the status writer's typed
// clientset), golang.org/x/sync/errgroup, k8s.io/klog/v2 (to route
// client-go's process-wide logger to ours), standard library.
package app
