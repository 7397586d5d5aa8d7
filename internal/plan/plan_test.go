package plan_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/plan"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// region is a BGP Horizon announcing 192.0.2.100 from one region.
type region struct {
	name      string
	localASN  int64
	routerASN int64 // 0: no peers (every BGPPeer of the cluster)
	localPref *int64
	priority  *int32
	community string
	aggregate int32
	etp       string
}

func (r region) node() *stellarv1.StellarNode {
	bgp := &stellarv1.BGPSpec{LocalASN: r.localASN}
	if r.routerASN != 0 {
		bgp.Peers = []stellarv1.BGPPeerSpec{{Address: "198.51.100.1", ASN: r.routerASN}}
	}
	if r.localPref != nil || r.aggregate != 0 {
		bgp.Advertisement = &stellarv1.BGPAdvertisementSpec{LocalPref: r.localPref, AggregationLength: r.aggregate}
	}
	if r.community != "" {
		bgp.Communities = []string{r.community}
	}
	n := &stellarv1.StellarNode{
		ObjectMeta: metav1.ObjectMeta{Namespace: "stellar", Name: "horizon-" + r.name},
		Spec: stellarv1.StellarNodeSpec{
			NodeType: stellarv1.NodeTypeHorizon, Network: stellarv1.NetworkMainnet, Version: "21.0.0",
			LoadBalancer: &stellarv1.LoadBalancerSpec{LoadBalancerIP: "192.0.2.100", BGP: bgp},
		},
	}
	if r.etp != "" {
		n.Spec.LoadBalancer.ExternalTrafficPolicy = "Cluster"
	}
	if r.priority != nil {
		n.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{Region: r.name, Priority: r.priority}
	}
	return n
}

func build(regions ...region) plan.Address {
	var inputs []plan.Input
	for _, r := range regions {
		inputs = append(inputs, plan.Input{Source: r.name + ".yaml", Node: r.node()})
	}
	p := plan.Build(inputs, render.BGPModeFRRK8s)
	if len(p.Addresses) != 1 {
		panic("want one address")
	}
	return p.Addresses[0]
}

func order(a plan.Address) string {
	var parts []string
	for _, s := range a.Failover {
		parts = append(parts, strings.TrimPrefix(s.Node, "stellar/horizon-")+"="+string(rune('0'+s.Rank)))
	}
	return strings.Join(parts, " ")
}

func TestFailoverOrder(t *testing.T) {
	lp := func(v int64) *int64 { return &v }
	prio := func(v int32) *int32 { return &v }
	cases := []struct {
		name     string
		regions  []region
		rankedBy string
		order    string
		note     string
	}{
		{
			name: "iBGP inside one AS is ranked by LOCAL_PREF, higher first",
			regions: []region{
				{name: "b", localASN: 64512, routerASN: 64512, localPref: lp(90), priority: prio(100)},
				{name: "a", localASN: 64512, routerASN: 64512, localPref: lp(100), priority: prio(10)},
			},
			rankedBy: plan.RankedByLocalPref, order: "a=1 b=2", note: "inside AS 64512",
		},
		{
			name: "an unset LOCAL_PREF counts as the routers' default 100",
			regions: []region{
				{name: "a", localASN: 64512, routerASN: 64512, localPref: lp(150)},
				{name: "b", localASN: 64512, routerASN: 64512},
				{name: "c", localASN: 64512, routerASN: 64512, localPref: lp(100)},
			},
			rankedBy: plan.RankedByLocalPref, order: "a=1 b=2 c=2", note: "unset counts as 100",
		},
		{
			name: "iBGP in different ASes is ranked by priority, because LOCAL_PREF never crosses an AS",
			regions: []region{
				{name: "us", localASN: 64512, routerASN: 64512, localPref: lp(80), priority: prio(100)},
				{name: "eu", localASN: 64513, routerASN: 64513, localPref: lp(100), priority: prio(90)},
			},
			rankedBy: plan.RankedByPriority, order: "us=1 eu=2", note: "different ASes (64512, 64513)",
		},
		{
			name: "an eBGP session takes LOCAL_PREF out of the ranking",
			regions: []region{
				{name: "a", localASN: 64512, routerASN: 64512, localPref: lp(100), priority: prio(50)},
				{name: "b", localASN: 64512, routerASN: 64600, localPref: lp(90), priority: prio(60)},
			},
			rankedBy: plan.RankedByPriority, order: "b=1 a=2", note: "eBGP sessions carry no LOCAL_PREF",
		},
		{
			name: "nodes without peers may use eBGP, so LOCAL_PREF cannot rank them",
			regions: []region{
				{name: "a", localASN: 64512, localPref: lp(100)},
				{name: "b", localASN: 64512, localPref: lp(90)},
			},
			rankedBy: plan.RankedByNothing, order: "a=1 b=1", note: "no peers listed",
		},
		{
			name: "equal priorities across ASes leave the order to the routers",
			regions: []region{
				{name: "a", localASN: 64512, routerASN: 64512, priority: prio(100)},
				{name: "b", localASN: 64513, routerASN: 64513},
			},
			rankedBy: plan.RankedByNothing, order: "a=1 b=1", note: "AS-path length, MED and router ID",
		},
		{
			name: "communities that differ per region are named as what the routers may rank by",
			regions: []region{
				{name: "a", localASN: 64512, routerASN: 64512, community: "64512:100", priority: prio(100)},
				{name: "b", localASN: 64513, routerASN: 64513, community: "64512:90", priority: prio(90)},
			},
			rankedBy: plan.RankedByPriority, order: "a=1 b=2", note: "communities differ per region (a 64512:100; b 64512:90)",
		},
		{
			name: "a longer announced prefix is noted: it wins before any preference",
			regions: []region{
				{name: "a", localASN: 64512, routerASN: 64512, localPref: lp(100)},
				{name: "b", localASN: 64512, routerASN: 64512, localPref: lp(90), aggregate: 24},
			},
			rankedBy: plan.RankedByLocalPref, order: "a=1 b=2", note: "routers prefer the longest prefix",
		},
		{
			name: "a sibling with externalTrafficPolicy Cluster is noted as never failing over",
			regions: []region{
				{name: "a", localASN: 64512, routerASN: 64512, localPref: lp(100), etp: "Cluster"},
				{name: "b", localASN: 64512, routerASN: 64512, localPref: lp(90)},
			},
			rankedBy: plan.RankedByLocalPref, order: "a=1 b=2", note: "never fail over: stellar/horizon-a",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := build(tc.regions...)
			if a.RankedBy != tc.rankedBy {
				t.Errorf("ranked by %q, want %q", a.RankedBy, tc.rankedBy)
			}
			if got := order(a); got != tc.order {
				t.Errorf("order %q, want %q", got, tc.order)
			}
			if notes := strings.Join(a.Notes, "\n"); !strings.Contains(notes, tc.note) {
				t.Errorf("no note says %q:\n%s", tc.note, notes)
			}
		})
	}
}

func TestEachAnnouncerShowsItsSessionsAndWhatTheRoutersSee(t *testing.T) {
	r := region{name: "a", localASN: 64512, routerASN: 64513, localPref: ptr.To[int64](100), community: "no-export", aggregate: 28}
	a := build(r).Announcers[0]
	if len(a.Routers) != 1 || a.Routers[0].Session != plan.EBGP || a.Routers[0].ASN != 64513 {
		t.Fatalf("routers %+v", a.Routers)
	}
	if a.Prefix != "192.0.2.96/28" {
		t.Errorf("prefix %s, want 192.0.2.96/28 (the address at the aggregation length)", a.Prefix)
	}
	if strings.Join(a.Communities, ",") != "65535:65281" {
		t.Errorf("communities %v, want MetalLB's spelling of no-export", a.Communities)
	}
	if a.AnnouncingNodes != "every node with a ready pod" {
		t.Errorf("announcing nodes %q", a.AnnouncingNodes)
	}
}

func TestNodesAreGroupedByAddressAndThoseWithoutALoadBalancerAreListed(t *testing.T) {
	a := region{name: "a", localASN: 64512, routerASN: 64512}.node()
	b := region{name: "b", localASN: 64512, routerASN: 64512}.node()
	b.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.200"
	c := region{name: "c"}.node()
	c.Spec.LoadBalancer = nil
	p := plan.Build([]plan.Input{{Node: a}, {Node: b}, {Node: c}}, render.BGPModeFRRK8s)
	if len(p.Addresses) != 2 || p.Addresses[0].Address != "192.0.2.100" || p.Addresses[1].Address != "192.0.2.200" {
		t.Fatalf("addresses %+v", p.Addresses)
	}
	if strings.Join(p.WithoutLoadBalancer, ",") != "stellar/horizon-c" {
		t.Errorf("without load balancer: %v", p.WithoutLoadBalancer)
	}
}

func TestAManifestThatDidNotDecodeKeepsItsProblems(t *testing.T) {
	refusal := validate.Errorf("spec.localASN", "FieldValueInvalid", "Invalid value: \"x\"")
	p := plan.Build([]plan.Input{{Key: "stellar/broken", Source: "x.yaml", Refused: true, Problems: []validate.Problem{refusal}}}, render.BGPModeFRRK8s)
	if len(p.Addresses) != 0 || len(p.WithoutLoadBalancer) != 0 {
		t.Fatalf("a manifest without a node entered the topology: %+v", p)
	}
	if len(p.Problems) != 1 || p.Problems[0].Node != "stellar/broken" || p.Problems[0].Field != "spec.localASN" {
		t.Fatalf("problems %+v", p.Problems)
	}
}
