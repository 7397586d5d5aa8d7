package validate_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func anycast() *stellarv1.StellarNode {
	return &stellarv1.StellarNode{
		ObjectMeta: metav1.ObjectMeta{Name: "horizon", Namespace: "team-a"},
		Spec: stellarv1.StellarNodeSpec{
			NodeType: stellarv1.NodeTypeHorizon, Network: stellarv1.NetworkMainnet, Version: "21.0.0",
			LoadBalancer: &stellarv1.LoadBalancerSpec{
				Mode: stellarv1.LoadBalancerBGP, LoadBalancerIP: "192.0.2.100", ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				BGP: &stellarv1.BGPSpec{LocalASN: 64512, Peers: []stellarv1.BGPPeerSpec{{Address: "192.168.1.1", ASN: 64512, HoldTime: ptr.To[int32](90)}}},
			},
		},
	}
}

// Each check of the chain, one case at least for what it refuses and one for what it lets through.
func TestLoadBalancerChecks(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(n *stellarv1.StellarNode)
		opts     validate.LoadBalancerOptions
		reason   string // "" means no problem at all
		severity validate.Severity
		field    string
	}{
		{"a valid iBGP anycast node has no problem", func(*stellarv1.StellarNode) {}, validate.LoadBalancerOptions{}, "", "", ""},
		{"a loadBalancerIP that is no IP is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "192.0.2" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"the unspecified address is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "0.0.0.0" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"a loopback address is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "::1" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"a link-local address is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "169.254.1.1" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"a multicast address is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "ff02::1" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"the broadcast address is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "255.255.255.255" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"neither address nor pool is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer"},
		{"an addressPool that is no valid name is refused (the CLI has no admission)", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.AddressPool = "Bad_Pool" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.addressPool"},
		{"a MetalLB annotation is refused, naming the key", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.Annotations = map[string]string{"metallb.io/loadBalancerIPs": "198.51.100.1"}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.annotations[metallb.io/loadBalancerIPs]"},
		{"an external-dns hostname in loadBalancer annotations is refused", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.Annotations = map[string]string{"external-dns.alpha.kubernetes.io/hostname": "evil.example.com"}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.annotations[external-dns.alpha.kubernetes.io/hostname]"},
		{"a weight in externalDns annotations is the user's", func(n *stellarv1.StellarNode) {
			n.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "h.example.com",
				Annotations: map[string]string{"external-dns.alpha.kubernetes.io/aws-weight": "100"}}}
		}, validate.LoadBalancerOptions{}, "", "", ""},
		{"a ttl in externalDns annotations is refused: externalDns.ttl owns it", func(n *stellarv1.StellarNode) {
			n.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "h.example.com",
				Annotations: map[string]string{"external-dns.kubernetes.io/ttl": "5"}}}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.globalDiscovery.externalDns.annotations[external-dns.kubernetes.io/ttl]"},
		{"a health port Horizon itself uses is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.HealthCheckPort = 8000 },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.healthCheckPort"},
		{"a health port captive core uses is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.HealthCheckPort = 11626 },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.healthCheckPort"},
		{"BGP with externalTrafficPolicy Cluster is a warning", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonNoHealthDrivenWithdrawal, validate.SeverityWarning, "spec.loadBalancer.externalTrafficPolicy"},
		{"localASN 0 is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LocalASN = 0 },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.localASN"},
		{"a peer ASN above 32 bits is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].ASN = 1 << 32 },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].asn"},
		{"a peer address that is no IP is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].Address = "router" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].address"},
		{"a loopback router is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].Address = "127.0.0.1" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].address"},
		{"one router in two IPv6 spellings is refused", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Peers = []stellarv1.BGPPeerSpec{{Address: "2001:db8::1", ASN: 64512}, {Address: "2001:0db8:0:0::1", ASN: 64512, Port: 1790}}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[1].address"},
		{"a holdTime of 2 s is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].HoldTime = ptr.To[int32](2) },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].holdTime"},
		{"a holdTime of 0 (no keepalives) is accepted", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].HoldTime = ptr.To[int32](0) },
			validate.LoadBalancerOptions{}, "", "", ""},
		{"a keepalive above the hold time is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].KeepaliveTime = ptr.To[int32](91) },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].keepaliveTime"},
		{"ebgpMultiHop on an iBGP peer is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].EBGPMultiHop = true },
			validate.LoadBalancerOptions{}, stellarv1.ReasonEBGPMultiHopOnIBGP, validate.SeverityError, "spec.loadBalancer.bgp.peers[0].ebgpMultiHop"},
		{"a community above 16 bits is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"65536:1"} },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.communities[0]"},
		{"a well-known community name is accepted", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"no-export"} },
			validate.LoadBalancerOptions{}, "", "", ""},
		{"a large community part above 32 bits is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LargeCommunities = []string{"1:2:4294967296"} },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.largeCommunities[0]"},
		{"localPref with an eBGP peer is a warning naming the alternative", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Peers[0].ASN = 64513
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{LocalPref: ptr.To[int64](100)}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonLocalPrefOverEBGP, validate.SeverityWarning, "spec.loadBalancer.bgp.advertisement.localPref"},
		{"localPref with an iBGP peer is fine", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{LocalPref: ptr.To[int64](100)}
		}, validate.LoadBalancerOptions{}, "", "", ""},
		{"a node selector with an operator MetalLB does not know is refused", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{NodeSelectors: []stellarv1.NodeSelector{{
				MatchExpressions: []stellarv1.NodeSelectorRequirement{{Key: "zone", Operator: "Near", Values: []stellarv1.LabelValue{"a"}}}}}}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.advertisement.nodeSelectors[0]"},
		{"Exists with values is refused", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{NodeSelectors: []stellarv1.NodeSelector{{
				MatchExpressions: []stellarv1.NodeSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpExists, Values: []stellarv1.LabelValue{"a"}}}}}}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.advertisement.nodeSelectors[0]"},
		{"two equal node selectors are refused as MetalLB does", func(n *stellarv1.StellarNode) {
			sel := stellarv1.NodeSelector{MatchLabels: map[string]stellarv1.LabelValue{"region": "us-east"}}
			n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{NodeSelectors: []stellarv1.NodeSelector{sel, sel}}
		}, validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidBGP, validate.SeverityError, "spec.loadBalancer.bgp.advertisement.nodeSelectors[1]"},
		{"a bfdProfile that is no valid name is refused", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.BFDProfile = "Fast BFD" },
			validate.LoadBalancerOptions{}, stellarv1.ReasonInvalidSpec, validate.SeverityError, "spec.loadBalancer.bgp.bfdProfile"},
		{"an IPv6 anycast IP in native mode stops the load balancer (MetalLB would refuse everything)", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.LoadBalancerIP = "2001:db8::100"
		}, validate.LoadBalancerOptions{NativeBGP: true}, stellarv1.ReasonUnsupportedByMetalLB, validate.SeverityError, "spec.loadBalancer.loadBalancerIP"},
		{"an IPv6 anycast IP in FRR modes is fine", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.LoadBalancerIP = "2001:db8::100" },
			validate.LoadBalancerOptions{}, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := anycast()
			tc.mutate(n)
			problems := validate.LoadBalancer(n, tc.opts)
			if tc.reason == "" {
				if len(problems) != 0 {
					t.Fatalf("want no problem, got %v", problems)
				}
				return
			}
			for _, p := range problems {
				if p.Reason == tc.reason && p.Field == tc.field {
					if p.Severity != tc.severity || p.Scope != validate.ScopeLoadBalancer || !strings.Contains(p.String(), tc.field) {
						t.Fatalf("got %+v, want severity %s in the load balancer's scope", p, tc.severity)
					}
					return
				}
			}
			t.Fatalf("want %s on %s, got %v", tc.reason, tc.field, problems)
		})
	}
}

// The health port must avoid exactly the ports each node type's containers use.
func TestReservedPortsFollowTheNodeType(t *testing.T) {
	for _, nt := range []stellarv1.NodeType{stellarv1.NodeTypeValidator, stellarv1.NodeTypeHorizon, stellarv1.NodeTypeSorobanRPC} {
		for _, port := range nt.ReservedPorts() {
			n := anycast()
			n.Spec.NodeType = nt
			n.Spec.LoadBalancer.HealthCheckPort = port
			if !validate.BlocksLoadBalancer(validate.LoadBalancer(n, validate.LoadBalancerOptions{})) {
				t.Errorf("%s: health port %d is not refused", nt, port)
			}
		}
	}
}

func FuzzLoadBalancerNeverPanics(f *testing.F) {
	f.Add("192.0.2.100", "64512:100", "1:2:3", "edge", int32(24), "2001:db8::1")
	f.Fuzz(func(t *testing.T, ip, community, large, pool string, agg int32, router string) {
		n := anycast()
		n.Spec.LoadBalancer.LoadBalancerIP = ip
		n.Spec.LoadBalancer.AddressPool = pool
		n.Spec.LoadBalancer.BGP.Communities = []string{community}
		n.Spec.LoadBalancer.BGP.LargeCommunities = []string{large}
		n.Spec.LoadBalancer.BGP.Peers = append(n.Spec.LoadBalancer.BGP.Peers, stellarv1.BGPPeerSpec{Address: router, ASN: 1})
		n.Spec.LoadBalancer.BGP.Advertisement = &stellarv1.BGPAdvertisementSpec{AggregationLength: agg}
		for _, p := range validate.LoadBalancer(n, validate.LoadBalancerOptions{}) {
			if p.Field == "" || p.Reason == "" {
				t.Fatalf("problem without field or reason: %+v", p)
			}
		}
	})
}
