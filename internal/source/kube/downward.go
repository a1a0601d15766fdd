package kube

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Downward-API locations.
const (
	// ServiceAccountNamespaceFile holds the pod's namespace in every pod with a mounted
	// service account token.
	ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
	// DefaultPodLabelsFile is where the Helm chart mounts the downward-API labels file.
	DefaultPodLabelsFile = "/etc/podinfo/labels"
)

// PodNamespace returns the namespace of the pod this runs in: $POD_NAMESPACE (set from
// the downward API fieldRef metadata.namespace), else the service account namespace file.
// It returns "" outside a pod. getenv and readFile are os.Getenv and os.ReadFile in
// production (parameters for tests).
func PodNamespace(getenv func(string) string, readFile func(string) ([]byte, error)) string {
	if ns := strings.TrimSpace(getenv("POD_NAMESPACE")); ns != "" {
		return ns
	}
	if b, err := readFile(ServiceAccountNamespaceFile); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// PodLabels reads a downward-API labels file (lines of key="escaped value"). It returns
// ok=false without error when the file does not exist.
func PodLabels(path string) (labels map[string]string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pod labels file: %w", err)
	}
	labels, err = ParsePodLabels(b)
	if err != nil {
		return nil, false, fmt.Errorf("pod labels file %s: %w", path, err)
	}
	return labels, true, nil
}

// ParsePodLabels parses the downward-API labels format: one `key="value"` per line, the
// value quoted as a Go string literal.
func ParsePodLabels(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		k, v, found := strings.Cut(text, "=")
		if !found || k == "" {
			return nil, fmt.Errorf("line %d: want key=\"value\", got %q", line, text)
		}
		uq, err := strconv.Unquote(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: value of %q is not a quoted string: %v", line, k, err)
		}
		out[k] = uq
	}
	return out, sc.Err()
}
