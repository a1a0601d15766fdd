package kube

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePodLabels(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{
			name: "downward API format",
			in:   "app=\"portcullis\"\nistio=\"ingressgateway\"\npod-template-hash=\"6f7d65d984\"\n",
			want: map[string]string{"app": "portcullis", "istio": "ingressgateway", "pod-template-hash": "6f7d65d984"},
		},
		{name: "escaped value", in: `note="a \"b\" c"`, want: map[string]string{"note": `a "b" c`}},
		{name: "empty value", in: `k=""`, want: map[string]string{"k": ""}},
		{name: "unquoted value", in: "k=v", wantErr: true},
		{name: "no equals", in: "k", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePodLabels([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodLabelsFile(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := PodLabels(filepath.Join(dir, "missing")); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
	p := filepath.Join(dir, "labels")
	if err := os.WriteFile(p, []byte("istio=\"ingressgateway\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, ok, err := PodLabels(p)
	if !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if diff := cmp.Diff(map[string]string{"istio": "ingressgateway"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPodNamespace(t *testing.T) {
	noFile := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	saFile := func(p string) ([]byte, error) {
		if p != ServiceAccountNamespaceFile {
			return nil, errors.New("unexpected path " + p)
		}
		return []byte("gateways\n"), nil
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "POD_NAMESPACE" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name     string
		getenv   func(string) string
		readFile func(string) ([]byte, error)
		want     string
	}{
		{"env wins", env("from-env"), saFile, "from-env"},
		{"service account file", env(""), saFile, "gateways"},
		{"outside a pod", env(""), noFile, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodNamespace(tc.getenv, tc.readFile); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
