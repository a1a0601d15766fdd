package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestMain lets the mount-exec test run this test binary as the helper.
func TestMain(m *testing.M) {
	if os.Getenv("KUBENODE_TEST_MOUNT_EXEC") == "1" {
		mountExec(os.Args[2:])
	}
	os.Exit(m.Run())
}

func i32(v int32) *int32 { return &v }

func TestProjectKeys(t *testing.T) {
	data := map[string][]byte{"tls.crt": []byte("CERT"), "tls.key": []byte("KEY")}
	// No items: every key under its own name, default mode 0644.
	got, err := projectKeys(data, nil, nil, false, "secret s")
	if err != nil || len(got) != 2 || string(got["tls.crt"].data) != "CERT" || got["tls.key"].mode != 0o644 {
		t.Fatalf("all keys: %v %v", got, err)
	}
	// Items: renamed, item mode over defaultMode, unlisted keys left out.
	got, err = projectKeys(data, []corev1.KeyToPath{{Key: "tls.crt", Path: "crt"}, {Key: "tls.key", Path: "d/key", Mode: i32(0o600)}}, i32(0o440), false, "secret s")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["crt"].mode != 0o440 || got["d/key"].mode != 0o600 || string(got["d/key"].data) != "KEY" {
		t.Fatalf("items: %v", got)
	}
	// A missing listed key: an error, unless optional.
	items := []corev1.KeyToPath{{Key: "ca.crt", Path: "ca"}, {Key: "tls.crt", Path: "crt"}}
	if _, err := projectKeys(data, items, nil, false, "secret s"); err == nil || !strings.Contains(err.Error(), `secret s has no key "ca.crt"`) {
		t.Fatalf("missing key: %v", err)
	}
	if got, err := projectKeys(data, items, nil, true, "secret s"); err != nil || len(got) != 1 || got["crt"].data == nil {
		t.Fatalf("missing optional key: %v %v", got, err)
	}
}

func TestWriteVolume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	err := writeVolume(dir, map[string]volumeFile{"crt": {[]byte("CERT"), 0o644}, "d/key": {[]byte("KEY"), 0o400}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{"crt": 0o644, "d/key": 0o400} {
		fi, err := os.Stat(filepath.Join(dir, path))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %v", path, fi.Mode(), err, want)
		}
	}
	if err := writeVolume(dir, map[string]volumeFile{"../x": {nil, 0o644}}); err == nil {
		t.Error("a path leaving the volume was written")
	}
	// An update replaces the contents at once: changed files, dropped ones gone, the
	// previous ..<timestamp> directory removed.
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := writeVolume(dir, map[string]volumeFile{"crt": {[]byte("CERT2"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "crt")); err != nil || string(b) != "CERT2" {
		t.Errorf("crt after the update: %q %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	second, _ := os.Readlink(filepath.Join(dir, "..data"))
	if len(names) != 3 || names[0] != second || names[1] != "..data" || names[2] != "crt" || second == first {
		t.Errorf("volume holds %v (..data -> %s, was %s)", names, second, first)
	}
}

func TestCheckVolumes(t *testing.T) {
	pod := func(v corev1.Volume, m corev1.VolumeMount) *corev1.Pod {
		m.Name = v.Name
		return &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{v},
			Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{m}}}}}
	}
	secret := corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}}
	sa := corev1.Volume{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string // "" = accepted
	}{
		{"secret", pod(secret, corev1.VolumeMount{MountPath: "/etc/secret-volume"}), ""},
		{"service-account token", pod(sa, corev1.VolumeMount{MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}), ""},
		{"emptyDir", pod(corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, corev1.VolumeMount{MountPath: "/scratch"}), ""},
		{"emptyDir sizeLimit", pod(corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: resource.NewQuantity(1, resource.BinarySI)}}}, corev1.VolumeMount{MountPath: "/scratch"}), "sizeLimit"},
		{"hostPath", pod(corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}, corev1.VolumeMount{MountPath: "/h"}), `volume "h": only secret, configMap and emptyDir`},
		{"other projected", pod(corev1.Volume{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}, corev1.VolumeMount{MountPath: "/p"}), `volume "p"`},
		{"subPath", pod(secret, corev1.VolumeMount{MountPath: "/etc/x", SubPath: "crt"}), "subPath is not supported"},
		{"root", pod(secret, corev1.VolumeMount{MountPath: "/"}), "absolute path other than /"},
		{"file", pod(secret, corev1.VolumeMount{MountPath: "/etc/hostname"}), "not a directory"},
	} {
		err := checkVolumes(tc.pod)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestMountExec runs the helper (as root): the program sees the volume at the target,
// read-only, and the host's target stays empty (the mount never propagated).
func TestMountExec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespaces)")
	}
	tmp := t.TempDir()
	src, ro, rw := filepath.Join(tmp, "src"), filepath.Join(tmp, "ro"), filepath.Join(tmp, "rw")
	for _, d := range []string{src, ro, rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "crt"), []byte("CERT"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts, _ := json.Marshal([]bindMount{{Source: src, Target: ro, ReadOnly: true}, {Source: src, Target: rw}})
	script := `cat "$1/crt"; if touch "$1/x" 2>/dev/null; then echo " ro-writable"; fi; touch "$2/y" && echo " rw-ok"`
	cmd := exec.Command(os.Args[0], "mount-exec", string(mounts), "--", "/bin/sh", "-c", script, "sh", ro, rw)
	cmd.Env = append(os.Environ(), "KUBENODE_TEST_MOUNT_EXEC=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount-exec: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "CERT rw-ok" {
		t.Errorf("program printed %q, want %q", got, "CERT rw-ok")
	}
	for _, d := range []string{ro, rw} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("host's %s is not empty: %v", d, ents)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "y")); err != nil {
		t.Errorf("the writable mount's write did not reach the volume: %v", err)
	}
}
