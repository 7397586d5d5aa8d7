package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// +kubebuilder:rbac:groups=metallb.io,resources=ipaddresspools;bgppeers;bgpadvertisements;l2advertisements;bfdprofiles,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=metallb.io,resources=servicebgpstatuses;configurationstates;communities,verbs=get;list;watch

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

// observeMetalLB fills the MetalLB facts: what exists in MetalLB's namespace, and what every
// StellarNode of the cluster asks for (pools shared by IP, the winning definition of each router
// session, other claims on the same IP).
func (r *Reconciler) observeMetalLB(ctx context.Context, s *scope) error {
	m := &s.facts.MetalLB
	m.Namespace, m.Mode = r.Options.MetalLBNamespace, r.Options.BGPMode
	// Known even without a load balancer: a node that turns it off must prune what it had.
	installed, err := r.metallbInstalled("IPAddressPool", "v1beta1")
	if err != nil || !installed {
		return err
	}
	m.Installed = true
	if err := r.observeForeign(ctx, s); err != nil {
		return err
	}
	if !render.LBEnabled(s.node) {
		return nil
	}
	nodes, err := r.lbNodes(ctx)
	if err != nil {
		return err
	}
	m.PoolAddresses, m.PeerWinners, m.SameIP = clusterClaims(s.node, nodes, *m)
	return r.readPeerPasswords(ctx, s)
}

// observeForeign records the pools and BFD profiles that exist and are not the operator's: they
// are used as they are and never written or deleted.
func (r *Reconciler) observeForeign(ctx context.Context, s *scope) error {
	m := &s.facts.MetalLB
	reader := r.metallbReader()
	pools := &metallbv1beta1.IPAddressPoolList{}
	if err := reader.List(ctx, pools, client.InNamespace(m.Namespace)); err != nil {
		return fmt.Errorf("listing IPAddressPools: %w", err)
	}
	m.ForeignPools = map[string][]string{}
	for _, p := range pools.Items {
		if !ours(&p) {
			m.ForeignPools[p.Name] = p.Spec.Addresses
		}
	}
	profiles := &metallbv1beta1.BFDProfileList{}
	if err := reader.List(ctx, profiles, client.InNamespace(m.Namespace)); err != nil {
		return fmt.Errorf("listing BFDProfiles: %w", err)
	}
	m.ForeignBFDProfiles = map[string]bool{}
	for _, p := range profiles.Items {
		if !ours(&p) {
			m.ForeignBFDProfiles[p.Name] = true
		}
	}
	return nil
}

// lbNodes are the StellarNodes of the cluster with a load balancer, oldest first: the oldest
// node's definition of a shared router session wins.
func (r *Reconciler) lbNodes(ctx context.Context) ([]stellarv1.StellarNode, error) {
	list := &stellarv1.StellarNodeList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing StellarNodes: %w", err)
	}
	var out []stellarv1.StellarNode
	for _, n := range list.Items {
		if render.LBEnabled(&n) && n.DeletionTimestamp.IsZero() {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return out, nil
}

// clusterClaims derives, from every load-balanced node, the addresses of each operator-owned pool,
// the winning definition of each router session, and the other claims on this node's IP. Pure.
func clusterClaims(self *stellarv1.StellarNode, nodes []stellarv1.StellarNode, m render.MetalLBFacts) (map[string][]string, map[string]render.PeerClaim, []render.IPClaim) {
	pools := map[string][]string{}
	winners := map[string]render.PeerClaim{}
	var sameIP []render.IPClaim
	seen := map[string]map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		key := n.Namespace + "/" + n.Name
		if pool, prefix := render.PoolName(n), render.Prefix(n); pool != "" && prefix != "" {
			if _, foreign := m.ForeignPools[pool]; !foreign {
				if seen[pool] == nil {
					seen[pool] = map[string]bool{}
				}
				if !seen[pool][prefix] {
					seen[pool][prefix] = true
					pools[pool] = append(pools[pool], prefix)
				}
			}
		}
		lb := n.Spec.LoadBalancer
		if key != self.Namespace+"/"+self.Name && lb.LoadBalancerIP != "" && lb.LoadBalancerIP == self.Spec.LoadBalancer.LoadBalancerIP {
			sameIP = append(sameIP, render.IPClaim{Node: key, Ports: render.LBPorts(n), ExternalTrafficPolicy: render.ExternalTrafficPolicy(lb)})
		}
		if render.LBMode(lb) != stellarv1.LoadBalancerBGP || lb.BGP == nil {
			continue
		}
		for j, p := range lb.BGP.Peers {
			name := render.PeerName(p)
			if _, taken := winners[name]; taken {
				continue
			}
			def, _ := render.PeerDefinitionFor(n, j, m.Mode)
			winners[name] = render.PeerClaim{Node: key, Definition: def}
		}
	}
	for _, addresses := range pools {
		sort.Strings(addresses)
	}
	return pools, winners, sameIP
}

// readPeerPasswords copies the MD5 passwords out of the node's Secrets for rendering the
// basic-auth copies MetalLB needs. The values stay in memory; a missing Secret is a problem.
func (r *Reconciler) readPeerPasswords(ctx context.Context, s *scope) error {
	bgp := s.node.Spec.LoadBalancer.BGP
	if bgp == nil {
		return nil
	}
	s.facts.MetalLB.PeerPasswords = map[int][]byte{}
	for i, p := range bgp.Peers {
		if p.PasswordSecretRef == nil {
			continue
		}
		value, problem, err := r.secretValue(ctx, s.node.Namespace, render.PeerPasswordSecret(p), fmt.Sprintf("spec.loadBalancer.bgp.peers[%d].passwordSecretRef", i))
		if err != nil {
			return err
		}
		if problem != nil {
			// The session is not configured without its password; the rest of the node applies.
			problem.Severity = validate.SeverityWarning
			s.problems = append(s.problems, *problem)
			s.requeue = r.Options.retryInterval()
			continue
		}
		s.facts.MetalLB.PeerPasswords[i] = value
	}
	return nil
}

func ours(obj client.Object) bool {
	return obj.GetLabels()[render.LabelManagedBy] == render.ManagerName
}

// sharedKinds are the shared MetalLB object kinds with their list types.
func sharedKinds() map[string]client.ObjectList {
	return map[string]client.ObjectList{
		"IPAddressPool": &metallbv1beta1.IPAddressPoolList{},
		"BGPPeer":       &metallbv1beta2.BGPPeerList{},
		"BFDProfile":    &metallbv1beta1.BFDProfileList{},
		"Secret":        &corev1.SecretList{},
	}
}

// collectShared deletes shared MetalLB objects the operator created that no StellarNode wants any
// more. Only objects with the operator's labels are candidates: foreign objects are never touched.
func (r *Reconciler) collectShared(ctx context.Context, m render.MetalLBFacts) (int, error) {
	if !m.Installed {
		return 0, nil
	}
	nodes, err := r.lbNodes(ctx)
	if err != nil {
		return 0, err
	}
	wanted := map[string]bool{}
	for i := range nodes {
		for kind, names := range render.SharedObjectNames(&nodes[i], m) {
			for _, name := range names {
				wanted[kind+"/"+name] = true
			}
		}
	}
	deleted := 0
	selector := client.MatchingLabels{render.LabelManagedBy: render.ManagerName, render.LabelShared: "true"}
	for kind, list := range sharedKinds() {
		reader := r.metallbReader()
		if kind == "Secret" {
			reader = r.APIReader
		}
		if err := reader.List(ctx, list, client.InNamespace(m.Namespace), selector); err != nil {
			return deleted, fmt.Errorf("listing %s: %w", kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return deleted, err
		}
		for _, item := range items {
			obj, ok := item.(client.Object)
			if !ok || wanted[kind+"/"+obj.GetName()] {
				continue
			}
			logf.FromContext(ctx).Info("Deleting shared MetalLB object no StellarNode uses", "kind", kind, "object", klog.KObj(obj))
			if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("deleting %s %s: %w", kind, obj.GetName(), err)
			}
			deleted++
		}
	}
	return deleted, nil
}

// perNodeMetalLBLists are the per-node MetalLB kinds, pruned and finalized by the node's labels.
func perNodeMetalLBLists() []client.ObjectList {
	return []client.ObjectList{&metallbv1beta1.BGPAdvertisementList{}, &metallbv1beta1.L2AdvertisementList{}}
}

// observeLoadBalancer fills the load-balancer part of status: the Service's external IP, what is
// announced, and per-peer session state where MetalLB reports it (ServiceBGPStatus).
func (r *Reconciler) observeLoadBalancer(ctx context.Context, s *scope) error {
	node := s.node
	node.Status.ExternalIP = ""
	node.Status.LoadBalancer = nil
	if !render.LBEnabled(node) || !s.facts.MetalLB.Installed {
		return nil
	}
	svc := &corev1.Service{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: node.Namespace, Name: render.LoadBalancerServiceName(node)}, svc); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
	} else if ingress := svc.Status.LoadBalancer.Ingress; len(ingress) > 0 {
		node.Status.ExternalIP = ingress[0].IP
	}
	lb := node.Spec.LoadBalancer
	st := &stellarv1.LoadBalancerStatus{Mode: render.LBMode(lb), Pool: render.PoolName(node)}
	if p := render.AdvertisedPrefix(node); p != "" && st.Mode == stellarv1.LoadBalancerBGP {
		st.AdvertisedPrefixes = []string{p}
	}
	if lb.BGP != nil && st.Mode == stellarv1.LoadBalancerBGP {
		st.Communities = render.AnnouncedCommunities(node, s.facts.MetalLB.Mode)
		if lb.BGP.Advertisement != nil {
			st.LocalPref = lb.BGP.Advertisement.LocalPref
		}
		announcing, err := r.announcingNodes(ctx, node)
		if err != nil {
			return err
		}
		for _, p := range lb.BGP.Peers {
			name := render.PeerName(p)
			ps := stellarv1.PeerStatus{Name: name, Address: p.Address, ASN: p.ASN, Nodes: announcing[name]}
			if len(ps.Nodes) > 0 {
				ps.SessionState = "Announcing"
			}
			st.Peers = append(st.Peers, ps)
		}
	}
	node.Status.LoadBalancer = st
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
