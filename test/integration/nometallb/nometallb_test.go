// Package nometallb runs the operator on a control plane without MetalLB's CRDs, then installs
// them: a node with a load balancer reports MetalLBNotInstalled without crashing or retrying in a
// storm, and converges at its next retry once MetalLB is there.
package nometallb

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

var (
	cfg *rest.Config
	k8s client.Client
)

const retry = 2 * time.Second

func TestMain(m *testing.M) {
	logs := &syncBuffer{}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs)))
	code := controlplane.RunTests(m, controlplane.Options{}, func(cp *controlplane.ControlPlane) (func(), error) {
		cfg = cp.Config
		scheme, err := operator.NewScheme()
		if err != nil {
			return nil, err
		}
		if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
			return nil, err
		}
		if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metallb-system"}}); err != nil {
			return nil, err
		}
		// The operator runs under the RBAC it ships, as in a real cluster.
		operatorConfig, err := cp.OperatorConfig(context.Background())
		if err != nil {
			return nil, err
		}
		mgr, err := operator.NewManager(operatorConfig, operator.Config{MetricsAddr: "0", ProbeAddr: "0",
			Controller: controller.Options{OperatorImage: "stellar-operator:test", MetalLBNamespace: "metallb-system",
				BGPMode: render.BGPModeFRRK8s, RetryInterval: retry}})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		return func() { cancel(); <-done }, nil
	})
	if denied := controlplane.ForbiddenLines(logs.String()); code == 0 && len(denied) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the operator was refused by its own RBAC %d times:\n%s\n", len(denied), strings.Join(denied, "\n"))
		code = 1
	}
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestANodeWaitsForMetalLBAndConvergesOnceItIsInstalled(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile("../../../examples/horizon-l2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	node := &stellarv1.StellarNode{}
	if err := yaml.UnmarshalStrict(data, node); err != nil {
		t.Fatal(err)
	}
	node.Namespace = "default"
	if err := k8s.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(node)
	waitFor(t, "MetalLBNotInstalled", func() error {
		n := &stellarv1.StellarNode{}
		if err := k8s.Get(ctx, key, n); err != nil {
			return err
		}
		c := meta.FindStatusCondition(n.Status.Conditions, stellarv1.ConditionDegraded)
		if c == nil || c.Reason != stellarv1.ReasonMetalLBNotInstalled {
			return fmt.Errorf("degraded = %+v", c)
		}
		return nil
	})
	// The workload is there; the load balancer is not.
	if err := k8s.Get(ctx, key, &appsv1.Deployment{}); err != nil {
		t.Fatalf("the workload waits for MetalLB too: %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: node.Name + "-lb"}, &corev1.Service{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a LoadBalancer Service exists without MetalLB: %v", err)
	}

	crds, err := controlplane.MetalLBCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatal(err)
	}
	installed := time.Now()
	waitFor(t, "the L2Advertisement after MetalLB appears", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: "metallb-system", Name: render.PerNodeName(node)}, &metallbv1beta1.L2Advertisement{})
	})
	t.Logf("converged %.1f s after MetalLB's CRDs were installed (retry interval %s)", time.Since(installed).Seconds(), retry)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: node.Name + "-lb"}, &corev1.Service{}); err != nil {
		t.Fatalf("no LoadBalancer Service after MetalLB appeared: %v", err)
	}

	// MetalLB uninstalled while the node lives: deleting the node must still complete.
	if err := envtest.UninstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "MetalLB's API to go", func() error {
		if err := k8s.List(ctx, &metallbv1beta1.IPAddressPoolList{}); err == nil {
			return fmt.Errorf("still served")
		}
		return nil
	})
	if err := k8s.Delete(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node's deletion to complete without MetalLB", func() error {
		if err := k8s.Get(ctx, key, &stellarv1.StellarNode{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}
