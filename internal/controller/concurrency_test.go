package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// Many nodes sharing one router and one pool, created at once and converged by eight workers,
// end with exactly the shared objects a single pass over all of them computes — every round.
func TestConcurrentReconcilesKeepSharedObjectsCorrect(t *testing.T) {
	ctx := context.Background()
	const nodes, rounds, router = 24, 3, "192.0.2.230"
	for round := range rounds {
		ns := newNamespace(t)
		pool := fmt.Sprintf("concurrent-%d", round)
		shrank := watchPoolNeverShrinks(t, pool)
		var created []*stellarv1.StellarNode
		for i := range nodes {
			n := anycastNode(t, fmt.Sprintf("n%02d", i), router)
			n.Spec.LoadBalancer.AddressPool = pool
			n.Spec.LoadBalancer.LoadBalancerIP = fmt.Sprintf("198.18.%d.%d", round, i+1)
			created = append(created, create(t, ns, n))
			// Nodes keep arriving while the workers reconcile: each sees another part of the fleet.
			time.Sleep(15 * time.Millisecond)
		}
		eventually(t, 60*time.Second, fmt.Sprintf("round %d: %d nodes to converge", round, nodes), func() error {
			list := &stellarv1.StellarNodeList{}
			if err := env.k8s.List(ctx, list); err != nil {
				return err
			}
			pending := 0
			for _, n := range list.Items {
				if n.Namespace == ns && n.Status.ObservedGeneration != n.Generation {
					pending++
				}
			}
			if pending > 0 {
				return fmt.Errorf("%d nodes not reconciled", pending)
			}
			p := &metallbv1beta1.IPAddressPool{}
			if err := get(ctx, metallbNamespace, pool, p); err != nil {
				return err
			}
			if len(p.Spec.Addresses) != nodes {
				return fmt.Errorf("pool holds %d addresses", len(p.Spec.Addresses))
			}
			return nil
		})
		// What one pass over every node renders: the truth the workers must reach together.
		var all []*stellarv1.StellarNode
		for _, n := range created {
			live := &stellarv1.StellarNode{}
			if err := get(ctx, ns, n.Name, live); err != nil {
				t.Fatal(err)
			}
			all = append(all, live)
		}
		facts := render.EmptyClusterFacts(all[0], testOperatorImage, metallbNamespace, render.BGPModeFRRK8s)
		facts.MetalLB.Claims = render.NewClaims(all...)
		want := render.Desired(all[0], facts)
		for _, obj := range want.Objects {
			switch w := obj.(type) {
			case *metallbv1beta1.IPAddressPool:
				got := &metallbv1beta1.IPAddressPool{}
				if err := get(ctx, metallbNamespace, w.Name, got); err != nil || !equality.Semantic.DeepEqual(got.Spec, w.Spec) {
					t.Fatalf("round %d: pool %s = %+v, want %+v (%v)", round, w.Name, got.Spec, w.Spec, err)
				}
			case *metallbv1beta2.BGPPeer:
				got := &metallbv1beta2.BGPPeer{}
				if err := get(ctx, metallbNamespace, w.Name, got); err != nil || !equality.Semantic.DeepEqual(got.Spec, w.Spec) {
					t.Fatalf("round %d: peer %s = %+v, want %+v (%v)", round, w.Name, got.Spec, w.Spec, err)
				}
			}
		}
		for _, n := range all {
			adv := &metallbv1beta1.BGPAdvertisement{}
			if err := get(ctx, metallbNamespace, perNodeName(ns, n.Name), adv); err != nil || len(adv.Spec.Peers) != 1 {
				t.Fatalf("round %d: %s's advertisement = %+v (%v)", round, n.Name, adv.Spec, err)
			}
		}
		assertNoOverlappingPools(t)
		if err := shrank(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		deleteAllNodes(t, ns)
		eventually(t, 30*time.Second, "the shared pool and peer to go with the last node", func() error {
			if err := notFound(ctx, metallbNamespace, pool, &metallbv1beta1.IPAddressPool{}); err != nil {
				return err
			}
			return notFound(ctx, metallbNamespace, render.PeerName(mustRouter(t, router)), &metallbv1beta2.BGPPeer{})
		})
	}
}

func mustRouter(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, ok := stellarv1.ParseAddress(s)
	if !ok {
		t.Fatalf("%q is not an address", s)
	}
	return a
}

// watchPoolNeverShrinks watches a pool while nodes join it: a version that drops an address an
// earlier one had would withdraw a live address, however briefly. The returned function stops the
// watch and reports the first such version.
func watchPoolNeverShrinks(t *testing.T, name string) func() error {
	t.Helper()
	w, err := env.k8s.Watch(context.Background(), &metallbv1beta1.IPAddressPoolList{},
		client.InNamespace(metallbNamespace), client.MatchingFields{"metadata.name": name})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		seen := map[string]bool{}
		var firstErr error
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*metallbv1beta1.IPAddressPool)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			now := map[string]bool{}
			for _, a := range p.Spec.Addresses {
				now[a] = true
			}
			for a := range seen {
				if !now[a] && firstErr == nil {
					firstErr = fmt.Errorf("pool %s dropped %s at resourceVersion %s while its node still wanted it", name, a, p.ResourceVersion)
				}
			}
			seen = now
		}
		done <- firstErr
	}()
	return func() error {
		w.Stop()
		return <-done
	}
}

// Two nodes whose peers would give the same Kubernetes nodes two local ASNs (MetalLB's FRR modes
// refuse that) are reconciled at the same moment, again and again: never may both peers exist.
func TestConcurrentNodesNeverWriteConflictingLocalASNs(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		ns := newNamespace(t)
		r1, r2 := fmt.Sprintf("198.19.%d.1", round), fmt.Sprintf("198.19.%d.2", round)
		both := watchPeersNeverCoexist(t, render.PeerName(mustRouter(t, r1)), render.PeerName(mustRouter(t, r2)))
		a := anycastNode(t, "asn-a", r1)
		a.Spec.LoadBalancer.LoadBalancerIP = fmt.Sprintf("198.18.10.%d", 2*round+1)
		b := anycastNode(t, "asn-b", r2)
		b.Spec.LoadBalancer.LoadBalancerIP = fmt.Sprintf("198.18.10.%d", 2*round+2)
		b.Spec.LoadBalancer.BGP.LocalASN, b.Spec.LoadBalancer.BGP.Peers[0].ASN = 64600, 64600
		create(t, ns, a)
		create(t, ns, b)
		eventually(t, 20*time.Second, "one node to win and the other to report MyASNConflict", func() error {
			conflicts := 0
			for _, n := range []*stellarv1.StellarNode{a, b} {
				got := &stellarv1.StellarNode{}
				if err := get(ctx, ns, n.Name, got); err != nil {
					return err
				}
				if got.Status.ObservedGeneration != got.Generation {
					return fmt.Errorf("%s not reconciled", n.Name)
				}
				if c := conditionReason(got, stellarv1.ConditionLoadBalancerReady); c == stellarv1.ReasonMyASNConflict {
					conflicts++
				}
			}
			if conflicts != 1 {
				return fmt.Errorf("%d nodes report MyASNConflict, want exactly 1", conflicts)
			}
			return nil
		})
		if err := both(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		deleteAllNodes(t, ns)
	}
}

func conditionReason(node *stellarv1.StellarNode, condType string) string {
	for _, c := range node.Status.Conditions {
		if c.Type == condType {
			return c.Reason
		}
	}
	return ""
}

// watchPeersNeverCoexist watches BGPPeers and reports if the two named ever existed at once.
func watchPeersNeverCoexist(t *testing.T, first, second string) func() error {
	t.Helper()
	w, err := env.k8s.Watch(context.Background(), &metallbv1beta2.BGPPeerList{}, client.InNamespace(metallbNamespace))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		exists := map[string]bool{}
		var firstErr error
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*metallbv1beta2.BGPPeer)
			if !ok || (p.Name != first && p.Name != second) {
				continue
			}
			exists[p.Name] = ev.Type != watch.Deleted
			if exists[first] && exists[second] && firstErr == nil {
				firstErr = fmt.Errorf("BGPPeers %s and %s (myASN %d) existed together: MetalLB would refuse its configuration", first, second, p.Spec.MyASN)
			}
		}
		done <- firstErr
	}()
	return func() error {
		w.Stop()
		return <-done
	}
}
