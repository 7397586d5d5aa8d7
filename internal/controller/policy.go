package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Policies are read cluster-wide; namespaces by metadata only, for the labels policies select on.
// +kubebuilder:rbac:groups=stellar.org,resources=loadbalancerpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// observePolicy reads the LoadBalancerPolicies and, when there are any, the namespaces' labels.
func (r *Reconciler) observePolicy(ctx context.Context) (validate.PolicyFacts, error) {
	policies := &stellarv1.LoadBalancerPolicyList{}
	if err := r.Client.List(ctx, policies); err != nil {
		return validate.PolicyFacts{}, fmt.Errorf("listing LoadBalancerPolicies: %w", err)
	}
	facts := validate.PolicyFacts{Policies: policies.Items}
	if len(policies.Items) == 0 {
		return facts, nil
	}
	namespaces := &metav1.PartialObjectMetadataList{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.Client.List(ctx, namespaces); err != nil {
		return validate.PolicyFacts{}, fmt.Errorf("listing namespaces: %w", err)
	}
	facts.NamespaceLabels = make(map[string]map[string]string, len(namespaces.Items))
	for _, ns := range namespaces.Items {
		facts.NamespaceLabels[ns.Name] = ns.Labels
	}
	return facts, nil
}

// nodesOfPolicyChange maps a policy or namespace change to every load-balanced node: what a
// policy allows can change for any namespace.
func (r *Reconciler) nodesOfPolicyChange(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &stellarv1.StellarNodeList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].LoadBalancerEnabled() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}
