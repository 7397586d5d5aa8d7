//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// The spec's horizon-anycast block in MetalLB's default mode: MetalLB's speaker in frr-k8s mode,
// frr-k8s' daemon driving a Debian FRR per region, the operator in its default (frr-k8s) mode.

const (
	largeCommunity = "64512:1:100"
	specBFDProfile = "stellar-bfd"
)

// specBlock is examples/horizon-anycast.yaml as written, in the test namespace, peering with rn's
// router (the only change to the block itself).
func specBlock(t *testing.T, rn *RegionNode) *stellarv1.StellarNode {
	t.Helper()
	n := loadExample(t, "../../examples/horizon-anycast.yaml")
	n.Namespace = stellarNamespace
	bgp := n.Spec.LoadBalancer.BGP
	if len(bgp.Peers) != 1 || bgp.LocalASN != asn || bgp.Peers[0].ASN != ebgpRouterASN || bgp.Peers[0].KeepaliveTime == nil ||
		*bgp.Peers[0].KeepaliveTime != 30 || ptr.Deref(bgp.Peers[0].HoldTime, 0) != 90 || bgp.Peers[0].GracefulRestart == nil || !*bgp.Peers[0].GracefulRestart ||
		bgp.BFDEnabled == nil || !*bgp.BFDEnabled || bgp.BFDProfile != specBFDProfile {
		t.Fatalf("examples/horizon-anycast.yaml is no longer the spec's block (eBGP 64512 → 64513, hold 90, keepalive 30, graceful restart, BFD %s): %+v", specBFDProfile, bgp)
	}
	bgp.Peers[0].Address = rn.RouterAddr.String()
	return n
}

// routerNeighbor is the router's raw `show bgp neighbors <addr> json` for one neighbour.
func routerNeighbor(ctx context.Context, r *Router, addr string) (map[string]any, error) {
	out, err := r.Show(ctx, "show bgp neighbors "+addr+" json")
	if err != nil {
		return nil, err
	}
	doc := map[string]map[string]any{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("parsing: %w: %.300s", err, out)
	}
	n, ok := doc[addr]
	if !ok {
		return nil, fmt.Errorf("no neighbour %s in %.300s", addr, out)
	}
	return n, nil
}

// bfdPeers is `show bfd peers json` of a bfdd, keyed by peer address.
func bfdPeers(ctx context.Context, sock string) (map[string]map[string]any, error) {
	out, err := vtyShow(ctx, sock, "show bfd peers json")
	if err != nil {
		return nil, err
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("parsing show bfd peers json: %w: %.300s", err, out)
	}
	res := map[string]map[string]any{}
	for _, p := range list {
		if addr, ok := p["peer"].(string); ok {
			res[addr] = p
		}
	}
	return res, nil
}

func num(m map[string]any, key string) float64 {
	f, _ := m[key].(float64)
	return f
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// sessionUp reads stellar_node_bgp_session_up for one node's session to peer from the operator's
// registry: value and presence.
func sessionUp(namespace, name, peer, node string) (float64, bool, error) {
	metrics, err := gatherMetric("stellar_node_bgp_session_up")
	if err != nil {
		return 0, false, err
	}
	for _, m := range metrics {
		l := m.Labels
		if l["namespace"] == namespace && l["name"] == name && l["peer"] == peer && l["node"] == node {
			return m.Value, true, nil
		}
	}
	return 0, false, nil
}

// TestFRRK8sSpecBlock applies the spec's horizon-anycast block as written to the operator in its
// default (frr-k8s) mode, with MetalLB in frr-k8s mode and an FRR router in AS 64513 running BFD
// and graceful restart: the session comes up with the spec's timers, BFD and graceful restart, the
// route carries the community (and the large community once added), and the StellarNode's status
// shows frr-k8s' session state.
func TestFRRK8sSpecBlock(t *testing.T) {
	ctx := t.Context()
	tp := NewTopology(t, cp, Options{
		Regions: []Region{{Name: "us-east"}}, RouterASN: ebgpRouterASN,
		BGPType: BGPFRRK8s, RouterBFD: true, RouterGracefulRestart: true,
	})
	op := StartOperator(t, render.BGPModeFRRK8s)
	operatorLogOnFailure(t, op)
	east := tp.Region("us-east")
	eastAddr := east.Addr.String()
	n := specBlock(t, east)

	start := time.Now()
	if err := tp.CreateStellarNodes(ctx, t, n); err != nil {
		t.Fatal(err)
	}
	exposeLoadBalancer(ctx, t, tp, n, "us-east", true)
	if err := tp.WaitEstablished(60 * time.Second); err != nil {
		t.Fatalf("the spec block in frr-k8s mode: %v", err)
	}
	ri, err := tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool { return pathsVia(ri, eastAddr) })
	if err != nil {
		t.Fatal(err)
	}
	up := time.Since(start)
	t.Logf("spec block in frr-k8s mode: session Established and %s announced %.2fs after creating the StellarNode: %s", anycastPrefix, up.Seconds(), ri)
	fmt.Printf("frrk8s_spec_block_route_up_seconds=%.3f\n", up.Seconds())
	tp.AssertMetalLBAccepts(t)

	// The session as the router negotiated it.
	nb, err := routerNeighbor(ctx, tp.Router, eastAddr)
	if err != nil {
		t.Fatal(err)
	}
	if hold, ka := num(nb, "bgpTimerHoldTimeMsecs"), num(nb, "bgpTimerKeepAliveIntervalMsecs"); hold != 90000 || ka != 30000 {
		t.Errorf("negotiated hold %v ms keepalive %v ms, want 90000 and 30000", hold, ka)
	}
	caps, _ := nb["neighborCapabilities"].(map[string]any)
	if gr := str(caps, "gracefulRestart"); gr != "advertisedAndReceived" {
		t.Errorf("graceful restart capability %q, want advertisedAndReceived (capabilities %v)", gr, caps)
	}
	bfdInfo, _ := nb["peerBfdInfo"].(map[string]any)
	t.Logf("router's neighbour %s: state %s, AS %v, hold %v ms, keepalive %v ms, graceful restart %q, BFD %v",
		eastAddr, str(nb, "bgpState"), nb["remoteAs"], nb["bgpTimerHoldTimeMsecs"], nb["bgpTimerKeepAliveIntervalMsecs"], str(caps, "gracefulRestart"), bfdInfo)

	// BFD: up on both ends, with the profile's timers (300 ms × 3) as the router sees them.
	var routerBFD, nodeBFD map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		rp, err1 := bfdPeers(ctx, tp.Router.vtySocket("bfdd"))
		np, err2 := bfdPeers(ctx, east.FRR.VtySocket("bfdd"))
		routerBFD, nodeBFD = rp[eastAddr], np[east.RouterAddr.String()]
		if err1 == nil && err2 == nil && str(routerBFD, "status") == "up" && str(nodeBFD, "status") == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BFD not up after 20s: router %v (%v), node %v (%v)", routerBFD, err1, nodeBFD, err2)
		}
	}
	if num(routerBFD, "remote-receive-interval") != 300 || num(routerBFD, "remote-transmit-interval") != 300 || num(routerBFD, "remote-detect-multiplier") != 3 {
		t.Errorf("router's BFD peer %s: %v, want the node's 300 ms / 300 ms × 3", eastAddr, routerBFD)
	}
	if p, ok := nodeBFD["profile"]; ok && p != specBFDProfile {
		t.Errorf("node's BFD peer uses profile %v, want %s", p, specBFDProfile)
	}
	nodeConf, err := vtyShow(ctx, east.FRR.VtySocket("bgpd"), "show running-config")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("neighbor %s bfd profile %s", east.RouterAddr, specBFDProfile); !strings.Contains(nodeConf, want) {
		t.Errorf("the node's bgpd configuration lacks %q", want)
	}
	t.Logf("BFD up: router sees %v/%v ms × %v; node's session uses profile %v", routerBFD["remote-receive-interval"], routerBFD["remote-transmit-interval"], routerBFD["remote-detect-multiplier"], nodeBFD["profile"])

	// The path: the community, AS path 64512.
	p := ri.Paths[0]
	if !slices.Equal(p.Communities, []string{community}) || p.ASPath != strconv.Itoa(asn) {
		t.Errorf("path: communities %v AS path %q, want [%s] and %d", p.Communities, p.ASPath, community, asn)
	}

	// The status: frr-k8s' session state, the condition and the metric.
	key := client.ObjectKeyFromObject(n)
	got, err := tp.WaitStellarNode(ctx, key, 30*time.Second, func(n *stellarv1.StellarNode) error {
		ps, _ := PeerStatus(n, east.RouterAddr.String())
		if c := Condition(n, stellarv1.ConditionPeersEstablished); c.Status != "True" {
			return fmt.Errorf("PeersEstablished %+v; peer %+v", c, ps)
		}
		if len(ps.Sessions) != 1 || ps.Sessions[0].Node != east.Node || ps.Sessions[0].BGPState != "Established" || ps.Sessions[0].BFDState != "Up" {
			return fmt.Errorf("sessions %+v, want %s Established with BFD Up", ps.Sessions, east.Node)
		}
		if ps.SessionState != "Announcing" {
			return fmt.Errorf("sessionState %q, want Announcing", ps.SessionState)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := sessionUp(n.Namespace, n.Name, east.RouterAddr.String(), east.Node); err != nil || !ok || v != 1 {
		t.Errorf("stellar_node_bgp_session_up = %v (present %v, %v), want 1", v, ok, err)
	}
	if supported := Condition(got, stellarv1.ConditionMetalLBSupported); supported.Status != "True" {
		t.Errorf("MetalLBSupported %+v: frr-k8s mode takes every field of the block", supported)
	}
	statusYAML, _ := yaml.Marshal(got.Status.LoadBalancer)
	t.Logf("status.loadBalancer (kubectl get stellarnode -o yaml):\n%s", statusYAML)

	// Large communities (spec: largeCommunities) travel in frr-k8s mode.
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.LoadBalancer.BGP.LargeCommunities = []string{largeCommunity}
	if err := tp.Client.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	ri, err = tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool {
		return len(ri.Paths) == 1 && slices.Equal(ri.Paths[0].LargeCommunities, []string{largeCommunity})
	})
	if err != nil {
		t.Fatalf("large community: %v", err)
	}
	if !slices.Equal(ri.Paths[0].Communities, []string{community}) {
		t.Errorf("communities %v after adding the large community, want [%s]", ri.Paths[0].Communities, community)
	}
	t.Logf("path: communities %v, large communities %v, AS path %s", ri.Paths[0].Communities, ri.Paths[0].LargeCommunities, ri.Paths[0].ASPath)
	tp.AssertMetalLBAccepts(t)
}

// cutLink drops every packet on the region's veth inside its namespace (nftables), as a dead node
// would: the router's interface stays up, so only BFD or the hold timer can notice.
func (tp *Topology) cutLink(ctx context.Context, rn *RegionNode) error {
	veth := fmt.Sprintf("%s%sn%d", Prefix, tp.ID, rn.Index)
	rules := fmt.Sprintf(`table inet se2e_cut {
	chain in { type filter hook input priority -300; policy accept; iifname %q drop; }
	chain out { type filter hook output priority -300; policy accept; oifname %q drop; }
}
`, veth, veth)
	cmd := []string{"ip", "netns", "exec", rn.Netns, "nft", "-f", "-"}
	c := execCommand(ctx, cmd, rules)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", rn.Netns, err, out)
	}
	return nil
}

// restoreLink removes cutLink's rules.
func (tp *Topology) restoreLink(ctx context.Context, rn *RegionNode) error {
	_, err := inNetns(ctx, rn.Netns, "nft", "delete", "table", "inet", "se2e_cut")
	return err
}

// failoverRegions is the two-region topology of the node-death test: each region a cluster of its
// own announcing the spec block's IP to its own router.
func failoverNodes(t *testing.T, tp *Topology, bfd bool, hold, keepalive int32) []*stellarv1.StellarNode {
	var nodes []*stellarv1.StellarNode
	for _, rn := range tp.Regions {
		n := specBlock(t, rn)
		n.Name = "horizon-anycast-" + rn.Name
		lb := n.Spec.LoadBalancer
		lb.LoadBalancerClass = LBClass(rn.Name)
		// One router per region: each region's nodes peer with their own router only.
		lb.BGP.Advertisement.NodeSelectors = []stellarv1.NodeSelector{{MatchLabels: map[string]stellarv1.LabelValue{HostnameLabel: stellarv1.LabelValue(rn.Node)}}}
		n.Spec.Placement = &stellarv1.PlacementSpec{NodeSelector: map[string]string{HostnameLabel: rn.Node}}
		lb.BGP.Peers[0].HoldTime = ptr.To(hold)
		lb.BGP.Peers[0].KeepaliveTime = ptr.To(keepalive)
		if !bfd {
			lb.BGP.BFDEnabled, lb.BGP.BFDProfile = ptr.To(false), ""
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// nodeDeathFailover cuts us-east's link runs times and returns how long the router took each time
// to drop us-east's path and route via eu-west.
func nodeDeathFailover(t *testing.T, bfd bool, hold, keepalive int32, runs int) []time.Duration {
	ctx := t.Context()
	// With BFD the router runs graceful restart as the spec's block asks; the hold-timer run turns
	// it off at the router, or the router would keep the dead node's path another restart time
	// (120 s, advertised by the node) after the hold timer.
	tp := NewTopology(t, cp, Options{
		Regions: []Region{{Name: "us-east"}, {Name: "eu-west"}}, RouterASN: ebgpRouterASN,
		BGPType: BGPFRRK8s, RouterBFD: bfd, RouterGracefulRestart: bfd, RouterNoGracefulRestart: !bfd, ClusterPerRegion: true,
	})
	op := StartOperator(t, render.BGPModeFRRK8s)
	operatorLogOnFailure(t, op)
	east, west := tp.Region("us-east"), tp.Region("eu-west")
	eastAddr, westAddr := east.Addr.String(), west.Addr.String()
	nodes := failoverNodes(t, tp, bfd, hold, keepalive)
	if err := tp.CreateStellarNodes(ctx, t, nodes...); err != nil {
		t.Fatal(err)
	}
	for i, rn := range tp.Regions {
		exposeLoadBalancer(ctx, t, tp, nodes[i], rn.Name, true)
	}
	both := func(ri RouteInfo) bool { return pathsVia(ri, eastAddr, westAddr) }
	if _, err := tp.WaitRoute(anycastPrefix, 60*time.Second, both); err != nil {
		t.Fatal(err)
	}
	nb, err := routerNeighbor(ctx, tp.Router, eastAddr)
	if err != nil {
		t.Fatal(err)
	}
	if got := num(nb, "bgpTimerHoldTimeMsecs"); got != float64(hold*1000) {
		t.Fatalf("negotiated hold time %v ms, want %d", got, hold*1000)
	}
	tp.AssertMetalLBAccepts(t)
	var times []time.Duration
	for i := range runs {
		if bfd {
			// BFD must be up before the cut, or only the hold timer could notice it.
			if err := waitBFDUp(ctx, tp.Router, eastAddr, westAddr); err != nil {
				t.Fatalf("before cut #%d: %v", i+1, err)
			}
			// The cut lands anywhere in BFD's 300 ms transmit interval.
			time.Sleep(time.Duration(i) * 97 * time.Millisecond)
		}
		m, err := tp.Measure(func() error { return tp.cutLink(ctx, east) }, Change{
			Prefix: anycastPrefix, Until: func(ri RouteInfo) bool { return pathsVia(ri, westAddr) },
			Timeout: time.Duration(hold)*time.Second + 30*time.Second,
		})
		if err != nil {
			t.Fatalf("cut #%d: %v", i+1, err)
		}
		// From the moment the drop rules are in place (nft returned; starting it through `ip netns
		// exec` takes tens of ms on a busy machine) to the router's table without the path.
		times = append(times, m.Observed-m.Action)
		t.Logf("cut #%d: us-east's path gone %v after the cut (nft took %v): %s", i+1, ms(m.Observed-m.Action), ms(m.Action), m.Route)
		if err := tp.restoreLink(ctx, east); err != nil {
			t.Fatal(err)
		}
		if _, err := tp.WaitRoute(anycastPrefix, 60*time.Second, both); err != nil {
			t.Fatalf("after restoring the link: %v", err)
		}
	}
	tp.AssertMetalLBAccepts(t)
	return times
}

// waitBFDUp waits until the router's BFD sessions with peers are up, in bfdd and as bgpd sees them
// (bgpd acts on BFD only through its own view of the session).
func waitBFDUp(ctx context.Context, r *Router, peers ...string) error {
	var last []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ps, err := bfdPeers(ctx, r.vtySocket("bfdd"))
		up := err == nil
		last = nil
		for _, p := range peers {
			nb, nerr := routerNeighbor(ctx, r, p)
			info, _ := nb["peerBfdInfo"].(map[string]any)
			last = append(last, fmt.Sprintf("%s bfdd=%s bgpd=%s (%v)", p, str(ps[p], "status"), str(info, "status"), nerr))
			up = up && nerr == nil && str(ps[p], "status") == "up" && str(info, "status") == "Up"
		}
		if up {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("BFD not up after 30s: %v (%v)", last, err)
		}
	}
}

// TestFRRK8sNodeDeathFailover measures how long the router keeps a dead node's path: us-east's
// link is cut (every packet dropped in its namespace, the interfaces stay up), once with the spec's
// BFD (300 ms × 3) and once with the hold timer alone. With BFD the path must be gone within 1 s
// (median).
func TestFRRK8sNodeDeathFailover(t *testing.T) {
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("E2E_FAILOVER_RUNS")); err == nil && v > 0 {
		runs = v
	}
	// The hold-timer measurement uses holdTime 9 s (keepalive 3 s) instead of the spec's 90 s, so
	// that it takes seconds; the figure scales with the hold time.
	const shortHold, shortKeepalive = 9, 3
	var withBFD, withHold []time.Duration
	t.Run("bfd", func(t *testing.T) { withBFD = nodeDeathFailover(t, true, 90, 30, runs) })
	t.Run("hold", func(t *testing.T) { withHold = nodeDeathFailover(t, false, shortHold, shortKeepalive, 1) })
	if len(withBFD) == 0 || len(withHold) == 0 {
		t.Fatal("a measurement did not complete")
	}
	bfdMedian, bfdMax := medianMax(withBFD)
	holdMedian, _ := medianMax(withHold)
	fmt.Printf("frrk8s_node_death_failover_seconds bfd=%.3f hold=%.3f (bfd: spec profile 300ms x3, router with graceful restart, median of %d, max %.3f; hold: holdTime %ds keepalive %ds, router without graceful restart, median of %d)\n",
		bfdMedian.Seconds(), holdMedian.Seconds(), len(withBFD), bfdMax.Seconds(), shortHold, shortKeepalive, len(withHold))
	if bfdMedian >= time.Second {
		t.Errorf("node-death failover with BFD (300 ms × 3): median %v, want under 1 s", ms(bfdMedian))
	}
	if holdMedian <= bfdMedian {
		t.Errorf("the hold timer (%v) was not slower than BFD (%v): the cut was noticed some other way", ms(holdMedian), ms(bfdMedian))
	}
}

// TestFRRK8sSessionStateInStatus: in frr-k8s mode the StellarNode's status shows the session as
// FRR sees it. A wrong MD5 password, a wrong peer ASN and an unreachable router each leave the
// session down, and each shows as PeersEstablished=False with its reason, a per-node session state
// other than Established, stellar_node_bgp_session_up 0, and no "Announcing".
func TestFRRK8sSessionStateInStatus(t *testing.T) {
	ctx := t.Context()
	tp := NewTopology(t, cp, Options{
		Regions: []Region{{Name: "ap-south"}}, RouterASN: ebgpRouterASN, BGPType: BGPFRRK8s,
	})
	op := StartOperator(t, render.BGPModeFRRK8s)
	operatorLogOnFailure(t, op)
	rn := tp.Region("ap-south")
	if err := ensureNamespace(ctx, tp.Client, stellarNamespace); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// setup breaks the session (router side or spec); it returns the StellarNode.
		setup      func(t *testing.T) *stellarv1.StellarNode
		undo       func(t *testing.T)
		wantReason string
		// wantMessage is part of the condition's message.
		wantMessage string
	}{
		{
			name: "wrong MD5 password",
			setup: func(t *testing.T) *stellarv1.StellarNode {
				if err := tp.Router.SetPassword(ctx, rn.Addr, "router-side-secret"); err != nil {
					t.Fatal(err)
				}
				if err := tp.Create(ctx, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: "bgp-md5-wrong", Namespace: stellarNamespace},
					StringData: map[string]string{"password": "not-the-routers-secret"},
				}); err != nil {
					t.Fatal(err)
				}
				n := sessionNode(rn, "horizon-md5", ebgpRouterASN)
				n.Spec.LoadBalancer.BGP.Peers[0].PasswordSecretRef = &stellarv1.SecretKeyRef{Name: "bgp-md5-wrong"}
				return n
			},
			undo: func(t *testing.T) {
				if err := tp.Router.SetPassword(ctx, rn.Addr, ""); err != nil {
					t.Fatal(err)
				}
			},
			wantReason: stellarv1.ReasonPeerNotConnected, wantMessage: "MD5 password mismatch",
		},
		{
			name:       "wrong peer ASN",
			setup:      func(t *testing.T) *stellarv1.StellarNode { return sessionNode(rn, "horizon-asn", 64599) },
			wantReason: stellarv1.ReasonPeerNotConnected, wantMessage: "(AS 64599)",
		},
		{
			name: "unreachable router",
			setup: func(t *testing.T) *stellarv1.StellarNode {
				if err := tp.cutLink(ctx, rn); err != nil {
					t.Fatal(err)
				}
				return sessionNode(rn, "horizon-unreachable", ebgpRouterASN)
			},
			undo: func(t *testing.T) {
				if err := tp.restoreLink(ctx, rn); err != nil {
					t.Fatal(err)
				}
			},
			wantReason: stellarv1.ReasonPeerNotConnected, wantMessage: "the router is unreachable",
		},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			n := tc.setup(t)
			if tc.undo != nil {
				// Registered before the StellarNode's deletion, so it runs after it.
				t.Cleanup(func() { tc.undo(t) })
			}
			if err := tp.CreateStellarNodes(ctx, t, n); err != nil {
				t.Fatal(err)
			}
			exposeLoadBalancer(ctx, t, tp, n, rn.Name, true)
			peer := rn.RouterAddr.String()
			// frr-k8s' exporter has to see the session down for a while: wait past a few polls.
			time.Sleep(3 * FRRStatusPoll)
			got, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(n), 30*time.Second, func(n *stellarv1.StellarNode) error {
				c := Condition(n, stellarv1.ConditionPeersEstablished)
				ps, _ := PeerStatus(n, peer)
				if c.Status != "False" || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantMessage) {
					return fmt.Errorf("PeersEstablished %+v, want False/%s mentioning %q; peer %+v", c, tc.wantReason, tc.wantMessage, ps)
				}
				if len(ps.Sessions) != 1 || ps.Sessions[0].Node != rn.Node || ps.Sessions[0].BGPState == "Established" {
					return fmt.Errorf("sessions %+v, want %s not Established", ps.Sessions, rn.Node)
				}
				if ps.SessionState == "Announcing" {
					return fmt.Errorf("sessionState Announcing without a session")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if nb, err := tp.Neighbors(); err != nil || nb[rn.Addr.String()].Established() {
				t.Fatalf("the router's session is up (%v): the failure was not one", err)
			}
			if v, ok, err := sessionUp(n.Namespace, n.Name, peer, rn.Node); err != nil || !ok || v != 0 {
				t.Errorf("stellar_node_bgp_session_up = %v (present %v, %v), want 0", v, ok, err)
			}
			if ri, err := tp.Route(anycastPrefix); err != nil || len(ri.Paths) != 0 {
				t.Errorf("route %s present without a session: %s (%v)", anycastPrefix, ri, err)
			}
			ps, _ := PeerStatus(got, peer)
			c := Condition(got, stellarv1.ConditionPeersEstablished)
			t.Logf("%s: sessionState %q, sessions %+v; PeersEstablished=%s reason %s: %s", tc.name, ps.SessionState, ps.Sessions, c.Status, c.Reason, c.Message)
			tp.AssertMetalLBAccepts(t)
		})
	}
}

// sessionNode is a one-peer StellarNode announcing the anycast IP to rn's router with peer ASN peerASN.
func sessionNode(rn *RegionNode, name string, peerASN int64) *stellarv1.StellarNode {
	n := horizonAnycast(multiRegion[2], rn, "")
	n.Name = name
	n.Spec.LoadBalancer.BGP.Peers[0].ASN = peerASN
	// No LOCAL_PREF over eBGP: only the failure under test may be reported.
	n.Spec.LoadBalancer.BGP.Advertisement.LocalPref = nil
	return n
}

// upstreamASN is the router's AS in the cross-ASN test: a router that sees all three regions.
const upstreamASN = 64500

// priorityPolicy is the upstream router's side of globalDiscovery.priority, as docs/metallb.md
// gives it: the priority large community <AS>:1:<priority> of each region becomes LOCAL_PREF (all
// regions announce from AS 64512 here, see multiRegionExample).
const priorityPolicy = `bgp large-community-list standard STELLAR-PRIORITY-100 seq 5 permit 64512:1:100
bgp large-community-list standard STELLAR-PRIORITY-90 seq 5 permit 64512:1:90
bgp large-community-list standard STELLAR-PRIORITY-80 seq 5 permit 64512:1:80
route-map STELLAR-PRIORITY permit 10
 match large-community STELLAR-PRIORITY-100
 set local-preference 100
exit
route-map STELLAR-PRIORITY permit 20
 match large-community STELLAR-PRIORITY-90
 set local-preference 90
exit
route-map STELLAR-PRIORITY permit 30
 match large-community STELLAR-PRIORITY-80
 set local-preference 80
exit
route-map STELLAR-PRIORITY permit 100
exit`

// multiRegionExample is examples/multi-region/horizon-<region>.yaml (the StellarNode and its MD5
// Secret) with the peer pointed at this topology's router. The examples peer iBGP with a router of
// each region's own AS; here that tier is folded into one upstream router in AS 64500 which all
// three regions reach over eBGP, so the peer ASN is the upstream's. And every region announces
// from AS 64512: the three regions' BGPPeers share one apiserver here, and MetalLB's FRR modes
// refuse a configuration whose peers have different myASN in one VRF ("in FRR mode all myAsn must
// be equal for the same VRF"), which three real clusters never show each other. Over eBGP the
// paths arrive without LOCAL_PREF all the same; only the priority community ranks them.
func multiRegionExample(t *testing.T, rn *RegionNode) (*stellarv1.StellarNode, *corev1.Secret) {
	t.Helper()
	path := "../../examples/multi-region/horizon-" + rn.Name + ".yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---")
	if len(docs) != 2 {
		t.Fatalf("%s: %d documents, want the StellarNode and its Secret", path, len(docs))
	}
	n := loadExample(t, path)
	secret := &corev1.Secret{}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), secret); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	lb := n.Spec.LoadBalancer
	lb.BGP.LocalASN = asn
	lb.BGP.Peers[0].Address = rn.RouterAddr.String()
	lb.BGP.Peers[0].ASN = upstreamASN
	lb.LoadBalancerClass = LBClass(rn.Name)
	// Each region's nodes peer with their own region's router only.
	lb.BGP.Advertisement.NodeSelectors = []stellarv1.NodeSelector{{MatchLabels: map[string]stellarv1.LabelValue{HostnameLabel: stellarv1.LabelValue(rn.Node)}}}
	n.Spec.Placement = &stellarv1.PlacementSpec{NodeSelector: map[string]string{HostnameLabel: rn.Node}}
	return n, secret
}

// bestByLocalPref reports whether the best path's LOCAL_PREF is higher than every other path's.
func bestByLocalPref(ri RouteInfo) bool {
	best, ok := ri.BestPath()
	if !ok {
		return false
	}
	for _, p := range ri.Paths {
		if !p.Best && p.LocalPref >= best.LocalPref {
			return false
		}
	}
	return true
}

// TestOperatorPriorityAcrossASNs is the spec's three regions (examples/multi-region) seen by one
// router outside them (AS 64500) over eBGP. LOCAL_PREF does not cross eBGP, so the operator
// announces globalDiscovery.priority as the large community <AS>:1:<priority>, and the router maps
// it to LOCAL_PREF (docs/metallb.md). The router then prefers us-east (100), then eu-west (90),
// then ap-south (80): each failover goes to the next region by priority. (The regions announce
// from one AS here; see multiRegionExample.)
func TestOperatorPriorityAcrossASNs(t *testing.T) {
	ctx := t.Context()
	var md5 = map[string]string{}
	var nodes []*stellarv1.StellarNode
	var secrets []*corev1.Secret
	regions := DefaultRegions()
	// The router's MD5 passwords are the examples' Secrets.
	for _, r := range regions {
		_, s := multiRegionExample(t, &RegionNode{Region: r})
		md5[r.Name] = s.StringData["password"]
	}
	tp := NewTopology(t, cp, Options{
		Regions: regions, RouterASN: upstreamASN, MD5: md5,
		BGPType: BGPFRRK8s, ClusterPerRegion: true,
		RouterPolicy: priorityPolicy, RouterImport: "STELLAR-PRIORITY",
	})
	op := StartOperator(t, render.BGPModeFRRK8s)
	operatorLogOnFailure(t, op)
	for _, rn := range tp.Regions {
		n, s := multiRegionExample(t, rn)
		nodes, secrets = append(nodes, n), append(secrets, s)
	}
	if err := ensureNamespace(ctx, tp.Client, stellarNamespace); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if err := tp.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tp.CreateStellarNodes(ctx, t, nodes...); err != nil {
		t.Fatal(err)
	}
	pods := map[string]types.NamespacedName{}
	for i, rn := range tp.Regions {
		pods[rn.Name] = exposeLoadBalancer(ctx, t, tp, nodes[i], rn.Name, true)
	}
	addr := func(region string) string { return tp.Region(region).Addr.String() }
	ri, err := tp.WaitRoute(anycastPrefix, 90*time.Second, func(ri RouteInfo) bool {
		return pathsVia(ri, addr("us-east"), addr("eu-west"), addr("ap-south")) && bestVia(ri, addr("us-east"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, rn := range tp.Regions {
		p, _ := ri.Via(rn.Addr.String())
		wantComm := fmt.Sprintf("%d:1:%d", nodes[i].Spec.LoadBalancer.BGP.LocalASN, *nodes[i].Spec.GlobalDiscovery.Priority)
		if !slices.Contains(p.LargeCommunities, wantComm) || p.ASPath != strconv.FormatInt(nodes[i].Spec.LoadBalancer.BGP.LocalASN, 10) {
			t.Errorf("path via %s: large communities %v AS path %q, want %s from AS %d", rn.Name, p.LargeCommunities, p.ASPath, wantComm, nodes[i].Spec.LoadBalancer.BGP.LocalASN)
		}
		if want := uint32(*nodes[i].Spec.GlobalDiscovery.Priority); p.LocalPref != want {
			t.Errorf("path via %s: locPrf %d, want %d from the router's route-map", rn.Name, p.LocalPref, want)
		}
	}
	best, _ := ri.BestPath()
	if !bestByLocalPref(ri) {
		t.Errorf("best path %s does not have the highest LOCAL_PREF: %s", best.NextHop(), ri)
	}
	// FRR names the comparison that last decided ("First path received" when the best path came
	// first and the others lost to it): the LOCAL_PREF values above are the evidence.
	t.Logf("router: %s (best: %s)", ri, best.SelectionReason)
	tp.AssertMetalLBAccepts(t)

	// The failover order: us-east down → eu-west; eu-west down too → ap-south; and back.
	steps := []struct {
		region string
		ready  bool
		best   string
	}{
		{"us-east", false, "eu-west"}, {"eu-west", false, "ap-south"}, {"eu-west", true, "eu-west"}, {"us-east", true, "us-east"},
	}
	for _, s := range steps {
		m, err := tp.Measure(func() error { return tp.SetPodReady(ctx, pods[s.region], s.ready) }, Change{
			Prefix: anycastPrefix, Until: func(ri RouteInfo) bool {
				_, present := ri.Via(addr(s.region))
				return present == s.ready && bestVia(ri, addr(s.best))
			},
			// In frr-k8s mode each change is a frr-reload.py run: seconds, tens on a busy machine.
			Timeout: 90 * time.Second,
		})
		if err != nil {
			t.Fatalf("%s ready=%v: %v", s.region, s.ready, err)
		}
		if !bestByLocalPref(m.Route) {
			t.Errorf("%s ready=%v: the best path does not have the highest LOCAL_PREF: %s", s.region, s.ready, m.Route)
		}
		t.Logf("%s ready=%v → best via %s after %v: %s", s.region, s.ready, s.best, ms(m.Observed), m.Route)
	}
	tp.AssertMetalLBAccepts(t)
}
