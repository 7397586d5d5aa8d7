package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// indexSecret finds the nodes referencing a Secret ("namespace/name"), generated ones included.
const indexSecret = "stellar.org/secret"

// indexOwnerNode finds the operator's objects of one node ("namespace/name" of the StellarNode,
// from its labels): a pass looks for its leftovers without scanning every node's objects of the
// namespace, or of MetalLB's namespace, which holds every node's advertisement.
const indexOwnerNode = "stellar.org/owner-node"

// ownerNodeKeys is the indexOwnerNode value of an object: its node's key when it is the operator's.
func ownerNodeKeys(obj client.Object) []string {
	labels := obj.GetLabels()
	name, namespace := labels[render.LabelNode], labels[render.LabelNodeNamespace]
	if labels[render.LabelManagedBy] != render.ManagerName || name == "" || namespace == "" {
		return nil
	}
	return []string{namespace + "/" + name}
}

// setupIndexes registers the cache indexes every event mapping, sibling lookup and leftover search
// uses, so that none walks all nodes of the cluster or all their objects.
func setupIndexes(mgr ctrl.Manager, watchesMetalLB bool) error {
	indexer := mgr.GetFieldIndexer()
	owned := prunableLists()
	if watchesMetalLB {
		owned = append(owned, perNodeMetalLBLists()...)
	}
	for _, list := range owned {
		obj, err := objectOfList(mgr.GetScheme(), list)
		if err != nil {
			return err
		}
		if err := indexer.IndexField(context.Background(), obj, indexOwnerNode, ownerNodeKeys); err != nil {
			return err
		}
	}
	for _, index := range []string{render.IndexAddress, render.IndexPool, render.IndexRouter, render.IndexBFDProfile} {
		if err := indexer.IndexField(context.Background(), &stellarv1.StellarNode{}, index, func(obj client.Object) []string {
			node, ok := obj.(*stellarv1.StellarNode)
			if !ok {
				return nil
			}
			return render.ClaimKeys(node)[index]
		}); err != nil {
			return err
		}
	}
	return indexer.IndexField(context.Background(), &stellarv1.StellarNode{}, indexSecret, func(obj client.Object) []string {
		node, ok := obj.(*stellarv1.StellarNode)
		if !ok {
			return nil
		}
		var out []string
		for _, name := range referencedSecrets(node) {
			out = append(out, node.Namespace+"/"+name)
		}
		return out
	})
}

// referencedSecrets are the Secrets a node reads: its seed or database URL (the user's or the
// generated one) and its routers' MD5 passwords.
func referencedSecrets(node *stellarv1.StellarNode) []string {
	var out []string
	switch node.Spec.NodeType {
	case stellarv1.NodeTypeValidator:
		ref, _ := render.SeedSecret(node)
		out = append(out, ref.Name)
	case stellarv1.NodeTypeHorizon:
		ref, _ := render.DatabaseSecret(node)
		out = append(out, ref.Name)
	}
	if bgp := node.BGP(); bgp != nil {
		for _, p := range bgp.Peers {
			if p.PasswordSecretRef != nil {
				out = append(out, p.PasswordSecretRef.Name)
			}
		}
	}
	return out
}

// requestsFor turns nodes into reconcile requests.
func requestsFor(nodes []*stellarv1.StellarNode) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(n)})
	}
	return out
}

// siblingsOf maps a node's change (its old and new versions both pass here) to the nodes claiming
// the same address, pool or router: their shared MetalLB objects may change with it.
func (r *Reconciler) siblingsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	node, ok := obj.(*stellarv1.StellarNode)
	if !ok {
		return nil
	}
	claims := &cacheClaims{ctx: ctx, reader: r.Client}
	var siblings []*stellarv1.StellarNode
	keys := render.ClaimKeys(node)
	if node.LoadBalancerEnabled() && !node.DeletionTimestamp.IsZero() {
		// Being deleted: ClaimKeys is empty, but its siblings must let go of what it shared.
		spec := node.DeepCopy()
		spec.DeletionTimestamp = nil
		keys = render.ClaimKeys(spec)
	}
	for index, values := range keys {
		for _, v := range values {
			siblings = append(siblings, claims.lookup(index, v)...)
		}
	}
	var out []reconcile.Request
	seen := map[client.ObjectKey]bool{client.ObjectKeyFromObject(node): true}
	for _, req := range requestsFor(siblings) {
		if !seen[req.NamespacedName] {
			seen[req.NamespacedName] = true
			out = append(out, req)
		}
	}
	return out
}

// nodesReferencingSecret maps a Secret to the nodes that read it, and an MD5 password copy of the
// operator to the nodes peering with its router.
func (r *Reconciler) nodesReferencingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	claims := &cacheClaims{ctx: ctx, reader: r.Client}
	nodes := claims.lookup(indexSecret, secret.GetNamespace()+"/"+secret.GetName())
	if ours(secret) && isShared(secret) {
		if addr, ok := stellarv1.ParseAddress(secret.GetAnnotations()[render.AnnotationRouter]); ok {
			nodes = append(nodes, claims.ByRouter(addr)...)
		}
	}
	return requestsFor(nodes)
}

// nodesOfMetalLBObject maps a MetalLB object to the nodes it concerns: a per-node object to its
// node, a pool to the nodes naming it, a peer to the nodes peering with its router, a BFD profile
// to its users. Someone else's pool or advertisement may hold any node's address: those rare
// changes wake every load-balanced node.
func (r *Reconciler) nodesOfMetalLBObject(ctx context.Context, obj client.Object) []reconcile.Request {
	labels := obj.GetLabels()
	if name, ns := labels[render.LabelNode], labels[render.LabelNodeNamespace]; name != "" && ns != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
	}
	claims := &cacheClaims{ctx: ctx, reader: r.Client}
	switch o := obj.(type) {
	case *metallbv1beta1.IPAddressPool:
		if !ours(o) {
			return r.nodesOfPolicyChange(ctx, o)
		}
		return requestsFor(slices.Collect(possibleUsers(claims, o)))
	case *metallbv1beta2.BGPPeer:
		if addr, ok := stellarv1.ParseAddress(o.Spec.Address); ok {
			return requestsFor(claims.ByRouter(addr))
		}
	case *metallbv1beta1.BFDProfile:
		return requestsFor(claims.lookup(render.IndexBFDProfile, o.Name))
	case *metallbv1beta1.BGPAdvertisement:
		return r.nodesOfPolicyChange(ctx, o)
	}
	return nil
}

// nodeOfServiceStatus maps MetalLB's per-Service announcement status to the node of the Service.
func (r *Reconciler) nodeOfServiceStatus(_ context.Context, obj client.Object) []reconcile.Request {
	st, ok := obj.(*metallbv1beta1.ServiceBGPStatus)
	if !ok {
		return nil
	}
	name, isLB := strings.CutSuffix(st.Status.ServiceName, "-lb")
	if !isLB || st.Status.ServiceNamespace == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: st.Status.ServiceNamespace, Name: name}}}
}

// nodesInNamespace maps a namespace (its labels may change what a policy grants) to its
// load-balanced nodes.
func (r *Reconciler) nodesInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	list := &stellarv1.StellarNodeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(ns.GetName())); err != nil {
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

// objectOfList is an empty object of a list's item kind.
func objectOfList(scheme *runtime.Scheme, list client.ObjectList) (client.Object, error) {
	gvk, err := apiutil.GVKForObject(list, scheme)
	if err != nil {
		return nil, err
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	obj, err := scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	cobj, ok := obj.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", gvk)
	}
	return cobj, nil
}
