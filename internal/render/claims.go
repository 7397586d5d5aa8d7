package render

import (
	"net/netip"
	"slices"
	"strings"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// Claims answers which load-balanced StellarNodes of the cluster (not being deleted) ask for an
// address, name a pool or peer with a router — oldest first, because the oldest claim wins a
// conflict. The controller answers from indexes over its cache; the CLI and tests from a list.
type Claims interface {
	ByAddress(addr netip.Addr) []*stellarv1.StellarNode
	ByPool(name string) []*stellarv1.StellarNode
	ByRouter(addr netip.Addr) []*stellarv1.StellarNode
}

// Index keys of a node's claims. One definition for the controller's cache indexes and for
// NewClaims, so both answer the same.
const (
	IndexAddress = "stellar.org/lb-address"
	IndexPool    = "stellar.org/lb-pool"
	IndexRouter  = "stellar.org/lb-router"
	// IndexBFDProfile finds the users of a BFD profile (garbage collection only).
	IndexBFDProfile = "stellar.org/lb-bfd-profile"
)

// ClaimKeys are the index values of a node under each index: its canonical loadBalancerIP, the
// pool it declares (addressPool, or the default pool of its address) and its routers.
func ClaimKeys(node *stellarv1.StellarNode) map[string][]string {
	out := map[string][]string{}
	if !node.LoadBalancerEnabled() || !node.DeletionTimestamp.IsZero() {
		return out
	}
	if addr, ok := node.Spec.LoadBalancer.Address(); ok {
		out[IndexAddress] = []string{addr.String()}
	}
	if pool := DeclaredPool(node); pool != "" {
		out[IndexPool] = []string{pool}
	}
	if bgp := node.BGP(); bgp != nil {
		for i := range bgp.Peers {
			if addr, ok := bgp.Peers[i].ParsedAddress(); ok {
				out[IndexRouter] = append(out[IndexRouter], addr.String())
			}
		}
		if profile := bgp.EffectiveBFDProfile(); profile != "" {
			out[IndexBFDProfile] = []string{profile}
		}
	}
	return out
}

// listClaims answers Claims from a list of nodes.
type listClaims struct {
	by map[string]map[string][]*stellarv1.StellarNode
}

// NewClaims indexes nodes (the CLI's files, a test's fixtures).
func NewClaims(nodes ...*stellarv1.StellarNode) Claims {
	c := listClaims{by: map[string]map[string][]*stellarv1.StellarNode{}}
	for _, n := range nodes {
		for index, keys := range ClaimKeys(n) {
			if c.by[index] == nil {
				c.by[index] = map[string][]*stellarv1.StellarNode{}
			}
			for _, k := range keys {
				c.by[index][k] = append(c.by[index][k], n)
			}
		}
	}
	for _, byKey := range c.by {
		for _, list := range byKey {
			SortOldestFirst(list)
		}
	}
	return c
}

func (c listClaims) ByAddress(addr netip.Addr) []*stellarv1.StellarNode {
	return c.by[IndexAddress][addr.String()]
}
func (c listClaims) ByPool(name string) []*stellarv1.StellarNode { return c.by[IndexPool][name] }
func (c listClaims) ByRouter(addr netip.Addr) []*stellarv1.StellarNode {
	return c.by[IndexRouter][addr.String()]
}

// SortOldestFirst orders nodes by creation, then by namespace/name: the order in which conflicting
// claims are granted.
func SortOldestFirst(nodes []*stellarv1.StellarNode) {
	slices.SortStableFunc(nodes, func(a, b *stellarv1.StellarNode) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		switch {
		case nodeKeyLess(a, b):
			return -1
		case nodeKeyLess(b, a):
			return 1
		}
		return 0
	})
}

// nodeKeyLess is NodeKey(a) < NodeKey(b) without building the keys: a fleet created in the same
// second sorts on it, in every pass, for every sibling.
func nodeKeyLess(a, b *stellarv1.StellarNode) bool {
	na, nb := a.Namespace, b.Namespace
	if na == nb {
		return a.Name < b.Name
	}
	n := min(len(na), len(nb))
	if na[:n] != nb[:n] {
		return na[:n] < nb[:n]
	}
	// One namespace is a prefix of the other: the shorter goes on with "/".
	longer := na
	if len(nb) > len(na) {
		longer = nb
	}
	if longer[n] == '/' {
		// Not a Kubernetes namespace: compare the keys themselves.
		return NodeKey(a) < NodeKey(b)
	}
	if len(na) < len(nb) {
		return '/' < nb[n]
	}
	return na[n] < '/'
}

// NodeKey is "namespace/name".
func NodeKey(node *stellarv1.StellarNode) string { return node.Namespace + "/" + node.Name }

// sameNode reports whether a and b are the same StellarNode (the cache and the caller may hold
// different copies).
func sameNode(a, b *stellarv1.StellarNode) bool {
	return a.Namespace == b.Namespace && a.Name == b.Name
}

// DeclaredPool is the pool a node names: addressPool, or the default pool of its address, shared
// by every node asking for that address. Empty when it names neither.
func DeclaredPool(node *stellarv1.StellarNode) string {
	lb := node.Spec.LoadBalancer
	if lb == nil {
		return ""
	}
	if lb.AddressPool != "" {
		return lb.AddressPool
	}
	if addr, ok := lb.Address(); ok {
		return "stellar-" + dashed(addr.String())
	}
	return ""
}

func dashed(s string) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(strings.ToLower(s))
}
