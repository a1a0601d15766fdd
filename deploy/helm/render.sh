#!/usr/bin/env bash
# Render the portcullis Helm chart to stdout without a helm binary, with Helm's own engine
# (helm.sh/helm/v3 pkg/engine, built from the separate Go module in render/).
#
#   deploy/helm/render.sh [--name NAME] [--namespace NS] [-f values.yaml]... [--set k=v]... [values.yaml...] > out.yaml
#   deploy/helm/render.sh --lint [...]            # helm lint, messages on stderr
#
# Defaults: release name portcullis, namespace istio-system, chart deploy/helm/portcullis.
# Same output as `helm template portcullis deploy/helm/portcullis -n istio-system [...]`.
# The renderer is built once into ${PORTCULLIS_HELM_CACHE:-$HOME/.cache/portcullis-helm}/<hash>/
# (hash of the render module's sources and `go version`); later runs reuse it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/render"

hash=$( { cat "$src/go.mod" "$src/go.sum" "$src/main.go"; go version; } | sha256sum | cut -c1-16)
cache="${PORTCULLIS_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis-helm}/$hash"
bin="$cache/render"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  echo "render.sh: building the Helm renderer into $cache (first run only; a few minutes cold)" >&2
  (cd "$src" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$bin.tmp.$$" .)
  mv -f "$bin.tmp.$$" "$bin"
fi

exec "$bin" "$@" "$here/portcullis"
