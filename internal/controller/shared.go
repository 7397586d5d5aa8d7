package controller

import (
	"context"
	"fmt"
	"iter"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// Shared MetalLB objects (pools, peers, BFD profiles, password copies) are written by the
// reconciles of every node using them, possibly at once. MetalLB judges its configuration as a
// whole, so the checks render makes against the cluster (no overlapping pools, one myASN per node,
// a router peered once) and the writes they allow must not interleave: the phase that reads
// MetalLB's objects, renders and writes shared objects holds Reconciler.sharedMu, and waits until
// the cache shows each write before letting the next reconcile read it.

// cacheCatchUpTimeout bounds the wait for the cache to show the operator's own write.
const cacheCatchUpTimeout = 5 * time.Second

// isShared reports whether obj is a shared MetalLB object the operator renders.
func isShared(obj client.Object) bool {
	return obj.GetLabels()[render.LabelShared] == "true"
}

// waitCached waits until the cache shows obj at a version after a write (or gone, after a delete),
// when obj's kind is read from the cache. Without it the next reconcile could check against the
// state before this write and allow something MetalLB would refuse together with it.
func (r *Reconciler) waitCached(ctx context.Context, obj client.Object, before string, deleted bool) {
	if r.readerFor(obj) != r.Client {
		return // read from the API: always current
	}
	probe, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return
	}
	deadline := time.Now().Add(cacheCatchUpTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), probe)
		switch {
		case deleted && apierrors.IsNotFound(err):
			return
		case !deleted && err == nil && probe.GetResourceVersion() != before:
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	logf.FromContext(ctx).Info("The cache did not show the operator's write in time", "object", klog.KObj(obj))
}

// sharedKind makes empty objects and lists of one shared kind.
type sharedKind struct {
	object func() client.Object
	list   func() client.ObjectList
}

// sharedKinds are the shared MetalLB object kinds.
func sharedKinds() map[string]sharedKind {
	return map[string]sharedKind{
		"IPAddressPool": {func() client.Object { return &metallbv1beta1.IPAddressPool{} }, func() client.ObjectList { return &metallbv1beta1.IPAddressPoolList{} }},
		"BGPPeer":       {func() client.Object { return &metallbv1beta2.BGPPeer{} }, func() client.ObjectList { return &metallbv1beta2.BGPPeerList{} }},
		"BFDProfile":    {func() client.Object { return &metallbv1beta1.BFDProfile{} }, func() client.ObjectList { return &metallbv1beta1.BFDProfileList{} }},
		"Secret":        {func() client.Object { return &corev1.Secret{} }, func() client.ObjectList { return &corev1.SecretList{} }},
	}
}

// sharedCandidates are the shared objects a node may have stopped wanting: what its spec names
// now, and what it held before (formerShared). Each candidate is deleted only after checking that
// no StellarNode wants it; the periodic sweep catches anything else.
func sharedCandidates(node *stellarv1.StellarNode, m render.MetalLBFacts) map[string]bool {
	out := formerShared(node, m)
	spec := node.DeepCopy()
	spec.DeletionTimestamp = nil
	for kind, names := range render.SharedObjectNames(spec, m) {
		for _, name := range names {
			out[kind+"/"+name] = true
		}
	}
	return out
}

// formerShared are the shared objects a node may hold from before: what its last status said it
// used (a hint only), and our pools still holding its address.
func formerShared(node *stellarv1.StellarNode, m render.MetalLBFacts) map[string]bool {
	out := map[string]bool{}
	if node.LoadBalancerEnabled() {
		if addr, ok := node.Spec.LoadBalancer.Address(); ok {
			// A pool of ours still holding the address keeps the node's new pool waiting
			// (AddressMoving) until it goes or shrinks.
			for _, pool := range m.Pools {
				if _, holds := render.PoolContains(pool.Addresses, addr); holds && pool.Ours {
					out["IPAddressPool/"+pool.Name] = true
				}
			}
		}
	}
	if lb := node.Status.LoadBalancer; lb != nil {
		if lb.Pool != "" {
			out["IPAddressPool/"+lb.Pool] = true
		}
		if lb.BFDProfile != "" {
			out["BFDProfile/"+lb.BFDProfile] = true
		}
		for _, p := range lb.Peers {
			out["BGPPeer/"+p.Name] = true
			out["Secret/"+p.Name+"-md5"] = true
		}
	}
	return out
}

// collectShared deletes the candidates (Kind/name) that are the operator's shared objects and that
// no StellarNode wants any more. Objects without the operator's labels are never touched.
func (r *Reconciler) collectShared(ctx context.Context, m render.MetalLBFacts, candidates map[string]bool) (int, error) {
	deleted := 0
	for key := range candidates {
		kind, name, _ := strings.Cut(key, "/")
		k, ok := sharedKinds()[kind]
		if !ok {
			continue
		}
		obj, err := r.getShared(ctx, k.object(), m.Namespace, name)
		if err != nil || obj == nil {
			if err != nil {
				return deleted, err
			}
			continue
		}
		gone, err := r.collectIfUnwanted(ctx, m, kind, obj)
		if err != nil {
			return deleted, err
		}
		if gone {
			deleted++
		}
	}
	return deleted, nil
}

// getShared reads one of the operator's shared objects by name, or nil when it does not exist or
// is not the operator's.
func (r *Reconciler) getShared(ctx context.Context, obj client.Object, namespace, name string) (client.Object, error) {
	if err := r.readerFor(obj).Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %T %s: %w", obj, name, err)
	}
	if !ours(obj) || !isShared(obj) {
		return nil, nil
	}
	return obj, nil
}

// listShared lists the operator's shared objects of a kind (Secrets from the API: their values
// are never cached).
func (r *Reconciler) listShared(ctx context.Context, list client.ObjectList, namespace string) ([]client.Object, error) {
	reader := r.metallbReader()
	if _, secret := list.(*corev1.SecretList); secret {
		reader = r.APIReader
	}
	selector := client.MatchingLabels{render.LabelManagedBy: render.ManagerName, render.LabelShared: "true"}
	if err := reader.List(ctx, list, client.InNamespace(namespace), selector); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing shared MetalLB objects: %w", err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(items))
	for _, item := range items {
		if obj, ok := item.(client.Object); ok {
			out = append(out, obj)
		}
	}
	return out, nil
}

// collectIfUnwanted deletes obj when none of the StellarNodes that could want it does. A pass
// hands in its own claims (m.Claims), whose answers it has already looked up; the sweep has none.
func (r *Reconciler) collectIfUnwanted(ctx context.Context, m render.MetalLBFacts, kind string, obj client.Object) (bool, error) {
	claims, ok := m.Claims.(*cacheClaims)
	if !ok || claims == nil {
		claims = &cacheClaims{ctx: ctx, reader: r.Client}
		m.Claims = claims
	}
	// Users first, one at a time: the first that wants the object (usually the node of the pass)
	// settles it, where listing every user of a fleet's shared peer would not.
	for n := range possibleUsers(claims, obj) {
		for _, name := range render.SharedObjectNames(n, m)[kind] {
			if name == obj.GetName() {
				return false, nil
			}
		}
	}
	if claims.err != nil {
		return false, claims.err
	}
	if pool, ok := obj.(*metallbv1beta1.IPAddressPool); ok {
		// A pool goes only after the last Service holding one of its addresses: a speaker refuses
		// a configuration in which an assigned address belongs to no pool.
		if held, err := r.poolStillHeld(ctx, pool.Name); err != nil || held {
			return false, err
		}
	}
	logf.FromContext(ctx).Info("Deleting shared MetalLB object no StellarNode uses", "kind", kind, "object", klog.KObj(obj))
	if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("deleting %s %s: %w", kind, obj.GetName(), err)
	}
	r.waitCached(ctx, obj, "", true)
	return true, nil
}

// possibleUsers are the StellarNodes that could want a shared object, found through the cache's
// indexes: a pool's namers, then the askers of each of its addresses (looked up only as far as the
// caller reads); a peer's or password's router users; a BFD profile's users.
func possibleUsers(claims *cacheClaims, obj client.Object) iter.Seq[*stellarv1.StellarNode] {
	return func(yield func(*stellarv1.StellarNode) bool) {
		var users []*stellarv1.StellarNode
		switch o := obj.(type) {
		case *metallbv1beta1.IPAddressPool:
			for _, n := range claims.ByPool(o.Name) {
				if !yield(n) {
					return
				}
			}
			for _, a := range o.Spec.Addresses {
				if prefix, err := netip.ParsePrefix(a); err == nil && prefix.IsSingleIP() {
					for _, n := range claims.ByAddress(prefix.Addr()) {
						if !yield(n) {
							return
						}
					}
				}
			}
			return
		case *metallbv1beta2.BGPPeer:
			if addr, ok := stellarv1.ParseAddress(o.Spec.Address); ok {
				users = claims.ByRouter(addr)
			}
		case *corev1.Secret:
			if addr, ok := stellarv1.ParseAddress(o.Annotations[render.AnnotationRouter]); ok {
				users = claims.ByRouter(addr)
			}
		case *metallbv1beta1.BFDProfile:
			users = claims.lookup(render.IndexBFDProfile, o.Name)
		}
		for _, n := range users {
			if !yield(n) {
				return
			}
		}
	}
}

// sweepShared checks every shared object of the operator: the safety net for anything the
// per-node candidates missed (an operator that was down when a node went away, say).
func (r *Reconciler) sweepShared(ctx context.Context) error {
	installed, err := r.metallbInstalled("IPAddressPool", "v1beta1")
	if err != nil || !installed {
		return err
	}
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	m := render.MetalLBFacts{Installed: true, Namespace: r.Options.MetalLBNamespace, Mode: r.Options.BGPMode}
	if err := r.observeMetalLBObjects(ctx, &m); err != nil {
		return err
	}
	if m.Policy, err = r.observePolicy(ctx); err != nil {
		return err
	}
	for kind, k := range sharedKinds() {
		items, err := r.listShared(ctx, k.list(), m.Namespace)
		if err != nil {
			return err
		}
		for _, obj := range items {
			if _, err := r.collectIfUnwanted(ctx, m, kind, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// poolStillHeld reports whether one of the operator's LoadBalancer Services still names the pool.
func (r *Reconciler) poolStillHeld(ctx context.Context, pool string) (bool, error) {
	services := &corev1.ServiceList{}
	if err := r.Client.List(ctx, services, client.UnsafeDisableDeepCopy,
		client.MatchingLabels{render.LabelManagedBy: render.ManagerName, render.LabelComponent: render.ComponentLoadBalancer}); err != nil {
		return false, fmt.Errorf("listing LoadBalancer Services: %w", err)
	}
	for _, svc := range services.Items {
		if svc.Annotations[render.AnnotationAddressPool] == pool && svc.DeletionTimestamp.IsZero() {
			return true, nil
		}
	}
	return false, nil
}
