package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

type config struct {
	nodeName    string
	podCIDR     netip.Prefix
	bridge      string
	netnsPrefix string
	imageDir    string
	stateDir    string
}

// provider is the virtual-kubelet PodLifecycleHandler (and PodNotifier) that runs pods
// as processes.
type provider struct {
	cfg     config
	client  kubernetes.Interface
	gateway netip.Addr

	mu      sync.Mutex
	pods    map[string]*podRun // namespace/name
	usedIPs map[netip.Addr]bool
	lastIP  netip.Addr // the last pod IP handed out (allocIP)
	notify  func(*corev1.Pod)
	// mountPoints counts the pods using each mount-point directory this agent created.
	mountPoints map[string]int
}

type podRun struct {
	p       *provider
	pod     *corev1.Pod // spec as given to CreatePod; status owned by the provider (under p.mu)
	netns   string
	addr    netip.Addr
	ctrs    []*ctrRun
	started bool // some container has been started (under p.mu)
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// volumesDir is the pod's volume tmpfs while mounted; mountPoints the directories it
	// holds a reference to (volumes.go).
	volumesDir     string
	volumesWritten bool // (under p.mu) the volumes are written: sourceChanged may update them
	mountPoints    []string
}

type ctrRun struct {
	spec     corev1.Container
	argv     []string
	wrap     []string // mount-exec prefix when the container mounts volumes
	log      *ctrLog  // output of this run and the previous one (logs.go)
	env      []string
	status   corev1.ContainerStatus // under p.mu
	proc     *os.Process            // under p.mu; nil when not running
	finished bool                   // no more restarts (under p.mu)
}

func newProvider(cfg config, client kubernetes.Interface) (*provider, error) {
	if err := os.MkdirAll(filepath.Join(cfg.stateDir, "pods"), 0o755); err != nil {
		return nil, err
	}
	p := &provider{
		cfg: cfg, client: client, gateway: cfg.podCIDR.Addr().Next(),
		pods: map[string]*podRun{}, usedIPs: map[netip.Addr]bool{},
		notify: func(*corev1.Pod) {}, mountPoints: map[string]int{},
	}
	if err := p.setupBridge(); err != nil {
		return nil, err
	}
	return p, nil
}

func key(ns, name string) string { return ns + "/" + name }

// NotifyPods registers virtual-kubelet's status callback.
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = f
	p.mu.Unlock()
}

// publish recomputes the pod's status from its containers and sends it (p.mu held).
func (r *podRun) publish() {
	now := metav1.Now()
	st := &r.pod.Status
	st.ContainerStatuses = st.ContainerStatuses[:0]
	running, ready, finished, failed := 0, 0, 0, 0
	for _, c := range r.ctrs {
		st.ContainerStatuses = append(st.ContainerStatuses, *c.status.DeepCopy())
		if c.status.State.Running != nil {
			running++
		}
		if c.status.Ready {
			ready++
		}
		if c.finished {
			finished++
			if t := c.status.State.Terminated; t != nil && t.ExitCode != 0 {
				failed++
			}
		}
	}
	switch {
	case st.Phase == corev1.PodFailed && len(r.ctrs) == 0: // rejected at creation
	case finished == len(r.ctrs) && failed > 0:
		st.Phase = corev1.PodFailed
	case finished == len(r.ctrs):
		st.Phase = corev1.PodSucceeded
	case running > 0 || finished > 0 || r.started:
		// A pod stays Running while a container waits to be restarted.
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	allReady := corev1.ConditionFalse
	if ready == len(r.ctrs) && len(r.ctrs) > 0 && st.Phase == corev1.PodRunning {
		allReady = corev1.ConditionTrue
	}
	setCondition(st, corev1.PodScheduled, corev1.ConditionTrue, now)
	setCondition(st, corev1.PodInitialized, corev1.ConditionTrue, now)
	setCondition(st, corev1.ContainersReady, allReady, now)
	setCondition(st, corev1.PodReady, allReady, now)
	r.p.notify(r.pod.DeepCopy())
}

func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, s corev1.ConditionStatus, now metav1.Time) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status != s {
				st.Conditions[i].Status, st.Conditions[i].LastTransitionTime = s, now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now})
}

// CreatePod sets up the pod's network namespace and starts its containers. A pod this
// node cannot run faithfully (unknown image, unsupported volume, init containers) is
// reported Failed with the reason, never run approximately.
func (p *provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, HostIP: p.gateway.String(), StartTime: &now,
		HostIPs: []corev1.HostIP{{IP: p.gateway.String()}}}
	r := &podRun{p: p, pod: pod}
	if err := p.prepare(ctx, r); err != nil {
		log.Printf("pod %s/%s rejected: %v", pod.Namespace, pod.Name, err)
		p.mu.Lock()
		defer p.mu.Unlock()
		r.ctrs = nil
		pod.Status.Phase, pod.Status.Reason, pod.Status.Message = corev1.PodFailed, "PortcullisKubenodeUnsupported", err.Error()
		p.pods[key(pod.Namespace, pod.Name)] = r
		r.publish()
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pods[key(pod.Namespace, pod.Name)] = r
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	// Volumes first (retried while a Secret is missing), then the containers.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if !r.mountVolumes(runCtx) {
			return
		}
		for _, c := range r.ctrs {
			r.wg.Add(1)
			go r.supervise(runCtx, c)
		}
	}()
	r.publish()
	log.Printf("pod %s/%s: ip %s netns %s", pod.Namespace, pod.Name, r.addr, r.netns)
	return nil
}

// prepare validates the pod, resolves images and environment, allocates the IP and
// creates the network namespace.
func (p *provider) prepare(ctx context.Context, r *podRun) error {
	pod := r.pod
	if len(pod.Spec.InitContainers) > 0 {
		return fmt.Errorf("init containers are not supported")
	}
	if pod.Spec.HostNetwork {
		return fmt.Errorf("hostNetwork pods are not supported")
	}
	if err := checkVolumes(pod); err != nil {
		return err
	}
	for i := range pod.Spec.Containers {
		c := pod.Spec.Containers[i]
		argv, err := p.argv(&c)
		if err != nil {
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		r.ctrs = append(r.ctrs, &ctrRun{spec: c, argv: argv, log: &ctrLog{}, status: corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "portcullis-process://" + argv[0],
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		}})
	}
	p.mu.Lock()
	addr, err := p.allocIP()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	r.addr = addr
	netns, hostIf := p.podNetwork(string(pod.UID))
	r.netns = netns
	if err := p.setupPodNetwork(netns, hostIf, addr); err != nil {
		p.releasePodNetwork(r)
		return err
	}
	pod.Status.PodIP = addr.String()
	pod.Status.PodIPs = []corev1.PodIP{{IP: addr.String()}}
	for _, c := range r.ctrs {
		if c.env, err = p.resolveEnv(ctx, pod, &c.spec, addr); err != nil {
			p.releasePodNetwork(r)
			return fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
		for _, a := range c.argv {
			if strings.Contains(a, "$(") {
				p.releasePodNetwork(r)
				return fmt.Errorf("container %s: $(VAR) expansion in command/args is not supported", c.spec.Name)
			}
		}
	}
	return nil
}

// supervise runs one container, restarting it as the pod's restartPolicy says.
func (r *podRun) supervise(ctx context.Context, c *ctrRun) {
	defer r.wg.Done()
	p := r.p
	logPath := filepath.Join(p.cfg.stateDir, "pods", fmt.Sprintf("%s_%s_%s.log", r.pod.Namespace, r.pod.Name, c.spec.Name))
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return
		}
		exitCode, reason, msg := r.runOnce(ctx, c, logPath)
		p.mu.Lock()
		term := &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, Message: msg, FinishedAt: metav1.Now()}
		if c.status.State.Running != nil {
			term.StartedAt = c.status.State.Running.StartedAt
		}
		c.status.State = corev1.ContainerState{Terminated: term}
		c.status.Ready = false
		c.status.Started = ptr(false)
		restart := ctx.Err() == nil && (r.pod.Spec.RestartPolicy == corev1.RestartPolicyAlways ||
			r.pod.Spec.RestartPolicy == "" ||
			(r.pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && exitCode != 0))
		if !restart {
			c.finished = true
			r.publish()
			p.mu.Unlock()
			return
		}
		c.status.LastTerminationState = corev1.ContainerState{Terminated: term}
		c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off restarting failed container %s", c.spec.Name)}}
		r.publish()
		p.mu.Unlock()
		// Kubernetes backs off 10 s doubling to 5 min; we use 1 s doubling to 30 s.
		backoff := time.Second << min(attempt, 5)
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(backoff, 30*time.Second)):
		}
		p.mu.Lock()
		c.status.RestartCount++
		p.mu.Unlock()
	}
}

// runOnce starts the container's process in the pod's namespace and waits for it.
func (r *podRun) runOnce(ctx context.Context, c *ctrRun, logPath string) (int32, string, string) {
	p := r.p
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 128, "StartError", err.Error()
	}
	defer logf.Close()
	// `ip netns exec` enters the namespace and execs the program in place.
	// With volumes, portcullis-kubenode mount-exec mounts them first (volumes.go).
	args := append([]string{"netns", "exec", r.netns}, c.wrap...)
	cmd := exec.Command("ip", append(args, c.argv...)...)
	// Output goes to the log file and to the kubelet API's log buffer (logs.go).
	c.log.restart()
	c.log.mu.Lock()
	c.log.file = logf
	c.log.mu.Unlock()
	defer func() { c.log.mu.Lock(); c.log.file = nil; c.log.mu.Unlock() }()
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, c.log, c.log
	// A background child still holding the output pipe does not keep Wait waiting.
	cmd.WaitDelay = 2 * time.Second
	cmd.Dir = "/"
	if c.spec.WorkingDir != "" {
		cmd.Dir = c.spec.WorkingDir
	}
	// Own process group (so the whole tree is signalled) and killed if the agent dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 128, "StartError", err.Error()
	}
	p.mu.Lock()
	c.proc = cmd.Process
	c.status.ContainerID = "portcullis-process://" + strconv.Itoa(cmd.Process.Pid)
	c.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	c.status.Started = ptr(true)
	r.started = true
	r.publish()
	p.mu.Unlock()

	probeCtx, stopProbe := context.WithCancel(ctx)
	go r.readiness(probeCtx, c)
	err = cmd.Wait()
	stopProbe()
	p.mu.Lock()
	c.proc = nil
	p.mu.Unlock()
	if err == nil {
		return 0, "Completed", ""
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int32(ws.Signal()), "Error", ws.Signal().String()
		}
		return int32(ee.ExitCode()), "Error", ""
	}
	return 128, "Error", err.Error()
}

// readiness sets the container's Ready flag. With a readinessProbe: httpGet and
// tcpSocket probes run from the host against the pod IP with the probe's delay,
// period, timeout and thresholds; other probe kinds leave the container unready
// (loud, not guessed). Without a probe: Ready once every declared TCP containerPort
// accepts connections (Kubernetes would say Ready at start; waiting for the listener
// makes tests that wait for Ready not race the program's startup).
func (r *podRun) readiness(ctx context.Context, c *ctrRun) {
	set := func(ready bool) {
		r.p.mu.Lock()
		defer r.p.mu.Unlock()
		if c.status.Ready != ready && c.proc != nil {
			c.status.Ready = ready
			r.publish()
		}
	}
	pr := c.spec.ReadinessProbe
	if pr == nil {
		for {
			ok := true
			for _, port := range c.spec.Ports {
				if port.Protocol == corev1.ProtocolTCP || port.Protocol == "" {
					ok = ok && r.tcpProbe(int(port.ContainerPort), time.Second) == nil
				}
			}
			if ok {
				set(true)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if pr.HTTPGet == nil && pr.TCPSocket == nil {
		log.Printf("pod %s/%s container %s: only httpGet and tcpSocket readiness probes are supported; staying unready", r.pod.Namespace, r.pod.Name, c.spec.Name)
		return
	}
	period := time.Duration(max(pr.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(pr.TimeoutSeconds, 1)) * time.Second
	succ, fail := int(max(pr.SuccessThreshold, 1)), int(max(pr.FailureThreshold, 1))
	wait := time.Duration(pr.InitialDelaySeconds) * time.Second
	okRun, failRun := 0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = period
		var err error
		if pr.HTTPGet != nil {
			err = r.httpProbe(ctx, c, pr.HTTPGet, timeout)
		} else {
			err = r.tcpProbe(r.port(c, pr.TCPSocket.Port), timeout)
		}
		if err == nil {
			okRun, failRun = okRun+1, 0
			if okRun >= succ {
				set(true)
			}
		} else {
			okRun, failRun = 0, failRun+1
			if failRun >= fail {
				set(false)
			}
		}
	}
}

func (r *podRun) port(c *ctrRun, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.spec.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

func (r *podRun) tcpProbe(port int, timeout time.Duration) error {
	if port <= 0 {
		return fmt.Errorf("no such port")
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(r.addr.String(), strconv.Itoa(port)), timeout)
	if err == nil {
		conn.Close()
	}
	return err
}

func (r *podRun) httpProbe(ctx context.Context, c *ctrRun, g *corev1.HTTPGetAction, timeout time.Duration) error {
	if g.Scheme == corev1.URISchemeHTTPS {
		return fmt.Errorf("https probes are not supported")
	}
	host := r.addr.String()
	if g.Host != "" {
		host = g.Host
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, strconv.Itoa(r.port(c, g.Port)))+g.Path, nil)
	if err != nil {
		return err
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	// The only mutable container field is the image; a running process cannot change it.
	return nil
}

// DeletePod stops the containers (SIGTERM, then SIGKILL after the grace period),
// deletes the namespace and reports the terminal status.
func (p *provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	r, ok := p.pods[key(pod.Namespace, pod.Name)]
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s/%s not found", pod.Namespace, pod.Name)
	}
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	r.stop(grace)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range r.ctrs {
		c.finished = true
		if c.status.State.Terminated == nil {
			c.status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Killed", FinishedAt: metav1.Now()}}
		}
	}
	r.publish()
	delete(p.pods, key(pod.Namespace, pod.Name))
	return nil
}

func (r *podRun) stop(grace time.Duration) {
	if r.cancel != nil {
		r.cancel()
	}
	signal := func(sig syscall.Signal) {
		r.p.mu.Lock()
		defer r.p.mu.Unlock()
		for _, c := range r.ctrs {
			if c.proc != nil {
				_ = syscall.Kill(-c.proc.Pid, sig)
			}
		}
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		signal(syscall.SIGKILL)
		<-done
	}
	r.p.releasePodNetwork(r)
	r.p.releaseVolumes(r)
}

// releasePodNetwork deletes the pod's namespace and frees its IP.
func (p *provider) releasePodNetwork(r *podRun) {
	if r.netns == "" {
		return
	}
	if err := p.deletePodNetwork(r.netns); err != nil {
		log.Printf("pod %s/%s: %v", r.pod.Namespace, r.pod.Name, err)
	}
	p.mu.Lock()
	delete(p.usedIPs, r.addr)
	r.netns = ""
	p.mu.Unlock()
}

func (p *provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[key(namespace, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s not found", namespace, name)
	}
	return r.pod.DeepCopy(), nil
}

func (p *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, r := range p.pods {
		out = append(out, r.pod.DeepCopy())
	}
	return out, nil
}

// shutdown stops every pod (2 s grace) and deletes the bridge.
func (p *provider) shutdown() {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop(2 * time.Second) }()
	}
	wg.Wait()
	if err := ip("link", "delete", p.cfg.bridge); err != nil {
		log.Print(err)
	}
	p.unrecord("bridge", p.cfg.bridge)
	log.Printf("stopped %d pods, deleted bridge %s", len(runs), p.cfg.bridge)
}

func ptr[T any](v T) *T { return &v }
