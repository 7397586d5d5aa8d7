//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// These tests drive the loop through the operator: StellarNodes in, MetalLB objects written by the
// operator (native mode), MetalLB's real controller (it assigns the LoadBalancer IP) and speakers,
// FRR. The test stands in only for the kubelet (readiness of each region's endpoint, mirrored from
// the real health server; see readiness.go).

const (
	stellarNamespace = "stellar-nodes"
	// ebgpRouterASN is the router's AS in the eBGP tests: the spec's horizon-anycast peers 64512 → 64513.
	ebgpRouterASN = 64513
	sharedPool    = "stellar-192-0-2-100"
	// Kubelet/health timings of the failover test: spec.healthCheck.periodSeconds and the readiness
	// probe's periodSeconds, shortened from 5 s so the test runs quickly; the acceptance bound scales.
	healthPeriod = 250 * time.Millisecond
	probePeriod  = 250 * time.Millisecond
	// speakerAllowance is the acceptance margin on top of the two periods (the speaker adds ~0.1 s).
	speakerAllowance = 500 * time.Millisecond
)

// peerName is how the operator names a router's BGPPeer: stellar-peer-198-51-100-1.
func peerName(addr string) string { return "stellar-peer-" + strings.ReplaceAll(addr, ".", "-") }

// regionPlan is one region of the spec's multi-region scenario.
type regionPlan struct {
	Region, Zone string
	LocalPref    int64
	Priority     int32
}

var multiRegion = []regionPlan{
	{Region: "us-east", Zone: "us-east-1a", LocalPref: 100, Priority: 100}, // primary
	{Region: "eu-west", Zone: "eu-west-1a", LocalPref: 90, Priority: 90},   // secondary
	{Region: "ap-south", Zone: "ap-south-1a", LocalPref: 80, Priority: 80}, // tertiary
}

// horizonAnycast is the spec's multi-region StellarNode for one region (examples/multi-region),
// peered iBGP with that region's router and announced from that region's node only.
func horizonAnycast(rp regionPlan, rn *RegionNode, md5Secret string) *stellarv1.StellarNode {
	peer := stellarv1.BGPPeerSpec{Address: rn.RouterAddr.String(), ASN: asn}
	if md5Secret != "" {
		peer.PasswordSecretRef = &stellarv1.SecretKeyRef{Name: md5Secret}
	}
	return &stellarv1.StellarNode{
		ObjectMeta: metav1.ObjectMeta{Name: "horizon-" + rp.Region, Namespace: stellarNamespace},
		Spec: stellarv1.StellarNodeSpec{
			NodeType: stellarv1.NodeTypeHorizon,
			Network:  stellarv1.NetworkMainnet,
			Version:  "v21.0.0",
			LoadBalancer: &stellarv1.LoadBalancerSpec{
				Enabled:               ptr.To(true),
				Mode:                  stellarv1.LoadBalancerBGP,
				LoadBalancerIP:        anycastIP,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				HealthCheckEnabled:    ptr.To(true),
				HealthCheckPort:       9100,
				BGP: &stellarv1.BGPSpec{
					LocalASN:    asn,
					Peers:       []stellarv1.BGPPeerSpec{peer},
					Communities: []string{community},
					Advertisement: &stellarv1.BGPAdvertisementSpec{
						LocalPref:     ptr.To(rp.LocalPref),
						NodeSelectors: []stellarv1.NodeSelector{{MatchLabels: map[string]stellarv1.LabelValue{HostnameLabel: stellarv1.LabelValue(rn.Node)}}},
					},
				},
			},
			GlobalDiscovery: &stellarv1.GlobalDiscoverySpec{
				Enabled: ptr.To(true), Region: rp.Region, Zone: rp.Zone, Priority: ptr.To(rp.Priority),
			},
			// Pods only where the address is announced: with externalTrafficPolicy Local a pod
			// elsewhere would be ready and never reached (the operator warns otherwise).
			Placement: &stellarv1.PlacementSpec{NodeSelector: map[string]string{HostnameLabel: rn.Node}},
		},
	}
}

func lbKey(n *stellarv1.StellarNode) types.NamespacedName {
	return types.NamespacedName{Namespace: n.Namespace, Name: n.Name + "-lb"}
}

// exposeLoadBalancer waits for the operator's LoadBalancer Service and for MetalLB's controller to
// give it the anycast IP, then runs the node's pod in region, ready or not (the endpointslice
// controller makes the Service's endpoint from it). It returns the pod.
func exposeLoadBalancer(ctx context.Context, t *testing.T, tp *Topology, n *stellarv1.StellarNode, region string, ready bool) types.NamespacedName {
	t.Helper()
	svc, err := tp.WaitService(ctx, lbKey(n), 30*time.Second)
	if err != nil {
		t.Fatalf("the operator did not create the LoadBalancer Service: %v", err)
	}
	ip, err := tp.WaitLoadBalancerIngress(ctx, lbKey(n), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ip != anycastIP {
		t.Fatalf("MetalLB's controller gave %s the IP %s, want %s", svc.Name, ip, anycastIP)
	}
	pod, err := tp.RunPod(ctx, n, region, ready)
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// operatorLogOnFailure prints the operator's log tail if the test fails.
func operatorLogOnFailure(t *testing.T, op *Operator) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("==== operator log tail (%s) ====\n%s", op.Log, tail(op.Log, 60))
		}
	})
}

// checkNativePeer checks a BGPPeer the operator wrote in native mode: the session as the node
// asks for it, and none of the fields a native speaker refuses.
func checkNativePeer(t *testing.T, tp *Topology, rn *RegionNode, myASN, peerASN uint32, selectors []metav1.LabelSelector, md5 bool) {
	t.Helper()
	name := peerName(rn.RouterAddr.String())
	p := &metallbv1beta2.BGPPeer{}
	if err := tp.Client.Get(t.Context(), client.ObjectKey{Namespace: MetalLBNamespace, Name: name}, p); err != nil {
		t.Errorf("BGPPeer %s: %v", name, err)
		return
	}
	s := p.Spec
	if s.MyASN != myASN || s.ASN != peerASN || s.Address != rn.RouterAddr.String() {
		t.Errorf("BGPPeer %s: myASN %d peerASN %d address %s, want %d %d %s", name, s.MyASN, s.ASN, s.Address, myASN, peerASN, rn.RouterAddr)
	}
	if s.HoldTime == nil || s.HoldTime.Duration != 90*time.Second {
		t.Errorf("BGPPeer %s: holdTime %v, want 90s", name, s.HoldTime)
	}
	if s.KeepaliveTime != nil || s.EnableGracefulRestart || s.BFDProfile != "" || s.ConnectTime != nil {
		t.Errorf("BGPPeer %s carries fields native MetalLB refuses: keepaliveTime %v enableGracefulRestart %v bfdProfile %q connectTime %v",
			name, s.KeepaliveTime, s.EnableGracefulRestart, s.BFDProfile, s.ConnectTime)
	}
	if !reflect.DeepEqual(s.NodeSelectors, selectors) {
		t.Errorf("BGPPeer %s: nodeSelectors %v, want %v", name, s.NodeSelectors, selectors)
	}
	if want := map[bool]string{true: name + "-md5", false: ""}[md5]; s.PasswordSecret.Name != want || s.Password != "" {
		t.Errorf("BGPPeer %s: passwordSecret %q (inline password set: %v), want %q and no inline password", name, s.PasswordSecret.Name, s.Password != "", want)
	}
	if p.Labels["app.kubernetes.io/managed-by"] != "stellar-operator" {
		t.Errorf("BGPPeer %s: labels %v, want managed-by stellar-operator", name, p.Labels)
	}
}

// noNativeRefusal fails if a speaker refused its configuration because of a native-mode field.
func noNativeRefusal(t *testing.T, tp *Topology) {
	t.Helper()
	for _, rn := range tp.Regions {
		b, _ := os.ReadFile(rn.SpeakerLog)
		if i := strings.Index(string(b), "set on native bgp mode"); i >= 0 {
			start := strings.LastIndex(string(b[:i]), "\n") + 1
			end := i + strings.Index(string(b[i:]), "\n")
			t.Errorf("speaker of %s refused a native-mode field: %s", rn.Name, b[start:max(end, i)])
		}
	}
}

// TestOperatorAnycastFailover is the spec's multi-region scenario driven by the operator: three
// StellarNodes announce 192.0.2.100 over iBGP with LOCAL_PREF 100/90/80 and community 64512:100;
// a region whose (fake) Horizon loses sync is withdrawn through the real health server and the
// readiness mirror, and comes back once synced.
func TestOperatorAnycastFailover(t *testing.T) {
	ctx := t.Context()
	const md5Region = "eu-west"
	password := "e2e-md5-" + strconv.Itoa(rand.IntN(1e6))
	// Anycast siblings live in different clusters: each region's Service has its own
	// loadBalancerClass, served by that region's MetalLB (controller and speaker) only, so the three
	// Services sharing 192.0.2.100 never meet in one MetalLB's allocator.
	tp := NewTopology(t, cp, Options{
		Regions:          DefaultRegions(),
		RouterASN:        asn,
		IBGP:             true,
		MD5:              map[string]string{md5Region: password},
		ClusterPerRegion: true,
	})
	op := StartOperator(t, render.BGPModeNative)
	operatorLogOnFailure(t, op)

	if err := ensureNamespace(ctx, tp.Client, stellarNamespace); err != nil {
		t.Fatal(err)
	}
	md5Secret := "bgp-md5-" + md5Region
	if err := tp.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: md5Secret, Namespace: stellarNamespace},
		StringData: map[string]string{"password": password},
	}); err != nil {
		t.Fatal(err)
	}
	var nodes []*stellarv1.StellarNode
	byRegion := map[string]*stellarv1.StellarNode{}
	for _, rp := range multiRegion {
		secret := ""
		if rp.Region == md5Region {
			secret = md5Secret
		}
		n := horizonAnycast(rp, tp.Region(rp.Region), secret)
		n.Spec.LoadBalancer.LoadBalancerClass = LBClass(rp.Region)
		nodes = append(nodes, n)
		byRegion[rp.Region] = n
	}

	start := time.Now()
	if err := tp.CreateStellarNodes(ctx, t, nodes...); err != nil {
		t.Fatal(err)
	}
	// Kubelet stand-in: each region's endpoint starts not ready, as a new pod does, and turns ready
	// once its first readiness probe against the health server passes.
	chains := map[string]*ReadinessChain{}
	for _, rp := range multiRegion {
		n := byRegion[rp.Region]
		pod := exposeLoadBalancer(ctx, t, tp, n, rp.Region, false)
		chains[rp.Region] = tp.StartReadinessChain(t, rp.Region, pod, ChainOptions{HealthPeriod: healthPeriod, ProbePeriod: probePeriod, Synced: true})
	}

	east, west, south := tp.Region("us-east"), tp.Region("eu-west"), tp.Region("ap-south")
	eastAddr, westAddr, southAddr := east.Addr.String(), west.Addr.String(), south.Addr.String()
	if err := tp.WaitEstablished(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	sessionUp := time.Since(start)
	ri, err := tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool {
		return pathsVia(ri, eastAddr, westAddr, southAddr) && bestVia(ri, eastAddr)
	})
	if err != nil {
		t.Fatal(err)
	}
	routeUp := time.Since(start)
	t.Logf("from creating the StellarNodes: sessions Established %.2fs, 3 paths at the router %.2fs", sessionUp.Seconds(), routeUp.Seconds())
	fmt.Printf("operator_session_up_seconds=%.3f\noperator_route_up_seconds=%.3f\n", sessionUp.Seconds(), routeUp.Seconds())

	// The router's RIB matches the spec's intent for every region.
	ns, err := tp.Neighbors()
	if err != nil {
		t.Fatal(err)
	}
	for _, rp := range multiRegion {
		rn := tp.Region(rp.Region)
		if n := ns[rn.Addr.String()]; !n.Established() || n.RemoteAS != asn {
			t.Errorf("session to %s: state %q remote AS %d, want Established AS %d", rp.Region, n.State, n.RemoteAS, asn)
		}
		p, _ := ri.Via(rn.Addr.String())
		if !p.HasLocalPref || int64(p.LocalPref) != rp.LocalPref {
			t.Errorf("path via %s: locPrf %d (present %v), want %d", rp.Region, p.LocalPref, p.HasLocalPref, rp.LocalPref)
		}
		if !slices.Equal(p.Communities, []string{community}) {
			t.Errorf("path via %s: communities %v, want [%s]", rp.Region, p.Communities, community)
		}
		// FRR shows an empty AS path (a path from inside the AS) as "Local".
		if !p.Valid || p.Origin != "IGP" || p.ASPath != "Local" {
			t.Errorf("path via %s: valid %v origin %q AS path %q, want a valid IGP path with an empty (Local) AS path", rp.Region, p.Valid, p.Origin, p.ASPath)
		}
	}
	best, _ := ri.BestPath()
	t.Logf("router: %s (best: %s)", ri, best.SelectionReason)

	// The operator's view: what it wrote, and its status.
	checkOperatorObjects(t, tp, byRegion, md5Region, password)
	for _, rp := range multiRegion {
		n := byRegion[rp.Region]
		rn := tp.Region(rp.Region)
		got, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(n), 30*time.Second, func(n *stellarv1.StellarNode) error {
			if n.Status.ExternalIP != anycastIP {
				return fmt.Errorf("status.externalIP %q, want %s", n.Status.ExternalIP, anycastIP)
			}
			ps, ok := PeerStatus(n, rn.RouterAddr.String())
			if !ok || ps.SessionState != "Announcing" || !slices.Equal(ps.Nodes, []string{rn.Node}) {
				return fmt.Errorf("peer status %+v, want Announcing from [%s]", ps, rn.Node)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		lb := got.Status.LoadBalancer
		if lb.Mode != stellarv1.LoadBalancerBGP || lb.Pool != sharedPool || !slices.Equal(lb.AdvertisedPrefixes, []string{anycastPrefix}) ||
			!slices.Equal(lb.Communities, []string{community}) || lb.LocalPref == nil || *lb.LocalPref != rp.LocalPref {
			t.Errorf("%s: status.loadBalancer %+v", n.Name, *lb)
		}
		// Each simulated region's MetalLB serves its own loadBalancerClass, as separate clusters
		// would: the three Services sharing the anycast IP are no conflict, and nothing else may be
		// wrong (in particular no native-mode field, no placement outside the announcing node).
		if deg := Condition(got, stellarv1.ConditionDegraded); deg.Status != "False" {
			t.Errorf("%s: Degraded %+v, want False", n.Name, deg)
		}
		problems, err := OperatorProblems(n.Namespace, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 0 {
			t.Errorf("%s: stellar_node_problems by reason %v, want none", n.Name, problems)
		}
		t.Logf("%s: externalIP %s, peer %s Announcing from %v; %s", n.Name, got.Status.ExternalIP, lb.Peers[0].Name, lb.Peers[0].Nodes, conditionSummary(got))
	}
	noNativeRefusal(t, tp)
	tp.AssertMetalLBAccepts(t)

	// Failover and recovery, timed from the health flip of us-east's Horizon.
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("E2E_FAILOVER_RUNS")); err == nil && v > 0 {
		runs = v
	}
	chain := chains["us-east"]
	var withdraw, restore []chainTiming
	for i := range runs {
		// A random phase of the failure against the health checks, and of the probe against both.
		chain.Rephase()
		time.Sleep(healthPeriod + probePeriod + rand.N(healthPeriod))
		m, err := tp.Measure(func() error { chain.Horizon.SetSynced(false); return nil }, Change{
			Prefix: anycastPrefix,
			Until: func(ri RouteInfo) bool {
				return pathsVia(ri, westAddr, southAddr) && bestVia(ri, westAddr)
			},
			Peer: eastAddr, Withdrawn: true, Timeout: 15 * time.Second,
		})
		if err != nil {
			t.Fatalf("failover #%d: %v", i+1, err)
		}
		if p, _ := m.Route.BestPath(); p.LocalPref != 90 {
			t.Errorf("failover #%d: best path locPrf %d, want 90 (eu-west)", i+1, p.LocalPref)
		}
		ct, err := timeChain(chain, m, false)
		if err != nil {
			t.Fatalf("failover #%d: %v", i+1, err)
		}
		withdraw = append(withdraw, ct)
		t.Logf("failover #%d: %s → %s", i+1, ct, m.Route)

		if i == 0 {
			// The operator's status follows MetalLB's: us-east no longer announces.
			if _, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(byRegion["us-east"]), 15*time.Second, func(n *stellarv1.StellarNode) error {
				if ps, _ := PeerStatus(n, east.RouterAddr.String()); ps.SessionState == "Announcing" {
					return fmt.Errorf("peer status %+v while us-east is withdrawn", ps)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}

		chain.Rephase()
		time.Sleep(healthPeriod + probePeriod + rand.N(healthPeriod))
		m, err = tp.Measure(func() error { chain.Horizon.SetSynced(true); return nil }, Change{
			Prefix: anycastPrefix,
			Until: func(ri RouteInfo) bool {
				return pathsVia(ri, eastAddr, westAddr, southAddr) && bestVia(ri, eastAddr)
			},
			Peer: eastAddr, Timeout: 15 * time.Second,
		})
		if err != nil {
			t.Fatalf("recovery #%d: %v", i+1, err)
		}
		ct, err = timeChain(chain, m, true)
		if err != nil {
			t.Fatalf("recovery #%d: %v", i+1, err)
		}
		restore = append(restore, ct)
		t.Logf("recovery #%d: %s → %s", i+1, ct, m.Route)
	}
	// Back to the start: us-east announces again, and the status says so.
	if _, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(byRegion["us-east"]), 15*time.Second, func(n *stellarv1.StellarNode) error {
		if ps, _ := PeerStatus(n, east.RouterAddr.String()); ps.SessionState != "Announcing" {
			return fmt.Errorf("peer status %+v after recovery", ps)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	tp.AssertMetalLBAccepts(t)
	wMedian := reportChain("withdraw", withdraw)
	reportChain("restore", restore)
	if limit := healthPeriod + probePeriod + speakerAllowance; wMedian > limit {
		t.Errorf("failover median %v exceeds health period + probe period + %v = %v", ms(wMedian), speakerAllowance, limit)
	}
	if err := tp.CheckSpeakers(); err != nil {
		t.Fatal(err)
	}
	if !op.Running() {
		t.Fatal("the operator exited during the test")
	}
}

// checkOperatorObjects checks the MetalLB objects and the LoadBalancer Services the operator wrote
// for the three regions.
func checkOperatorObjects(t *testing.T, tp *Topology, byRegion map[string]*stellarv1.StellarNode, md5Region, password string) {
	t.Helper()
	ctx := t.Context()
	for _, rp := range multiRegion {
		n, rn := byRegion[rp.Region], tp.Region(rp.Region)
		selectors := []metav1.LabelSelector{{MatchLabels: map[string]string{HostnameLabel: rn.Node}}}
		checkNativePeer(t, tp, rn, asn, asn, selectors, rp.Region == md5Region)

		advName := render.PerNodeName(n)
		adv := &metallbv1beta1.BGPAdvertisement{}
		if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: advName}, adv); err != nil {
			t.Errorf("BGPAdvertisement %s: %v", advName, err)
			continue
		}
		a := adv.Spec
		if int64(a.LocalPref) != rp.LocalPref || !slices.Equal(a.Communities, []string{community}) ||
			!slices.Equal(a.Peers, []string{peerName(rn.RouterAddr.String())}) || !slices.Equal(a.IPAddressPools, []string{sharedPool}) ||
			!reflect.DeepEqual(a.NodeSelectors, selectors) || len(a.ServiceSelectors) != 1 ||
			a.ServiceSelectors[0].MatchLabels["stellar.org/node"] != n.Name {
			t.Errorf("BGPAdvertisement %s: %+v", advName, a)
		}

		svc := &corev1.Service{}
		if err := tp.Client.Get(ctx, lbKey(n), svc); err != nil {
			t.Error(err)
			continue
		}
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
			svc.Annotations["metallb.io/address-pool"] != sharedPool || svc.Annotations["metallb.io/loadBalancerIPs"] != anycastIP ||
			svc.Labels["stellar.org/node"] != n.Name {
			t.Errorf("Service %s: type %s ETP %s annotations %v labels %v", svc.Name, svc.Spec.Type, svc.Spec.ExternalTrafficPolicy, svc.Annotations, svc.Labels)
		}
	}
	pool := &metallbv1beta1.IPAddressPool{}
	if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: sharedPool}, pool); err != nil {
		t.Errorf("IPAddressPool %s: %v", sharedPool, err)
	} else if !slices.Equal(pool.Spec.Addresses, []string{anycastPrefix}) || pool.Spec.AutoAssign == nil || *pool.Spec.AutoAssign {
		t.Errorf("IPAddressPool %s: %+v, want [%s] without autoAssign", sharedPool, pool.Spec, anycastPrefix)
	}
	copyName := peerName(tp.Region(md5Region).RouterAddr.String()) + "-md5"
	sec := &corev1.Secret{}
	if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: copyName}, sec); err != nil {
		t.Errorf("MD5 copy %s: %v", copyName, err)
	} else if sec.Type != corev1.SecretTypeBasicAuth || string(sec.Data["password"]) != password {
		t.Errorf("MD5 copy %s: type %s, password matches the user's Secret: %v", copyName, sec.Type, string(sec.Data["password"]) == password)
	}
}

// chainTiming is one readiness change, every step measured from the flip of the fake Horizon.
type chainTiming struct {
	Health   time.Duration // the health server's verdict changed: /readyz answers it from now on
	Probe    time.Duration // the probe mirror (kubelet stand-in) saw it
	Patched  time.Duration // the pod status patch returned
	Router   time.Duration // bgpd logged the UPDATE (withdrawal or announcement)
	Observed time.Duration // the router's table showed the change to 20 ms polling
}

func (c chainTiming) String() string {
	return fmt.Sprintf("flip → /readyz %s, → probe %s (+%s), → pod Ready patched %s (+%s), → (endpointslice controller, speaker) router UPDATE %s (+%s), table %s",
		ms(c.Health), ms(c.Probe), ms(c.Probe-c.Health), ms(c.Patched), ms(c.Patched-c.Probe), ms(c.Router), ms(c.Router-c.Patched), ms(c.Observed))
}

// timeChain reads the chain's events and the router's UPDATE for the change measured by m.
func timeChain(c *ReadinessChain, m Measurement, ready bool) (chainTiming, error) {
	var ct chainTiming
	h, ok := c.First("health", ready, m.Start)
	if !ok {
		return ct, fmt.Errorf("no health verdict ready=%v after the flip; events %v", ready, c.Events())
	}
	p, ok := c.First("probe", ready, h)
	if !ok {
		return ct, fmt.Errorf("the probe mirror never saw ready=%v", ready)
	}
	pa, _ := c.First("patched", ready, p)
	if m.Event == nil {
		return ct, fmt.Errorf("no UPDATE in bgpd's log for %s (withdrawn=%v) after the flip", anycastPrefix, !ready)
	}
	ct = chainTiming{Health: h.Sub(m.Start), Probe: p.Sub(m.Start), Patched: pa.Sub(m.Start), Router: m.Router, Observed: m.Observed}
	return ct, nil
}

func medianMax(v []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(v)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)-1]
}

// reportChain prints the benchmark-style line and the breakdown; it returns the median of the
// flip → router UPDATE times.
func reportChain(name string, ts []chainTiming) time.Duration {
	pick := func(f func(chainTiming) time.Duration) []time.Duration {
		out := make([]time.Duration, 0, len(ts))
		for _, t := range ts {
			out = append(out, f(t))
		}
		return out
	}
	med, mx := medianMax(pick(func(c chainTiming) time.Duration { return c.Router }))
	obs, _ := medianMax(pick(func(c chainTiming) time.Duration { return c.Observed }))
	h, hmax := medianMax(pick(func(c chainTiming) time.Duration { return c.Health }))
	p, pmax := medianMax(pick(func(c chainTiming) time.Duration { return c.Probe - c.Health }))
	pa, pamax := medianMax(pick(func(c chainTiming) time.Duration { return c.Patched - c.Probe }))
	r, rmax := medianMax(pick(func(c chainTiming) time.Duration { return c.Router - c.Patched }))
	fmt.Printf("BenchmarkOperatorFailover/%s \t%d\t%d ns/op\t%d max-ns/op\n", name, len(ts), med.Nanoseconds(), mx.Nanoseconds())
	fmt.Printf("operator_failover_%s_seconds median=%.3f max=%.3f n=%d (flip → router UPDATE; router table %.3f) "+
		"breakdown median/max: flip→/readyz %.3f/%.3f, →probe %.3f/%.3f, →pod Ready patched %.3f/%.3f, →(endpointslice controller, speaker) router UPDATE %.3f/%.3f\n",
		name, med.Seconds(), mx.Seconds(), len(ts), obs.Seconds(), h.Seconds(), hmax.Seconds(), p.Seconds(), pmax.Seconds(),
		pa.Seconds(), pamax.Seconds(), r.Seconds(), rmax.Seconds())
	return med
}

// loadExample reads a StellarNode manifest of examples/ (the first document).
func loadExample(t *testing.T, path string) *stellarv1.StellarNode {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(data), "\n---")
	n := &stellarv1.StellarNode{}
	if err := yaml.UnmarshalStrict([]byte(doc), n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// TestOperatorNativeModeSpecBlock applies the spec's horizon-anycast block as written (eBGP
// 64512 → 64513, keepaliveTime 30, gracefulRestart, BFD), changing only the router's address, to
// the operator in native mode: the unsupported fields are left out of the BGPPeer and named in
// the status, and the session comes up and announces the IP.
func TestOperatorNativeModeSpecBlock(t *testing.T) {
	ctx := t.Context()
	tp := NewTopology(t, cp, Options{Regions: []Region{{Name: "us-east"}}, RouterASN: ebgpRouterASN})
	op := StartOperator(t, render.BGPModeNative)
	operatorLogOnFailure(t, op)
	east := tp.Region("us-east")

	n := loadExample(t, "../../examples/horizon-anycast.yaml")
	n.Namespace = stellarNamespace
	bgp := n.Spec.LoadBalancer.BGP
	if len(bgp.Peers) != 1 || bgp.Peers[0].KeepaliveTime == nil || bgp.Peers[0].GracefulRestart == nil || bgp.BFDEnabled == nil || !*bgp.BFDEnabled {
		t.Fatalf("examples/horizon-anycast.yaml no longer sets keepaliveTime, gracefulRestart and BFD: %+v", bgp)
	}
	if bgp.LocalASN != asn || bgp.Peers[0].ASN != ebgpRouterASN {
		t.Fatalf("examples/horizon-anycast.yaml peers %d → %d, the test's router expects %d → %d", bgp.LocalASN, bgp.Peers[0].ASN, asn, ebgpRouterASN)
	}
	bgp.Peers[0].Address = east.RouterAddr.String() // the only change: this router's address

	start := time.Now()
	if err := tp.CreateStellarNodes(ctx, t, n); err != nil {
		t.Fatal(err)
	}
	exposeLoadBalancer(ctx, t, tp, n, "us-east", true)
	if err := tp.WaitEstablished(30 * time.Second); err != nil {
		t.Fatalf("the spec block in native mode: %v", err)
	}
	ri, err := tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool { return pathsVia(ri, east.Addr.String()) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spec block in native mode: session Established and %s announced %.2fs after creating the StellarNode: %s", anycastPrefix, time.Since(start).Seconds(), ri)
	p := ri.Paths[0]
	if !slices.Equal(p.Communities, []string{community}) || p.ASPath != strconv.Itoa(asn) {
		t.Errorf("path: communities %v AS path %q, want [%s] and %d", p.Communities, p.ASPath, community, asn)
	}
	nb, err := tp.Neighbors()
	if err != nil {
		t.Fatal(err)
	}
	if got := nb[east.Addr.String()]; got.RemoteAS != asn || got.LocalAS != ebgpRouterASN {
		t.Errorf("session: remote AS %d local AS %d, want eBGP %d → %d", got.RemoteAS, got.LocalAS, asn, ebgpRouterASN)
	}

	// What the operator wrote: no keepaliveTime, graceful restart or BFD profile, no BFDProfile.
	checkNativePeer(t, tp, east, asn, ebgpRouterASN, nil, false)
	if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: "stellar-bfd"}, &metallbv1beta1.BFDProfile{}); !apierrors.IsNotFound(err) {
		t.Errorf("BFDProfile stellar-bfd in native mode: %v, want NotFound", err)
	}
	pool := &metallbv1beta1.IPAddressPool{}
	if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: "stellar-anycast-pool"}, pool); err != nil {
		t.Errorf("IPAddressPool stellar-anycast-pool: %v", err)
	} else if !slices.Equal(pool.Spec.Addresses, []string{anycastPrefix}) {
		t.Errorf("IPAddressPool stellar-anycast-pool: %v", pool.Spec.Addresses)
	}
	noNativeRefusal(t, tp)
	tp.AssertMetalLBAccepts(t)

	// What the status says: Degraded names every field left out.
	got, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(n), 30*time.Second, func(n *stellarv1.StellarNode) error {
		if Condition(n, stellarv1.ConditionDegraded).Status != "True" || n.Status.ExternalIP != anycastIP {
			return fmt.Errorf("Degraded %+v externalIP %q", Condition(n, stellarv1.ConditionDegraded), n.Status.ExternalIP)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deg := Condition(got, stellarv1.ConditionDegraded)
	for _, field := range []string{"keepaliveTime", "gracefulRestart", "BFD"} {
		if !strings.Contains(deg.Message, field+" cannot take effect in MetalLB's native BGP mode") {
			t.Errorf("Degraded message does not name %s: %q", field, deg.Message)
		}
	}
	problems, err := OperatorProblems(n.Namespace, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	// The block also sets localPref over eBGP, a second warning: the condition's reason is the
	// first problem's; the metric counts each.
	want := map[string]float64{stellarv1.ReasonUnsupportedByMetalLB: 3, stellarv1.ReasonLocalPrefOverEBGP: 1}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("stellar_node_problems by reason %v, want %v", problems, want)
	}
	if deg.Reason != stellarv1.ReasonUnsupportedByMetalLB && deg.Reason != stellarv1.ReasonLocalPrefOverEBGP {
		t.Errorf("Degraded reason %q", deg.Reason)
	}
	// The unsupported fields also have a condition of their own, whatever Degraded's reason is.
	supported := Condition(got, stellarv1.ConditionMetalLBSupported)
	if supported.Status != "False" || supported.Reason != stellarv1.ReasonUnsupportedByMetalLB {
		t.Errorf("MetalLBSupported = %+v, want False/%s", supported, stellarv1.ReasonUnsupportedByMetalLB)
	}
	for _, field := range []string{"keepaliveTime", "gracefulRestart", "bfdEnabled"} {
		if !strings.Contains(supported.Message, field) {
			t.Errorf("MetalLBSupported does not name %s: %q", field, supported.Message)
		}
	}
	t.Logf("Degraded=%s reason %s: %s", deg.Status, deg.Reason, deg.Message)
	t.Logf("MetalLBSupported=%s: %s", supported.Status, supported.Message)
	t.Logf("stellar_node_problems: %v", problems)
}

// TestOperatorEBGPCarriesCommunitiesNotLocalPref: over eBGP the community arrives, the node's
// LOCAL_PREF does not, and the StellarNode warns LocalPrefOverEBGP.
func TestOperatorEBGPCarriesCommunitiesNotLocalPref(t *testing.T) {
	ctx := t.Context()
	tp := NewTopology(t, cp, Options{Regions: []Region{{Name: "eu-west"}}, RouterASN: ebgpRouterASN})
	op := StartOperator(t, render.BGPModeNative)
	operatorLogOnFailure(t, op)
	rn := tp.Region("eu-west")
	// A LOCAL_PREF unlike FRR's default (100), so that its absence is visible.
	const localPref = 200
	n := horizonAnycast(regionPlan{Region: "eu-west", Zone: "eu-west-1a", LocalPref: localPref, Priority: 90}, rn, "")
	n.Name = "horizon-ebgp"
	n.Spec.LoadBalancer.BGP.Peers[0].ASN = ebgpRouterASN

	if err := tp.CreateStellarNodes(ctx, t, n); err != nil {
		t.Fatal(err)
	}
	exposeLoadBalancer(ctx, t, tp, n, "eu-west", true)
	if err := tp.WaitEstablished(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ri, err := tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool { return pathsVia(ri, rn.Addr.String()) })
	if err != nil {
		t.Fatal(err)
	}
	p := ri.Paths[0]
	if !slices.Equal(p.Communities, []string{community}) {
		t.Errorf("communities %v, want [%s]: communities travel over eBGP", p.Communities, community)
	}
	if p.HasLocalPref && p.LocalPref == localPref {
		t.Errorf("locPrf %d arrived over eBGP", p.LocalPref)
	}
	if p.ASPath != strconv.Itoa(asn) {
		t.Errorf("AS path %q, want %d", p.ASPath, asn)
	}
	locPrf := "absent"
	if p.HasLocalPref {
		locPrf = strconv.Itoa(int(p.LocalPref))
	}
	t.Logf("eBGP %d → %d: %s; community %v, locPrf %s (the node asked for %d), AS path %q", asn, ebgpRouterASN, ri, p.Communities, locPrf, localPref, p.ASPath)

	adv := &metallbv1beta1.BGPAdvertisement{}
	if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: render.PerNodeName(n)}, adv); err != nil {
		t.Fatal(err)
	}
	if adv.Spec.LocalPref != localPref {
		t.Errorf("BGPAdvertisement localPref %d, want %d (written as asked; the eBGP session drops it)", adv.Spec.LocalPref, localPref)
	}
	got, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(n), 30*time.Second, func(n *stellarv1.StellarNode) error {
		if d := Condition(n, stellarv1.ConditionDegraded); d.Status != "True" || d.Reason != stellarv1.ReasonLocalPrefOverEBGP {
			return fmt.Errorf("Degraded %+v, want True/LocalPrefOverEBGP", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Degraded: %s", Condition(got, stellarv1.ConditionDegraded).Message)
	tp.AssertMetalLBAccepts(t)
}

// TestOperatorWrongMD5: a StellarNode whose password Secret does not match the router's → no
// session (only the router's TCPMD5Failure counter shows it), no route; the status says what
// MetalLB reports.
func TestOperatorWrongMD5(t *testing.T) {
	ctx := t.Context()
	tp := NewTopology(t, cp, Options{
		Regions: []Region{{Name: "ap-south"}}, RouterASN: asn, IBGP: true,
		MD5: map[string]string{"ap-south": "router-side-secret"},
	})
	op := StartOperator(t, render.BGPModeNative)
	operatorLogOnFailure(t, op)
	rn := tp.Region("ap-south")
	if err := ensureNamespace(ctx, tp.Client, stellarNamespace); err != nil {
		t.Fatal(err)
	}
	if err := tp.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bgp-md5-wrong", Namespace: stellarNamespace},
		StringData: map[string]string{"password": "not-the-routers-secret"},
	}); err != nil {
		t.Fatal(err)
	}
	n := horizonAnycast(multiRegion[2], rn, "bgp-md5-wrong")
	n.Name = "horizon-md5"
	before, err := tp.Router.MD5Failures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.CreateStellarNodes(ctx, t, n); err != nil {
		t.Fatal(err)
	}
	exposeLoadBalancer(ctx, t, tp, n, "ap-south", true)

	// The operator did its part: the password reaches MetalLB's namespace and the BGPPeer.
	copyName := peerName(rn.RouterAddr.String()) + "-md5"
	deadline := time.Now().Add(10 * time.Second)
	for {
		sec := &corev1.Secret{}
		err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: copyName}, sec)
		if err == nil && string(sec.Data["password"]) == "not-the-routers-secret" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MD5 copy %s: %v", copyName, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkNativePeer(t, tp, rn, asn, asn, []metav1.LabelSelector{{MatchLabels: map[string]string{HostnameLabel: rn.Node}}}, true)

	// The speaker dials; the router's kernel drops its SYNs: never Established.
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		ns, err := tp.Neighbors()
		if err != nil {
			t.Fatal(err)
		}
		if ns[rn.Addr.String()].Established() {
			t.Fatal("session Established despite the MD5 mismatch")
		}
	}
	after, err := tp.Router.MD5Failures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("TCPMD5Failure stayed at %d", after)
	}
	if ri, err := tp.Route(anycastPrefix); err != nil || len(ri.Paths) != 0 {
		t.Errorf("route %s present without a session: %s (%v)", anycastPrefix, ri, err)
	}
	t.Logf("wrong MD5: no session after 6s, router TCPMD5Failure %d → %d, no route", before, after)
	tp.AssertMetalLBAccepts(t)

	// The status. The operator reports a peer "Announcing" when MetalLB's ServiceBGPStatus lists it.
	// A native speaker writes that object once it has processed the Service, which it does only
	// after its in-flight dial to the router gives up (~10 s): wait for MetalLB's word first.
	pn := peerName(rn.RouterAddr.String())
	var reported []string
	for end := time.Now().Add(25 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		statuses := &metallbv1beta1.ServiceBGPStatusList{}
		if err := tp.Client.List(ctx, statuses, client.InNamespace(MetalLBNamespace), client.MatchingLabels{ServiceBGPStatusNodeLabel: rn.Node}); err != nil {
			t.Fatal(err)
		}
		reported = nil
		for _, s := range statuses.Items {
			if s.Status.ServiceNamespace == n.Namespace && s.Status.ServiceName == n.Name+"-lb" {
				reported = append(reported, s.Status.Peers...)
			}
		}
		if len(reported) > 0 || time.Now().After(end) {
			break
		}
	}
	want := ""
	if slices.Contains(reported, pn) {
		want = "Announcing"
	}
	got, err := tp.WaitStellarNode(ctx, client.ObjectKeyFromObject(n), 15*time.Second, func(n *stellarv1.StellarNode) error {
		if ps, _ := PeerStatus(n, rn.RouterAddr.String()); ps.SessionState != want {
			return fmt.Errorf("peer status %+v, MetalLB's ServiceBGPStatus lists %v", ps, reported)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nb, err := tp.Neighbors()
	if err != nil {
		t.Fatal(err)
	}
	if nb[rn.Addr.String()].Established() {
		t.Fatal("session Established despite the MD5 mismatch")
	}
	ps, _ := PeerStatus(got, rn.RouterAddr.String())
	t.Logf("StellarNode peer status %+v; MetalLB's ServiceBGPStatus peers %v; router session %s; %s",
		ps, reported, nb[rn.Addr.String()].State, conditionSummary(got))
	if ps.SessionState == "Announcing" {
		// Known gap, asserted above only as "the status says what MetalLB says": MetalLB (v0.15.2,
		// native) lists a peer in ServiceBGPStatus once it has advertisements for it, whether or not
		// the session is up, so the status cannot tell a wrong password. The router's view (no
		// session, TCPMD5Failure rising) is the evidence.
		t.Logf("KNOWN GAP: status says %q for %s while the router's session is %s: MetalLB's ServiceBGPStatus does not reflect the session state",
			ps.SessionState, pn, nb[rn.Addr.String()].State)
	}
}
