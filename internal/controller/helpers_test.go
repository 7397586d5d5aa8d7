package controller_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// The benchmark variants of the helpers (testing.TB has all they need).
func newNamespaceB(b *testing.B) string                             { return newNamespace(b) }
func readExampleB(b *testing.B, name string) *stellarv1.StellarNode { return readExample(b, name) }
func waitQuietB(b *testing.B)                                       { waitQuiet(b) }

// newNamespace gives each test its own namespace (envtest never finishes deleting namespaces, so
// they are left behind; the control plane goes away with the package).
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + rand.String(8)}}
	if err := env.k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// readExample parses one file of examples/ as a StellarNode.
func readExample(t testing.TB, name string) *stellarv1.StellarNode {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	node := &stellarv1.StellarNode{}
	if err := yaml.UnmarshalStrict(data, node); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return node
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}

func get(ctx context.Context, ns, name string, obj client.Object) error {
	return env.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
}

// waitFor waits until the named object exists and returns it.
func waitFor[T client.Object](t *testing.T, ns, name string, obj T) T {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("%T %s/%s", obj, ns, name), func() error {
		return get(context.Background(), ns, name, obj)
	})
	return obj
}

// waitForCondition waits until the node has the condition with the given status and reason.
func waitForCondition(t *testing.T, ns, name, condType string, status metav1.ConditionStatus, reason string) *stellarv1.StellarNode {
	t.Helper()
	node := &stellarv1.StellarNode{}
	eventually(t, 20*time.Second, fmt.Sprintf("%s=%s/%s on %s", condType, status, reason, name), func() error {
		if err := get(context.Background(), ns, name, node); err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == condType {
				if c.Status == status && c.Reason == reason && c.ObservedGeneration == node.Generation {
					return nil
				}
				return fmt.Errorf("%s is %s/%s: %s", condType, c.Status, c.Reason, c.Message)
			}
		}
		return fmt.Errorf("no %s condition yet", condType)
	})
	return node
}

// waitQuiet waits until the operator has sent no write for a while.
func waitQuiet(t testing.TB) {
	t.Helper()
	last, quietSince := env.operatorWrites.Load(), time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if n := env.operatorWrites.Load(); n != last {
			last, quietSince = n, time.Now()
			continue
		}
		if time.Since(quietSince) > 1500*time.Millisecond {
			return
		}
	}
	t.Fatal("the operator never stopped writing")
}

func notFound(ctx context.Context, ns, name string, obj client.Object) error {
	err := get(ctx, ns, name, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("%s/%s still exists", ns, name)
	}
	return err
}

// applyYAML creates an object from YAML as a user would with kubectl, returning the apiserver's error.
func applyYAML(ctx context.Context, ns, doc string) error {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		return err
	}
	u.SetNamespace(ns)
	return env.k8s.Create(ctx, u)
}

func containsAll(s string, parts ...string) error {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return fmt.Errorf("%q does not contain %q", s, p)
		}
	}
	return nil
}

// deleteAllNodes deletes every StellarNode of a namespace and waits until the finalizer let them
// go, so shared MetalLB objects they used do not outlive the test.
func deleteAllNodes(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	if err := env.k8s.DeleteAllOf(ctx, &stellarv1.StellarNode{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the namespace's StellarNodes to go", func() error {
		list := &stellarv1.StellarNodeList{}
		if err := env.k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d left", len(list.Items))
		}
		return nil
	})
}

// mutate re-reads obj, applies change and writes it (its status, with status true), retrying on
// conflicts: the operator writes the same objects concurrently.
func mutate[T client.Object](t testing.TB, obj T, status bool, change func(T)) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		if status {
			return env.k8s.Status().Update(ctx, obj)
		}
		return env.k8s.Update(ctx, obj)
	})
	if err != nil {
		t.Fatal(err)
	}
}
