package e2ekubenode

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const volumeManifest = `apiVersion: v1
kind: Pod
metadata:
  name: reader
  namespace: %[1]s
spec:
  restartPolicy: Never
  containers:
  - name: sh
    image: portcullis.test/sh
    command: [sh, -c]
    args:
    - |
      set -e
      printf 'crt='; cat %[2]s/secret/crt; printf ' modes='; stat -L -c %%a %[2]s/secret/crt %[2]s/secret/key | tr '\n' ' '; echo
      printf 'ca='; cat %[2]s/config/ca; printf ' files='; ls %[2]s/secret | tr '\n' ,; echo
      if touch %[2]s/secret/x 2>/dev/null; then echo secret-writable; fi
      echo scratch > %[2]s/scratch/f; printf 'scratch='; cat %[2]s/scratch/f
    volumeMounts:
    - {name: secret-volume, mountPath: %[2]s/secret}
    - {name: config-volume, mountPath: %[2]s/config}
    - {name: scratch, mountPath: %[2]s/scratch}
  volumes:
  - name: secret-volume
    secret:
      secretName: certs
      defaultMode: 0440
      items:
      - {key: tls.crt, path: crt}
      - {key: tls.key, path: key, mode: 0400}
  - name: config-volume
    configMap:
      name: ca
      items:
      - {key: ca.crt, path: ca}
  - name: scratch
    emptyDir: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: hostpath
  namespace: %[1]s
spec:
  containers:
  - name: sh
    image: portcullis.test/sh
    volumeMounts:
    - {name: host, mountPath: /host}
  volumes:
  - name: host
    hostPath: {path: /}
`

// TestPodReadsSecretVolume: a pod mounting a Secret that does not exist yet waits in
// ContainerCreating with the reason; once the Secret and ConfigMap exist its process reads
// the listed keys at the mountPath with their modes, cannot write there, has a writable
// emptyDir, and the host never sees the files (the mount-point directories it needed are
// removed with the pod). A hostPath volume fails its pod with the reason.
func TestPodReadsSecretVolume(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("vol-%d", time.Now().UnixNano()%1e6)
	base := "/etc/portcullis-e2e-" + ns // does not exist on the host
	plane.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", ns)+fmt.Sprintf(volumeManifest, ns, base))
	get := func(name string) (*corev1.Pod, error) {
		return plane.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	}
	eventually(t, 60*time.Second, "pod reader waiting for its Secret", func() error {
		p, err := get("reader")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		if w == nil || w.Reason != "ContainerCreating" || !strings.Contains(w.Message, `secret "certs"`) {
			return fmt.Errorf("state %+v", p.Status.ContainerStatuses[0].State)
		}
		return nil
	})
	eventually(t, 60*time.Second, "pod hostpath Failed", func() error {
		p, err := get("hostpath")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodFailed || !strings.Contains(p.Status.Message, `volume "host"`) {
			return fmt.Errorf("phase %s message %q", p.Status.Phase, p.Status.Message)
		}
		return nil
	})
	plane.apply(t, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: certs, namespace: %[1]s}
stringData: {tls.crt: CERT-DATA, tls.key: KEY-DATA, unlisted: x}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca, namespace: %[1]s}
data: {ca.crt: CA-DATA}
`, ns))
	eventually(t, 60*time.Second, "pod reader Succeeded", func() error {
		p, err := get("reader")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		return nil
	})
	out, err := os.ReadFile(filepath.Join(plane.state, "pods", ns+"_reader_sh.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := "crt=CERT-DATA modes=440 400 \nca=CA-DATA files=crt,key,\nscratch=scratch\n"
	if string(out) != want {
		t.Errorf("pod printed\n%s\nwant\n%s", out, want)
	}
	// The same output through the API server's pods/log (the node's kubelet API).
	logs, err := plane.client.CoreV1().Pods(ns).GetLogs("reader", &corev1.PodLogOptions{Container: "sh", TailLines: ptrTo(int64(1))}).DoRaw(ctx)
	if err != nil || string(logs) != "scratch=scratch\n" {
		t.Errorf("pods/log tailLines=1: %q %v", logs, err)
	}
	if _, err := os.Stat(base + "/secret/crt"); err == nil {
		t.Errorf("the Secret's file is visible on the host at %s/secret/crt", base)
	}
	if err := plane.client.CoreV1().Pods(ns).Delete(ctx, "reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "mount points removed with the pod", func() error {
		if _, err := get("reader"); err == nil {
			return fmt.Errorf("pod still there")
		}
		if _, err := os.Stat(base); err == nil {
			return fmt.Errorf("%s still exists", base)
		}
		return nil
	})
}

const watcherManifest = `apiVersion: v1
kind: Secret
metadata: {name: rotating, namespace: %[1]s}
stringData: {tls.crt: OLD-CERT}
---
apiVersion: v1
kind: Pod
metadata: {name: watcher, namespace: %[1]s}
spec:
  restartPolicy: Never
  volumes: [{name: certs, secret: {secretName: rotating}}]
  containers:
  - name: sh
    image: portcullis.test/sh
    volumeMounts: [{name: certs, mountPath: /etc/portcullis-e2e-%[1]s}]
    command:
    - sh
    - -c
    - |
      cat /etc/portcullis-e2e-%[1]s/tls.crt; echo
      timeout 60 sh -c 'until grep -q NEW-CERT /etc/portcullis-e2e-%[1]s/tls.crt; do sleep 0.1; done'
`

// TestSecretVolumeUpdate: a running pod sees its Secret volume's new contents after the
// Secret is updated (its process exits 0 only once it reads the new certificate).
func TestSecretVolumeUpdate(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("rot-%d", time.Now().UnixNano()%1e6)
	plane.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", ns)+fmt.Sprintf(watcherManifest, ns))
	logPath := filepath.Join(plane.state, "pods", ns+"_watcher_sh.log")
	eventually(t, 60*time.Second, "pod watcher read the first certificate", func() error {
		b, err := os.ReadFile(logPath)
		if err != nil || string(b) != "OLD-CERT\n" {
			return fmt.Errorf("log %q %v", b, err)
		}
		return nil
	})
	plane.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: rotating, namespace: %s}\nstringData: {tls.crt: NEW-CERT}\n", ns))
	eventually(t, 60*time.Second, "pod watcher Succeeded", func() error {
		p, err := plane.client.CoreV1().Pods(ns).Get(ctx, "watcher", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase == corev1.PodFailed {
			t.Fatalf("watcher failed: %+v", p.Status.ContainerStatuses)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
}

const tlsBackendManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: tls-backend
  namespace: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: tls-backend}
  template:
    metadata:
      labels: {app: tls-backend}
    spec:
      containers:
      - name: tls-backend
        image: registry.k8s.io/gateway-api/echo-basic:v1.5.1
        volumeMounts:
        - {name: secret-volume, mountPath: /etc/secret-volume}
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        - {name: TLS_SERVER_CERT, value: /etc/secret-volume/crt}
        - {name: TLS_SERVER_PRIVKEY, value: /etc/secret-volume/key}
        ports:
        - containerPort: 8443
      volumes:
      - name: secret-volume
        secret:
          secretName: tls-checks-certificate
          items:
          - {key: tls.crt, path: crt}
          - {key: tls.key, path: key}
`

// TestEchoBasicTLSBackend: echo-basic as the Gateway API conformance suite's tls-backend
// (certificate and key from a Secret volume at /etc/secret-volume) serves HTTPS on 8443
// with exactly that certificate and answers with its pod name.
func TestEchoBasicTLSBackend(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("tlsbe-%d", time.Now().UnixNano()%1e6)
	certPEM, keyPEM, cert := selfSigned(t, "tls-backend.example.com")
	plane.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", ns)+fmt.Sprintf(tlsBackendManifest, ns))
	_, err := plane.client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tls-checks-certificate"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	eventually(t, 90*time.Second, "tls-backend ready", func() error {
		list, err := plane.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=tls-backend"})
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("%d pods, none running and ready", len(list.Items))
	})
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "tls-backend.example.com"}}}
	resp, err := client.Get("https://" + pod.Status.PodIP + ":8443/tls")
	if err != nil {
		t.Fatalf("GET https://%s:8443: %v", pod.Status.PodIP, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var echo struct{ Pod, Namespace, Path string }
	if err := json.Unmarshal(body, &echo); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if resp.StatusCode != 200 || echo.Pod != pod.Name || echo.Namespace != ns || echo.Path != "/tls" {
		t.Errorf("answered %d %+v", resp.StatusCode, echo)
	}
}

func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

func ptrTo[T any](v T) *T { return &v }
