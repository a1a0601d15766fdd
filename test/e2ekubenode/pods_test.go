// Package e2ekubenode tests the test control plane's node support (hack/kube/up.sh
// --with-nodes): kube-controller-manager, kube-scheduler and the portcullis-kubenode
// agent, which runs pods as local processes with routable pod IPs.
//
// Opt-in: it runs only with PORTCULLIS_KUBE=1 and PORTCULLIS_KUBE_NODES=1, as root. It
// starts its own control plane (a fresh state dir) and stops it at the end. Binaries:
// $PORTCULLIS_KUBE_BIN (apiserver, etcd, kubectl) and $PORTCULLIS_KUBE_NODE_BIN
// (hack/kube/build.sh --nodes), each built by up.sh if unset.
package e2ekubenode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type cluster struct {
	state, kubeconfig, kubectl string
	client                     kubernetes.Interface
}

var plane *cluster

func TestMain(m *testing.M) {
	if os.Getenv("PORTCULLIS_KUBE") != "1" || os.Getenv("PORTCULLIS_KUBE_NODES") != "1" || os.Geteuid() != 0 {
		fmt.Println("skipping: needs PORTCULLIS_KUBE=1, PORTCULLIS_KUBE_NODES=1 and root")
		os.Exit(0)
	}
	_, file, _, _ := runtime.Caller(0)
	hack := filepath.Join(filepath.Dir(file), "..", "..", "hack", "kube")
	state, err := os.MkdirTemp("", "portcullis-kubenode.")
	if err != nil {
		panic(err)
	}
	up := exec.Command(filepath.Join(hack, "up.sh"), "--with-nodes", state)
	up.Stderr = os.Stderr
	if _, err := up.Output(); err != nil {
		fmt.Fprintf(os.Stderr, "up.sh --with-nodes: %v\n", err)
		os.Exit(1)
	}
	code := func() int {
		bin, err := os.ReadFile(filepath.Join(state, "bin.path"))
		if err != nil {
			panic(err)
		}
		c := &cluster{state: state, kubeconfig: filepath.Join(state, "kubeconfig"),
			kubectl: filepath.Join(strings.TrimSpace(string(bin)), "kubectl")}
		rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
		if err != nil {
			panic(err)
		}
		c.client = kubernetes.NewForConfigOrDie(rc)
		plane = c
		return m.Run()
	}()
	down := exec.Command(filepath.Join(hack, "down.sh"), state)
	down.Stdout, down.Stderr = os.Stderr, os.Stderr
	if err := down.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "down.sh: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func (c *cluster) apply(t *testing.T, manifest string) {
	t.Helper()
	cmd := exec.Command(c.kubectl, "--kubeconfig", c.kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// eventually polls f every 250 ms until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, d, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

const echoManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: registry.k8s.io/gateway-api/echo-basic:v1.5.1
        ports:
        - containerPort: 3000
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        - name: SERVICE_NAME
          value: echo
        readinessProbe:
          httpGet: {path: /, port: 3000}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: %[1]s
spec:
  selector: {app: echo}
  ports:
  - name: http
    port: 8080
    targetPort: 3000
`

// TestDeploymentServesFromPodIPs: a Deployment + Service applied with kubectl end up as
// two scheduled, running, ready pods with distinct pod IPs, an EndpointSlice made by
// the controller listing exactly those IPs, and each IP answering echo-basic's JSON
// with its own pod name and namespace.
func TestDeploymentServesFromPodIPs(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("echo-%d", time.Now().UnixNano()%1e6)
	plane.apply(t, fmt.Sprintf(echoManifest, ns))

	var pods []corev1.Pod
	eventually(t, 90*time.Second, "2 ready pods", func() error {
		list, err := plane.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p) {
				pods = append(pods, p)
			}
		}
		if len(pods) != 2 {
			return fmt.Errorf("%d of %d pods running and ready", len(pods), len(list.Items))
		}
		return nil
	})
	var ips []string
	for _, p := range pods {
		if p.Spec.NodeName != "portcullis-node-0" {
			t.Errorf("pod %s scheduled to %q", p.Name, p.Spec.NodeName)
		}
		if !strings.HasPrefix(p.Status.PodIP, "10.244.0.") {
			t.Errorf("pod %s IP %q not in 10.244.0.0/24", p.Name, p.Status.PodIP)
		}
		ips = append(ips, p.Status.PodIP)
	}
	if ips[0] == ips[1] {
		t.Fatalf("both pods have IP %s", ips[0])
	}

	eventually(t, 30*time.Second, "EndpointSlice with both pod IPs", func() error {
		list, err := plane.client.DiscoveryV1().EndpointSlices(ns).List(ctx,
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=echo"})
		if err != nil {
			return err
		}
		var got []string
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got = append(got, e.Addresses...)
				}
			}
			if len(s.Ports) != 1 || s.Ports[0].Port == nil || *s.Ports[0].Port != 3000 {
				return fmt.Errorf("slice %s ports %v", s.Name, s.Ports)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(ips))
		if !slices.Equal(got, want) {
			return fmt.Errorf("ready endpoints %v, want %v", got, want)
		}
		return nil
	})

	client := &http.Client{Timeout: 5 * time.Second}
	for _, p := range pods {
		resp, err := client.Get("http://" + p.Status.PodIP + ":3000/hello?x=1")
		if err != nil {
			t.Fatalf("GET pod %s: %v", p.Name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var echo struct {
			Path, Namespace, Pod, Service string
		}
		if err := json.Unmarshal(body, &echo); err != nil {
			t.Fatalf("pod %s: %v: %s", p.Name, err, body)
		}
		if resp.StatusCode != 200 || echo.Pod != p.Name || echo.Namespace != ns || echo.Service != "echo" || echo.Path != "/hello?x=1" {
			t.Errorf("pod %s answered %d %+v", p.Name, resp.StatusCode, echo)
		}
	}
}

const exitManifest = `apiVersion: v1
kind: Pod
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  restartPolicy: %[3]s
  containers:
  - name: sh
    image: portcullis.test/sh
    command: [sh, -c]
    args: ["echo $POD_IP > /dev/null; exit 3"]
    env:
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
`

// TestPodExitStatus: a container that exits 3 makes a restartPolicy=Never pod Failed with
// exit code 3, and is restarted (restartCount grows) under restartPolicy=Always; an
// image the node cannot run fails the pod with the reason.
func TestPodExitStatus(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("exit-%d", time.Now().UnixNano()%1e6)
	plane.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", ns)+
		fmt.Sprintf(exitManifest, ns, "never", "Never")+"---\n"+fmt.Sprintf(exitManifest, ns, "always", "Always")+
		fmt.Sprintf("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: unknown\n  namespace: %s\nspec:\n  containers:\n  - name: c\n    image: example.com/nope:1\n", ns))
	get := func(name string) (*corev1.Pod, error) {
		return plane.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	}
	eventually(t, 60*time.Second, "pod never Failed with exit 3", func() error {
		p, err := get("never")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodFailed || len(p.Status.ContainerStatuses) != 1 {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 {
			return fmt.Errorf("state %+v", p.Status.ContainerStatuses[0].State)
		}
		return nil
	})
	eventually(t, 60*time.Second, "pod always restarted twice", func() error {
		p, err := get("always")
		if err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].RestartCount < 2 {
			return fmt.Errorf("phase %s statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 3 {
			return fmt.Errorf("last termination %+v", last)
		}
		return nil
	})
	eventually(t, 60*time.Second, "pod unknown Failed", func() error {
		p, err := get("unknown")
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodFailed || !strings.Contains(p.Status.Message, "example.com/nope:1") {
			return fmt.Errorf("phase %s message %q", p.Status.Phase, p.Status.Message)
		}
		return nil
	})
	// Deleting a pod removes its network namespace (named by portcullis-kubenode
	// after the pod UID: pcpod-<first 10 hex digits of sha256(uid)>).
	p, err := get("always")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(p.UID))
	netns := "pcpod-" + hex.EncodeToString(sum[:])[:10]
	if !slices.Contains(netnsList(t), netns) {
		t.Fatalf("pod always: netns %s not in %v", netns, netnsList(t))
	}
	if err := plane.client.CoreV1().Pods(ns).Delete(ctx, "always", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "pod always gone with its namespace", func() error {
		if _, err := get("always"); err == nil {
			return fmt.Errorf("pod still there")
		}
		if slices.Contains(netnsList(t), netns) {
			return fmt.Errorf("netns %s still there", netns)
		}
		return nil
	})
}

func netnsList(t *testing.T) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
