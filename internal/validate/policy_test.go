package validate_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func teamPolicy() stellarv1.LoadBalancerPolicy {
	return stellarv1.LoadBalancerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
		Spec: stellarv1.LoadBalancerPolicySpec{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
			Addresses:         []string{"192.0.2.0/24"},
			AddressPools:      []string{"stellar-anycast-pool"},
			Routers:           []stellarv1.RouterGrant{{Address: "192.168.1.0/30", ASNs: []stellarv1.ASNRange{{Min: 64512, Max: ptr.To[int64](64520)}}}},
			LocalASNs:         []stellarv1.ASNRange{{Min: 64512}},
			Communities:       []string{"64512:*"},
			LargeCommunities:  []string{"64512:1:*"},
			DNSZones:          []string{"stellar.example.com"},
		},
	}
}

func TestPolicy(t *testing.T) {
	facts := validate.PolicyFacts{
		Policies:        []stellarv1.LoadBalancerPolicy{teamPolicy()},
		NamespaceLabels: map[string]map[string]string{"team-a": {"team": "a"}, "team-b": {"team": "b"}},
	}
	cases := []struct {
		name   string
		mutate func(n *stellarv1.StellarNode)
		facts  validate.PolicyFacts
		field  string // "" means allowed
	}{
		{"without any policy nothing is fenced", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "203.0.113.1" }, validate.PolicyFacts{}, ""},
		{"a node using only what its policy grants is allowed", func(*stellarv1.StellarNode) {}, facts, ""},
		{"a namespace no policy selects gets nothing", func(n *stellarv1.StellarNode) { n.Namespace = "team-b" }, facts, "spec.loadBalancer"},
		{"an address outside the granted ranges is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "198.51.100.7" }, facts, "spec.loadBalancer.loadBalancerIP"},
		{"a pool not granted is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.AddressPool = "shared-edge" }, facts, "spec.loadBalancer.addressPool"},
		{"a local ASN not granted is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LocalASN = 64600 }, facts, "spec.loadBalancer.bgp.localASN"},
		{"a router outside the granted range is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].Address = "192.168.1.9" }, facts, "spec.loadBalancer.bgp.peers[0]"},
		{"a granted router with an ASN not granted is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].ASN = 65000 }, facts, "spec.loadBalancer.bgp.peers[0]"},
		{"a community matching a wildcard is allowed", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"64512:7"} }, facts, ""},
		{"a community outside the patterns is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"65000:7"} }, facts, "spec.loadBalancer.bgp.communities[0]"},
		{"a large community outside the patterns is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LargeCommunities = []string{"64512:2:1"} }, facts, "spec.loadBalancer.bgp.largeCommunities[0]"},
		{"a DNS name below a granted zone is allowed", func(n *stellarv1.StellarNode) {
			n.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "horizon.stellar.example.com"}}
		}, facts, ""},
		{"a DNS name in another zone is refused", func(n *stellarv1.StellarNode) {
			n.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "horizon.evilstellar.example.com"}}
		}, facts, "spec.globalDiscovery.externalDns.hostname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := anycast()
			n.Spec.LoadBalancer.BGP.Peers[0].Address = "192.168.1.1"
			tc.mutate(n)
			problems := validate.Policy(n, tc.facts)
			if tc.field == "" {
				if len(problems) > 0 {
					t.Fatalf("want allowed, got %v", problems)
				}
				return
			}
			for _, p := range problems {
				if p.Field == tc.field {
					if p.Reason != stellarv1.ReasonNotAllowedByPolicy || p.Scope != validate.ScopeLoadBalancer || !p.Blocking() {
						t.Fatalf("problem %+v is not a blocking NotAllowedByPolicy of the load balancer", p)
					}
					if tc.field != "spec.loadBalancer" && !strings.Contains(p.Message, "team-a") {
						t.Fatalf("message %q does not name the policy", p.Message)
					}
					return
				}
			}
			t.Fatalf("want a refusal on %s, got %v", tc.field, problems)
		})
	}
}
