package controller

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// ownedBy selects what the operator created for a node. Deleting only what carries these labels
// keeps the operator in its lane: objects of other owners are never touched.
func ownedBy(node *stellarv1.StellarNode) client.MatchingLabels {
	return client.MatchingLabels{
		render.LabelManagedBy:     render.ManagerName,
		render.LabelNode:          node.Name,
		render.LabelNodeNamespace: node.Namespace,
	}
}

// prunableLists are the same-namespace kinds a node may stop wanting. Claims and Secrets are not
// pruned: they hold data, and go only with the node under retentionPolicy Delete.
func prunableLists() []client.ObjectList {
	return []client.ObjectList{&corev1.ConfigMapList{}, &corev1.ServiceList{}, &appsv1.StatefulSetList{}, &appsv1.DeploymentList{}, &policyv1.PodDisruptionBudgetList{}}
}

// prune deletes our labelled objects of a node that the node no longer wants.
func (r *Reconciler) prune(ctx context.Context, s *scope, desired []client.Object) error {
	want := map[string]bool{}
	for _, obj := range desired {
		want[objectID(obj)] = true
	}
	type listIn struct {
		list      client.ObjectList
		namespace string
		reader    client.Reader
		indexed   bool
	}
	var lists []listIn
	for _, list := range prunableLists() {
		lists = append(lists, listIn{list, s.node.Namespace, r.Client, true})
	}
	if s.facts.MetalLB.Installed {
		for _, list := range perNodeMetalLBLists() {
			lists = append(lists, listIn{list, s.facts.MetalLB.Namespace, r.metallbReader(), r.watchesMetalLB})
		}
	}
	for _, l := range lists {
		list := l.list
		opts := []client.ListOption{client.InNamespace(l.namespace), ownedBy(s.node)}
		if l.indexed {
			opts = append(opts, client.MatchingFields{indexOwnerNode: render.NodeKey(s.node)})
		}
		if err := l.reader.List(ctx, list, opts...); err != nil {
			return fmt.Errorf("listing leftovers: %w", err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj, ok := item.(client.Object)
			if !ok || want[objectID(obj)] {
				continue
			}
			logf.FromContext(ctx).Info("Deleting object the node no longer wants", "object", klog.KObj(obj), "type", fmt.Sprintf("%T", obj))
			if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
			}
			// Shared objects are collected next, judged on what the cache shows: it must show this.
			r.waitCached(ctx, obj, "", true)
			s.wrote++
		}
	}
	return nil
}

// finalize removes what owner references cannot: data volumes and generated Secrets when the node's
// retentionPolicy is Delete. Retained claims and Secrets stay, so a node re-created under the same
// name finds its data and identity again.
func (r *Reconciler) finalize(ctx context.Context, node *stellarv1.StellarNode) error {
	if !controllerutil.ContainsFinalizer(node, Finalizer) {
		return nil
	}
	log := logf.FromContext(ctx)
	if err := r.finalizeMetalLB(ctx, node); err != nil {
		return err
	}
	if !node.RetainsData() {
		log.Info("Deleting data volumes and generated Secrets (retentionPolicy Delete)", "node", klog.KObj(node))
		for _, list := range []client.ObjectList{&corev1.PersistentVolumeClaimList{}, &corev1.SecretList{}} {
			if err := r.deleteLabelled(ctx, r.APIReader, list, node.Namespace, ownedBy(node)); err != nil {
				return fmt.Errorf("deleting data of %s: %w", node.Name, err)
			}
		}
	}
	patch := client.MergeFrom(node.DeepCopy())
	controllerutil.RemoveFinalizer(node, Finalizer)
	if err := r.Client.Patch(ctx, node, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	return nil
}

// finalizeMetalLB deletes the node's own MetalLB objects, then the shared ones no other node wants.
func (r *Reconciler) finalizeMetalLB(ctx context.Context, node *stellarv1.StellarNode) error {
	installed, err := r.metallbInstalled("IPAddressPool", "v1beta1")
	if err != nil || !installed {
		return err
	}
	// The LoadBalancer Service goes first: a speaker keeps announcing a Service whose pool is gone
	// (it rejects the new configuration), so deleting the pool under it would hold the route.
	lbService := &corev1.Service{}
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: node.Namespace, Name: render.LoadBalancerServiceName(node)}, lbService)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil && ours(lbService) {
		if err := r.Client.Delete(ctx, lbService); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the LoadBalancer Service of %s: %w", node.Name, err)
		}
		// Its pool is collected below only once no Service holds it: see that this one is gone.
		r.waitCached(ctx, lbService, "", true)
	}
	ns := r.Options.MetalLBNamespace
	for _, list := range perNodeMetalLBLists() {
		if err := r.deleteLabelled(ctx, r.metallbReader(), list, ns, ownedBy(node)); err != nil {
			return fmt.Errorf("deleting MetalLB objects of %s: %w", node.Name, err)
		}
	}
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	m := render.MetalLBFacts{Installed: true, Namespace: ns, Mode: r.Options.BGPMode}
	if err := r.observeMetalLBObjects(ctx, &m); err != nil {
		return ignoreGone(err)
	}
	if m.Policy, err = r.observePolicy(ctx); err != nil {
		return err
	}
	_, err = r.collectShared(ctx, m, sharedCandidates(node, m))
	return ignoreGone(err)
}

// ignoreGone treats MetalLB's kinds having disappeared meanwhile (CRDs removed) as nothing left to
// delete: deletion of a node must never hang on them.
func ignoreGone(err error) error {
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteLabelled deletes, one by one, the objects of a kind that carry the given labels. It does not
// use deletecollection: the shipped RBAC does not grant it, and one object that cannot be deleted
// must not hide the others. Objects already gone, or whose kind is no longer served (MetalLB's CRDs
// removed meanwhile), count as deleted.
func (r *Reconciler) deleteLabelled(ctx context.Context, reader client.Reader, list client.ObjectList, namespace string, labels client.MatchingLabels) error {
	if err := reader.List(ctx, list, client.InNamespace(namespace), labels); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	var errs []error
	for _, item := range items {
		obj, ok := item.(client.Object)
		if !ok {
			continue
		}
		logf.FromContext(ctx).Info("Deleting object", "object", klog.KObj(obj), "type", fmt.Sprintf("%T", obj))
		if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", obj.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

func objectID(obj client.Object) string {
	return fmt.Sprintf("%T/%s/%s", obj, obj.GetNamespace(), obj.GetName())
}
