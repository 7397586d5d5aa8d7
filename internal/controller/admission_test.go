package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/admission/admissiontest"
)

// The spec's own blocks must be accepted exactly as the user would paste them.
func TestSpecBlocksAreAcceptedVerbatim(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	for _, file := range []string{"horizon-l2.yaml", "horizon-anycast.yaml", "validator-testnet.yaml", "horizon-testnet.yaml", "soroban-rpc-testnet.yaml"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
			if err != nil {
				t.Fatal(err)
			}
			if err := applyYAML(context.Background(), ns, string(data)); err != nil {
				t.Fatalf("the apiserver rejected %s: %v", file, err)
			}
		})
	}
}

// Each invalid spec is refused by the apiserver with a message naming the offending field. The
// table is admissiontest's, so the offline admission of kubectl stellar is held to the same cases.
func TestInvalidSpecsAreRejectedNamingTheField(t *testing.T) {
	ns := newNamespace(t)
	cases := admissiontest.InvalidStellarNodes()
	if len(cases) < 60 {
		t.Fatalf("only %d invalid specs; keep at least 60", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			err := applyYAML(context.Background(), ns, tc.Doc)
			if err == nil {
				t.Fatalf("the apiserver accepted %s", tc.Name)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.Field) {
				t.Fatalf("the error does not name %s: %v", tc.Field, err)
			}
		})
	}
}

// The LoadBalancer Service's class is immutable: adding or removing it later is refused at
// admission, naming the field, instead of failing as an apply error.
func TestTheLoadBalancerClassCannotBeAddedOrRemoved(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	for _, tc := range []struct {
		name, initial string
		change        func(*stellarv1.StellarNode)
	}{
		{"removed", "metallb.example.com/edge", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerClass = "" }},
		{"added", "", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerClass = "metallb.example.com/edge" }},
		{"changed", "metallb.example.com/edge", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerClass = "metallb.example.com/core" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := readExample(t, "horizon-l2.yaml")
			node.Name, node.Namespace = "class-"+tc.name, ns
			node.Spec.LoadBalancer.LoadBalancerClass = tc.initial
			if err := env.k8s.Create(ctx, node); err != nil {
				t.Fatal(err)
			}
			// The operator adds its finalizer meanwhile: a conflict is no answer, read and retry.
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := env.k8s.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
					return err
				}
				tc.change(node)
				return env.k8s.Update(ctx, node)
			})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.loadBalancer.loadBalancerClass") {
				t.Fatalf("want an Invalid error naming spec.loadBalancer.loadBalancerClass, got %v", err)
			}
		})
	}
}
