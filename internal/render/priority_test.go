package render

import (
	"slices"
	"testing"

	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

func priorityNode(localASN, peerASN int64, discovery *stellarv1.GlobalDiscoverySpec, large ...string) *stellarv1.StellarNode {
	return &stellarv1.StellarNode{Spec: stellarv1.StellarNodeSpec{
		LoadBalancer: &stellarv1.LoadBalancerSpec{
			Mode: stellarv1.LoadBalancerBGP,
			BGP: &stellarv1.BGPSpec{
				LocalASN: localASN, Peers: []stellarv1.BGPPeerSpec{{Address: "198.51.100.1", ASN: peerASN}},
				Communities: []string{"64512:100"}, LargeCommunities: large,
			},
		},
		GlobalDiscovery: discovery,
	}}
}

func TestPriorityCommunity(t *testing.T) {
	cases := []struct {
		name      string
		node      *stellarv1.StellarNode
		mode      BGPMode
		want      []string
		wantWarns int
	}{
		{
			name: "the spec's eu-west announces its priority 90 under its own AS 64513",
			node: priorityNode(64513, 64513, &stellarv1.GlobalDiscoverySpec{Region: "eu-west", Priority: ptr.To[int32](90)}),
			mode: BGPModeFRRK8s, want: []string{"64512:100", "large:64513:1:90"},
		},
		{
			name: "an unset priority is the default 100",
			node: priorityNode(64512, 64500, &stellarv1.GlobalDiscoverySpec{Region: "us-east"}),
			mode: BGPModeFRRK8s, want: []string{"64512:100", "large:64512:1:100"},
		},
		{
			name: "no global discovery adds nothing",
			node: priorityNode(64512, 64500, nil),
			mode: BGPModeFRRK8s, want: []string{"64512:100"},
		},
		{
			name: "disabled global discovery adds nothing",
			node: priorityNode(64512, 64500, &stellarv1.GlobalDiscoverySpec{Enabled: ptr.To(false), Priority: ptr.To[int32](90)}),
			mode: BGPModeFRRK8s, want: []string{"64512:100"},
		},
		{
			name: "a priority community the user already lists is not repeated (MetalLB refuses duplicates)",
			node: priorityNode(64512, 64500, &stellarv1.GlobalDiscoverySpec{Priority: ptr.To[int32](100)}, "64512:1:100"),
			mode: BGPModeFRRK8s, want: []string{"64512:100", "large:64512:1:100"},
		},
		{
			name: "native mode over iBGP leaves it out quietly: localPref ranks inside the AS",
			node: priorityNode(64512, 64512, &stellarv1.GlobalDiscoverySpec{Priority: ptr.To[int32](90)}),
			mode: BGPModeNative, want: []string{"64512:100"},
		},
		{
			name: "native mode with an eBGP peer leaves it out and warns",
			node: priorityNode(64512, 64500, &stellarv1.GlobalDiscoverySpec{Priority: ptr.To[int32](90)}),
			mode: BGPModeNative, want: []string{"64512:100"}, wantWarns: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := AnnouncedCommunities(tc.node, tc.mode); !slices.Equal(got, tc.want) {
				t.Errorf("communities = %v, want %v", got, tc.want)
			}
			if got := priorityProblems(tc.node, tc.mode); len(got) != tc.wantWarns {
				t.Errorf("problems = %v, want %d warning(s)", got, tc.wantWarns)
			}
		})
	}
}
