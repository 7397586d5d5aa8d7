package controller_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// anycastNode is the spec's horizon-anycast block over iBGP (so LOCAL_PREF travels) with its own
// router address, so tests that run one after another never share a BGPPeer by accident.
func anycastNode(t *testing.T, name, router string) *stellarv1.StellarNode {
	node := readExample(t, "horizon-anycast.yaml")
	node.Name = name
	node.Spec.LoadBalancer.BGP.Peers[0].Address = router
	node.Spec.LoadBalancer.BGP.Peers[0].ASN = node.Spec.LoadBalancer.BGP.LocalASN
	node.Spec.LoadBalancer.AddressPool = ""
	return node
}

func TestHorizonAnycastVerbatimGivesTheSpecsMetalLBObjects(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	// The user's own MetalLB objects must survive everything the operator does.
	foreign := &metallbv1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "users-pool", Namespace: metallbNamespace},
		Spec: metallbv1beta1.IPAddressPoolSpec{Addresses: []string{"198.51.100.0/24"}}}
	if err := env.k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.k8s.Delete(ctx, foreign) })
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "horizon-anycast.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := applyYAML(ctx, ns, string(data)); err != nil {
		t.Fatal(err)
	}
	const name = "horizon-anycast"
	svc := waitFor(t, ns, name+"-lb", &corev1.Service{})
	if svc.Annotations["metallb.io/address-pool"] != "stellar-anycast-pool" || svc.Annotations["metallb.io/loadBalancerIPs"] != "192.0.2.100" ||
		svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("LB Service = %+v %+v", svc.Annotations, svc.Spec)
	}
	peer := waitFor(t, metallbNamespace, "stellar-peer-192-168-1-1", &metallbv1beta2.BGPPeer{})
	p := peer.Spec
	if p.MyASN != 64512 || p.ASN != 64513 || p.Address != "192.168.1.1" || p.HoldTime.Duration != 90*time.Second ||
		p.KeepaliveTime.Duration != 30*time.Second || !p.EnableGracefulRestart || p.BFDProfile != "stellar-bfd" {
		t.Errorf("BGPPeer = %+v", p)
	}
	adv := waitFor(t, metallbNamespace, perNodeName(ns, name), &metallbv1beta1.BGPAdvertisement{})
	a := adv.Spec
	if strings.Join(a.Communities, ",") != "64512:100" || a.LocalPref != 100 || *a.AggregationLength != 32 ||
		strings.Join(a.Peers, ",") != peer.Name || len(a.ServiceSelectors) != 1 {
		t.Errorf("BGPAdvertisement = %+v", a)
	}
	waitFor(t, metallbNamespace, "stellar-bfd", &metallbv1beta1.BFDProfile{})
	pool := waitFor(t, metallbNamespace, "stellar-anycast-pool", &metallbv1beta1.IPAddressPool{})
	if strings.Join(pool.Spec.Addresses, ",") != "192.0.2.100/32" {
		t.Errorf("pool = %v", pool.Spec.Addresses)
	}
	node := waitForCondition(t, ns, name, stellarv1.ConditionDegraded, metav1.ConditionTrue, stellarv1.ReasonLocalPrefOverEBGP)
	if lb := node.Status.LoadBalancer; lb == nil || lb.Mode != stellarv1.LoadBalancerBGP || strings.Join(lb.AdvertisedPrefixes, ",") != "192.0.2.100/32" ||
		*lb.LocalPref != 100 || len(lb.Peers) != 1 || lb.Peers[0].ASN != 64513 {
		t.Errorf("status.loadBalancer = %+v", node.Status.LoadBalancer)
	}

	// MetalLB's controller assigns the IP (envtest has none: the test writes it) and its speaker
	// reports which node announces to which peer.
	mutate(t, svc, true, func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.100"}}
	})
	bgpStatus := &metallbv1beta1.ServiceBGPStatus{ObjectMeta: metav1.ObjectMeta{Name: "speaker-us-east-1", Namespace: metallbNamespace}}
	if err := env.k8s.Create(ctx, bgpStatus); err != nil {
		t.Fatal(err)
	}
	bgpStatus.Status = metallbv1beta1.MetalLBServiceBGPStatus{Node: "us-east-1", ServiceName: name + "-lb", ServiceNamespace: ns, Peers: []string{peer.Name}}
	if err := env.k8s.Status().Update(ctx, bgpStatus); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "externalIP and the announcing node in status", func() error {
		n := &stellarv1.StellarNode{}
		if err := get(ctx, ns, name, n); err != nil {
			return err
		}
		if n.Status.ExternalIP != "192.0.2.100" {
			return fmt.Errorf("externalIP = %q", n.Status.ExternalIP)
		}
		if ps := n.Status.LoadBalancer.Peers[0]; ps.SessionState != "Announcing" || strings.Join(ps.Nodes, ",") != "us-east-1" {
			return fmt.Errorf("peer status = %+v", ps)
		}
		return nil
	})
	assertNoWrites(t, ns, name)

	if err := env.k8s.Delete(ctx, node); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "every MetalLB object of the node to go", func() error {
		for _, obj := range []struct {
			name string
			o    client.Object
		}{{peer.Name, &metallbv1beta2.BGPPeer{}}, {adv.Name, &metallbv1beta1.BGPAdvertisement{}},
			{"stellar-bfd", &metallbv1beta1.BFDProfile{}}, {"stellar-anycast-pool", &metallbv1beta1.IPAddressPool{}}} {
			if err := notFound(ctx, metallbNamespace, obj.name, obj.o); err != nil {
				return err
			}
		}
		return nil
	})
	if err := get(ctx, metallbNamespace, "users-pool", &metallbv1beta1.IPAddressPool{}); err != nil {
		t.Errorf("the user's pool was touched: %v", err)
	}
	if err := get(ctx, metallbNamespace, bgpStatus.Name, &metallbv1beta1.ServiceBGPStatus{}); err != nil {
		t.Errorf("MetalLB's status object was touched: %v", err)
	}
}

func TestHorizonL2GetsAnL2AdvertisementAndItsPool(t *testing.T) {
	ns := newNamespace(t)
	node := create(t, ns, readExample(t, "horizon-l2.yaml"))
	l2 := waitFor(t, metallbNamespace, perNodeName(ns, node.Name), &metallbv1beta1.L2Advertisement{})
	if strings.Join(l2.Spec.IPAddressPools, ",") != "stellar-pool" {
		t.Errorf("L2Advertisement pools = %v", l2.Spec.IPAddressPools)
	}
	svc := waitFor(t, ns, node.Name+"-lb", &corev1.Service{})
	if svc.Annotations["metallb.io/address-pool"] != "stellar-pool" || svc.Annotations["metallb.io/loadBalancerIPs"] != "192.168.1.100" {
		t.Errorf("annotations = %v", svc.Annotations)
	}
	pool := waitFor(t, metallbNamespace, "stellar-pool", &metallbv1beta1.IPAddressPool{})
	if strings.Join(pool.Spec.Addresses, ",") != "192.168.1.100/32" {
		t.Errorf("pool = %v", pool.Spec.Addresses)
	}
	assertNoWrites(t, ns, node.Name)
}

// Two nodes naming the same router and pool share one BGPPeer and one pool, converge with a
// bounded number of writes, and the shared objects live until the last user goes.
func TestTwoNodesShareAPeerAndAPool(t *testing.T) {
	ctx := context.Background()
	ns1, ns2 := newNamespace(t), newNamespace(t)
	const router, pool = "192.0.2.201", "shared-pool"
	waitQuiet(t)
	before := env.operatorWrites.Load()
	a := anycastNode(t, "east", router)
	a.Spec.LoadBalancer.AddressPool, a.Spec.LoadBalancer.LoadBalancerIP = pool, "203.0.113.10"
	b := anycastNode(t, "west", router)
	b.Spec.LoadBalancer.AddressPool, b.Spec.LoadBalancer.LoadBalancerIP = pool, "203.0.113.11"
	create(t, ns1, a)
	create(t, ns2, b)
	peerName := "stellar-peer-192-0-2-201"
	eventually(t, 20*time.Second, "one pool with both IPs", func() error {
		p := &metallbv1beta1.IPAddressPool{}
		if err := get(ctx, metallbNamespace, pool, p); err != nil {
			return err
		}
		if got := strings.Join(p.Spec.Addresses, ","); got != "203.0.113.10/32,203.0.113.11/32" {
			return fmt.Errorf("pool addresses = %s", got)
		}
		return get(ctx, metallbNamespace, peerName, &metallbv1beta2.BGPPeer{})
	})
	waitQuiet(t)
	// Each node writes its finalizer, about a dozen objects, its generated Secret and a few
	// status patches; sharing must not turn into the two nodes rewriting each other's objects.
	if writes := env.operatorWrites.Load() - before; writes > 60 {
		t.Errorf("two nodes sharing a peer took %d writes to converge", writes)
	} else {
		t.Logf("two nodes sharing a peer and a pool converged in %d writes", writes)
	}
	assertNoWrites(t, ns1, "east")
	assertNoWrites(t, ns2, "west")

	if err := env.k8s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the pool to shrink to the remaining node's IP", func() error {
		p := &metallbv1beta1.IPAddressPool{}
		if err := get(ctx, metallbNamespace, pool, p); err != nil {
			return err
		}
		if got := strings.Join(p.Spec.Addresses, ","); got != "203.0.113.11/32" {
			return fmt.Errorf("pool addresses = %s", got)
		}
		return nil
	})
	if err := get(ctx, metallbNamespace, peerName, &metallbv1beta2.BGPPeer{}); err != nil {
		t.Fatalf("the shared peer went while west still uses it: %v", err)
	}
	if err := env.k8s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the shared peer and pool to go with the last user", func() error {
		if err := notFound(ctx, metallbNamespace, peerName, &metallbv1beta2.BGPPeer{}); err != nil {
			return err
		}
		return notFound(ctx, metallbNamespace, pool, &metallbv1beta1.IPAddressPool{})
	})
}

// A later node defining the same router differently is told so, and does not clobber the peer.
func TestAConflictingPeerIsReportedOnTheLaterNodeAndGracefulRestartChangesRecreate(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	const router = "192.0.2.202"
	first := create(t, ns, anycastNode(t, "first", router))
	peerName := "stellar-peer-192-0-2-202"
	waitFor(t, metallbNamespace, peerName, &metallbv1beta2.BGPPeer{})
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has one-second resolution
	later := anycastNode(t, "later", router)
	later.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.150"
	later.Spec.LoadBalancer.BGP.Peers[0].HoldTime = ptr.To[int32](30)
	later.Spec.LoadBalancer.BGP.Peers[0].KeepaliveTime = ptr.To[int32](10)
	create(t, ns, later)
	got := waitForCondition(t, ns, "later", stellarv1.ConditionDegraded, metav1.ConditionTrue, stellarv1.ReasonPeerConflict)
	if !strings.Contains(conditionMessage(got, stellarv1.ConditionDegraded), ns+"/first") {
		t.Errorf("the condition does not name the winning node: %s", conditionMessage(got, stellarv1.ConditionDegraded))
	}
	peer := &metallbv1beta2.BGPPeer{}
	if err := get(ctx, metallbNamespace, peerName, peer); err != nil || peer.Spec.HoldTime.Duration != 90*time.Second {
		t.Fatalf("the peer was clobbered: %v %+v", err, peer.Spec.HoldTime)
	}

	// enableGracefulRestart is immutable in MetalLB: turning it off rebuilds the BGPPeer.
	mutate(t, first, false, func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers[0].GracefulRestart = ptr.To(false) })
	eventually(t, 20*time.Second, "the BGPPeer without graceful restart", func() error {
		p := &metallbv1beta2.BGPPeer{}
		if err := get(ctx, metallbNamespace, peerName, p); err != nil {
			return err
		}
		if p.Spec.EnableGracefulRestart || p.UID == peer.UID {
			return fmt.Errorf("enableGracefulRestart=%v, same object=%v", p.Spec.EnableGracefulRestart, p.UID == peer.UID)
		}
		return nil
	})
}

// The MD5 password lives only in the user's Secret and MetalLB's basic-auth copy.
func TestTheMD5PasswordIsCopiedForMetalLBAndNowhereElse(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	const password = "md5-Pa55word-that-must-not-leak"
	node := anycastNode(t, "secure", "192.0.2.203")
	node.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.160"
	node.Spec.LoadBalancer.BGP.Peers[0].PasswordSecretRef = &stellarv1.SecretKeyRef{Name: "router-md5"}
	create(t, ns, node)
	// The Secret is missing at first: a named condition, no announcement without the password,
	// and the rest of the node still applies.
	waitForCondition(t, ns, node.Name, stellarv1.ConditionLoadBalancerReady, metav1.ConditionFalse, stellarv1.ReasonSecretMissing)
	waitForCondition(t, ns, node.Name, stellarv1.ConditionDegraded, metav1.ConditionTrue, stellarv1.ReasonSecretMissing)
	waitFor(t, ns, node.Name, &appsv1.Deployment{})
	if err := notFound(ctx, ns, node.Name+"-lb", &corev1.Service{}); err != nil {
		t.Errorf("the LoadBalancer Service exists without the router's password: %v", err)
	}
	if err := env.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "router-md5", Namespace: ns},
		StringData: map[string]string{"password": password}}); err != nil {
		t.Fatal(err)
	}
	copyName := "stellar-peer-192-0-2-203-md5"
	secret := waitFor(t, metallbNamespace, copyName, &corev1.Secret{})
	if secret.Type != corev1.SecretTypeBasicAuth || string(secret.Data["password"]) != password {
		t.Errorf("copy = %s %q", secret.Type, secret.Data["password"])
	}
	peer := waitFor(t, metallbNamespace, "stellar-peer-192-0-2-203", &metallbv1beta2.BGPPeer{})
	if peer.Spec.PasswordSecret.Name != copyName || peer.Spec.Password != "" {
		t.Errorf("peer password = %q, %+v", peer.Spec.Password, peer.Spec.PasswordSecret)
	}
	assertNoSecretIn(t, ns, nil, password)
	assertNoSecretIn(t, metallbNamespace, nil, password)
}

// perNodeName is the name of a node's own MetalLB objects.
func perNodeName(ns, name string) string {
	return render.PerNodeName(&stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

// nudge makes the operator look at a node now instead of at its next retry.
func nudge(t *testing.T, ns, name string) {
	t.Helper()
	n := &stellarv1.StellarNode{}
	if err := get(context.Background(), ns, name, n); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(n.DeepCopy())
	n.Annotations = map[string]string{"test/nudge": time.Now().String()}
	if err := env.k8s.Patch(context.Background(), n, patch); err != nil {
		t.Fatal(err)
	}
}

// Turning the load balancer off removes the node's Service and MetalLB objects, shared ones too
// when nobody else uses them.
func TestTurningTheLoadBalancerOffRemovesItsObjects(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	node := create(t, ns, anycastNode(t, "switch", "192.0.2.204"))
	peerName, advName := "stellar-peer-192-0-2-204", perNodeName(ns, "switch")
	waitFor(t, metallbNamespace, peerName, &metallbv1beta2.BGPPeer{})
	waitFor(t, metallbNamespace, advName, &metallbv1beta1.BGPAdvertisement{})
	mutate(t, node, false, func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.Enabled = ptr.To(false) })
	eventually(t, 20*time.Second, "the load balancer's objects to go", func() error {
		for _, o := range []struct {
			ns, name string
			obj      client.Object
		}{{metallbNamespace, peerName, &metallbv1beta2.BGPPeer{}}, {metallbNamespace, advName, &metallbv1beta1.BGPAdvertisement{}},
			{ns, node.Name + "-lb", &corev1.Service{}}} {
			if err := notFound(ctx, o.ns, o.name, o.obj); err != nil {
				return err
			}
		}
		return nil
	})
	if err := get(ctx, ns, node.Name, &corev1.Service{}); err != nil {
		t.Errorf("the ClusterIP Service went with the load balancer: %v", err)
	}
}
