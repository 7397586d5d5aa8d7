//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// The operator under test runs in this process, built by internal/operator.NewManager exactly as
// `stellar-operator run` builds it, against the package's control plane. MetalLB's CRDs are
// installed before it starts (TestMain), so it watches MetalLB's objects.
//
// One manager runs at a time, started by the first test that needs it and stopped by TestMain. A
// test that needs another BGP mode (native or frr-k8s) stops it and starts one in its mode (with
// NewManager's SkipControllerNameCheck: controller-runtime refuses a second controller named
// "stellarnode" per process otherwise). Each test deletes its StellarNodes and waits for the
// operator's finalizer before it ends, so the operator holds nothing of a finished test.

// OperatorImage only decorates the health sidecar the operator renders; no pod ever runs.
const OperatorImage = "example.org/stellar-operator:e2e"

// OperatorRetryInterval is the operator's RetryInterval in these tests.
const OperatorRetryInterval = 2 * time.Second

// Operator is the running manager.
type Operator struct {
	Config operator.Config
	Log    string

	cancel context.CancelFunc
	exited chan struct{}
	err    error
}

var (
	operatorMu      sync.Mutex
	runningOperator *Operator
	operatorLogPath string
	operatorLogFile *os.File
)

// logDir is where the package's own logs go (operator, kube-controller-manager): the package
// run's directory, or E2E_LOG_DIR so that they survive the run.
func logDir(pkg *run) string {
	if keep := os.Getenv("E2E_LOG_DIR"); keep != "" {
		return filepath.Join(keep, "package-"+pkg.id)
	}
	return pkg.dir
}

// setupOperatorLog sends controller-runtime's logs (the operator's) to operator.log in dir.
func setupOperatorLog(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "operator.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	operatorLogPath, operatorLogFile = path, f
	ctrl.SetLogger(zap.New(zap.WriteTo(f)))
	return nil
}

// StartOperator returns the package's operator in the given BGP mode, starting it on first use
// (and restarting it when the running one has another mode).
func StartOperator(t testing.TB, mode render.BGPMode) *Operator {
	t.Helper()
	operatorMu.Lock()
	defer operatorMu.Unlock()
	restart := false
	if o := runningOperator; o != nil {
		if !o.Running() {
			t.Fatalf("the operator exited earlier: %v\n%s", o.err, tail(o.Log, 30))
		}
		if o.Config.Controller.BGPMode == mode {
			return o
		}
		if err := o.stop(); err != nil {
			t.Fatal(err)
		}
		runningOperator, restart = nil, true
	}
	o := &Operator{
		Config: operator.Config{
			MetricsAddr: "0", ProbeAddr: "0",
			Controller: controller.Options{
				OperatorImage:    OperatorImage,
				MetalLBNamespace: MetalLBNamespace,
				FRRK8sNamespace:  FRRK8sNamespace,
				BGPMode:          mode,
				RetryInterval:    OperatorRetryInterval,
			},
			SkipControllerNameCheck: restart,
		},
		Log:    operatorLogPath,
		exited: make(chan struct{}),
	}
	// The operator runs as the ServiceAccount of config/rbac, as it is deployed, never as admin.
	operatorConfig, err := cp.OperatorConfig(context.Background())
	if err != nil {
		t.Fatalf("the operator's ServiceAccount: %v", err)
	}
	mgr, err := operator.NewManager(operatorConfig, o.Config)
	if err != nil {
		t.Fatalf("building the operator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go func() {
		o.err = mgr.Start(ctx)
		close(o.exited)
	}()
	select {
	case <-mgr.Elected():
	case <-o.exited:
		t.Fatalf("the operator exited at start: %v\n%s", o.err, tail(o.Log, 30))
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the operator did not start within 30s")
	}
	runningOperator = o
	return o
}

// Running reports whether the manager has not exited.
func (o *Operator) Running() bool {
	select {
	case <-o.exited:
		return false
	default:
		return true
	}
}

// stopOperator stops the package's operator, if it was started, and closes its log.
func stopOperator() error {
	operatorMu.Lock()
	defer operatorMu.Unlock()
	var err error
	if o := runningOperator; o != nil {
		err = o.stop()
		runningOperator = nil
	}
	if operatorLogFile != nil {
		_ = operatorLogFile.Close()
	}
	return err
}

func (o *Operator) stop() error {
	o.cancel()
	select {
	case <-o.exited:
		if o.err != nil && !errors.Is(o.err, context.Canceled) {
			return fmt.Errorf("the operator exited with: %w", o.err)
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the operator did not stop within 30s")
	}
}

// OperatorProblems reads the operator's stellar_node_problems gauge for one StellarNode:
// reason → number of problems with that reason (warnings and errors together). The condition
// Degraded carries only the first problem's reason; the metric has all of them.
func OperatorProblems(namespace, name string) (map[string]float64, error) {
	metrics, err := gatherMetric("stellar_node_problems")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range metrics {
		if m.Labels["namespace"] == namespace && m.Labels["name"] == name {
			out[m.Labels["reason"]] += m.Value
		}
	}
	return out, nil
}

// series is one gauge series: its labels and value.
type series struct {
	Labels map[string]string
	Value  float64
}

// gatherMetric returns the series of one gauge from the operator's registry.
func gatherMetric(name string) ([]series, error) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	var out []series
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out = append(out, series{Labels: l, Value: m.GetGauge().GetValue()})
		}
	}
	return out, nil
}

// --- StellarNodes -------------------------------------------------------------------------------

// CreateStellarNodes creates the StellarNodes (their namespaces first) and registers their
// removal with t.Cleanup. Call it after NewTopology, so that the removal runs while the speakers
// and the router still run: each node is deleted, the operator's finalizer runs (it deletes the
// node's MetalLB objects and the shared ones nobody wants any more), and the real garbage
// collector deletes what the node owns. The cleanup fails the test if anything of the node's is
// left that it does not keep on purpose (a leak: an object without an owner reference), or if the
// operator left any of its objects in MetalLB's namespace.
func (tp *Topology) CreateStellarNodes(ctx context.Context, t testing.TB, nodes ...*stellarv1.StellarNode) error {
	t.Helper()
	for _, n := range nodes {
		if err := ensureNamespace(ctx, tp.Client, n.Namespace); err != nil {
			return err
		}
	}
	var created []*stellarv1.StellarNode
	t.Cleanup(func() { tp.deleteStellarNodes(t, created) })
	for _, n := range nodes {
		if err := tp.Client.Create(ctx, n); err != nil {
			return fmt.Errorf("creating StellarNode %s/%s: %w", n.Namespace, n.Name, err)
		}
		created = append(created, n)
	}
	return nil
}

func (tp *Topology) deleteStellarNodes(t testing.TB, nodes []*stellarv1.StellarNode) {
	if len(nodes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := tp.Client.Delete(ctx, n); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: deleting StellarNode %s: %v", n.Name, err)
		}
	}
	// The finalizer (stellar.org/cleanup) must run: the node is gone only once the operator has
	// removed it.
	for _, n := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := tp.Client.Get(ctx, client.ObjectKeyFromObject(n), &stellarv1.StellarNode{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("cleanup: StellarNode %s/%s still exists 30s after its deletion (finalizer not run?): %v", n.Namespace, n.Name, err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The garbage collector (kube-controller-manager) deletes what each node owns: workload,
	// Services, ConfigMaps, the pods the harness ran from the workload. What is left after that
	// and is not kept on purpose has no owner reference: a leak. Claims and Secrets are kept on
	// purpose (retentionPolicy Retain); the test removes them so that the next test starts clean.
	owned := []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &corev1.ServiceList{},
		&corev1.ConfigMapList{}, &corev1.PodList{}}
	retained := []client.ObjectList{&corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}}
	for _, n := range nodes {
		selector := client.MatchingLabels{render.LabelNode: n.Name}
		var left []string
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			left = nil
			for _, list := range owned {
				objs, err := listObjects(ctx, tp.Client, list, n.Namespace, selector)
				if err != nil {
					t.Errorf("cleanup: %v", err)
				}
				left = append(left, objs...)
			}
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(left) > 0 {
			t.Errorf("cleanup: the garbage collector left %v of StellarNode %s/%s 30s after its deletion: objects without an owner reference leak", left, n.Namespace, n.Name)
		}
		for _, list := range retained {
			if err := tp.Client.List(ctx, list, client.InNamespace(n.Namespace), selector); err != nil {
				t.Errorf("cleanup: listing %T: %v", list, err)
				continue
			}
			items, _ := meta.ExtractList(list)
			for _, item := range items {
				obj := item.(client.Object)
				if err := tp.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("cleanup: deleting retained %T %s: %v", obj, obj.GetName(), err)
				}
			}
		}
	}
	// Then the speakers have withdrawn and the router's table is empty. With graceful restart
	// (the spec's default) the router keeps a path as stale when its session goes away without a
	// withdrawal (the last StellarNode naming a router takes its BGPPeer, and with it the session):
	// that path stays for the router's restart time (120 s) and is reported, not failed.
	var prefixes, stale []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(PollInterval) {
		var err error
		prefixes, err = tp.Router.Prefixes(ctx)
		if err == nil {
			prefixes, stale = liveAndStale(ctx, tp.Router, prefixes)
		}
		if err == nil && len(prefixes) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("cleanup: the router still has %v (err %v) 15s after the StellarNodes and their Services were deleted", prefixes, err)
			break
		}
	}
	if len(stale) > 0 {
		t.Logf("cleanup: the router keeps %v as stale paths (graceful restart helper): the sessions closed without withdrawing them", stale)
	}
	// MetalLB accepted every configuration on the way down too.
	tp.AssertMetalLBAccepts(t)
	// Nothing of the operator's may remain in MetalLB's namespace: every StellarNode is gone.
	left, err := operatorMetalLBObjects(ctx, tp.Client)
	if err != nil {
		t.Errorf("cleanup: %v", err)
	} else if len(left) > 0 {
		t.Errorf("cleanup: the operator's finalizer left MetalLB objects behind: %v", left)
	}
}

// operatorMetalLBObjects lists the objects in MetalLB's namespace that carry the operator's label.
func operatorMetalLBObjects(ctx context.Context, c client.Client) ([]string, error) {
	var out []string
	lists := map[string]client.ObjectList{
		"IPAddressPool": &metallbv1beta1.IPAddressPoolList{}, "BGPAdvertisement": &metallbv1beta1.BGPAdvertisementList{},
		"L2Advertisement": &metallbv1beta1.L2AdvertisementList{}, "BFDProfile": &metallbv1beta1.BFDProfileList{},
		"BGPPeer": &metallbv1beta2.BGPPeerList{}, "Secret": &corev1.SecretList{},
	}
	for kind, list := range lists {
		if err := c.List(ctx, list, client.InNamespace(MetalLBNamespace), client.MatchingLabels{render.LabelManagedBy: render.ManagerName}); err != nil {
			return nil, fmt.Errorf("listing %s: %w", kind, err)
		}
		items, _ := meta.ExtractList(list)
		for _, item := range items {
			out = append(out, kind+"/"+item.(client.Object).GetName())
		}
	}
	return out, nil
}

// WaitStellarNode polls the StellarNode until cond returns nil, and returns it then; on timeout the
// last node read and cond's last error.
func (tp *Topology) WaitStellarNode(ctx context.Context, key types.NamespacedName, timeout time.Duration, cond func(*stellarv1.StellarNode) error) (*stellarv1.StellarNode, error) {
	deadline := time.Now().Add(timeout)
	for {
		n := &stellarv1.StellarNode{}
		err := tp.Client.Get(ctx, key, n)
		if err == nil {
			err = cond(n)
		}
		if err == nil {
			return n, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n, fmt.Errorf("StellarNode %s after %v: %w", key, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitService waits until the Service exists (the operator creates the LoadBalancer Service).
func (tp *Topology) WaitService(ctx context.Context, key types.NamespacedName, timeout time.Duration) (*corev1.Service, error) {
	deadline := time.Now().Add(timeout)
	for {
		svc := &corev1.Service{}
		err := tp.Client.Get(ctx, key, svc)
		if err == nil {
			return svc, nil
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("Service %s after %v: %w", key, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Condition returns the StellarNode's condition of type t, or a zero condition.
func Condition(n *stellarv1.StellarNode, t string) (c struct {
	Status, Reason, Message string
}) {
	if mc := meta.FindStatusCondition(n.Status.Conditions, t); mc != nil {
		c.Status, c.Reason, c.Message = string(mc.Status), mc.Reason, mc.Message
	}
	return c
}

// PeerStatus returns the StellarNode's status entry for the peer at address.
func PeerStatus(n *stellarv1.StellarNode, address string) (stellarv1.PeerStatus, bool) {
	if n.Status.LoadBalancer == nil {
		return stellarv1.PeerStatus{}, false
	}
	for _, p := range n.Status.LoadBalancer.Peers {
		if p.Address == address {
			return p, true
		}
	}
	return stellarv1.PeerStatus{}, false
}

// conditionSummary is "Ready=False(PodsNotReady) Degraded=True(IPConflict): …" for logs.
func conditionSummary(n *stellarv1.StellarNode) string {
	var parts []string
	for _, c := range n.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
	}
	return strings.Join(parts, " ")
}

// listObjects lists the objects of list's kind in namespace matching selector, as "Kind/name".
func listObjects(ctx context.Context, c client.Client, list client.ObjectList, namespace string, selector client.MatchingLabels) ([]string, error) {
	if err := c.List(ctx, list, client.InNamespace(namespace), selector); err != nil {
		return nil, fmt.Errorf("listing %T: %w", list, err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, item := range items {
		obj := item.(client.Object)
		out = append(out, fmt.Sprintf("%T/%s", obj, obj.GetName()))
	}
	return out, nil
}

// liveAndStale splits prefixes into those with a path that is not stale and those the router
// only keeps as stale (graceful restart).
func liveAndStale(ctx context.Context, r *Router, prefixes []string) (live, stale []string) {
	for _, p := range prefixes {
		ri, err := r.Route(ctx, p)
		if err != nil || slices.ContainsFunc(ri.Paths, func(p Path) bool { return !p.Stale }) {
			live = append(live, p)
			continue
		}
		stale = append(stale, p)
	}
	return live, stale
}
