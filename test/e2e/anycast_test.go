//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	anycastIP     = "192.0.2.100"
	anycastPrefix = anycastIP + "/32"
	asn           = 64512
	community     = "64512:100"
)

// anycast is what the operator will render for one anycast Service across regions; these tests
// write it themselves with MetalLB's typed API to prove the loop without the operator.
type anycast struct {
	Pool      string
	LocalPref map[string]uint32 // region → LOCAL_PREF of its advertisement
	// Passwords maps a region to the MD5 password its BGPPeer takes from a basic-auth Secret.
	Passwords map[string]string
}

func (a anycast) peerName(region string) string   { return "router-" + region }
func (a anycast) secretName(region string) string { return "bgp-md5-" + region }

func regionSelector(region string) []metav1.LabelSelector {
	return []metav1.LabelSelector{{MatchLabels: map[string]string{RegionLabel: region}}}
}

func (a anycast) objects(tp *Topology) []client.Object {
	objs := []client.Object{&metallbv1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: a.Pool, Namespace: MetalLBNamespace},
		Spec:       metallbv1beta1.IPAddressPoolSpec{Addresses: []string{anycastPrefix}, AutoAssign: ptr.To(false)},
	}}
	for _, rn := range tp.Regions {
		peer := &metallbv1beta2.BGPPeer{
			ObjectMeta: metav1.ObjectMeta{Name: a.peerName(rn.Name), Namespace: MetalLBNamespace},
			Spec: metallbv1beta2.BGPPeerSpec{
				MyASN:         asn,
				ASN:           asn, // iBGP: LOCAL_PREF only travels inside the AS
				Address:       rn.RouterAddr.String(),
				HoldTime:      &metav1.Duration{Duration: 90 * time.Second},
				NodeSelectors: regionSelector(rn.Name),
			},
		}
		if pw, ok := a.Passwords[rn.Name]; ok {
			objs = append(objs, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: a.secretName(rn.Name), Namespace: MetalLBNamespace},
				Type:       corev1.SecretTypeBasicAuth,
				StringData: map[string]string{corev1.BasicAuthPasswordKey: pw},
			})
			peer.Spec.PasswordSecret = corev1.SecretReference{Name: a.secretName(rn.Name), Namespace: MetalLBNamespace}
		}
		objs = append(objs, peer, &metallbv1beta1.BGPAdvertisement{
			ObjectMeta: metav1.ObjectMeta{Name: "anycast-" + rn.Name, Namespace: MetalLBNamespace},
			Spec: metallbv1beta1.BGPAdvertisementSpec{
				IPAddressPools: []string{a.Pool},
				LocalPref:      a.LocalPref[rn.Name],
				Communities:    []string{community},
				NodeSelectors:  regionSelector(rn.Name),
				Peers:          []string{a.peerName(rn.Name)},
			},
		})
	}
	return objs
}

// anycastService is the LoadBalancer Service: ETP=Local (a region announces only while it has a
// ready local endpoint), no selector (the harness owns the EndpointSlices).
func anycastService(name, pool string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default",
			Annotations: map[string]string{"metallb.io/address-pool": pool, "metallb.io/loadBalancerIPs": anycastIP},
		},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 8000, TargetPort: intstr.FromInt32(8000), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// setupAnycast creates the MetalLB objects and the Service, waits for MetalLB's controller to
// assign the anycast IP, and creates one ready endpoint per region.
func setupAnycast(ctx context.Context, t *testing.T, tp *Topology, a anycast) *corev1.Service {
	t.Helper()
	if err := tp.Create(ctx, a.objects(tp)...); err != nil {
		t.Fatal(err)
	}
	svc := anycastService("anycast-"+tp.ID, a.Pool)
	if err := tp.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	ip, err := tp.WaitLoadBalancerIngress(ctx, serviceKey(svc), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ip != anycastIP {
		t.Fatalf("MetalLB's controller assigned %s, want %s", ip, anycastIP)
	}
	tp.AssertMetalLBAccepts(t)
	if err := tp.EnsureEndpoints(ctx, svc, true); err != nil {
		t.Fatal(err)
	}
	return svc
}

func pathsVia(ri RouteInfo, addrs ...string) bool {
	if len(ri.Paths) != len(addrs) {
		return false
	}
	for _, a := range addrs {
		if _, ok := ri.Via(a); !ok {
			return false
		}
	}
	return true
}

func bestVia(ri RouteInfo, addr string) bool {
	p, ok := ri.BestPath()
	return ok && p.NextHop() == addr
}

// TestMetalLBAnycastLoop proves apiserver → native MetalLB speakers → FRR without the operator:
// three regions announce one anycast /32 over iBGP with LOCAL_PREF 100/90/80, and the router's
// best path follows the endpoints' readiness.
func TestMetalLBAnycastLoop(t *testing.T) {
	ctx := t.Context()
	const md5Region = "eu-west"
	password := "e2e-" + fmt.Sprint(time.Now().UnixNano()%1e6)
	tp := NewTopology(t, cp, Options{
		Regions:   DefaultRegions(),
		RouterASN: asn,
		IBGP:      true,
		MD5:       map[string]string{md5Region: password},
	})
	east, west, south := tp.Region("us-east"), tp.Region("eu-west"), tp.Region("ap-south")
	a := anycast{
		Pool:      "anycast-" + tp.ID,
		LocalPref: map[string]uint32{"us-east": 100, "eu-west": 90, "ap-south": 80},
		Passwords: map[string]string{md5Region: password},
	}

	start := time.Now()
	svc := setupAnycast(ctx, t, tp, a)
	if err := tp.WaitEstablished(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	sessionUp := time.Since(start)
	ri, err := tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool {
		// bgpd shows a received path a few tens of ms before it has run best-path selection.
		return pathsVia(ri, east.Addr.String(), west.Addr.String(), south.Addr.String()) && bestVia(ri, east.Addr.String())
	})
	if err != nil {
		t.Fatal(err)
	}
	routeUp := time.Since(start)
	t.Logf("sessions Established %.2fs and 3 paths at the router %.2fs after creating the MetalLB objects", sessionUp.Seconds(), routeUp.Seconds())
	fmt.Printf("session_up_seconds=%.3f\nroute_up_seconds=%.3f\n", sessionUp.Seconds(), routeUp.Seconds())

	ns, err := tp.Neighbors()
	if err != nil {
		t.Fatal(err)
	}
	for _, rn := range tp.Regions {
		n := ns[rn.Addr.String()]
		if !n.Established() || n.RemoteAS != asn {
			t.Errorf("session to %s (%s): state %q remote AS %d, want Established AS %d", rn.Name, rn.Addr, n.State, n.RemoteAS, asn)
		}
	}
	for _, rn := range tp.Regions {
		p, _ := ri.Via(rn.Addr.String())
		if want := a.LocalPref[rn.Name]; !p.HasLocalPref || p.LocalPref != want {
			t.Errorf("path via %s (%s): locPrf %d (present %v), want %d", rn.Name, rn.Addr, p.LocalPref, p.HasLocalPref, want)
		}
		if !slices.Contains(p.Communities, community) {
			t.Errorf("path via %s: communities %v, want %s", rn.Name, p.Communities, community)
		}
		if !p.Valid || p.Origin != "IGP" {
			t.Errorf("path via %s: valid %v origin %q, want valid IGP", rn.Name, p.Valid, p.Origin)
		}
	}
	best, _ := ri.BestPath()
	if best.NextHop() != east.Addr.String() {
		t.Fatalf("best path via %s, want us-east (%s): %s", best.NextHop(), east.Addr, ri)
	}
	t.Logf("router: %s (best: %s)", ri, best.SelectionReason)

	// ready=false with serving=true (a terminating pod that still serves) keeps the route.
	key := serviceKey(svc)
	if err := tp.SetEndpointConditions(ctx, key, "us-east", discoveryv1.EndpointConditions{
		Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.WaitRoute(anycastPrefix, time.Second, func(ri RouteInfo) bool {
		_, ok := ri.Via(east.Addr.String())
		return !ok
	}); err == nil {
		t.Fatalf("ready=false serving=true withdrew us-east's path; MetalLB should keep announcing a serving endpoint")
	}

	// Failover: us-east loses its ready endpoint → its path is withdrawn, eu-west takes over.
	var withdraw, restore []Measurement
	for i := range 3 {
		m, err := tp.Measure(func() error { return tp.SetEndpointReady(ctx, key, "us-east", false) }, Change{
			Prefix: anycastPrefix,
			Until: func(ri RouteInfo) bool {
				return pathsVia(ri, west.Addr.String(), south.Addr.String()) && bestVia(ri, west.Addr.String())
			},
			Peer:      east.Addr.String(),
			Withdrawn: true,
		})
		if err != nil {
			t.Fatalf("withdraw #%d: %v", i+1, err)
		}
		p, _ := m.Route.BestPath()
		if p.LocalPref != 90 {
			t.Errorf("after withdrawal the best path has locPrf %d, want 90 (eu-west)", p.LocalPref)
		}
		t.Logf("withdraw #%d: patch %v, router UPDATE %v, seen by polling %v → %s", i+1, ms(m.Action), ms(m.Router), ms(m.Observed), m.Route)
		withdraw = append(withdraw, m)

		m, err = tp.Measure(func() error { return tp.SetEndpointReady(ctx, key, "us-east", true) }, Change{
			Prefix: anycastPrefix,
			Until: func(ri RouteInfo) bool {
				return pathsVia(ri, east.Addr.String(), west.Addr.String(), south.Addr.String()) && bestVia(ri, east.Addr.String())
			},
			Peer: east.Addr.String(),
		})
		if err != nil {
			t.Fatalf("restore #%d: %v", i+1, err)
		}
		t.Logf("restore  #%d: patch %v, router UPDATE %v, seen by polling %v → %s", i+1, ms(m.Action), ms(m.Router), ms(m.Observed), m.Route)
		restore = append(restore, m)
	}
	report("withdraw", withdraw)
	report("restore", restore)
	tp.AssertMetalLBAccepts(t)
	if err := tp.CheckSpeakers(); err != nil {
		t.Fatal(err)
	}
}

// TestMetalLBWrongMD5 checks that a password mismatch keeps the session down (silently: only the
// router namespace's TCPMD5Failure counter shows it) and that fixing the Secret brings it up.
func TestMetalLBWrongMD5(t *testing.T) {
	ctx := t.Context()
	tp := NewTopology(t, cp, Options{
		Regions:   []Region{{Name: "us-east"}},
		RouterASN: asn,
		IBGP:      true,
		MD5:       map[string]string{"us-east": "router-side-secret"},
	})
	east := tp.Region("us-east")
	a := anycast{
		Pool:      "anycast-" + tp.ID,
		LocalPref: map[string]uint32{"us-east": 100},
		Passwords: map[string]string{"us-east": "not-the-routers-secret"},
	}
	before, err := tp.Router.MD5Failures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	setupAnycast(ctx, t, tp, a)

	// The speaker dials, the router's kernel drops the SYNs: never Established.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ns, err := tp.Neighbors()
		if err != nil {
			t.Fatal(err)
		}
		if ns[east.Addr.String()].Established() {
			t.Fatal("session Established despite the MD5 mismatch")
		}
		time.Sleep(250 * time.Millisecond)
	}
	after, err := tp.Router.MD5Failures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("TCPMD5Failure stayed at %d: the speaker's SYNs did not reach the router with a (wrong) signature", after)
	}
	if ri, err := tp.Route(anycastPrefix); err != nil || len(ri.Paths) != 0 {
		t.Errorf("route %s present without a session: %s (%v)", anycastPrefix, ri, err)
	}
	t.Logf("wrong MD5: session not Established after 5s, TCPMD5Failure %d → %d", before, after)

	// Fix the Secret: the speaker reloads its configuration and the session comes up.
	sec := &corev1.Secret{}
	if err := tp.Client.Get(ctx, client.ObjectKey{Namespace: MetalLBNamespace, Name: a.secretName("us-east")}, sec); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(sec.DeepCopy())
	sec.Data = map[string][]byte{corev1.BasicAuthPasswordKey: []byte("router-side-secret")}
	start := time.Now()
	if err := tp.Client.Patch(ctx, sec, patch); err != nil {
		t.Fatal(err)
	}
	if err := tp.WaitEstablished(60 * time.Second); err != nil {
		t.Fatalf("after fixing the Secret: %v", err)
	}
	if _, err := tp.WaitRoute(anycastPrefix, 30*time.Second, func(ri RouteInfo) bool { return pathsVia(ri, east.Addr.String()) }); err != nil {
		t.Fatal(err)
	}
	t.Logf("Secret fixed: session Established and route back in %v", ms(time.Since(start)))
	tp.AssertMetalLBAccepts(t)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// report prints benchmark-style lines (`go test` output, parsable by benchstat-like tools) and
// plain key=value figures: medians over the iterations.
func report(name string, ms []Measurement) {
	median := func(f func(Measurement) time.Duration) time.Duration {
		v := make([]time.Duration, 0, len(ms))
		for _, m := range ms {
			v = append(v, f(m))
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	router := median(func(m Measurement) time.Duration { return m.Router })
	observed := median(func(m Measurement) time.Duration { return m.Observed })
	fmt.Printf("BenchmarkFailover/%s/router \t%d\t%d ns/op\n", name, len(ms), router.Nanoseconds())
	fmt.Printf("BenchmarkFailover/%s/observed \t%d\t%d ns/op\n", name, len(ms), observed.Nanoseconds())
	fmt.Printf("failover_%s_seconds=%.3f (router log; polling %.3f; median of %d)\n", name, router.Seconds(), observed.Seconds(), len(ms))
}
