# syntax=docker/dockerfile:1
#
# portcullis container image: a static binary on distroless/static, running as uid 65532.
#
#   docker build -t ghcr.io/portcullis/portcullis:dev --build-arg VERSION=dev .
#
# The Helm chart (deploy/helm/portcullis) runs it with a read-only root filesystem, every
# capability dropped and unprivileged container ports (8080/8443, admin 15000).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first, so source edits do not re-download modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/portcullis/portcullis/internal/cli.Version=${VERSION}" \
      -o /out/portcullis ./cmd/portcullis

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/portcullis /usr/local/bin/portcullis
USER 65532:65532
# Gateway ports as the chart maps them (--port-map 80=:8080 --port-map 443=:8443) and the
# admin listener (--admin :15000). Documentation only: the flags decide.
EXPOSE 8080 8443 15000
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["--help"]
