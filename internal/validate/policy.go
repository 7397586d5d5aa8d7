package validate

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// PolicyFacts are the cluster's LoadBalancerPolicies and the labels of the namespaces they may
// select.
type PolicyFacts struct {
	Policies []stellarv1.LoadBalancerPolicy
	// NamespaceLabels holds the labels of namespaces by name.
	NamespaceLabels map[string]map[string]string
}

// grants is the union of what the policies selecting one namespace allow.
type grants struct {
	names            []string
	addresses        []netip.Prefix
	pools            map[string]bool
	routers          []stellarv1.RouterGrant
	localASNs        []stellarv1.ASNRange
	communities      []string
	largeCommunities []string
	zones            []string
}

// policyCheck is one named rule of the tenancy policy.
type policyCheck struct {
	name  string
	check func(node *stellarv1.StellarNode, g *grants) []Problem
}

func policyChecks() []policyCheck {
	return []policyCheck{
		{"address is granted", policyAddress},
		{"address pool is granted", policyPool},
		{"local ASN is granted", policyLocalASN},
		{"routers are granted", policyRouters},
		{"communities are granted", policyCommunities},
		{"DNS zone is granted", policyDNSZone},
	}
}

// Policy checks a load-balanced node against the LoadBalancerPolicies selecting its namespace.
// While no policy exists nothing is fenced; once one exists, a namespace no policy selects may use
// nothing. Every problem stops the node's load balancer and names the policies and the field.
func Policy(node *stellarv1.StellarNode, facts PolicyFacts) []Problem {
	if !node.LoadBalancerEnabled() || len(facts.Policies) == 0 {
		return nil
	}
	g, err := grantsFor(node.Namespace, facts)
	if err != nil {
		return []Problem{LBErrorf("spec.loadBalancer", stellarv1.ReasonNotAllowedByPolicy, err.Error())}
	}
	if len(g.names) == 0 {
		return []Problem{LBErrorf("spec.loadBalancer", stellarv1.ReasonNotAllowedByPolicy,
			fmt.Sprintf("no LoadBalancerPolicy selects namespace %s: a cluster with policies gives load balancers only to the namespaces they select", node.Namespace))}
	}
	var problems []Problem
	for _, c := range policyChecks() {
		problems = append(problems, c.check(node, g)...)
	}
	return problems
}

// PolicyAllows reports whether node's load balancer passes the policies.
func PolicyAllows(node *stellarv1.StellarNode, facts PolicyFacts) bool {
	return len(Policy(node, facts)) == 0
}

func grantsFor(namespace string, facts PolicyFacts) (*grants, error) {
	nsLabels := labels.Set(facts.NamespaceLabels[namespace])
	g := &grants{pools: map[string]bool{}}
	for _, p := range facts.Policies {
		if p.Spec.NamespaceSelector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.NamespaceSelector)
		if err != nil {
			return nil, fmt.Errorf("LoadBalancerPolicy %s has an invalid namespaceSelector: %v", p.Name, err)
		}
		if !sel.Matches(nsLabels) {
			continue
		}
		g.names = append(g.names, p.Name)
		for _, a := range p.Spec.Addresses {
			if prefix, err := netip.ParsePrefix(a); err == nil {
				g.addresses = append(g.addresses, prefix.Masked())
			}
		}
		for _, pool := range p.Spec.AddressPools {
			g.pools[pool] = true
		}
		g.routers = append(g.routers, p.Spec.Routers...)
		g.localASNs = append(g.localASNs, p.Spec.LocalASNs...)
		g.communities = append(g.communities, p.Spec.Communities...)
		g.largeCommunities = append(g.largeCommunities, p.Spec.LargeCommunities...)
		g.zones = append(g.zones, p.Spec.DNSZones...)
	}
	sort.Strings(g.names)
	return g, nil
}

func (g *grants) deny(field, what string, node *stellarv1.StellarNode) Problem {
	return LBErrorf(field, stellarv1.ReasonNotAllowedByPolicy, fmt.Sprintf("%s is not granted to namespace %s by LoadBalancerPolicy %s",
		what, node.Namespace, strings.Join(g.names, ", ")))
}

func policyAddress(node *stellarv1.StellarNode, g *grants) []Problem {
	addr, ok := node.Spec.LoadBalancer.Address()
	if !ok {
		return nil
	}
	for _, prefix := range g.addresses {
		if prefix.Contains(addr) {
			return nil
		}
	}
	return []Problem{g.deny("spec.loadBalancer.loadBalancerIP", "address "+addr.String(), node)}
}

func policyPool(node *stellarv1.StellarNode, g *grants) []Problem {
	pool := node.Spec.LoadBalancer.AddressPool
	if pool == "" || g.pools[pool] {
		return nil
	}
	return []Problem{g.deny("spec.loadBalancer.addressPool", "IPAddressPool "+pool, node)}
}

func policyLocalASN(node *stellarv1.StellarNode, g *grants) []Problem {
	bgp := node.BGP()
	if bgp == nil || inRanges(g.localASNs, bgp.LocalASN) {
		return nil
	}
	return []Problem{g.deny("spec.loadBalancer.bgp.localASN", fmt.Sprintf("local ASN %d", bgp.LocalASN), node)}
}

func inRanges(ranges []stellarv1.ASNRange, asn int64) bool {
	for _, r := range ranges {
		if r.Contains(asn) {
			return true
		}
	}
	return false
}

func policyRouters(node *stellarv1.StellarNode, g *grants) []Problem {
	bgp := node.BGP()
	if bgp == nil {
		return nil
	}
	var problems []Problem
	for i := range bgp.Peers {
		p := &bgp.Peers[i]
		addr, ok := p.ParsedAddress()
		if !ok {
			continue
		}
		if !routerGranted(g.routers, addr, p.ASN) {
			problems = append(problems, g.deny(fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i), fmt.Sprintf("router %s (asn %d)", addr, p.ASN), node))
		}
	}
	return problems
}

func routerGranted(routers []stellarv1.RouterGrant, addr netip.Addr, asn int64) bool {
	for _, r := range routers {
		prefix, err := netip.ParsePrefix(r.Address)
		if err != nil || !prefix.Masked().Contains(addr) {
			continue
		}
		if len(r.ASNs) == 0 || inRanges(r.ASNs, asn) {
			return true
		}
	}
	return false
}

func policyCommunities(node *stellarv1.StellarNode, g *grants) []Problem {
	bgp := node.BGP()
	if bgp == nil {
		return nil
	}
	var problems []Problem
	for i, c := range bgp.Communities {
		if !matchesAnyPattern(g.communities, c) {
			problems = append(problems, g.deny(fmt.Sprintf("spec.loadBalancer.bgp.communities[%d]", i), "community "+c, node))
		}
	}
	for i, c := range bgp.LargeCommunities {
		if !matchesAnyPattern(g.largeCommunities, c) {
			problems = append(problems, g.deny(fmt.Sprintf("spec.loadBalancer.bgp.largeCommunities[%d]", i), "large community "+c, node))
		}
	}
	return problems
}

// matchesAnyPattern reports whether value matches one of the patterns: equal parts, "*" for any.
func matchesAnyPattern(patterns []string, value string) bool {
	parts := strings.Split(value, ":")
	for _, pattern := range patterns {
		if pattern == value {
			return true
		}
		pp := strings.Split(pattern, ":")
		if len(pp) != len(parts) {
			continue
		}
		match := true
		for i := range pp {
			if pp[i] != "*" && pp[i] != parts[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func policyDNSZone(node *stellarv1.StellarNode, g *grants) []Problem {
	gd := node.EffectiveGlobalDiscovery()
	if gd == nil || gd.ExternalDNS == nil {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(gd.ExternalDNS.Hostname), ".")
	for _, zone := range g.zones {
		zone = strings.TrimSuffix(strings.ToLower(zone), ".")
		if host == zone || strings.HasSuffix(host, "."+zone) {
			return nil
		}
	}
	return []Problem{g.deny("spec.globalDiscovery.externalDns.hostname", "DNS name "+gd.ExternalDNS.Hostname, node)}
}
