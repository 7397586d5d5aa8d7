package render_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// loadBalancerObjects are the LoadBalancer Service and every MetalLB object of a result.
func loadBalancerObjects(result render.Result) int { return len(metallbObjects(result.Objects)) }

// The rules MetalLB enforces on pools, decided before anything is written: an address belongs to
// one pool only, and an advertisement never covers more than the node's own Service.
func TestPoolDecisions(t *testing.T) {
	anycast := func(t *testing.T) *stellarv1.StellarNode {
		return readExample(t, "../../examples/horizon-anycast.yaml")
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T, node *stellarv1.StellarNode, facts *render.Facts)
		reason  string // "" means the load balancer is rendered
		pool    string // the pool the Service is annotated with
		ourPool bool   // whether an IPAddressPool is rendered
	}{
		{"an address nobody holds gets the operator's pool named by addressPool", func(*testing.T, *stellarv1.StellarNode, *render.Facts) {},
			"", "stellar-anycast-pool", true},
		{"without addressPool the pool is named after the address", func(_ *testing.T, n *stellarv1.StellarNode, _ *render.Facts) { n.Spec.LoadBalancer.AddressPool = "" },
			"", "stellar-192-0-2-100", true},
		{"an address inside someone else's pool uses that pool when addressPool is empty",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				n.Spec.LoadBalancer.AddressPool = ""
				f.MetalLB.Pools = []render.ExistingPool{{Name: "edge", Addresses: []string{"192.0.2.96/28"}}}
			}, "", "edge", false},
		{"an address inside someone else's pool never gets a second pool under another name",
			func(_ *testing.T, _ *stellarv1.StellarNode, f *render.Facts) {
				f.MetalLB.Pools = []render.ExistingPool{{Name: "edge", Addresses: []string{"192.0.2.90-192.0.2.110"}}}
			}, stellarv1.ReasonAddressInForeignPool, "", false},
		{"the address of an older node's pool is joined when addressPool is empty",
			func(t *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				first := older(n, "first-region")
				first.Spec.LoadBalancer.AddressPool = "anycast"
				n.Spec.LoadBalancer.AddressPool = ""
				f.MetalLB.Claims = render.NewClaims(first, n)
			}, "", "anycast", true},
		{"the address of an older node's pool under another addressPool is refused",
			func(t *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				first := older(n, "first-region")
				first.Spec.LoadBalancer.AddressPool = "anycast"
				f.MetalLB.Claims = render.NewClaims(first, n)
			}, stellarv1.ReasonAddressInAnotherPool, "", false},
		{"an address still in another of the operator's pools waits for it to go before its new pool is made",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				// The node that won it was deleted, or this node renamed its pool: both pools would
				// hold the address for a moment, and MetalLB refuses its whole configuration then.
				f.MetalLB.Pools = []render.ExistingPool{{Name: "pool-of-a-deleted-node", Ours: true, Addresses: []string{"192.0.2.100/32"}}}
			}, stellarv1.ReasonAddressMoving, "", false},
		{"the operator's own pool holding the address under the node's pool name is kept",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				f.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-anycast-pool", Ours: true, Addresses: []string{"192.0.2.100/32"}}}
			}, "", "stellar-anycast-pool", true},
		{"a default pool name taken by someone else's pool is refused",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				n.Spec.LoadBalancer.AddressPool = ""
				f.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-192-0-2-100", Addresses: []string{"198.51.100.0/24"}}}
			}, stellarv1.ReasonAddressInForeignPool, "", false},
		{"a non-default aggregation on the operator's /32 pool is refused",
			func(_ *testing.T, n *stellarv1.StellarNode, _ *render.Facts) {
				n.Spec.LoadBalancer.BGP.Advertisement.AggregationLength = 24
			},
			stellarv1.ReasonAggregationTooShort, "", false},
		{"a non-default aggregation on a pool open to every namespace would widen the advertisement",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				n.Spec.LoadBalancer.BGP.Advertisement.AggregationLength = 28
				f.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-anycast-pool", Addresses: []string{"192.0.2.96/28"}}}
			}, stellarv1.ReasonAdvertisementWouldWiden, "", false},
		{"a non-default aggregation on a pool reserved for the node's namespace is allowed",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				n.Spec.LoadBalancer.BGP.Advertisement.AggregationLength = 28
				f.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-anycast-pool", Addresses: []string{"192.0.2.96/28"},
					Allocation: &metallbv1beta1.ServiceAllocation{Namespaces: []string{n.Namespace}}}}
			}, "", "stellar-anycast-pool", false},
		{"a non-default aggregation on a pool another StellarNode uses is refused",
			func(t *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				n.Spec.LoadBalancer.BGP.Advertisement.AggregationLength = 28
				f.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-anycast-pool", Addresses: []string{"192.0.2.96/28"},
					Allocation: &metallbv1beta1.ServiceAllocation{Namespaces: []string{n.Namespace}}}}
				other := older(n, "neighbour")
				other.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.101"
				f.MetalLB.Claims = render.NewClaims(other, n)
			}, stellarv1.ReasonAdvertisementWouldWiden, "", false},
		{"an aggregation shorter than someone else's pool is refused",
			func(_ *testing.T, n *stellarv1.StellarNode, f *render.Facts) {
				n.Spec.LoadBalancer.BGP.Advertisement.AggregationLength = 24
				f.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-anycast-pool", Addresses: []string{"192.0.2.96/28"},
					Allocation: &metallbv1beta1.ServiceAllocation{Namespaces: []string{n.Namespace}}}}
			}, stellarv1.ReasonAggregationTooShort, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := anycast(t)
			facts := testFacts(node, render.BGPModeFRRK8s)
			tc.setup(t, node, &facts)
			result := render.Desired(node, facts)
			if tc.reason != "" {
				if !hasBlocking(result.Problems, tc.reason) {
					t.Fatalf("want a blocking %s, got %v", tc.reason, result.Problems)
				}
				if n := loadBalancerObjects(result); n != 0 {
					t.Fatalf("%d load-balancer objects rendered for a refused load balancer", n)
				}
				if len(find[*corev1.Service](result.Objects)) == 0 {
					t.Fatal("the workload was dropped with its load balancer")
				}
				return
			}
			if validate.BlocksLoadBalancer(result.Problems) {
				t.Fatalf("unexpected errors: %v", result.Problems)
			}
			lb := lbService(t, result)
			if lb.Annotations[render.AnnotationAddressPool] != tc.pool || result.Status.LoadBalancer.Pool != tc.pool {
				t.Errorf("pool annotation %q, status pool %q, want %q", lb.Annotations[render.AnnotationAddressPool], result.Status.LoadBalancer.Pool, tc.pool)
			}
			pools := find[*metallbv1beta1.IPAddressPool](result.Objects)
			if (len(pools) == 1) != tc.ourPool {
				t.Fatalf("rendered pools %v, want ours: %v", pools, tc.ourPool)
			}
			for _, adv := range find[*metallbv1beta1.BGPAdvertisement](result.Objects) {
				if len(adv.Spec.IPAddressPools) != 1 || adv.Spec.IPAddressPools[0] != tc.pool {
					t.Errorf("the advertisement covers %v, not exactly the node's pool", adv.Spec.IPAddressPools)
				}
			}
		})
	}
}

func hasBlocking(problems []validate.Problem, reason string) bool {
	for _, p := range problems {
		if p.Reason == reason && p.Blocking() {
			return true
		}
	}
	return false
}

func lbService(t *testing.T, result render.Result) *corev1.Service {
	t.Helper()
	for _, svc := range find[*corev1.Service](result.Objects) {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			return svc
		}
	}
	t.Fatal("no LoadBalancer Service")
	return nil
}

// The operator's pool holds the address of every node asking for it once, and serves only the
// operator's LoadBalancer Services of those nodes' namespaces.
func TestTheOperatorsPoolIsSharedByAddressAndReservedForItsNodes(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	first := older(node, "first")
	first.Namespace = "team-a"
	second := older(node, "second")
	second.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.101"
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.MetalLB.Claims = render.NewClaims(first, second, node)
	result := render.Desired(node, facts)
	pools := find[*metallbv1beta1.IPAddressPool](result.Objects)
	if len(pools) != 1 {
		t.Fatalf("pools = %v", pools)
	}
	spec := pools[0].Spec
	if strings.Join(spec.Addresses, ",") != "192.0.2.100/32,192.0.2.101/32" {
		t.Errorf("addresses = %v", spec.Addresses)
	}
	if spec.AutoAssign == nil || *spec.AutoAssign {
		t.Error("the pool is auto-assigned to any Service")
	}
	if spec.AllocateTo == nil || strings.Join(spec.AllocateTo.Namespaces, ",") != "stellar,team-a" || len(spec.AllocateTo.ServiceSelectors) != 1 {
		t.Fatalf("serviceAllocation = %+v", spec.AllocateTo)
	}
	if !matches(spec.AllocateTo.ServiceSelectors[0].MatchLabels, lbService(t, result).Labels) {
		t.Error("the pool's serviceAllocation does not select the node's own LoadBalancer Service")
	}
}

// MetalLB's FRR modes refuse two local ASNs (or router IDs) on one Kubernetes node.
func TestFRRModePeersShareOneLocalASNPerNode(t *testing.T) {
	region := func(r string) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchLabels: map[string]string{"topology.kubernetes.io/region": r}}}
	}
	ours := func(sel []metav1.LabelSelector) []stellarv1.NodeSelector {
		var out []stellarv1.NodeSelector
		for _, s := range sel {
			n := stellarv1.NodeSelector{MatchLabels: map[string]stellarv1.LabelValue{}}
			for k, v := range s.MatchLabels {
				n.MatchLabels[k] = stellarv1.LabelValue(v)
			}
			out = append(out, n)
		}
		return out
	}
	cases := []struct {
		name     string
		mode     render.BGPMode
		existing metallbv1beta2.BGPPeerSpec
		ours     bool
		selector []metav1.LabelSelector
		reason   string
	}{
		{"another router's peer with another myASN on every node is refused", render.BGPModeFRRK8s,
			metallbv1beta2.BGPPeerSpec{MyASN: 64999, ASN: 64999, Address: "198.51.100.1"}, true, nil, stellarv1.ReasonMyASNConflict},
		{"someone else's peer counts as much as the operator's", render.BGPModeFRR,
			metallbv1beta2.BGPPeerSpec{MyASN: 64999, ASN: 64999, Address: "198.51.100.1"}, false, nil, stellarv1.ReasonMyASNConflict},
		{"peers on disjoint regions may use different local ASNs", render.BGPModeFRRK8s,
			metallbv1beta2.BGPPeerSpec{MyASN: 64999, ASN: 64999, Address: "198.51.100.1", NodeSelectors: region("eu-west")}, true, region("us-east"), ""},
		{"the same local ASN is fine everywhere", render.BGPModeFRRK8s,
			metallbv1beta2.BGPPeerSpec{MyASN: 64512, ASN: 64999, Address: "198.51.100.1"}, true, nil, ""},
		{"a router ID set on a peer of the same nodes is refused", render.BGPModeFRRK8s,
			metallbv1beta2.BGPPeerSpec{MyASN: 64512, ASN: 64999, Address: "198.51.100.1", RouterID: "10.0.0.1"}, false, nil, stellarv1.ReasonRouterIDConflict},
		{"native mode has no such rule", render.BGPModeNative,
			metallbv1beta2.BGPPeerSpec{MyASN: 64999, ASN: 64999, Address: "198.51.100.1"}, true, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := readExample(t, "../../examples/horizon-anycast.yaml")
			node.Spec.LoadBalancer.BGP.Advertisement.NodeSelectors = ours(tc.selector)
			facts := testFacts(node, tc.mode)
			facts.MetalLB.Peers = []render.ExistingPeer{{Name: "other-router", Ours: tc.ours, Spec: tc.existing}}
			result := render.Desired(node, facts)
			if tc.reason == "" {
				if validate.BlocksLoadBalancer(result.Problems) || len(find[*metallbv1beta2.BGPPeer](result.Objects)) != 1 {
					t.Fatalf("want the peer rendered, got problems %v", result.Problems)
				}
				return
			}
			if !hasBlocking(result.Problems, tc.reason) || loadBalancerObjects(result) != 0 {
				t.Fatalf("want %s and nothing rendered, got %v", tc.reason, result.Problems)
			}
		})
	}
}

// A router already configured by someone else's BGPPeer is used when it matches, never duplicated.
func TestSomeoneElsesPeerOfTheSameRouter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		myASN     uint32
		wantError bool
	}{
		{"a matching foreign peer is referenced, not duplicated", 64512, false},
		{"a foreign peer with other ASNs is a conflict, and nothing is announced", 64999, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := readExample(t, "../../examples/horizon-anycast.yaml")
			facts := testFacts(node, render.BGPModeFRRK8s)
			facts.MetalLB.Peers = []render.ExistingPeer{{Name: "core-router", Spec: metallbv1beta2.BGPPeerSpec{MyASN: tc.myASN, ASN: 64513, Address: "192.168.1.1"}}}
			result := render.Desired(node, facts)
			if tc.wantError {
				if !hasBlocking(result.Problems, stellarv1.ReasonPeerConflict) || loadBalancerObjects(result) != 0 {
					t.Fatalf("want a blocking PeerConflict and nothing rendered, got %v", result.Problems)
				}
				return
			}
			if len(find[*metallbv1beta2.BGPPeer](result.Objects)) != 0 {
				t.Error("a second BGPPeer for the router was rendered")
			}
			adv := find[*metallbv1beta1.BGPAdvertisement](result.Objects)
			if len(adv) != 1 || strings.Join(adv[0].Spec.Peers, ",") != "core-router" {
				t.Fatalf("advertisement peers = %v", adv)
			}
		})
	}
}

// An advertisement is never written with an empty peer list (which means every router).
func TestNoAdvertisementToEveryRouterWhenNoPeerCanBeConfigured(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.LoadBalancer.BGP.Peers[0].PasswordSecretRef = &stellarv1.SecretKeyRef{Name: "missing-md5"}
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.MetalLB.PeerPasswords = map[int][]byte{} // read, and the Secret is missing
	result := render.Desired(node, facts)
	for _, adv := range find[*metallbv1beta1.BGPAdvertisement](result.Objects) {
		if len(adv.Spec.Peers) == 0 {
			t.Fatal("an advertisement to every router was rendered")
		}
	}
	if !hasBlocking(result.Problems, stellarv1.ReasonSecretMissing) || loadBalancerObjects(result) != 0 {
		t.Fatalf("problems = %v", result.Problems)
	}
}

// Per-node names never collide across namespaces, stay valid and short, and do not change.
func TestPerNodeNamesAreCollisionFreeAndStable(t *testing.T) {
	a := &stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "a-b"}}
	b := &stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "b"}}
	if render.PerNodeName(a) == render.PerNodeName(b) {
		t.Fatalf("team/a-b and team-a/b share %s", render.PerNodeName(a))
	}
	if render.PerNodeName(a) != "stellar-team-a-b-"+render.PerNodeName(a)[len("stellar-team-a-b-"):] || render.PerNodeName(a) != render.PerNodeName(a.DeepCopy()) {
		t.Errorf("unstable or unreadable name %s", render.PerNodeName(a))
	}
	long := &stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: strings.Repeat("n", 63), Name: strings.Repeat("x", 43)}}
	if name := render.PerNodeName(long); len(name) > 63 || len(validation.IsDNS1123Label(name)) > 0 {
		t.Errorf("%q is not a valid label-sized name", name)
	}
}

// One router in two spellings is one BGPPeer.
func TestRoutersAreNamedByTheirCanonicalAddress(t *testing.T) {
	a, _ := stellarv1.ParseAddress("2001:0db8:0000::0001")
	b, _ := stellarv1.ParseAddress("2001:db8::1")
	if render.PeerName(a) != render.PeerName(b) {
		t.Fatalf("%s != %s", render.PeerName(a), render.PeerName(b))
	}
}

// With a policy that does not grant the node's address, nothing of the load balancer is rendered.
func TestAPolicyRefusalRendersNoLoadBalancer(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.MetalLB.Policy = validate.PolicyFacts{
		Policies: []stellarv1.LoadBalancerPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "edge"}, Spec: stellarv1.LoadBalancerPolicySpec{
			NamespaceSelector: &metav1.LabelSelector{}, Addresses: []string{"198.51.100.0/24"},
		}}},
	}
	result := render.Desired(node, facts)
	if !hasBlocking(result.Problems, stellarv1.ReasonNotAllowedByPolicy) || loadBalancerObjects(result) != 0 {
		t.Fatalf("problems %v, %d load-balancer objects", result.Problems, loadBalancerObjects(result))
	}
}

// User annotations cannot smuggle MetalLB keys onto the Service past every check (the CLI has no
// admission to refuse them).
func TestUserAnnotationsNeverSetMetalLBKeys(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.LoadBalancer.Annotations = map[string]string{"metallb.io/address-pool": "someone-elses", "team": "a"}
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	if !hasBlocking(result.Problems, stellarv1.ReasonInvalidSpec) || loadBalancerObjects(result) != 0 {
		t.Fatalf("problems = %v", result.Problems)
	}
}

// Render decides the load-balancer status it intends; the controller only adds observations.
func TestRenderIntendsTheLoadBalancerStatus(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	st := result.Status.LoadBalancer
	if st == nil || st.Mode != stellarv1.LoadBalancerBGP || st.Pool != "stellar-anycast-pool" || strings.Join(st.AdvertisedPrefixes, ",") != "192.0.2.100/32" ||
		strings.Join(st.Communities, ",") != "64512:100" || ptr.Deref(st.LocalPref, 0) != 100 || st.BFDProfile != "stellar-bfd" ||
		len(st.Peers) != 1 || st.Peers[0].Name != "stellar-peer-192-168-1-1" || st.Peers[0].ASN != 64513 {
		t.Fatalf("intended status = %+v", st)
	}
	if result.Status.Image != "stellar/stellar-horizon:21.0.0" || result.Status.Selector == "" {
		t.Errorf("status image %q selector %q", result.Status.Image, result.Status.Selector)
	}
}

// The operator hands render the cache's own StellarNodes as claims, uncopied: render must only
// read them. Every sibling shape that render looks into is here: the same address, pool, router
// and BFD profile, another namespace, a conflicting peer, an L2 node and one being deleted.
func TestRenderNeverChangesTheSiblingsItReads(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	sameAddress := older(node, "same-address")
	sameAddress.Namespace = "team-a"
	samePool := older(node, "same-pool")
	samePool.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.101"
	otherPeer := older(node, "other-peer")
	otherPeer.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.102"
	otherPeer.Spec.LoadBalancer.BGP.Peers[0].ASN++
	otherPeer.Spec.LoadBalancer.BGP.Advertisement.AggregationLength = 24
	l2 := readExample(t, "../../examples/horizon-l2.yaml")
	deleting := older(node, "deleting")
	deleting.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.103"
	deleting.DeletionTimestamp = &metav1.Time{Time: node.CreationTimestamp.Time}
	siblings := []*stellarv1.StellarNode{sameAddress, samePool, otherPeer, l2, deleting, node}
	before := make([]*stellarv1.StellarNode, len(siblings))
	for i, n := range siblings {
		before[i] = n.DeepCopy()
	}
	for _, mode := range []render.BGPMode{render.BGPModeFRRK8s, render.BGPModeNative} {
		for _, n := range siblings {
			facts := testFacts(n, mode)
			facts.MetalLB.Claims = render.NewClaims(siblings...)
			render.Desired(n, facts)
			render.SharedObjectNames(n, facts.MetalLB)
		}
	}
	for i, n := range siblings {
		if !equality.Semantic.DeepEqual(before[i], n) {
			t.Errorf("rendering changed StellarNode %s/%s", n.Namespace, n.Name)
		}
	}
}
