package main

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// The fleet's shared infrastructure: one router every BGP node peers with, a few pools.
const (
	fleetRouter    = "192.0.2.1"
	fleetRouterASN = 64513
	fleetLocalASN  = 64512
	fleetL2Pool    = "bench-l2"
	// Addresses come from the benchmarking range (RFC 2544, 198.18.0.0/15): BGP nodes from
	// 198.18/16, L2 nodes from 198.19/16, 250 per third octet.
	addressesPerOctet = 250
	maxFleetNodes     = addressesPerOctet * 256
)

// fleetBGPPools are the pools the BGP nodes are spread over.
func fleetBGPPools() []string {
	return []string{"bench-anycast-a", "bench-anycast-b", "bench-anycast-c"}
}

// nodeRole is what one StellarNode of the fleet is.
type nodeRole string

const (
	roleBGPHorizon nodeRole = "horizon-bgp"
	roleL2Horizon  nodeRole = "horizon-l2"
	roleValidator  nodeRole = "validator"
)

// roleOf decides the mix: of every ten nodes, eight are BGP-anycast Horizons, one an L2 Horizon
// and one a validator, so even a small fleet has every kind.
func roleOf(i int) nodeRole {
	switch i % 10 {
	case 8:
		return roleL2Horizon
	case 9:
		return roleValidator
	default:
		return roleBGPHorizon
	}
}

// fleetNamespace is the namespace of node i.
func fleetNamespace(i, namespaces int) string {
	return fmt.Sprintf("bench-fleet-%02d", i%namespaces)
}

// fleetAddress is the load balancer address of node i within the /16 starting at base.
func fleetAddress(base [2]byte, i int) string {
	return netip.AddrFrom4([4]byte{base[0], base[1], byte(i / addressesPerOctet), byte(i%addressesPerOctet + 1)}).String()
}

// fleet is the benchmark's StellarNodes: the same n nodes for the same arguments, spread
// round-robin over the namespaces. The BGP Horizons have distinct addresses, all peer with one
// router and share three pools; L2 Horizons share one pool; validators have no load balancer.
func fleet(n, namespaces int) ([]*stellarv1.StellarNode, error) {
	if n < 1 || n > maxFleetNodes {
		return nil, fmt.Errorf("the fleet has 1 to %d nodes, not %d", maxFleetNodes, n)
	}
	if namespaces < 1 {
		return nil, fmt.Errorf("the fleet needs at least one namespace, not %d", namespaces)
	}
	nodes := make([]*stellarv1.StellarNode, 0, n)
	for i := range n {
		node := &stellarv1.StellarNode{
			TypeMeta:   metav1.TypeMeta{APIVersion: stellarv1.GroupVersion.String(), Kind: "StellarNode"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", roleOf(i), i), Namespace: fleetNamespace(i, namespaces)},
		}
		switch roleOf(i) {
		case roleBGPHorizon:
			node.Spec = horizonSpec(&stellarv1.LoadBalancerSpec{
				Mode:                  stellarv1.LoadBalancerBGP,
				AddressPool:           fleetBGPPools()[i%len(fleetBGPPools())],
				LoadBalancerIP:        fleetAddress([2]byte{198, 18}, i),
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				BGP: &stellarv1.BGPSpec{
					LocalASN: fleetLocalASN,
					Peers: []stellarv1.BGPPeerSpec{{
						Address: fleetRouter, ASN: fleetRouterASN,
						HoldTime: ptr.To[int32](90), KeepaliveTime: ptr.To[int32](30), GracefulRestart: ptr.To(true),
					}},
					Communities: []string{"64512:100"},
					BFDEnabled:  ptr.To(true),
				},
			})
		case roleL2Horizon:
			node.Spec = horizonSpec(&stellarv1.LoadBalancerSpec{
				Mode:                  stellarv1.LoadBalancerL2,
				AddressPool:           fleetL2Pool,
				LoadBalancerIP:        fleetAddress([2]byte{198, 19}, i),
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			})
		case roleValidator:
			node.Spec = stellarv1.StellarNodeSpec{
				NodeType:  stellarv1.NodeTypeValidator,
				Network:   stellarv1.NetworkTestnet,
				Version:   "27.1.0",
				Validator: &stellarv1.ValidatorSpec{HomeDomain: "validator.example.com"},
			}
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}

func horizonSpec(lb *stellarv1.LoadBalancerSpec) stellarv1.StellarNodeSpec {
	lb.Enabled = ptr.To(true)
	return stellarv1.StellarNodeSpec{NodeType: stellarv1.NodeTypeHorizon, Network: stellarv1.NetworkMainnet, Version: "v21.0.0", LoadBalancer: lb}
}

// fleetNamespaces are the namespaces the fleet uses, in order.
func fleetNamespaces(nodes []*stellarv1.StellarNode) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range nodes {
		if !seen[n.Namespace] {
			seen[n.Namespace] = true
			out = append(out, n.Namespace)
		}
	}
	return out
}

// movingNodes are the first k nodes whose pods carry the health sidecar: the nodes given a pod
// in the moving-ledger phase.
func movingNodes(nodes []*stellarv1.StellarNode, k int) []*stellarv1.StellarNode {
	var out []*stellarv1.StellarNode
	for _, n := range nodes {
		if len(out) == k {
			break
		}
		if enabled, _ := n.HealthCheck(); enabled {
			out = append(out, n)
		}
	}
	return out
}

// mixOf describes the fleet: how many nodes of each role.
func mixOf(nodes []*stellarv1.StellarNode) string {
	count := map[string]int{}
	for _, n := range nodes {
		switch {
		case n.Spec.NodeType == stellarv1.NodeTypeValidator:
			count["validators"]++
		case n.BGP() != nil:
			count["BGP-anycast Horizons"]++
		case n.LoadBalancerEnabled():
			count["L2 Horizons"]++
		default:
			count["other"]++
		}
	}
	var parts []string
	for _, k := range []string{"BGP-anycast Horizons", "L2 Horizons", "validators", "other"} {
		if count[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
		}
	}
	return strings.Join(parts, ", ")
}
