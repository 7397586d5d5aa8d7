//go:build e2e

// Package e2e is the anycast end-to-end harness: a real kube-apiserver (internal/controlplane),
// one MetalLB speaker process per simulated region, each in its own network namespace, and an
// FRR router namespace peering with all of them. There is no kubelet: the harness writes the
// Node and Pod objects the speakers need and plays the kubelet's part in the EndpointSlices.
// See README.md. Everything here needs root and the tools of hack/e2e-tools.sh.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/metallblog"
)

// Region is one simulated region: one Node object, one speaker, one veth to the router.
type Region struct {
	// Name is the region, e.g. "us-east": the Node's topology.kubernetes.io/region label.
	Name string
	// Node is the Node object's name; default "<name>-<run id>".
	Node string
	// Labels are extra Node labels.
	Labels map[string]string
}

// Options describe a topology.
type Options struct {
	Regions []Region
	// RouterASN is the router's AS number.
	RouterASN uint32
	// IBGP: the router expects the speakers in its own AS (neighbours `remote-as internal`), which
	// LOCAL_PREF needs. Otherwise neighbours are `remote-as external`.
	IBGP bool
	// MD5 maps a region name to the TCP MD5 password the router uses for that region's session.
	MD5 map[string]string
	// SpeakerBinary is MetalLB's speaker; default $METALLB_SPEAKER or the hack/e2e-tools.sh cache.
	SpeakerBinary string
	// ControllerBinary is MetalLB's controller; default $METALLB_CONTROLLER or the cache.
	ControllerBinary string
	// BGPType is the speakers' METALLB_BGP_TYPE: native (default) or frr-k8s, in which every region
	// also runs FRR, frr-k8s' reloader, daemon and status exporter.
	BGPType BGPType
	// RouterBFD runs bfdd on the router with BFD on every neighbour (FRR's defaults: 300 ms × 3).
	RouterBFD bool
	// RouterGracefulRestart makes the router advertise graceful restart; RouterNoGracefulRestart
	// turns it off altogether, helper role included (see Router).
	RouterGracefulRestart, RouterNoGracefulRestart bool
	// RouterPolicy is extra router configuration (community lists, route-maps), and RouterImport a
	// route-map of it applied to every neighbour's announcements.
	RouterPolicy, RouterImport string
	// ClusterPerRegion makes every region a cluster of its own, as anycast siblings are: its
	// speaker and its own MetalLB controller serve only Services of loadBalancerClass
	// LBClass(region). Otherwise one controller serves Services without a class.
	ClusterPerRegion bool
	// SpeakerLogLevel is info (default), warn or error. debug is refused: it prints MD5 passwords.
	SpeakerLogLevel string
}

// RegionNode is a region as built: its namespace, addresses, objects and speaker.
type RegionNode struct {
	Region
	Index int
	Netns string
	// Addr is the node's address on its veth to the router: the BGP next hop of its paths.
	Addr netip.Addr
	// RouterAddr is the router's address on that veth: the BGPPeer's peerAddress.
	RouterAddr netip.Addr
	// PodIP is the address the harness puts in this region's endpoints.
	PodIP netip.Addr
	// Kubeconfig reaches the apiserver from inside Netns through the unix-socket bridge.
	Kubeconfig string
	// SpeakerPod is the (Pending) Pod object standing for the speaker.
	SpeakerPod  string
	SpeakerLog  string
	MetricsPort int
	Speaker     *Process
	// FRR is the region's FRR with frr-k8s (BGPType frr-k8s), else nil.
	FRR *RegionFRR
}

// Topology is a router namespace running FRR, N region namespaces with a speaker each, and the
// Kubernetes objects that go with them.
type Topology struct {
	ID      string
	Client  client.Client
	Router  *Router
	Regions []*RegionNode
	// Controllers are MetalLB's controllers (one, or one per region with ClusterPerRegion).
	Controllers []*MetalLBController

	t          testing.TB
	opts       Options
	run        *run
	logDir     string
	keepDir    string
	apiPort    int
	socket     string
	kubeconfig []byte
	created    []client.Object
	// marks are the MetalLB logs AssertMetalLBAccepts judges, and how far.
	marks []*logMark
}

// Addressing. Documentation ranges only: region i's /30 is 198.51.100.4i/30 (router .4i+1, node
// .4i+2), pod addresses come from 203.0.113.0/24, the router ID is 203.0.113.254.
const (
	maxRegions = 60
	// BridgePort is where each region namespace reaches the apiserver (127.0.0.1:BridgePort).
	BridgePort = 6443
	// SpeakerImage only decorates the Pending speaker Pods.
	SpeakerImage = "quay.io/metallb/speaker:v0.15.2"
)

// DefaultRegions are the three regions of the anycast tests.
func DefaultRegions() []Region {
	return []Region{{Name: "us-east"}, {Name: "eu-west"}, {Name: "ap-south"}}
}

// skipOrFail skips locally but fails in CI, where a skipped e2e suite would hide that nothing ran.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Preflight checks root and the tools; it skips the test (fails it under CI=true) without them.
func Preflight(t testing.TB, binaries ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "the anycast e2e needs root (network namespaces, veths, TCP MD5)")
	}
	for _, p := range append(binaries, filepath.Join(FRRDir, "bgpd"), filepath.Join(FRRDir, "zebra")) {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "%s missing: run hack/e2e-tools.sh", p)
		}
	}
	for _, bin := range []string{Vtysh, "socat", "ip", "ss"} {
		if _, err := exec.LookPath(bin); err != nil {
			skipOrFail(t, "%s missing: run hack/e2e-tools.sh", bin)
		}
	}
}

// NewTopology builds the whole topology and registers its teardown with t.Cleanup: every
// process is killed, every namespace and veth deleted and every object it (or Create) made
// removed, whatever the test's outcome. On failure the speakers' and the router's log tails are
// printed first. The MetalLB objects are the caller's (or the operator's) business.
func NewTopology(t testing.TB, cp *controlplane.ControlPlane, opts Options) *Topology {
	t.Helper()
	if opts.SpeakerBinary == "" {
		opts.SpeakerBinary = DefaultSpeakerBinary()
	}
	if opts.ControllerBinary == "" {
		opts.ControllerBinary = controlplane.MetalLBControllerBinary()
	}
	binaries := []string{opts.SpeakerBinary, opts.ControllerBinary}
	switch opts.BGPType {
	case "":
		opts.BGPType = BGPNative
	case BGPNative:
	case BGPFRRK8s:
		binaries = append(binaries, filepath.Join(FRRK8sDir(), "frr-k8s"), filepath.Join(FRRK8sDir(), "frr-status"),
			filepath.Join(FRRDir, "bfdd"), filepath.Join(FRRDir, "frr-reload.py"))
	default:
		t.Fatalf("BGP type %q: want native or frr-k8s", opts.BGPType)
	}
	if opts.RouterBFD {
		binaries = append(binaries, filepath.Join(FRRDir, "bfdd"))
	}
	switch opts.SpeakerLogLevel {
	case "":
		opts.SpeakerLogLevel = "info"
	case "info", "warn", "error":
	default:
		t.Fatalf("speaker log level %q refused: only info, warn or error (debug prints MD5 passwords)", opts.SpeakerLogLevel)
	}
	if len(opts.Regions) == 0 || len(opts.Regions) > maxRegions {
		t.Fatalf("need 1..%d regions, got %d", maxRegions, len(opts.Regions))
	}
	seen := map[string]bool{}
	for _, r := range opts.Regions {
		if seen[r.Name] {
			t.Fatalf("region %q given twice", r.Name)
		}
		seen[r.Name] = true
	}
	for name := range opts.MD5 {
		if !slices.ContainsFunc(opts.Regions, func(r Region) bool { return r.Name == name }) {
			t.Fatalf("MD5 password for unknown region %q", name)
		}
	}
	Preflight(t, binaries...)

	r, err := newRun()
	if err != nil {
		t.Fatalf("creating the run directory: %v", err)
	}
	tp := &Topology{ID: r.id, t: t, opts: opts, run: r, logDir: t.TempDir()}
	// Registered first, so it runs last: after the failure dump and after the test's own cleanups.
	t.Cleanup(tp.teardown)
	t.Cleanup(func() {
		if t.Failed() {
			tp.DumpLogs()
		}
	})
	if keep := os.Getenv("E2E_LOG_DIR"); keep != "" {
		// Kept after the run (t.TempDir is removed): E2E_LOG_DIR/<test>-<run id>/.
		tp.keepDir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+"-"+r.id)
		if err := os.MkdirAll(tp.keepDir, 0o755); err != nil {
			t.Fatal(err)
		}
		tp.logDir = tp.keepDir
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := tp.setup(ctx, cp); err != nil {
		t.Fatalf("building the topology: %v", err)
	}
	return tp
}

func (tp *Topology) setup(ctx context.Context, cp *controlplane.ControlPlane) error {
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	if tp.Client, err = client.New(cp.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if tp.kubeconfig, err = cp.KubeConfig(); err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	host := cp.Config.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return err
	}
	if tp.apiPort, err = strconv.Atoi(u.Port()); err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("expected the apiserver on 127.0.0.1:<port>, got %s", cp.Config.Host)
	}
	if err := ensureNamespace(ctx, tp.Client, MetalLBNamespace); err != nil {
		return err
	}
	if tp.opts.BGPType == BGPFRRK8s {
		if err := ensureNamespace(ctx, tp.Client, FRRK8sNamespace); err != nil {
			return err
		}
	}

	// Namespaces and veths.
	tp.Router = &Router{
		Netns: tp.run.netns("router"), Pathspace: tp.run.pathspace(), ASN: tp.opts.RouterASN,
		RouterID: netip.MustParseAddr("203.0.113.254"), IBGP: tp.opts.IBGP, Dir: filepath.Join(tp.run.dir, "router"),
		BFD: tp.opts.RouterBFD, GracefulRestart: tp.opts.RouterGracefulRestart, NoGracefulRestartHelper: tp.opts.RouterNoGracefulRestart,
		Policy: tp.opts.RouterPolicy, Import: tp.opts.RouterImport,
		// FRR speakers listen as well: the router dials again within seconds after a cut link
		// comes back, where FRR's default connect-retry timer would make the node wait 120 s.
		Active: tp.opts.BGPType == BGPFRRK8s,
	}
	if err := tp.addNetns(ctx, tp.Router.Netns); err != nil {
		return err
	}
	var neighbors []RouterNeighbor
	for i, reg := range tp.opts.Regions {
		if reg.Name == "" || len(reg.Name) > 20 {
			return fmt.Errorf("region name %q: want 1..20 characters", reg.Name)
		}
		if reg.Node == "" {
			reg.Node = reg.Name + "-" + tp.ID
		}
		base := netip.AddrFrom4([4]byte{198, 51, 100, byte(4 * i)})
		rn := &RegionNode{
			Region: reg, Index: i, Netns: tp.run.netns(reg.Name),
			RouterAddr: base.Next(), Addr: base.Next().Next(),
			PodIP:       netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}),
			SpeakerPod:  "speaker-" + reg.Node,
			SpeakerLog:  filepath.Join(tp.logDir, "speaker-"+reg.Name+".log"),
			MetricsPort: 7472 + i,
		}
		tp.Regions = append(tp.Regions, rn)
		if err := tp.addNetns(ctx, rn.Netns); err != nil {
			return err
		}
		if err := tp.addVeth(ctx, rn); err != nil {
			return err
		}
		neighbors = append(neighbors, RouterNeighbor{Address: rn.Addr, Description: reg.Name, Password: tp.opts.MD5[reg.Name]})
	}

	if err := tp.run.startRouter(ctx, tp.Router, neighbors); err != nil {
		return fmt.Errorf("starting FRR: %w", err)
	}
	if err := tp.startBridge(ctx); err != nil {
		return err
	}
	for _, rn := range tp.Regions {
		if err := tp.startNetnsBridge(ctx, rn.Name, rn.Netns); err != nil {
			return err
		}
		if rn.Kubeconfig, err = tp.writeKubeconfig(rn.Name); err != nil {
			return err
		}
		if err := tp.createNodeAndPod(ctx, rn); err != nil {
			return err
		}
		if tp.opts.BGPType == BGPFRRK8s {
			if err := tp.startRegionFRR(ctx, rn); err != nil {
				return fmt.Errorf("FRR of %s: %w", rn.Name, err)
			}
			if err := tp.Create(ctx, frrK8sPod(rn, tp.ID)); err != nil {
				return err
			}
			if err := tp.startFRRK8s(rn); err != nil {
				return fmt.Errorf("frr-k8s of %s: %w", rn.Name, err)
			}
		}
	}
	if err := tp.startMetalLBControllers(ctx); err != nil {
		return fmt.Errorf("starting MetalLB's controller: %w", err)
	}
	for _, rn := range tp.Regions {
		tp.watchLog(rn.SpeakerLog, metallblog.MetalLB)
		if err := tp.StartSpeaker(rn.Name); err != nil {
			return err
		}
	}
	return tp.WaitSpeakersReady(60 * time.Second)
}

// SpeakerControllers are the speaker's controllers whose "Starting workers" log line (logged at
// info by controller-runtime once the caches are synced) marks it ready to act on objects.
var SpeakerControllers = []string{"bgppeer", "node", "service"}

// WaitSpeakersReady waits until every running speaker has started SpeakerControllers, so that
// timings taken afterwards do not include the speakers' own startup (~1 s).
func (tp *Topology) WaitSpeakersReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, rn := range tp.Regions {
		for {
			b, _ := os.ReadFile(rn.SpeakerLog)
			missing := ""
			for _, c := range SpeakerControllers {
				if !strings.Contains(string(b), `"msg":"Starting workers","controller":"`+c+`"`) {
					missing = c
					break
				}
			}
			if missing == "" {
				break
			}
			if err := tp.CheckSpeakers(); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("speaker of %s: controller %q not started after %v\n%s", rn.Name, missing, timeout, tail(rn.SpeakerLog, 15))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

var basePath = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

func (tp *Topology) addNetns(ctx context.Context, ns string) error {
	if _, err := sh(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	_, err := sh(ctx, "ip", "-n", ns, "link", "set", "lo", "up")
	return err
}

// addVeth creates the pair directly inside both namespaces, so no end ever sits in the root one.
func (tp *Topology) addVeth(ctx context.Context, rn *RegionNode) error {
	rEnd := fmt.Sprintf("%s%sr%d", Prefix, tp.ID, rn.Index)
	nEnd := fmt.Sprintf("%s%sn%d", Prefix, tp.ID, rn.Index)
	steps := [][]string{
		{"ip", "link", "add", rEnd, "netns", tp.Router.Netns, "type", "veth", "peer", "name", nEnd, "netns", rn.Netns},
		{"ip", "-n", tp.Router.Netns, "addr", "add", rn.RouterAddr.String() + "/30", "dev", rEnd},
		{"ip", "-n", rn.Netns, "addr", "add", rn.Addr.String() + "/30", "dev", nEnd},
		{"ip", "-n", tp.Router.Netns, "link", "set", rEnd, "up"},
		{"ip", "-n", rn.Netns, "link", "set", nEnd, "up"},
	}
	for _, s := range steps {
		if _, err := sh(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// startBridge exposes the apiserver (127.0.0.1:<port> in the root namespace) as a unix socket,
// which the region namespaces can reach through the shared filesystem.
func (tp *Topology) startBridge(ctx context.Context) error {
	tp.socket = filepath.Join(tp.run.dir, "kapi.sock")
	p, err := tp.run.start("socat-root", "", filepath.Join(tp.logDir, "socat-root.log"), basePath,
		"socat", "UNIX-LISTEN:"+tp.socket+",fork,mode=600", fmt.Sprintf("TCP:127.0.0.1:%d", tp.apiPort))
	if err != nil {
		return err
	}
	return waitFor(ctx, 10*time.Second, p, func() bool {
		_, err := os.Stat(tp.socket)
		return err == nil
	}, "socat to create "+tp.socket)
}

// startNetnsBridge listens on 127.0.0.1:BridgePort inside netns and forwards to the socket.
func (tp *Topology) startNetnsBridge(ctx context.Context, name, netns string) error {
	p, err := tp.run.start("socat-"+name, netns, filepath.Join(tp.logDir, "socat-"+name+".log"), basePath,
		"socat", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr", BridgePort), "UNIX-CONNECT:"+tp.socket)
	if err != nil {
		return err
	}
	return waitFor(ctx, 10*time.Second, p, func() bool {
		out, err := inNetns(ctx, netns, "ss", "-Hltn", fmt.Sprintf("sport = :%d", BridgePort))
		return err == nil && strings.TrimSpace(out) != ""
	}, fmt.Sprintf("socat to listen on 127.0.0.1:%d in %s", BridgePort, netns))
}

func waitFor(ctx context.Context, timeout time.Duration, p *Process, cond func() bool, what string) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p != nil && !p.Running() {
			return fmt.Errorf("waiting for %s: %s exited: %v\n%s", what, p.Name, p.Err(), tail(p.Log, 20))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// writeKubeconfig writes <name>.kubeconfig: the admin kubeconfig with the server set to the
// in-namespace bridge. The serving certificate covers 127.0.0.1, so the same CA verifies it.
func (tp *Topology) writeKubeconfig(name string) (string, error) {
	cfg, err := clientcmd.Load(tp.kubeconfig)
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Clusters {
		c.Server = fmt.Sprintf("https://127.0.0.1:%d", BridgePort)
	}
	path := filepath.Join(tp.run.dir, name+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

func (tp *Topology) createNodeAndPod(ctx context.Context, rn *RegionNode) error {
	labels := map[string]string{
		RegionLabel:   rn.Name,
		HostnameLabel: rn.Node,
		RunLabel:      tp.ID,
	}
	for k, v := range rn.Labels {
		labels[k] = v
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: rn.Node, Labels: labels}}
	if err := tp.Create(ctx, node); err != nil {
		return fmt.Errorf("node %s: %w", rn.Node, err)
	}
	// The speaker fetches its own Pod at startup (owner of its status objects). With no kubelet
	// it stays Pending forever.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: rn.SpeakerPod, Namespace: MetalLBNamespace,
			Labels: map[string]string{"app": "metallb", "component": "speaker", RunLabel: tp.ID},
		},
		Spec: corev1.PodSpec{
			NodeName:   rn.Node,
			Containers: []corev1.Container{{Name: "speaker", Image: SpeakerImage}},
		},
	}
	if err := tp.Create(ctx, pod); err != nil {
		return fmt.Errorf("pod %s: %w", rn.SpeakerPod, err)
	}
	return nil
}

// Region returns the named region, or nil.
func (tp *Topology) Region(name string) *RegionNode {
	for _, rn := range tp.Regions {
		if rn.Name == name {
			return rn
		}
	}
	return nil
}

func (tp *Topology) mustRegion(name string) (*RegionNode, error) {
	if rn := tp.Region(name); rn != nil {
		return rn, nil
	}
	return nil, fmt.Errorf("no region %q", name)
}

// StartSpeaker (re)starts the region's speaker in its namespace.
func (tp *Topology) StartSpeaker(region string) error {
	rn, err := tp.mustRegion(region)
	if err != nil {
		return err
	}
	if rn.Speaker != nil && rn.Speaker.Running() {
		return fmt.Errorf("speaker of %s already running", region)
	}
	env := append(slices.Clone(basePath),
		"METALLB_NODE_NAME="+rn.Node,
		"METALLB_NAMESPACE="+MetalLBNamespace,
		"METALLB_POD_NAME="+rn.SpeakerPod,
		"METALLB_BGP_TYPE="+string(tp.opts.BGPType),
		"FRRK8S_NAMESPACE="+FRRK8sNamespace,
		"METALLB_HOST=127.0.0.1", // v0.15: metrics bind host
		"KUBECONFIG="+rn.Kubeconfig,
	)
	// No --ml-bindaddr / --ml-labels: memberlist stays off (BGP does not need it).
	args := []string{tp.opts.SpeakerBinary, "--log-level=" + tp.opts.SpeakerLogLevel, fmt.Sprintf("--port=%d", rn.MetricsPort)}
	if tp.opts.ClusterPerRegion {
		args = append(args, "--lb-class="+LBClass(rn.Name))
	}
	rn.Speaker, err = tp.run.start("speaker-"+rn.Name, rn.Netns, rn.SpeakerLog, env, args...)
	return err
}

// StopSpeaker stops the region's speaker (SIGTERM; SIGKILL after grace).
func (tp *Topology) StopSpeaker(region string, grace time.Duration) error {
	rn, err := tp.mustRegion(region)
	if err != nil {
		return err
	}
	if rn.Speaker != nil {
		rn.Speaker.Stop(grace)
	}
	return nil
}

// CheckSpeakers returns an error naming every MetalLB process (speaker or controller) and every
// frr-k8s process (FRR daemon, reloader, daemon, exporter) that has exited.
func (tp *Topology) CheckSpeakers() error {
	errs := []error{tp.CheckControllers()}
	for _, rn := range tp.Regions {
		if rn.Speaker != nil && !rn.Speaker.Running() {
			errs = append(errs, fmt.Errorf("speaker of %s exited: %v\n%s", rn.Name, rn.Speaker.Err(), tail(rn.SpeakerLog, 15)))
		}
		if f := rn.FRR; f != nil {
			procs := []*Process{f.Reloader, f.Daemon, f.Exporter}
			for _, d := range frrK8sDaemons {
				procs = append(procs, f.Daemons[d])
			}
			for _, p := range procs {
				if p != nil && !p.Running() {
					errs = append(errs, fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), tail(p.Log, 15)))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Create creates objects and deletes them again at teardown (newest first).
func (tp *Topology) Create(ctx context.Context, objs ...client.Object) error {
	for _, o := range objs {
		if err := tp.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
		tp.created = append(tp.created, o)
	}
	return nil
}

// --- EndpointSlices of the MetalLB-only tests (selector-less Service) ---------------------------

// EnsureEndpoints creates one EndpointSlice per region for svc (what the kubelet and the
// endpointslice controller would produce for one pod per region), with the given readiness.
// The slices are deleted at teardown.
func (tp *Topology) EnsureEndpoints(ctx context.Context, svc *corev1.Service, ready bool) error {
	for _, rn := range tp.Regions {
		es := endpointSlice(svc, rn, Ready(ready), tp.ID)
		if err := tp.Create(ctx, es); err != nil {
			return err
		}
	}
	return nil
}

// SetEndpointReady sets ready and serving of the region's endpoint of svc. false withdraws the
// region's route (ETP=Local), true brings it back.
func (tp *Topology) SetEndpointReady(ctx context.Context, svc types.NamespacedName, region string, ready bool) error {
	return tp.SetEndpointConditions(ctx, svc, region, Ready(ready))
}

// SetEndpointConditions sets the region's endpoint conditions of svc verbatim (for the
// ready=false/serving=true case, which keeps the route).
func (tp *Topology) SetEndpointConditions(ctx context.Context, svc types.NamespacedName, region string, cond discoveryv1.EndpointConditions) error {
	rn, err := tp.mustRegion(region)
	if err != nil {
		return err
	}
	es := &discoveryv1.EndpointSlice{}
	if err := tp.Client.Get(ctx, types.NamespacedName{Namespace: svc.Namespace, Name: sliceName(svc.Name, rn.Name)}, es); err != nil {
		return err
	}
	patch := client.MergeFrom(es.DeepCopy())
	for i := range es.Endpoints {
		es.Endpoints[i].Conditions = cond
	}
	return tp.Client.Patch(ctx, es, patch)
}

// WaitLoadBalancerIngress waits until MetalLB's controller has assigned svc an ingress IP and
// returns it.
func (tp *Topology) WaitLoadBalancerIngress(ctx context.Context, svc types.NamespacedName, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		s := &corev1.Service{}
		err := tp.Client.Get(ctx, svc, s)
		if err == nil && len(s.Status.LoadBalancer.Ingress) > 0 && s.Status.LoadBalancer.Ingress[0].IP != "" {
			return s.Status.LoadBalancer.Ingress[0].IP, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("MetalLB's controller assigned no IP to Service %s within %v (err %v)", svc, timeout, err)
		}
		if err := tp.CheckControllers(); err != nil {
			return "", err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- router queries -----------------------------------------------------------------------------

// PollInterval is how often Wait* and Measure query the router.
var PollInterval = 20 * time.Millisecond

// Route returns prefix's paths in the router's table.
func (tp *Topology) Route(prefix string) (RouteInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return tp.Router.Route(ctx, prefix)
}

// WaitRoute polls until cond holds for prefix and returns the route then; on timeout the last
// route seen and an error.
func (tp *Topology) WaitRoute(prefix string, timeout time.Duration, cond func(RouteInfo) bool) (RouteInfo, error) {
	deadline := time.Now().Add(timeout)
	var last RouteInfo
	var lastErr error
	for {
		ri, err := tp.Route(prefix)
		if err == nil && cond(ri) {
			return ri, nil
		}
		last, lastErr = ri, err
		if time.Now().After(deadline) {
			if lastErr != nil {
				return last, fmt.Errorf("timed out after %v waiting for %s: %w", timeout, prefix, lastErr)
			}
			return last, fmt.Errorf("timed out after %v waiting for %s; last seen %s", timeout, prefix, last)
		}
		if err := tp.CheckSpeakers(); err != nil {
			return last, err
		}
		time.Sleep(PollInterval)
	}
}

// Neighbors returns the router's sessions keyed by neighbour (node) address.
func (tp *Topology) Neighbors() (map[string]Neighbor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return tp.Router.Neighbors(ctx)
}

// WaitEstablished waits until the sessions of the named regions (all when none) are Established.
func (tp *Topology) WaitEstablished(timeout time.Duration, regions ...string) error {
	if len(regions) == 0 {
		for _, rn := range tp.Regions {
			regions = append(regions, rn.Name)
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		ns, err := tp.Neighbors()
		var down []string
		for _, name := range regions {
			rn, rerr := tp.mustRegion(name)
			if rerr != nil {
				return rerr
			}
			if n, ok := ns[rn.Addr.String()]; !ok || !n.Established() {
				down = append(down, fmt.Sprintf("%s(%s)", name, ns[rn.Addr.String()].State))
			}
		}
		if err == nil && len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sessions not Established after %v: %v (query error: %v)", timeout, down, err)
		}
		if err := tp.CheckSpeakers(); err != nil {
			return err
		}
		time.Sleep(PollInterval)
	}
}

// Change describes the route change an action should cause.
type Change struct {
	Prefix string
	// Until is the router-side condition that marks the change as complete.
	Until func(RouteInfo) bool
	// Peer and Withdrawn select the UPDATE in bgpd's log that carries the change (Peer "" = any).
	Peer      string
	Withdrawn bool
	Timeout   time.Duration
}

// Measurement is the timing of one action → route change.
type Measurement struct {
	Start time.Time
	// Action is how long the action itself (the API call) took.
	Action time.Duration
	// Observed is start → the first poll that saw Until hold (PollInterval + one vtysh call of
	// uncertainty).
	Observed time.Duration
	// Router is start → bgpd logging the UPDATE (millisecond timestamps); 0 when not found.
	Router time.Duration
	Event  *UpdateEvent
	Route  RouteInfo
}

// Measure runs action and waits for the change, timing it both ways.
func (tp *Topology) Measure(action func() error, c Change) (Measurement, error) {
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	m := Measurement{Start: time.Now()}
	if err := action(); err != nil {
		return m, err
	}
	m.Action = time.Since(m.Start)
	ri, err := tp.WaitRoute(c.Prefix, c.Timeout, c.Until)
	m.Observed, m.Route = time.Since(m.Start), ri
	if err != nil {
		return m, err
	}
	// bgpd may flush its log a moment after acting on the UPDATE.
	for range 25 {
		evs, err := tp.Router.UpdateEvents(c.Prefix, m.Start)
		if err != nil {
			return m, err
		}
		for _, ev := range evs {
			if ev.Withdrawn == c.Withdrawn && (c.Peer == "" || ev.Peer == c.Peer) {
				m.Event = &ev
				m.Router = ev.Time.Sub(m.Start)
				return m, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m, nil
}

// --- diagnostics and teardown -------------------------------------------------------------------

// DumpLogs prints the speakers' and FRR's log tails and the router's BGP state to the test log.
func (tp *Topology) DumpLogs() {
	t := tp.t
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, rn := range tp.Regions {
		t.Logf("==== speaker %s (%s) log tail ====\n%s", rn.Name, rn.SpeakerLog, tail(rn.SpeakerLog, 40))
	}
	for _, c := range tp.Controllers {
		t.Logf("==== MetalLB controller %q (%s) log tail ====\n%s", c.Class, c.Log, tail(c.Log, 30))
	}
	for _, rn := range tp.Regions {
		if f := rn.FRR; f != nil {
			for _, p := range []*Process{f.Reloader, f.Daemon, f.Exporter} {
				if p != nil {
					t.Logf("==== %s (%s) log tail ====\n%s", p.Name, p.Log, tail(p.Log, 25))
				}
			}
		}
	}
	if tp.Router != nil && tp.Router.BGPLog != "" {
		t.Logf("==== bgpd log tail ====\n%s", tail(tp.Router.BGPLog, 40))
		if out, err := tp.Router.Vtysh(ctx, "show bgp summary", "show bgp ipv4 unicast"); err == nil {
			t.Logf("==== router BGP state ====\n%s", out)
		}
	}
}

func (tp *Topology) teardown() {
	tp.run.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := len(tp.created) - 1; i >= 0; i-- {
		o := tp.created[i]
		var opts []client.DeleteOption
		if _, ok := o.(*corev1.Pod); ok {
			// No kubelet would ever confirm a graceful deletion.
			opts = append(opts, client.GracePeriodSeconds(0))
		}
		if err := tp.Client.Delete(ctx, o, opts...); err != nil && !apierrors.IsNotFound(err) {
			tp.t.Errorf("teardown: deleting %T %s: %v", o, o.GetName(), err)
		}
	}
	// The speakers' ServiceBGPStatus objects and frr-k8s' BGPSessionStates are owned by their
	// Pods, deleted above: the garbage collector removes them. Left over, they are leaks.
	if err := tp.waitCollected(ctx); err != nil {
		tp.t.Errorf("teardown: %v", err)
	}
	// MetalLB's FRRConfiguration metallb-<node> and frr-k8s' FRRNodeState <node> have no owner:
	// uninstalling MetalLB and frr-k8s removes them with their namespaces. The nodes are gone.
	if tp.opts.BGPType == BGPFRRK8s {
		for _, rn := range tp.Regions {
			for kind, name := range map[string]string{"FRRConfiguration": "metallb-" + rn.Node, "FRRNodeState": rn.Node} {
				obj := &unstructured.Unstructured{}
				obj.SetGroupVersionKind(schema.GroupVersionKind{Group: "frrk8s.metallb.io", Version: "v1beta1", Kind: kind})
				obj.SetName(name)
				if kind == "FRRConfiguration" {
					obj.SetNamespace(FRRK8sNamespace)
				}
				if err := tp.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
					tp.t.Errorf("teardown: deleting %s %s: %v", kind, name, err)
				}
			}
		}
	}
	if tp.keepDir != "" && tp.Router != nil {
		for _, f := range []string{"bgpd.conf", "bgpd.log", "zebra.log"} {
			if b, err := os.ReadFile(filepath.Join(tp.Router.Dir, f)); err == nil {
				_ = os.WriteFile(filepath.Join(tp.keepDir, "router-"+f), b, 0o644)
			}
		}
		tp.t.Logf("logs kept in %s", tp.keepDir)
	}
	if err := tp.run.close(); err != nil {
		tp.t.Errorf("teardown: %v", err)
	}
}

// waitCollected waits until the garbage collector has removed the status objects the speakers and
// frr-k8s' exporters wrote for this topology's nodes (owned by their Pods).
func (tp *Topology) waitCollected(ctx context.Context) error {
	var left []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = nil
		for _, rn := range tp.Regions {
			statuses := &metallbv1beta1.ServiceBGPStatusList{}
			if err := tp.Client.List(ctx, statuses, client.InNamespace(MetalLBNamespace), client.MatchingLabels{ServiceBGPStatusNodeLabel: rn.Node}); err != nil {
				return err
			}
			for _, s := range statuses.Items {
				left = append(left, "ServiceBGPStatus/"+s.Name)
			}
			if tp.opts.BGPType == BGPFRRK8s {
				sessions := controller.NewBGPSessionStateList()
				if err := tp.Client.List(ctx, sessions, client.InNamespace(FRRK8sNamespace), client.MatchingLabels{"frrk8s.metallb.io/node": rn.Node}); err != nil {
					return err
				}
				for _, s := range sessions.Items {
					left = append(left, "BGPSessionState/"+s.GetName())
				}
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the garbage collector left %v 30s after their owner Pods were deleted", left)
		}
	}
}
