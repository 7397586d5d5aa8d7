//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// One manager serves every test of the package: controller-runtime refuses a second controller
// named "stellarnode" in one process (a process-wide name check that NewManager has no option to
// skip), so the manager is started by the first test that needs it and stopped by TestMain. Each
// test deletes its StellarNodes and waits for the operator's finalizer before it ends, so the
// operator holds nothing of a finished test.

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

// setupOperatorLog sends controller-runtime's logs (the operator's) to dir/operator.log, or to
// E2E_LOG_DIR/operator-<id>.log when that is set, so they survive the run.
func setupOperatorLog(dir, id string) error {
	path := filepath.Join(dir, "operator.log")
	if keep := os.Getenv("E2E_LOG_DIR"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			return err
		}
		path = filepath.Join(keep, "operator-"+id+".log")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	operatorLogPath, operatorLogFile = path, f
	ctrl.SetLogger(zap.New(zap.WriteTo(f)))
	return nil
}

// StartOperator returns the package's operator in native BGP mode, starting it on first use.
func StartOperator(t testing.TB) *Operator {
	t.Helper()
	operatorMu.Lock()
	defer operatorMu.Unlock()
	if o := runningOperator; o != nil {
		if !o.Running() {
			t.Fatalf("the operator exited earlier: %v\n%s", o.err, tail(o.Log, 30))
		}
		return o
	}
	o := &Operator{
		Config: operator.Config{
			MetricsAddr: "0", ProbeAddr: "0",
			Controller: controller.Options{
				OperatorImage:    OperatorImage,
				MetalLBNamespace: MetalLBNamespace,
				BGPMode:          render.BGPModeNative,
				RetryInterval:    OperatorRetryInterval,
			},
		},
		Log:    operatorLogPath,
		exited: make(chan struct{}),
	}
	mgr, err := operator.NewManager(cp.Config, o.Config)
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
		o.cancel()
		select {
		case <-o.exited:
			if o.err != nil && !errors.Is(o.err, context.Canceled) {
				err = fmt.Errorf("the operator exited with: %w", o.err)
			}
		case <-time.After(30 * time.Second):
			err = errors.New("the operator did not stop within 30s")
		}
		runningOperator = nil
	}
	if operatorLogFile != nil {
		_ = operatorLogFile.Close()
	}
	return err
}

// OperatorProblems reads the operator's stellar_node_problems gauge for one StellarNode:
// reason → number of problems with that reason (warnings and errors together). The condition
// Degraded carries only the first problem's reason; the metric has all of them.
func OperatorProblems(namespace, name string) (map[string]float64, error) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "stellar_node_problems" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["namespace"] == namespace && l["name"] == name {
				out[l["reason"]] += m.GetGauge().GetValue()
			}
		}
	}
	return out, nil
}

// --- StellarNodes -------------------------------------------------------------------------------

// CreateStellarNodes creates the StellarNodes (their namespaces first) and registers their
// removal with t.Cleanup. Call it after NewTopology, so that the removal runs while the speakers
// and the router still run: each node is deleted, the operator's finalizer runs (it deletes the
// node's MetalLB objects and the shared ones nobody wants any more), and then the test deletes
// what the garbage collector would (owned objects), plus the retained data a node leaves behind on
// purpose. The cleanup fails the test if the operator left any of its objects in MetalLB's
// namespace.
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
	// Stand-in for the garbage collector (no kube-controller-manager runs): the node's owned
	// objects, and its retained claims and Secrets (retentionPolicy Retain keeps them on purpose;
	// the test removes them so the next test starts clean).
	kinds := []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &corev1.ServiceList{},
		&corev1.ConfigMapList{}, &corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}}
	for _, n := range nodes {
		for _, list := range kinds {
			if err := tp.Client.List(ctx, list, client.InNamespace(n.Namespace), client.MatchingLabels{render.LabelNode: n.Name}); err != nil {
				t.Errorf("cleanup: listing %T: %v", list, err)
				continue
			}
			items, _ := meta.ExtractList(list)
			for _, item := range items {
				obj := item.(client.Object)
				if err := tp.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("cleanup: deleting %T %s: %v", obj, obj.GetName(), err)
				}
			}
		}
	}
	// Then the speakers withdraw and the router's table empties. Not before: a speaker rejects a
	// configuration without the pool of a Service that still holds an IP from it ("service has no
	// configuration under new config") and keeps its old one, announcing, until the Service goes,
	// which in a cluster is the garbage collector's work right after the finalizer's.
	var prefixes []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(PollInterval) {
		var err error
		if prefixes, err = tp.Router.Prefixes(ctx); err == nil && len(prefixes) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("cleanup: the router still has %v (err %v) 15s after the StellarNodes and their Services were deleted", prefixes, err)
			break
		}
	}
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
