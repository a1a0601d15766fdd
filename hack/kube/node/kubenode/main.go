// Command portcullis-kubenode is the test control plane's node agent: a virtual-kubelet
// node (node.NewNodeController + node.NewPodController from
// github.com/virtual-kubelet/virtual-kubelet) whose provider runs each pod's containers
// as local processes, one Linux network namespace per pod, plugged into a bridge with a
// routable pod IP. Images are not pulled: each image name maps to a program built
// locally (see images.go). Started by hack/kube/up.sh --with-nodes; needs root.
//
// Design and limits: docs/design/0018-test-control-plane-nodes.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "mount-exec" {
		mountExec(os.Args[2:]) // does not return
	}
	var cfg config
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	cidr := flag.String("pod-cidr", "10.244.0.0/24", "pod IPs come from this IPv4 prefix; its first address is the bridge (node) address")
	flag.StringVar(&cfg.nodeName, "node-name", "portcullis-node-0", "name of the Node object")
	flag.StringVar(&cfg.bridge, "bridge", "pcbr0", "Linux bridge the pods' veths are attached to (created, must not exist)")
	flag.StringVar(&cfg.netnsPrefix, "netns-prefix", "pcpod-", "prefix of the pods' network namespace names")
	flag.StringVar(&cfg.imageDir, "image-dir", "", "directory holding the programs images map to (default: this binary's directory)")
	flag.StringVar(&cfg.stateDir, "state-dir", "", "directory for container logs and the list of namespaces to clean up")
	flag.Parse()
	if *kubeconfig == "" || cfg.stateDir == "" {
		log.Fatal("--kubeconfig and --state-dir are required")
	}
	prefix, err := netip.ParsePrefix(*cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 29 {
		log.Fatalf("--pod-cidr %q: need an IPv4 prefix of /29 or larger", *cidr)
	}
	cfg.podCIDR = prefix.Masked()
	if cfg.imageDir == "" {
		exe, err := os.Executable()
		if err != nil {
			log.Fatal(err)
		}
		cfg.imageDir = dirOf(exe)
	}
	if err := run(cfg, *kubeconfig); err != nil {
		log.Fatal(err)
	}
}

func run(cfg config, kubeconfig string) error {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	// virtual-kubelet's own log (sync errors, retries) goes to stderr too.
	vklog.L = vkslog.FromSlog(slog.Default())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	p, err := newProvider(cfg, client)
	if err != nil {
		return err
	}
	// However we leave, kill every pod process and delete every namespace and the bridge.
	defer p.shutdown()
	// The kubelet API (container logs) on the node's address (logs.go).
	srv, err := p.serveKubeletAPI()
	if err != nil {
		return fmt.Errorf("kubelet API: %w", err)
	}
	defer srv.Close()

	nc, err := node.NewNodeController(node.NaiveNodeProvider{}, p.nodeObject(), client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(client.CoordinationV1().Leases(corev1.NamespaceNodeLease), 40))
	if err != nil {
		return err
	}

	own := informers.NewSharedInformerFactoryWithOptions(client, time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.nodeName).String()
		}))
	all := informers.NewSharedInformerFactory(client, time.Minute)
	bc := record.NewBroadcaster()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer bc.Shutdown()
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient:         client.CoreV1(),
		PodInformer:       own.Core().V1().Pods(),
		EventRecorder:     bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "portcullis-kubenode", Host: cfg.nodeName}),
		Provider:          p,
		ConfigMapInformer: all.Core().V1().ConfigMaps(),
		SecretInformer:    all.Core().V1().Secrets(),
		ServiceInformer:   all.Core().V1().Services(),
		// The provider resolves env itself, after assigning the pod IP (env.go).
		SkipDownwardAPIResolution: true,
	})
	if err != nil {
		return err
	}
	// A changed Secret or ConfigMap is written into the volumes that mount it (volumes.go).
	// (The informers' periodic resync repeats unchanged objects: skipped.)
	onChange := cache.ResourceEventHandlerFuncs{AddFunc: p.sourceChanged, UpdateFunc: func(old, o any) {
		if a, b := old.(metav1.Object), o.(metav1.Object); a.GetResourceVersion() != b.GetResourceVersion() {
			p.sourceChanged(o)
		}
	}}
	for _, inf := range []cache.SharedIndexInformer{all.Core().V1().Secrets().Informer(), all.Core().V1().ConfigMaps().Informer()} {
		if _, err := inf.AddEventHandler(onChange); err != nil {
			return err
		}
	}
	own.Start(ctx.Done())
	all.Start(ctx.Done())

	errs := make(chan error, 2)
	go func() { errs <- nc.Run(ctx) }()
	go func() { errs <- pc.Run(ctx, 4) }()
	select {
	case <-pc.Ready():
		log.Printf("node %s ready: pods on %s (bridge %s)", cfg.nodeName, cfg.podCIDR, cfg.bridge)
	case err := <-errs:
		return fmt.Errorf("controller stopped before ready: %w", err)
	}
	select {
	case <-ctx.Done():
		log.Printf("shutting down")
		return nil
	case err := <-errs:
		return fmt.Errorf("controller stopped: %w", err)
	}
}

// nodeObject is the Node registered for this agent: Ready, with room for many pods.
func (p *provider) nodeObject() *corev1.Node {
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.cfg.nodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": p.cfg.nodeName,
				"kubernetes.io/os":       "linux",
				"type":                   "portcullis-kubenode",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: p.cfg.podCIDR.String(), PodCIDRs: []string{p.cfg.podCIDR.String()}},
		Status: corev1.NodeStatus{
			Capacity:    nodeResources(),
			Allocatable: nodeResources(),
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "portcullis-kubenode is running", LastHeartbeatTime: now, LastTransitionTime: now,
			}},
			// No Hostname address: the API server would try to resolve it (its default
			// --kubelet-preferred-address-types puts Hostname first) to reach the
			// kubelet API; the node name resolves nowhere.
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: p.gateway.String()}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: kubeletPort}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: "linux", Architecture: "amd64",
				KubeletVersion: "portcullis-kubenode", ContainerRuntimeVersion: "portcullis-process://0",
			},
		},
	}
}

func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}
