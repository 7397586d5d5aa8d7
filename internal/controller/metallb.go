package controller

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// MetalLB's objects are written in its namespace only; servicebgpstatuses and configurationstates
// are read to report what MetalLB announces and whether it accepts its configuration.
// +kubebuilder:rbac:groups=metallb.io,resources=ipaddresspools;bgppeers;bgpadvertisements;l2advertisements;bfdprofiles,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=metallb.io,resources=servicebgpstatuses;configurationstates,verbs=get;list;watch

// metallbInstalled asks the apiserver (through the RESTMapper, which re-discovers on a miss)
// whether MetalLB's CRDs exist, so a node converges once they are installed.
func (r *Reconciler) metallbInstalled(kind string, version string) (bool, error) {
	_, err := r.Client.RESTMapper().RESTMapping(schema.GroupKind{Group: "metallb.io", Kind: kind}, version)
	if err == nil {
		return true, nil
	}
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	return false, err
}

// metallbReader reads MetalLB objects from the cache when they are watched, else from the API.
func (r *Reconciler) metallbReader() client.Reader {
	if r.watchesMetalLB {
		return r.Client
	}
	return r.APIReader
}

// observeMetalLB fills the MetalLB facts: every pool, peer, BFD profile and foreign advertisement
// of MetalLB's namespace (MetalLB judges its configuration as a whole), which StellarNodes claim
// what, the tenancy policy, and the node's MD5 passwords.
func (r *Reconciler) observeMetalLB(ctx context.Context, s *scope) error {
	m := &s.facts.MetalLB
	m.Namespace, m.Mode = r.Options.MetalLBNamespace, r.Options.BGPMode
	// Known even without a load balancer: a node that turns it off must prune what it had.
	installed, err := r.metallbInstalled("IPAddressPool", "v1beta1")
	if err != nil || !installed {
		return err
	}
	m.Installed = true
	if !usesSharedObjects(s.node) {
		return nil
	}
	if err := r.observeMetalLBObjects(ctx, m); err != nil {
		return err
	}
	if m.Policy, err = r.observePolicy(ctx); err != nil {
		return err
	}
	s.claims = &cacheClaims{ctx: ctx, reader: r.Client}
	m.Claims = s.claims
	if !s.node.LoadBalancerEnabled() {
		return nil
	}
	return r.readPeerPasswords(ctx, s)
}

// observeMetalLBObjects lists MetalLB's configuration objects, the operator's and everyone else's.
func (r *Reconciler) observeMetalLBObjects(ctx context.Context, m *render.MetalLBFacts) error {
	reader := r.metallbReader()
	// Read-only use of the cache's objects: copying every pool of a large cluster on every pass
	// would cost more than the pass.
	in := []client.ListOption{client.InNamespace(m.Namespace), client.UnsafeDisableDeepCopy}
	pools := &metallbv1beta1.IPAddressPoolList{}
	if err := reader.List(ctx, pools, in...); err != nil {
		return fmt.Errorf("listing IPAddressPools: %w", err)
	}
	m.Pools = nil
	for _, p := range pools.Items {
		m.Pools = append(m.Pools, render.ExistingPool{Name: p.Name, Ours: ours(&p), Addresses: p.Spec.Addresses, Allocation: p.Spec.AllocateTo})
	}
	peers := &metallbv1beta2.BGPPeerList{}
	if err := reader.List(ctx, peers, in...); err != nil {
		return fmt.Errorf("listing BGPPeers: %w", err)
	}
	m.Peers = nil
	for _, p := range peers.Items {
		m.Peers = append(m.Peers, render.ExistingPeer{Name: p.Name, Ours: ours(&p), Spec: p.Spec})
	}
	profiles := &metallbv1beta1.BFDProfileList{}
	if err := reader.List(ctx, profiles, in...); err != nil {
		return fmt.Errorf("listing BFDProfiles: %w", err)
	}
	m.BFDProfiles = nil
	for _, p := range profiles.Items {
		m.BFDProfiles = append(m.BFDProfiles, render.ExistingBFDProfile{Name: p.Name, Ours: ours(&p), EchoMode: p.Spec.EchoMode != nil && *p.Spec.EchoMode})
	}
	advertisements := &metallbv1beta1.BGPAdvertisementList{}
	if err := reader.List(ctx, advertisements, in...); err != nil {
		return fmt.Errorf("listing BGPAdvertisements: %w", err)
	}
	m.Advertisements = nil
	for _, a := range advertisements.Items {
		if !ours(&a) {
			m.Advertisements = append(m.Advertisements, a)
		}
	}
	return nil
}

// cacheClaims answers render.Claims from the cache's StellarNode indexes: a node's siblings are
// found without walking every node of the cluster. One lives for one pass (or one event mapping):
// it remembers each answer, and hands out the cache's own objects, which render only reads
// (render's TestRenderNeverChangesTheSiblingsItReads). A pass over a fleet sharing one router asks
// about every sibling several times: copying them each time made a fleet's convergence O(N²).
type cacheClaims struct {
	ctx    context.Context
	reader client.Reader
	err    error
	seen   map[string][]*stellarv1.StellarNode
}

func (c *cacheClaims) lookup(index, key string) []*stellarv1.StellarNode {
	memo := index + "\x00" + key
	if nodes, ok := c.seen[memo]; ok {
		return nodes
	}
	list := &stellarv1.StellarNodeList{}
	if err := c.reader.List(c.ctx, list, client.MatchingFields{index: key}, client.UnsafeDisableDeepCopy); err != nil {
		if c.err == nil {
			c.err = fmt.Errorf("looking up StellarNodes by %s: %w", index, err)
		}
		return nil
	}
	out := make([]*stellarv1.StellarNode, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	render.SortOldestFirst(out)
	if c.seen == nil {
		c.seen = map[string][]*stellarv1.StellarNode{}
	}
	c.seen[memo] = out
	return out
}

func (c *cacheClaims) ByAddress(addr netip.Addr) []*stellarv1.StellarNode {
	return c.lookup(render.IndexAddress, addr.String())
}
func (c *cacheClaims) ByPool(name string) []*stellarv1.StellarNode {
	return c.lookup(render.IndexPool, name)
}
func (c *cacheClaims) ByRouter(addr netip.Addr) []*stellarv1.StellarNode {
	return c.lookup(render.IndexRouter, addr.String())
}

// readPeerPasswords copies the MD5 passwords out of the node's Secrets for rendering the
// basic-auth copies MetalLB needs. The values stay in memory; a missing Secret is a problem.
func (r *Reconciler) readPeerPasswords(ctx context.Context, s *scope) error {
	bgp := s.node.BGP()
	if bgp == nil {
		return nil
	}
	s.facts.MetalLB.PeerPasswords = map[int][]byte{}
	s.facts.MetalLB.PeerPasswordProblems = map[int]validate.Problem{}
	for i, p := range bgp.Peers {
		if p.PasswordSecretRef == nil {
			continue
		}
		value, problem, err := r.secretValue(ctx, s.node.Namespace, render.PeerPasswordSecret(p), fmt.Sprintf("spec.loadBalancer.bgp.peers[%d].passwordSecretRef", i))
		if err != nil {
			return err
		}
		if problem != nil {
			// render decides what a missing password stops (the node's announcement, not its workload).
			s.facts.MetalLB.PeerPasswordProblems[i] = *problem
			s.requeueAtMost(r.Options.retryInterval())
			continue
		}
		s.facts.MetalLB.PeerPasswords[i] = value
	}
	return nil
}

func ours(obj client.Object) bool {
	return obj.GetLabels()[render.LabelManagedBy] == render.ManagerName
}

// perNodeMetalLBLists are the per-node MetalLB kinds, pruned and finalized by the node's labels.
func perNodeMetalLBLists() []client.ObjectList {
	return []client.ObjectList{&metallbv1beta1.BGPAdvertisementList{}, &metallbv1beta1.L2AdvertisementList{}}
}

// observeLoadBalancer adds what MetalLB did to the load-balancer status render intended: the
// Service's external IP, and per peer the nodes whose speaker announces the Service
// (ServiceBGPStatus); and surfaces MetalLB's own verdict on its configuration.
func (r *Reconciler) observeLoadBalancer(ctx context.Context, s *scope) error {
	node := s.node
	node.Status.ExternalIP = ""
	s.lbAssigned = false
	if !node.LoadBalancerEnabled() || !s.facts.MetalLB.Installed || s.intended.LoadBalancer == nil {
		return nil
	}
	svc := &corev1.Service{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: node.Namespace, Name: render.LoadBalancerServiceName(node)}, svc); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
	} else if ingress := svc.Status.LoadBalancer.Ingress; len(ingress) > 0 && ours(svc) {
		node.Status.ExternalIP = ingress[0].IP
		s.lbAssigned = true
	}
	if len(s.intended.LoadBalancer.Peers) > 0 {
		announcing, err := r.announcingNodes(ctx, node)
		if err != nil {
			return err
		}
		for i := range s.intended.LoadBalancer.Peers {
			ps := &s.intended.LoadBalancer.Peers[i]
			ps.Nodes = announcing[ps.Name]
			if len(ps.Nodes) > 0 {
				ps.SessionState = "Announcing"
			}
		}
	}
	return r.observeConfigurationState(ctx, s)
}

// announcingNodes maps peer names to the nodes whose speaker announces this node's Service to it.
func (r *Reconciler) announcingNodes(ctx context.Context, node *stellarv1.StellarNode) (map[string][]string, error) {
	out := map[string][]string{}
	if ok, err := r.metallbInstalled("ServiceBGPStatus", "v1beta1"); err != nil || !ok {
		return out, err
	}
	list := &metallbv1beta1.ServiceBGPStatusList{}
	if err := r.metallbReader().List(ctx, list, client.InNamespace(r.Options.MetalLBNamespace)); err != nil {
		return nil, fmt.Errorf("listing ServiceBGPStatus: %w", err)
	}
	for _, st := range list.Items {
		if st.Status.ServiceName != render.LoadBalancerServiceName(node) || st.Status.ServiceNamespace != node.Namespace {
			continue
		}
		for _, peer := range st.Status.Peers {
			out[peer] = append(out[peer], st.Status.Node)
		}
	}
	for _, nodes := range out {
		sort.Strings(nodes)
	}
	return out, nil
}

// observeConfigurationState surfaces MetalLB's own verdict on its configuration: without its
// webhook, ConfigurationState is the only place an invalid configuration shows.
func (r *Reconciler) observeConfigurationState(ctx context.Context, s *scope) error {
	if ok, err := r.metallbInstalled("ConfigurationState", "v1beta1"); err != nil || !ok {
		return err
	}
	list := &metallbv1beta1.ConfigurationStateList{}
	if err := r.metallbReader().List(ctx, list, client.InNamespace(r.Options.MetalLBNamespace)); err != nil {
		return fmt.Errorf("listing ConfigurationState: %w", err)
	}
	var invalid []string
	for _, cs := range list.Items {
		if cs.Status.Result == "Invalid" {
			invalid = append(invalid, cs.Name+": "+cs.Status.ErrorSummary)
		}
	}
	if len(invalid) > 0 {
		sort.Strings(invalid)
		s.problems = append(s.problems, validate.Warnf("spec.loadBalancer", stellarv1.ReasonMetalLBConfigInvalid,
			"MetalLB reports its configuration invalid: "+strings.Join(invalid, "; ")))
	}
	return nil
}
