package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// fullNode is the anycast block with every optional part the tests remove one by one.
func fullNode(t *testing.T) *stellarv1.StellarNode {
	node := anycastNode(t, "full", "192.0.2.210")
	lb := node.Spec.LoadBalancer
	lb.LoadBalancerIP = "192.0.2.170"
	lb.Annotations = map[string]string{"team.example.com/owner": "payments"}
	lb.BGP.Peers = append(lb.BGP.Peers, stellarv1.BGPPeerSpec{Address: "192.0.2.211", ASN: 64512, HoldTime: ptr.To[int32](90)})
	lb.BGP.Communities = []string{"64512:100", "no-export"}
	lb.BGP.LargeCommunities = []string{"64512:1:2"}
	lb.BGP.BFDProfile = "full-bfd"
	lb.BGP.Advertisement.NodeSelectors = []stellarv1.NodeSelector{{MatchLabels: map[string]stellarv1.LabelValue{"stellar.example.com/bgp": "yes"}}}
	node.Spec.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}
	node.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{Region: "us-east", TopologyAwareHints: true,
		ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "full.stellar.example.com", TTL: ptr.To[int64](60), Provider: "route53",
			Annotations: map[string]string{"external-dns.alpha.kubernetes.io/aws-weight": "7"}}}
	return node
}

// Removing an optional block or list entry from the spec removes it from every object it reached,
// within seconds, and the converged node then sends no write at all.
func TestRemovingFromTheSpecRemovesFromTheCluster(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	node := create(t, ns, fullNode(t))
	lbKey, advName := node.Name+"-lb", perNodeName(ns, node.Name)
	eventually(t, 20*time.Second, "the full node", func() error {
		adv := &metallbv1beta1.BGPAdvertisement{}
		if err := get(ctx, metallbNamespace, advName, adv); err != nil {
			return err
		}
		if len(adv.Spec.Peers) != 2 || len(adv.Spec.NodeSelectors) != 1 {
			return fmt.Errorf("advertisement = %+v", adv.Spec)
		}
		return get(ctx, metallbNamespace, "full-bfd", &metallbv1beta1.BFDProfile{})
	})
	assertNoWrites(t, ns, node.Name)

	service := func() (*corev1.Service, error) {
		svc := &corev1.Service{}
		return svc, get(ctx, ns, lbKey, svc)
	}
	advertisement := func() (*metallbv1beta1.BGPAdvertisement, error) {
		adv := &metallbv1beta1.BGPAdvertisement{}
		return adv, get(ctx, metallbNamespace, advName, adv)
	}
	cases := []struct {
		name   string
		remove func(n *stellarv1.StellarNode)
		gone   func() error
	}{
		{"externalDns", func(n *stellarv1.StellarNode) { n.Spec.GlobalDiscovery.ExternalDNS = nil }, func() error {
			svc, err := service()
			if err != nil {
				return err
			}
			for k := range svc.Annotations {
				if strings.Contains(k, "external-dns") {
					return fmt.Errorf("annotation %s is still on the Service, the record stays published", k)
				}
			}
			return nil
		}},
		{"a user annotation", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.Annotations = nil }, func() error {
			svc, err := service()
			if err != nil {
				return err
			}
			if _, ok := svc.Annotations["team.example.com/owner"]; ok {
				return fmt.Errorf("the annotation is still there")
			}
			return nil
		}},
		{"topology hints", func(n *stellarv1.StellarNode) { n.Spec.GlobalDiscovery.TopologyAwareHints = false }, func() error {
			svc, err := service()
			if err != nil {
				return err
			}
			if svc.Spec.TrafficDistribution != nil {
				return fmt.Errorf("trafficDistribution is still %s", *svc.Spec.TrafficDistribution)
			}
			return nil
		}},
		{"one community", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"64512:100"} }, func() error {
			adv, err := advertisement()
			if err != nil {
				return err
			}
			if slices.Contains(adv.Spec.Communities, "65535:65281") {
				return fmt.Errorf("communities = %v", adv.Spec.Communities)
			}
			return nil
		}},
		{"large communities", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.LargeCommunities = nil }, func() error {
			adv, err := advertisement()
			if err != nil {
				return err
			}
			if slices.Contains(adv.Spec.Communities, "large:64512:1:2") {
				return fmt.Errorf("communities = %v", adv.Spec.Communities)
			}
			return nil
		}},
		{"localPref", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Advertisement.LocalPref = nil }, func() error {
			adv, err := advertisement()
			if err != nil {
				return err
			}
			if adv.Spec.LocalPref != 0 {
				return fmt.Errorf("localPref = %d", adv.Spec.LocalPref)
			}
			return nil
		}},
		{"node selectors", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Advertisement.NodeSelectors = nil }, func() error {
			adv, err := advertisement()
			if err != nil {
				return err
			}
			peer := &metallbv1beta2.BGPPeer{}
			if err := get(ctx, metallbNamespace, "stellar-peer-192-0-2-210", peer); err != nil {
				return err
			}
			if len(adv.Spec.NodeSelectors) != 0 || len(peer.Spec.NodeSelectors) != 0 {
				return fmt.Errorf("node selectors remain: advertisement %v, peer %v", adv.Spec.NodeSelectors, peer.Spec.NodeSelectors)
			}
			return nil
		}},
		{"BFD", func(n *stellarv1.StellarNode) {
			n.Spec.LoadBalancer.BGP.BFDEnabled, n.Spec.LoadBalancer.BGP.BFDProfile = nil, ""
		}, func() error {
			peer := &metallbv1beta2.BGPPeer{}
			if err := get(ctx, metallbNamespace, "stellar-peer-192-0-2-210", peer); err != nil {
				return err
			}
			if peer.Spec.BFDProfile != "" {
				return fmt.Errorf("the peer still uses BFD profile %s", peer.Spec.BFDProfile)
			}
			return notFound(ctx, metallbNamespace, "full-bfd", &metallbv1beta1.BFDProfile{})
		}},
		{"a peer", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Peers = n.Spec.LoadBalancer.BGP.Peers[:1] }, func() error {
			adv, err := advertisement()
			if err != nil {
				return err
			}
			if len(adv.Spec.Peers) != 1 {
				return fmt.Errorf("advertisement peers = %v", adv.Spec.Peers)
			}
			return notFound(ctx, metallbNamespace, "stellar-peer-192-0-2-211", &metallbv1beta2.BGPPeer{})
		}},
		{"resources", func(n *stellarv1.StellarNode) { n.Spec.Resources = corev1.ResourceRequirements{} }, func() error {
			d := &appsv1.Deployment{}
			if err := get(ctx, ns, node.Name, d); err != nil {
				return err
			}
			if r := d.Spec.Template.Spec.Containers[0].Resources; len(r.Requests) != 0 || len(r.Limits) != 0 {
				return fmt.Errorf("resources remain: %+v", r)
			}
			return nil
		}},
		{"global discovery", func(n *stellarv1.StellarNode) { n.Spec.GlobalDiscovery = nil }, func() error {
			svc, err := service()
			if err != nil {
				return err
			}
			if _, ok := svc.Labels["stellar.org/region"]; ok {
				return fmt.Errorf("the region label remains")
			}
			if _, ok := svc.Annotations["stellar.org/priority"]; ok {
				return fmt.Errorf("the priority annotation remains")
			}
			return nil
		}},
		{"the whole load balancer", func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.Enabled = ptr.To(false) }, func() error {
			for _, o := range []struct {
				ns, name string
				obj      client.Object
			}{{ns, lbKey, &corev1.Service{}}, {metallbNamespace, advName, &metallbv1beta1.BGPAdvertisement{}},
				{metallbNamespace, "stellar-peer-192-0-2-210", &metallbv1beta2.BGPPeer{}},
				{metallbNamespace, "stellar-192-0-2-170", &metallbv1beta1.IPAddressPool{}}} {
				if err := notFound(ctx, o.ns, o.name, o.obj); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mutate(t, node, false, tc.remove)
			eventually(t, 10*time.Second, tc.name+" to leave the cluster", tc.gone)
			waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady)
			assertNoWrites(t, ns, node.Name)
		})
	}
}
