package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Volumes. A pod's secret, configMap and emptyDir volumes live in one tmpfs mounted at
// STATE_DIR/volumes/<pod UID> (so Secret data never reaches a disk, as with the kubelet),
// one directory per volume, written when the pod starts and rewritten when its Secret or
// ConfigMap changes (atomically, through a ..data symlink, as the kubelet does). Each
// container whose volumeMounts name one is started through `portcullis-kubenode
// mount-exec`, which runs in the mount namespace `ip netns exec` gives it (and unshares
// another one itself, with the root made a slave so nothing propagates back to the host),
// bind-mounts each volume directory at its mountPath (read-only for secret and configMap
// volumes, as the kubelet mounts them, and for mounts with readOnly), and execs the
// program. Only that process tree sees the volumes; the mounts disappear with it. A
// mountPath that does not exist on the host gets its missing directories created (empty
// mount points) while a pod using them runs, and removed when the last such pod is gone;
// STATE_DIR/kubenode-cleanup records them (and the tmpfs) for hack/kube/down.sh if the
// agent is killed.
//
// Refused (the pod fails with the reason): subPath, subPathExpr, mount propagation,
// recursive read-only mounts, emptyDir sizeLimit and every other volume kind. The
// service-account token volume the API server injects is accepted and not mounted.

// bindMount is one mount mount-exec makes before running the program.
type bindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
}

// isServiceAccountToken reports whether v is the projected volume the API server injects
// for the service-account token (kube-api-access-*: a token, the root CA, the namespace).
func isServiceAccountToken(v *corev1.Volume) bool {
	if v.Projected == nil || !strings.HasPrefix(v.Name, "kube-api-access-") {
		return false
	}
	for _, s := range v.Projected.Sources {
		if s.ServiceAccountToken != nil {
			return true
		}
	}
	return false
}

// checkVolumes refuses what this node cannot do faithfully, before anything is set up.
func checkVolumes(pod *corev1.Pod) error {
	vols := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vols[v.Name] = v
		switch {
		case isServiceAccountToken(v):
		case v.Secret != nil, v.ConfigMap != nil:
		case v.EmptyDir != nil:
			if v.EmptyDir.SizeLimit != nil {
				return fmt.Errorf("volume %q: emptyDir sizeLimit is not enforced by this node", v.Name)
			}
			if m := v.EmptyDir.Medium; m != corev1.StorageMediumDefault && m != corev1.StorageMediumMemory {
				return fmt.Errorf("volume %q: emptyDir medium %q is not supported", v.Name, m)
			}
		default:
			return fmt.Errorf("volume %q: only secret, configMap and emptyDir volumes (and the injected service-account token volume, not mounted) are supported", v.Name)
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			v := vols[m.Name]
			if v == nil {
				return fmt.Errorf("container %s: volumeMount %q names no volume", c.Name, m.Name)
			}
			if isServiceAccountToken(v) {
				continue
			}
			switch {
			case m.SubPath != "" || m.SubPathExpr != "":
				return fmt.Errorf("container %s: volumeMount %q: subPath is not supported", c.Name, m.Name)
			case m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone:
				return fmt.Errorf("container %s: volumeMount %q: mountPropagation %s is not supported", c.Name, m.Name, *m.MountPropagation)
			case m.RecursiveReadOnly != nil && *m.RecursiveReadOnly != corev1.RecursiveReadOnlyDisabled:
				return fmt.Errorf("container %s: volumeMount %q: recursiveReadOnly is not supported", c.Name, m.Name)
			case !filepath.IsAbs(m.MountPath) || filepath.Clean(m.MountPath) == "/":
				return fmt.Errorf("container %s: volumeMount %q: mountPath %q must be an absolute path other than /", c.Name, m.Name, m.MountPath)
			}
			if fi, err := os.Stat(m.MountPath); err == nil && !fi.IsDir() {
				return fmt.Errorf("container %s: volumeMount %q: mountPath %s is not a directory on this node (processes share the host file system)", c.Name, m.Name, m.MountPath)
			}
		}
	}
	return nil
}

// volumeFile is one file of a secret or configMap volume.
type volumeFile struct {
	data []byte
	mode fs.FileMode
}

// projectKeys computes the files of a secret or configMap volume as the kubelet does: every
// key under its own name, or only the listed items under their paths; mode from the item,
// else defaultMode, else 0644. A listed key that is missing is an error unless the volume is
// optional (then it is left out).
func projectKeys(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool, what string) (map[string]volumeFile, error) {
	mode := fs.FileMode(corev1.SecretVolumeSourceDefaultMode)
	if defaultMode != nil {
		mode = fs.FileMode(*defaultMode)
	}
	out := map[string]volumeFile{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = volumeFile{data: v, mode: mode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		out[it.Path] = volumeFile{data: v, mode: m}
	}
	return out, nil
}

// writeVolume writes a secret or configMap volume's files under dir the way the kubelet's
// atomic writer lays them out, so that an update is seen all at once: the files in a new
// directory ..<timestamp>, the symlink ..data switched to it by a rename, and each top-level
// entry a symlink through ..data; the previous directory is then removed.
func writeVolume(dir string, files map[string]volumeFile) error {
	top := map[string]bool{}
	for path := range files {
		if !filepath.IsLocal(path) || strings.HasPrefix(path, "..") {
			return fmt.Errorf("item path %q is not a relative path inside the volume", path)
		}
		top[strings.SplitN(filepath.ToSlash(path), "/", 2)[0]] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for path, f := range files {
		full := filepath.Join(ts, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(full, f.mode.Perm()); err != nil { // not subject to the umask
			return err
		}
	}
	data, tmp := filepath.Join(dir, "..data"), filepath.Join(dir, "..data_tmp")
	old, _ := os.Readlink(data)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, data); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for name := range top {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	if old != "" && old != filepath.Base(ts) {
		return os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// secretFiles and configMapFiles compute a volume's files from its source object.
func secretFiles(s *corev1.SecretVolumeSource, sec *corev1.Secret) (map[string]volumeFile, error) {
	return projectKeys(sec.Data, s.Items, s.DefaultMode, optional(s.Optional), fmt.Sprintf("secret %q", s.SecretName))
}

func configMapFiles(c *corev1.ConfigMapVolumeSource, cm *corev1.ConfigMap) (map[string]volumeFile, error) {
	data := map[string][]byte{}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return projectKeys(data, c.Items, c.DefaultMode, optional(c.Optional), fmt.Sprintf("configMap %q", c.Name))
}

// volumeData fetches a secret or configMap volume's files; a missing optional source
// gives an empty volume.
func (p *provider) volumeData(ctx context.Context, ns string, v *corev1.Volume) (map[string]volumeFile, error) {
	if s := v.Secret; s != nil {
		sec, err := p.client.CoreV1().Secrets(ns).Get(ctx, s.SecretName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && optional(s.Optional) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", s.SecretName, err)
		}
		return secretFiles(s, sec)
	}
	c := v.ConfigMap
	cm, err := p.client.CoreV1().ConfigMaps(ns).Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional(c.Optional) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configMap %q: %w", c.Name, err)
	}
	return configMapFiles(c, cm)
}

// podVolumesDir is where a pod's volumes live on the host (a tmpfs while the pod runs).
func (p *provider) podVolumesDir(r *podRun) string {
	return filepath.Join(p.cfg.stateDir, "volumes", string(r.pod.UID))
}

// setupVolumes writes the pod's volumes and computes each container's mounts. An error is
// retried by the caller (the kubelet keeps a pod ContainerCreating while a Secret it
// mounts is missing).
func (p *provider) setupVolumes(ctx context.Context, r *podRun) error {
	pod := r.pod
	files := map[string]map[string]volumeFile{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.Secret == nil && v.ConfigMap == nil {
			continue
		}
		f, err := p.volumeData(ctx, pod.Namespace, v)
		if err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", v.Name, err)
		}
		files[v.Name] = f
	}
	mounts := map[*ctrRun][]bindMount{}
	dir := p.podVolumesDir(r)
	for _, c := range r.ctrs {
		for _, m := range c.spec.VolumeMounts {
			v := volumeByName(pod, m.Name)
			if isServiceAccountToken(v) {
				continue
			}
			mounts[c] = append(mounts[c], bindMount{Source: filepath.Join(dir, v.Name), Target: filepath.Clean(m.MountPath),
				ReadOnly: m.ReadOnly || v.Secret != nil || v.ConfigMap != nil})
		}
	}
	if len(mounts) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p.recordPath("volumes", dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", dir, err)
	}
	p.mu.Lock()
	r.volumesDir = dir
	p.mu.Unlock()
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var err error
		switch {
		case v.EmptyDir != nil:
			if err = os.Mkdir(filepath.Join(dir, v.Name), 0o777); err == nil {
				err = os.Chmod(filepath.Join(dir, v.Name), 0o777) // as the kubelet's, whatever the umask
			}
		case v.Secret != nil || v.ConfigMap != nil:
			err = writeVolume(filepath.Join(dir, v.Name), files[v.Name])
		}
		if err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	for c, ms := range mounts {
		for _, m := range ms {
			if err := p.mountPoint(r, m.Target); err != nil {
				return err
			}
		}
		b, err := json.Marshal(ms)
		if err != nil {
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.wrap = []string{exe, "mount-exec", string(b), "--"}
	}
	p.mu.Lock()
	r.volumesWritten = true
	p.mu.Unlock()
	return nil
}

// sourceChanged writes a changed Secret or ConfigMap (an informer's object) into the
// volumes of the running pods that mount it, as the kubelet does after its sync delay (here
// at once). A source the volume can no longer be made from (a listed key removed) leaves
// the volume as it was, with the reason logged.
func (p *provider) sourceChanged(obj any) {
	type target struct {
		r   *podRun
		v   *corev1.Volume
		dir string
	}
	var targets []target
	p.mu.Lock()
	for _, r := range p.pods {
		if !r.volumesWritten {
			continue
		}
		for i := range r.pod.Spec.Volumes {
			v := &r.pod.Spec.Volumes[i]
			switch o := obj.(type) {
			case *corev1.Secret:
				if v.Secret == nil || o.Namespace != r.pod.Namespace || v.Secret.SecretName != o.Name {
					continue
				}
			case *corev1.ConfigMap:
				if v.ConfigMap == nil || o.Namespace != r.pod.Namespace || v.ConfigMap.Name != o.Name {
					continue
				}
			default:
				continue
			}
			targets = append(targets, target{r, v, filepath.Join(r.volumesDir, v.Name)})
		}
	}
	p.mu.Unlock()
	for _, t := range targets {
		var files map[string]volumeFile
		var err error
		if o, ok := obj.(*corev1.Secret); ok {
			files, err = secretFiles(t.v.Secret, o)
		} else {
			files, err = configMapFiles(t.v.ConfigMap, obj.(*corev1.ConfigMap))
		}
		if err == nil {
			err = writeVolume(t.dir, files)
		}
		if err != nil {
			log.Printf("pod %s/%s: updating volume %q: %v", t.r.pod.Namespace, t.r.pod.Name, t.v.Name, err)
		}
	}
}

func volumeByName(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// mountPoint makes sure target exists as a directory, creating the missing ones; each
// directory created is shared (reference-counted) by the pods that need it and removed
// when the last of them is gone.
func (p *provider) mountPoint(r *podRun, target string) error {
	var missing []string
	for d := target; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	slices.Reverse(missing)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating mount point %s: %w", d, err)
		}
		p.recordPath("mountpoint", d)
		p.mountPoints[d]++
		r.mountPoints = append(r.mountPoints, d)
	}
	// Directories another pod created: share them, so they stay until both are gone.
	for d := target; d != "/"; d = filepath.Dir(d) {
		if p.mountPoints[d] > 0 && !slices.Contains(r.mountPoints, d) {
			p.mountPoints[d]++
			r.mountPoints = append(r.mountPoints, d)
		}
	}
	return nil
}

// releaseVolumes unmounts the pod's tmpfs and removes the mount points nobody uses any more.
func (p *provider) releaseVolumes(r *podRun) {
	if r.volumesDir != "" {
		if err := syscall.Unmount(r.volumesDir, syscall.MNT_DETACH); err != nil {
			log.Printf("pod %s/%s: unmounting %s: %v", r.pod.Namespace, r.pod.Name, r.volumesDir, err)
		}
		if err := os.Remove(r.volumesDir); err != nil {
			log.Printf("pod %s/%s: %v", r.pod.Namespace, r.pod.Name, err)
		}
		p.unrecordPath("volumes", r.volumesDir)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r.volumesDir, r.volumesWritten = "", false
	// Deepest first, so that a parent is empty when its turn comes.
	sort.Slice(r.mountPoints, func(i, j int) bool { return len(r.mountPoints[i]) > len(r.mountPoints[j]) })
	for _, d := range r.mountPoints {
		if p.mountPoints[d]--; p.mountPoints[d] > 0 {
			continue
		}
		delete(p.mountPoints, d)
		if err := os.Remove(d); err != nil {
			log.Printf("pod %s/%s: removing mount point: %v", r.pod.Namespace, r.pod.Name, err)
		}
		p.unrecordPath("mountpoint", d)
	}
	r.mountPoints = nil
}

// recordPath/unrecordPath keep STATE_DIR/kubenode-cleanup/<kind>.<hash> files holding a
// path, for hack/kube/down.sh (record/unrecord hold names that fit in a file name).
func (p *provider) recordPath(kind, path string) {
	dir := filepath.Join(p.cfg.stateDir, "kubenode-cleanup")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, kind+"."+pathTag(path)), []byte(path+"\n"), 0o644)
}

func (p *provider) unrecordPath(kind, path string) {
	_ = os.Remove(filepath.Join(p.cfg.stateDir, "kubenode-cleanup", kind+"."+pathTag(path)))
}

func pathTag(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:8])
}

// mountVolumes sets the pod's volumes up, retrying every second while it fails (a Secret
// not created yet) with the reason in the containers' waiting state, until it succeeds
// (true) or the pod is stopped (false).
func (r *podRun) mountVolumes(ctx context.Context) bool {
	p := r.p
	for {
		err := p.setupVolumes(ctx, r)
		if err == nil {
			return true
		}
		p.releaseVolumes(r)
		p.mu.Lock()
		msg := err.Error()
		changed := false
		for _, c := range r.ctrs {
			if w := c.status.State.Waiting; w != nil && w.Message != msg {
				w.Message, changed = msg, true
			}
		}
		if changed {
			log.Printf("pod %s/%s: %v (retrying)", r.pod.Namespace, r.pod.Name, err)
			r.publish()
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// mountExec is `portcullis-kubenode mount-exec MOUNTS_JSON -- PROGRAM ARGS...`: in a mount
// namespace of its own (no propagation to the host), bind-mount each volume at its target,
// then exec the program with this environment.
func mountExec(args []string) {
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "portcullis-kubenode mount-exec: "+format+"\n", a...)
		os.Exit(128)
	}
	if len(args) < 3 || args[1] != "--" {
		fail("usage: mount-exec MOUNTS_JSON -- PROGRAM [ARGS...]")
	}
	var mounts []bindMount
	if err := json.Unmarshal([]byte(args[0]), &mounts); err != nil {
		fail("%v", err)
	}
	// Namespaces are per thread: unshare, mount and exec from this one.
	runtime.LockOSThread()
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		fail("unshare: %v", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_SLAVE|syscall.MS_REC, ""); err != nil {
		fail("making / a slave mount: %v", err)
	}
	for _, m := range mounts {
		if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			fail("bind-mounting %s at %s: %v", m.Source, m.Target, err)
		}
		if m.ReadOnly {
			if err := syscall.Mount("", m.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
				fail("remounting %s read-only: %v", m.Target, err)
			}
		}
	}
	prog := args[2]
	if !strings.Contains(prog, "/") {
		fail("program %q is not a path", prog)
	}
	if err := syscall.Exec(prog, args[2:], os.Environ()); err != nil {
		fail("exec %s: %v", prog, err)
	}
}
