package controller_test

import (
	"context"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// BenchmarkConvergedNode compares, on one real apiserver in one run, re-reconciling a converged
// node (the operator skips every unchanged apply) with the baseline of server-side applying the
// same objects again, which is what an operator without the skip sends on every resync.
// Run: make bench-reconcile. The figures to compare are ns/op and writes/op.
func BenchmarkConvergedNode(b *testing.B) {
	ctx := context.Background()
	ns := newNamespaceB(b)
	node := readExampleB(b, "horizon-anycast.yaml")
	node.Namespace = ns
	if err := env.k8s.Create(ctx, node); err != nil {
		b.Fatal(err)
	}
	waitQuietB(b)
	key := client.ObjectKeyFromObject(node)
	if err := env.k8s.Get(ctx, key, node); err != nil {
		b.Fatal(err)
	}

	b.Run("reconcile-converged", func(b *testing.B) {
		before := env.reconcilerWrites.Load()
		for b.Loop() {
			if _, err := env.reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(env.reconcilerWrites.Load()-before)/float64(b.N), "writes/op")
	})

	b.Run("baseline-apply-unchanged", func(b *testing.B) {
		objects := render.Desired(node, render.EmptyClusterFacts(node, testOperatorImage, metallbNamespace, render.BGPModeFRRK8s)).Objects
		before := env.reconcilerWrites.Load()
		for b.Loop() {
			for _, obj := range objects {
				if err := controller.ApplyAlways(ctx, env.reconciler.Client, env.reconciler.Scheme, obj); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(env.reconcilerWrites.Load()-before)/float64(b.N), "writes/op")
	})
}
