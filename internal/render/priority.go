package render

import (
	"fmt"
	"slices"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// globalDiscovery.priority across ASNs. LOCAL_PREF ranks paths only inside one AS: it is never sent
// over eBGP, so the spec's three regions with three ASNs (64512, 64513, 64514) cannot be ranked by
// their advertisements' localPref at a router outside them. The operator therefore also announces
// the priority as a BGP large community, which is transitive, and the routers that see every
// region map it to their own LOCAL_PREF (docs/metallb.md has an FRR route-map):
//
//	<localASN>:1:<priority>      e.g. 64513:1:90 for the spec's eu-west (priority 90)
//
// The global administrator is the announcing AS (RFC 8092), function 1 means "global discovery
// priority", the value is the priority (0..65535, higher is preferred). MetalLB carries large
// communities in its FRR modes only (frr-k8s is its default and the operator's); in native mode the
// community is left out and a warning says so, together with the other large communities.

// PriorityCommunityFunction is the second field of the priority large community.
const PriorityCommunityFunction = 1

// PriorityCommunity is the large community announcing the node's global-discovery priority
// (without MetalLB's "large:" prefix), or "" when the node has no global discovery or no BGP.
func PriorityCommunity(node *stellarv1.StellarNode) string {
	gd := node.EffectiveGlobalDiscovery()
	bgp := node.BGP()
	if gd == nil || bgp == nil {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d", bgp.LocalASN, PriorityCommunityFunction, gd.EffectivePriority())
}

// withPriorityCommunity adds the priority community to communities as MetalLB writes them, unless
// the mode cannot carry large communities or the user already lists it (MetalLB refuses duplicate
// entries). Pure.
func withPriorityCommunity(communities []string, node *stellarv1.StellarNode, mode BGPMode) []string {
	c := PriorityCommunity(node)
	if c == "" || mode == BGPModeNative || slices.Contains(communities, "large:"+c) {
		return communities
	}
	return append(slices.Clone(communities), "large:"+c)
}

// priorityProblems warns when the priority cannot reach a router outside the node's AS: native
// mode carries no large community, and an eBGP peer drops LOCAL_PREF. Over iBGP only, localPref
// already ranks the paths and nothing is lost. Pure.
func priorityProblems(node *stellarv1.StellarNode, mode BGPMode) []validate.Problem {
	if mode != BGPModeNative || PriorityCommunity(node) == "" {
		return nil
	}
	bgp := node.Spec.LoadBalancer.BGP
	for _, p := range bgp.Peers {
		if p.ASN != bgp.LocalASN {
			return []validate.Problem{validate.Warnf("spec.globalDiscovery.priority", stellarv1.ReasonUnsupportedByMetalLB, fmt.Sprintf(
				"the priority cannot reach eBGP peer %s in MetalLB's native BGP mode: LOCAL_PREF is not sent over eBGP and the priority community %s is a large community, which native mode cannot announce", p.Address, PriorityCommunity(node)))}
		}
	}
	return nil
}

// AnnouncedCommunities are the communities MetalLB announces for the node: its own, in the form
// MetalLB writes them, plus the priority community.
func AnnouncedCommunities(node *stellarv1.StellarNode, mode BGPMode) []string {
	return withPriorityCommunity(Communities(node.Spec.LoadBalancer.BGP, mode), node, mode)
}
