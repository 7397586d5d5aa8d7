package validate_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func anycast() *stellarv1.StellarNode {
	return &stellarv1.StellarNode{Spec: stellarv1.StellarNodeSpec{
		NodeType: stellarv1.NodeTypeHorizon, Network: stellarv1.NetworkMainnet, Version: "21.0.0",
		LoadBalancer: &stellarv1.LoadBalancerSpec{
			Mode: stellarv1.LoadBalancerBGP, LoadBalancerIP: "192.0.2.100", ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			BGP: &stellarv1.BGPSpec{LocalASN: 64512, Peers: []stellarv1.BGPPeerSpec{{Address: "192.168.1.1", ASN: 64512, HoldTime: 90}}},
		},
	}}
}

func TestLoadBalancerRules(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(n *stellarv1.StellarNode)
		facts    validate.ClusterFacts
		reason   string // "" means no problem at all
		severity validate.Severity
		field    string
	}{
		{"a valid iBGP anycast node has no problem", func(*stellarv1.StellarNode) {}, validate.ClusterFacts{}, "", "", ""},
		{"localASN 0 is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LocalASN = 0 }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.localASN"},
		{"a peer ASN above 32 bits is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].ASN = 1 << 32 }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].asn"},
		{"a peer address that is no IP is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].Address = "router" }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].address"},
		{"a loadBalancerIP that is no IP is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "192.0.2" }, validate.ClusterFacts{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"a holdTime of 2 s is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].HoldTime = 2 }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].holdTime"},
		{"a keepalive above the hold time is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].KeepaliveTime = ptr.To[int32](91) }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].keepaliveTime"},
		{"a community above 16 bits is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"65536:1"} }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.communities[0]"},
		{"a well-known community name is accepted", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"no-export"} }, validate.ClusterFacts{}, "", "", ""},
		{"a large community part above 32 bits is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LargeCommunities = []string{"1:2:4294967296"} }, validate.ClusterFacts{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.largeCommunities[0]"},
		{"ebgpMultiHop on an iBGP peer is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].EBGPMultiHop = true }, validate.ClusterFacts{}, stellarv1.ReasonEBGPMultiHopOnIBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].ebgpMultiHop"},
		{"localPref with an eBGP peer is a warning naming the alternative", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Peers[0].ASN = 64513
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{LocalPref: ptr.To[int64](100)}
		}, validate.ClusterFacts{}, stellarv1.ReasonLocalPrefOverEBGP, validate.SeverityWarning, "spec.loadBalancer.bgp.advertisement.localPref"},
		{"localPref with an iBGP peer is fine", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{LocalPref: ptr.To[int64](100)}
		}, validate.ClusterFacts{}, "", "", ""},
		{"BGP with externalTrafficPolicy Cluster is a warning", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, validate.ClusterFacts{}, stellarv1.ReasonNoHealthDrivenWithdrawal, validate.SeverityWarning, "spec.loadBalancer.externalTrafficPolicy"},
		{"an IP outside the named existing pool is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.AddressPool = "edge" },
			validate.ClusterFacts{PoolAddresses: map[string][]string{"edge": {"198.51.100.0/24"}}}, stellarv1.ReasonPoolMismatch, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"an IP inside a range pool is accepted", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.AddressPool = "edge" },
			validate.ClusterFacts{PoolAddresses: map[string][]string{"edge": {"192.0.2.90-192.0.2.110"}}}, "", "", ""},
		{"a missing pool without an IP to create it from is rejected", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.AddressPool = "nowhere"
			n.Spec.LoadBalancer.LoadBalancerIP = ""
		}, validate.ClusterFacts{}, stellarv1.ReasonPoolMissing, validate.SeverityError, "spec.loadBalancer.addressPool"},
		{"aggregation shorter than the pool's prefix is rejected", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.AddressPool = "edge"
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{AggregationLength: 16}
		}, validate.ClusterFacts{PoolAddresses: map[string][]string{"edge": {"192.0.2.0/24"}}}, stellarv1.ReasonAggregationTooShort, validate.SeverityError, "spec.loadBalancer.bgp.advertisement.aggregationLength"},
		{"aggregation /24 inside a /24 pool is accepted", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.AddressPool = "edge"
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{AggregationLength: 24}
		}, validate.ClusterFacts{PoolAddresses: map[string][]string{"edge": {"192.0.2.0/24"}}}, "", "", ""},
		{"an addressPool that is no valid name is rejected (the CLI has no admission)", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.AddressPool = "Bad_Pool" },
			validate.ClusterFacts{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.addressPool"},
		{"a bfdProfile that is no valid name is rejected", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.BFDProfile = "Fast BFD" },
			validate.ClusterFacts{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.bgp.bfdProfile"},
		{"an IPv6 anycast IP in native mode is a warning", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "2001:db8::100" },
			validate.ClusterFacts{Native: true}, stellarv1.ReasonUnsupportedByMetalLB, validate.SeverityWarning, "spec.loadBalancer.loadBalancerIP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := anycast()
			tc.mutate(n)
			problems := validate.LoadBalancer(n, tc.facts)
			if tc.reason == "" {
				if len(problems) != 0 {
					t.Fatalf("want no problem, got %v", problems)
				}
				return
			}
			for _, p := range problems {
				if p.Reason == tc.reason {
					if p.Severity != tc.severity || p.Field != tc.field || !strings.Contains(p.String(), tc.field) {
						t.Fatalf("got %+v, want severity %s field %s", p, tc.severity, tc.field)
					}
					return
				}
			}
			t.Fatalf("want %s, got %v", tc.reason, problems)
		})
	}
}

func FuzzLoadBalancerNeverPanics(f *testing.F) {
	f.Add("192.0.2.100", "64512:100", "1:2:3", "edge", "192.0.2.0/24", int32(24))
	f.Fuzz(func(t *testing.T, ip, community, large, pool, poolCIDR string, agg int32) {
		n := anycast()
		n.Spec.LoadBalancer.LoadBalancerIP = ip
		n.Spec.LoadBalancer.AddressPool = pool
		n.Spec.LoadBalancer.BGP.Communities = []string{community}
		n.Spec.LoadBalancer.BGP.LargeCommunities = []string{large}
		n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{AggregationLength: agg}
		for _, p := range validate.LoadBalancer(n, validate.ClusterFacts{PoolAddresses: map[string][]string{pool: {poolCIDR}}}) {
			if p.Field == "" || p.Reason == "" {
				t.Fatalf("problem without field or reason: %+v", p)
			}
		}
	})
}
