package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"

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
	return []client.ObjectList{&corev1.ConfigMapList{}, &corev1.ServiceList{}, &appsv1.StatefulSetList{}, &appsv1.DeploymentList{}}
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
	}
	var lists []listIn
	for _, list := range prunableLists() {
		lists = append(lists, listIn{list, s.node.Namespace, r.Client})
	}
	if s.facts.MetalLB.Installed {
		for _, list := range perNodeMetalLBLists() {
			lists = append(lists, listIn{list, s.facts.MetalLB.Namespace, r.metallbReader()})
		}
	}
	for _, l := range lists {
		list := l.list
		if err := l.reader.List(ctx, list, client.InNamespace(l.namespace), ownedBy(s.node)); err != nil {
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
	if !render.RetainsData(node) {
		log.Info("Deleting data volumes and generated Secrets (retentionPolicy Delete)", "node", klog.KObj(node))
		for _, obj := range []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.Secret{}} {
			if err := r.Client.DeleteAllOf(ctx, obj, client.InNamespace(node.Namespace), ownedBy(node)); err != nil {
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
	}
	ns := r.Options.MetalLBNamespace
	for _, obj := range []client.Object{&metallbv1beta1.BGPAdvertisement{}, &metallbv1beta1.L2Advertisement{}} {
		if err := r.Client.DeleteAllOf(ctx, obj, client.InNamespace(ns), ownedBy(node)); err != nil {
			return fmt.Errorf("deleting MetalLB objects of %s: %w", node.Name, err)
		}
	}
	facts := render.MetalLBFacts{Installed: true, Namespace: ns, Mode: r.Options.BGPMode}
	scope := &scope{node: node, facts: render.Facts{MetalLB: facts}}
	if err := r.observeForeign(ctx, scope); err != nil {
		return err
	}
	_, err = r.collectShared(ctx, scope.facts.MetalLB)
	return err
}

func objectID(obj client.Object) string {
	return fmt.Sprintf("%T/%s/%s", obj, obj.GetNamespace(), obj.GetName())
}
