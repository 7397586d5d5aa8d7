package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// BGPMode is how MetalLB speaks BGP; it decides which fields can take effect.
type BGPMode string

const (
	BGPModeNative BGPMode = "native"
	BGPModeFRR    BGPMode = "frr"
	BGPModeFRRK8s BGPMode = "frr-k8s"
)

// Service annotations MetalLB reads.
const (
	AnnotationAddressPool   = "metallb.io/address-pool"
	AnnotationLBIPs         = "metallb.io/loadBalancerIPs"
	AnnotationAllowSharedIP = "metallb.io/allow-shared-ip"
	// LabelShared marks MetalLB objects several StellarNodes may use (pools, peers, BFD profiles,
	// password copies): they are deleted only when no StellarNode wants them any more.
	LabelShared = "stellar.org/shared"
	// AnnotationRouter names the router of an MD5 password copy, so its users can be found.
	AnnotationRouter = "stellar.org/router"
	// DefaultBFDProfile is used when bfdEnabled names no profile.
	DefaultBFDProfile = stellarv1.DefaultBFDProfile
)

// MetalLBFacts are what the controller observed of MetalLB and of the other StellarNodes.
type MetalLBFacts struct {
	// Installed is false when MetalLB's CRDs are absent: no MetalLB object or LB Service is rendered.
	Installed bool
	// Namespace MetalLB watches (its objects live there).
	Namespace string
	// Mode is MetalLB's BGP implementation.
	Mode BGPMode
	// Pools, Peers and BFDProfiles are every object of their kind in MetalLB's namespace, the
	// operator's and everyone else's: MetalLB judges its configuration as a whole.
	Pools       []ExistingPool
	Peers       []ExistingPeer
	BFDProfiles []ExistingBFDProfile
	// Advertisements are the BGPAdvertisements that are not the operator's.
	Advertisements []metallbv1beta1.BGPAdvertisement
	// Claims tells which StellarNodes ask for an address, a pool or a router (nil: this node only).
	Claims Claims
	// PeerPasswords are this node's MD5 passwords by peer index (read from its Secrets); nil when
	// they were not read (offline rendering: the copies are then left out).
	PeerPasswords map[int][]byte
	// PeerPasswordProblems say why a peer's password could not be read, by peer index.
	PeerPasswordProblems map[int]validate.Problem
	// Policy fences what each namespace may use.
	Policy validate.PolicyFacts
}

// ExistingPool is an IPAddressPool of the cluster.
type ExistingPool struct {
	Name      string
	Ours      bool
	Addresses []string
	// Allocation is the pool's serviceAllocation, if any.
	Allocation *metallbv1beta1.ServiceAllocation
}

// ExistingPeer is a BGPPeer of the cluster.
type ExistingPeer struct {
	Name string
	Ours bool
	Spec metallbv1beta2.BGPPeerSpec
}

// ExistingBFDProfile is a BFDProfile of the cluster.
type ExistingBFDProfile struct {
	Name     string
	Ours     bool
	EchoMode bool
}

// PeerDefinition is what makes two claims on a BGPPeer equal: the rendered spec and which Secret
// holds the password.
type PeerDefinition struct {
	Spec        metallbv1beta2.BGPPeerSpec
	PasswordRef string
}

// IPClaim is another StellarNode's claim on a loadBalancerIP.
type IPClaim struct {
	Node                  string
	Ports                 []corev1.ServicePort
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy
}

// ComponentLoadBalancer labels the LoadBalancer Service.
const ComponentLoadBalancer = "load-balancer"

// PeerName names the BGPPeer of a router. FRR peers with a router once, so every StellarNode
// naming the router — in any spelling of its address, on any port — shares one BGPPeer.
func PeerName(router netip.Addr) string { return "stellar-peer-" + dashed(router.String()) }

// PeerPasswordSecret resolves a peer's passwordSecretRef (key default "password"); call it only
// when the peer has one.
func PeerPasswordSecret(p stellarv1.BGPPeerSpec) SecretRef {
	return SecretRef{Name: p.PasswordSecretRef.Name, Key: defaultString(p.PasswordSecretRef.Key, MD5PasswordKey)}
}

// PeerPasswordSecretName is the basic-auth copy of a router's MD5 password in MetalLB's namespace.
func PeerPasswordSecretName(router netip.Addr) string { return PeerName(router) + "-md5" }

// PerNodeName names a MetalLB object that belongs to one StellarNode: readable, unique across
// namespaces (team/a-b and team-a/b differ by the hash of namespace/name) and at most 63 characters.
func PerNodeName(node *stellarv1.StellarNode) string {
	readable := dashed(node.Namespace + "-" + node.Name)
	if len(readable) > 44 {
		readable = strings.TrimRight(readable[:44], "-")
	}
	sum := sha256.Sum256([]byte(NodeKey(node)))
	return "stellar-" + readable + "-" + hex.EncodeToString(sum[:])[:10]
}

// wellKnownCommunities are translated to A:B: MetalLB parses only numbers and its own aliases.
func wellKnownCommunities() map[string]string {
	return map[string]string{
		"graceful-shutdown": "65535:0", "accept-own": "65535:1", "blackhole": "65535:666",
		"no-export": "65535:65281", "no-advertise": "65535:65282", "local-as": "65535:65283", "no-peer": "65535:65284",
	}
}

// Communities are the node's communities as MetalLB writes them (large ones prefixed "large:";
// left out in native mode, which refuses them).
func Communities(bgp *stellarv1.BGPSpec, mode BGPMode) []string {
	if bgp == nil {
		return nil
	}
	known := wellKnownCommunities()
	var out []string
	for _, c := range bgp.Communities {
		if v, ok := known[c]; ok {
			c = v
		}
		out = append(out, c)
	}
	if mode != BGPModeNative {
		for _, c := range bgp.LargeCommunities {
			out = append(out, "large:"+c)
		}
	}
	return out
}

// PeerDefinitionFor renders peer i of a node as MetalLB should run it in mode. Fields the mode
// cannot take are left out (a BGPPeer carrying them stops every session of a native speaker) and
// reported.
func PeerDefinitionFor(node *stellarv1.StellarNode, i int, mode BGPMode) (PeerDefinition, []validate.Problem) {
	bgp := node.Spec.LoadBalancer.BGP
	p := &bgp.Peers[i]
	router, _ := p.ParsedAddress()
	field := fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i)
	var problems []validate.Problem
	unsupported := func(name string) {
		problems = append(problems, validate.Warnf(field+"."+name, stellarv1.ReasonUnsupportedByMetalLB,
			fmt.Sprintf("%s cannot take effect in MetalLB's %s BGP mode and is left out of BGPPeer %s", name, mode, PeerName(router))))
	}
	spec := metallbv1beta2.BGPPeerSpec{
		MyASN:        uint32(bgp.LocalASN),
		ASN:          uint32(p.ASN),
		Address:      router.String(),
		Port:         uint16(p.EffectivePort()),
		HoldTime:     &metav1.Duration{Duration: time.Duration(p.EffectiveHoldTime()) * time.Second},
		EBGPMultiHop: p.EBGPMultiHop,
	}
	if sel := bgp.EffectiveNodeSelectors(); len(sel) > 0 {
		// A node outside the advertisement's nodes would only dial a router it cannot announce to.
		spec.NodeSelectors = sel
	}
	if p.KeepaliveTime != nil {
		if mode == BGPModeNative {
			unsupported("keepaliveTime")
		} else {
			spec.KeepaliveTime = &metav1.Duration{Duration: time.Duration(p.EffectiveKeepaliveTime()) * time.Second}
		}
	}
	if p.EffectiveGracefulRestart() {
		if mode == BGPModeNative {
			if p.GracefulRestart != nil {
				unsupported("gracefulRestart")
			}
		} else {
			spec.EnableGracefulRestart = true
		}
	}
	if profile := bgp.EffectiveBFDProfile(); profile != "" {
		if mode == BGPModeNative {
			problems = append(problems, validate.Warnf("spec.loadBalancer.bgp.bfdEnabled", stellarv1.ReasonUnsupportedByMetalLB,
				fmt.Sprintf("BFD cannot take effect in MetalLB's %s BGP mode and is left out of BGPPeer %s", mode, PeerName(router))))
		} else {
			spec.BFDProfile = profile
		}
	}
	def := PeerDefinition{Spec: spec}
	if p.PasswordSecretRef != nil {
		def.Spec.PasswordSecret = corev1.SecretReference{Name: PeerPasswordSecretName(router)}
		ref := PeerPasswordSecret(*p)
		def.PasswordRef = node.Namespace + "/" + ref.Name + "/" + ref.Key
	}
	return def, problems
}

func equalDefinitions(a, b PeerDefinition) bool {
	return a.PasswordRef == b.PasswordRef && equality.Semantic.DeepEqual(a.Spec, b.Spec)
}

// metallbMeta is the ObjectMeta of a MetalLB object: in MetalLB's namespace, labelled so the
// operator can find and delete exactly what it created (no owner reference across namespaces).
func metallbMeta(node *stellarv1.StellarNode, facts MetalLBFacts, name string, shared bool) metav1.ObjectMeta {
	labels := map[string]string{LabelManagedBy: ManagerName}
	if shared {
		labels[LabelShared] = "true"
	} else {
		labels[LabelNode] = node.Name
		labels[LabelNodeNamespace] = node.Namespace
	}
	return metav1.ObjectMeta{Name: name, Namespace: facts.Namespace, Labels: labels}
}

// serviceSelector selects the node's LoadBalancer Service only, so that a node's communities,
// localPref and node selectors never reach another Service of the same pool.
func serviceSelector(node *stellarv1.StellarNode) []metav1.LabelSelector {
	return []metav1.LabelSelector{{MatchLabels: map[string]string{
		LabelNode: node.Name, LabelNodeNamespace: node.Namespace, LabelComponent: ComponentLoadBalancer,
	}}}
}

// lbPlan is everything render decided about a node's load balancer.
type lbPlan struct {
	node      *stellarv1.StellarNode
	facts     MetalLBFacts
	discovery DiscoveryFacts
	objects   []client.Object
	problems  []validate.Problem
	status    *stellarv1.LoadBalancerStatus
	// parsedPools are facts.Pools' addresses, parsed on first use (see poolHolds).
	parsedPools map[string]poolEntries
}

// poolHolds is PoolContains for one of the cluster's pools, parsing its addresses once a pass.
func (p *lbPlan) poolHolds(pool *ExistingPool, addr netip.Addr) (int, bool) {
	entries, ok := p.parsedPools[pool.Name]
	if !ok {
		if p.parsedPools == nil {
			p.parsedPools = map[string]poolEntries{}
		}
		entries = parsePoolAddresses(pool.Addresses)
		p.parsedPools[pool.Name] = entries
	}
	return entries.contains(addr)
}

func (p *lbPlan) add(objects ...client.Object)        { p.objects = append(p.objects, objects...) }
func (p *lbPlan) report(problems ...validate.Problem) { p.problems = append(p.problems, problems...) }
func (p *lbPlan) blocked() bool                       { return validate.BlocksLoadBalancer(p.problems) }
func (p *lbPlan) fail(field, reason, msg string) *lbPlan {
	p.report(validate.LBErrorf(field, reason, msg))
	return p
}

// loadBalancer renders the LoadBalancer Service and the MetalLB objects of a node, and the
// load-balancer status it intends. Any error stops the load balancer as a whole: MetalLB is never
// handed part of a node, nor anything it would refuse.
func loadBalancer(node *stellarv1.StellarNode, facts Facts) ([]client.Object, []validate.Problem, *stellarv1.LoadBalancerStatus) {
	if !node.LoadBalancerEnabled() {
		return nil, nil, nil
	}
	m := facts.MetalLB
	lb := node.Spec.LoadBalancer
	status := &stellarv1.LoadBalancerStatus{Mode: lb.EffectiveMode()}
	if !m.Installed {
		return nil, []validate.Problem{validate.Warnf("spec.loadBalancer", stellarv1.ReasonMetalLBNotInstalled,
			"MetalLB's CRDs are not installed: no LoadBalancer Service or MetalLB object is created until they are")}, status
	}
	if m.Claims == nil {
		m.Claims = NewClaims(node)
	}
	plan := &lbPlan{node: node, facts: m, discovery: facts.Discovery, status: status}
	plan.report(validate.LoadBalancer(node, validate.LoadBalancerOptions{NativeBGP: m.Mode == BGPModeNative})...)
	plan.report(validate.Policy(node, m.Policy)...)
	if plan.blocked() {
		return nil, plan.problems, status
	}
	pool, ok := plan.resolvePool()
	if !ok {
		return nil, plan.problems, status
	}
	status.Pool = pool.name
	if pool.ours {
		plan.addPool(pool.name)
	}
	if lb.EffectiveMode() == stellarv1.LoadBalancerL2 {
		plan.add(&metallbv1beta1.L2Advertisement{
			TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "L2Advertisement"},
			ObjectMeta: metallbMeta(node, m, PerNodeName(node), false),
			Spec:       metallbv1beta1.L2AdvertisementSpec{IPAddressPools: []string{pool.name}, ServiceSelectors: serviceSelector(node)},
		})
	} else {
		plan.bgp(pool)
	}
	if plan.blocked() {
		return nil, plan.problems, status
	}
	svc := plan.service(pool.name)
	return append([]client.Object{svc}, plan.objects...), plan.problems, status
}

// poolChoice is the IPAddressPool a node's address comes from.
type poolChoice struct {
	name string
	ours bool
	// existing is the foreign pool, when the pool is not ours.
	existing *ExistingPool
}

func (p *lbPlan) existingPool(name string) *ExistingPool {
	for i := range p.facts.Pools {
		if p.facts.Pools[i].Name == name {
			return &p.facts.Pools[i]
		}
	}
	return nil
}

// foreignPoolContaining is the pool of someone else holding addr, if any.
func (p *lbPlan) foreignPoolContaining(addr netip.Addr) *ExistingPool {
	for i := range p.facts.Pools {
		pool := &p.facts.Pools[i]
		if _, ok := p.poolHolds(pool, addr); ok && !pool.Ours {
			return pool
		}
	}
	return nil
}

// otherOwnPoolContaining is one of the operator's pools other than name still holding addr.
func (p *lbPlan) otherOwnPoolContaining(addr netip.Addr, name string) *ExistingPool {
	for i := range p.facts.Pools {
		pool := &p.facts.Pools[i]
		if _, ok := p.poolHolds(pool, addr); ok && pool.Ours && pool.Name != name {
			return pool
		}
	}
	return nil
}

// allowed reports whether another node's claim counts: a node its namespace's policy refuses
// writes nothing, so it claims nothing.
func (p *lbPlan) allowed(n *stellarv1.StellarNode) bool {
	return validate.PolicyAllows(n, p.facts.Policy)
}

// addressWinner is the oldest allowed node asking for addr: the address goes to its pool.
func (p *lbPlan) addressWinner(addr netip.Addr) *stellarv1.StellarNode {
	for _, n := range p.facts.Claims.ByAddress(addr) {
		if p.allowed(n) {
			return n
		}
	}
	return nil
}

// resolvePool decides the node's pool. MetalLB refuses overlapping pools, so an address belongs
// to one pool only: someone else's pool that holds it, else the pool of the oldest node asking for
// it; never a second one.
func (p *lbPlan) resolvePool() (poolChoice, bool) {
	lb := p.node.Spec.LoadBalancer
	addr, hasAddr := lb.Address()
	if named := p.existingPool(lb.AddressPool); lb.AddressPool != "" && named != nil && !named.Ours {
		if hasAddr {
			if _, ok := PoolContains(named.Addresses, addr); !ok {
				p.fail("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonPoolMismatch,
					fmt.Sprintf("%s is not in IPAddressPool %s (%s)", addr, named.Name, strings.Join(named.Addresses, ", ")))
				return poolChoice{}, false
			}
		}
		return poolChoice{name: named.Name, existing: named}, true
	}
	if !hasAddr {
		if p.existingPool(lb.AddressPool) != nil {
			p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonPoolMissing,
				fmt.Sprintf("IPAddressPool %s is stellar-operator's and holds the addresses other StellarNodes asked for: name a loadBalancerIP", lb.AddressPool))
			return poolChoice{}, false
		}
		p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonPoolMissing,
			fmt.Sprintf("IPAddressPool %s does not exist and there is no loadBalancerIP to create it from", lb.AddressPool))
		return poolChoice{}, false
	}
	if foreign := p.foreignPoolContaining(addr); foreign != nil {
		if lb.AddressPool != "" {
			p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonAddressInForeignPool,
				fmt.Sprintf("%s lies in IPAddressPool %s, which stellar-operator did not create; MetalLB refuses overlapping pools, so no second pool %s is made: set addressPool: %s, or leave it empty, or pick an address outside it",
					addr, foreign.Name, lb.AddressPool, foreign.Name))
			return poolChoice{}, false
		}
		return poolChoice{name: foreign.Name, existing: foreign}, true
	}
	name := DeclaredPool(p.node)
	if winner := p.addressWinner(addr); winner != nil && !sameNode(winner, p.node) {
		theirs := DeclaredPool(winner)
		if lb.AddressPool != "" && lb.AddressPool != theirs {
			p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonAddressInAnotherPool,
				fmt.Sprintf("%s is already in IPAddressPool %s of StellarNode %s; MetalLB refuses overlapping pools: set addressPool: %s or leave it empty",
					addr, theirs, NodeKey(winner), theirs))
			return poolChoice{}, false
		}
		name = theirs
	}
	if stale := p.otherOwnPoolContaining(addr, name); stale != nil {
		// MetalLB refuses a configuration with overlapping pools (all of it, not just the new
		// pool): the old pool must let go of the address first. It is collected or shrunk once no
		// node wins the address for it, and its change wakes this node.
		p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonAddressMoving,
			fmt.Sprintf("%s is still in IPAddressPool %s, which no StellarNode holds it for any more; IPAddressPool %s is created once %s lets go of it",
				addr, stale.Name, name, stale.Name))
		return poolChoice{}, false
	}
	if existing := p.existingPool(name); existing != nil && !existing.Ours {
		// The default pool name is taken by someone else's pool that does not hold the address.
		p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonAddressInForeignPool,
			fmt.Sprintf("IPAddressPool %s exists and is not stellar-operator's, and does not hold %s: name another addressPool", name, addr))
		return poolChoice{}, false
	}
	return poolChoice{name: name, ours: true}, true
}

// addPool renders the operator's pool: the host prefix of every address it holds (each node
// asking for an address of the pool, when the address is won by that pool), given only to the
// operator's LoadBalancer Services of the namespaces using it.
func (p *lbPlan) addPool(name string) {
	prefixes := map[string]bool{}
	namespaces := map[string]bool{}
	for _, member := range p.facts.Claims.ByPool(name) {
		addr, ok := member.Spec.LoadBalancer.Address()
		if !ok || p.foreignPoolContaining(addr) != nil {
			continue
		}
		winner := p.addressWinner(addr)
		if winner == nil || DeclaredPool(winner) != name {
			continue
		}
		prefixes[netip.PrefixFrom(addr, addr.BitLen()).String()] = true
		for _, c := range p.facts.Claims.ByAddress(addr) {
			if pool := c.Spec.LoadBalancer.AddressPool; p.allowed(c) && (pool == "" || pool == name) {
				namespaces[c.Namespace] = true
			}
		}
	}
	if addr, ok := p.node.Spec.LoadBalancer.Address(); ok {
		// The node itself, even before the cache shows it.
		prefixes[netip.PrefixFrom(addr, addr.BitLen()).String()] = true
	}
	namespaces[p.node.Namespace] = true
	if len(prefixes) == 0 {
		p.fail("spec.loadBalancer.addressPool", stellarv1.ReasonPoolMissing,
			fmt.Sprintf("IPAddressPool %s would hold no address: name a loadBalancerIP", name))
		return
	}
	p.add(&metallbv1beta1.IPAddressPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "IPAddressPool"},
		ObjectMeta: metallbMeta(p.node, p.facts, name, true),
		Spec: metallbv1beta1.IPAddressPoolSpec{
			Addresses: sortedKeys(prefixes),
			// Not auto-assigned: the pool exists for the addresses StellarNodes ask for by name.
			AutoAssign: ptr.To(false),
			AllocateTo: &metallbv1beta1.ServiceAllocation{
				Namespaces: sortedKeys(namespaces),
				ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{
					LabelManagedBy: ManagerName, LabelComponent: ComponentLoadBalancer,
				}}},
			},
		},
	})
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bgp renders the node's peers, password copies, BFD profile and its advertisement.
func (p *lbPlan) bgp(pool poolChoice) {
	node, m := p.node, p.facts
	bgp := node.Spec.LoadBalancer.BGP
	addr, _ := node.Spec.LoadBalancer.Address()
	peerRefs := p.peers()
	if p.blocked() {
		return
	}
	if len(bgp.Peers) > 0 && len(peerRefs) == 0 {
		// An advertisement without peers goes to every router MetalLB knows.
		p.fail("spec.loadBalancer.bgp.peers", stellarv1.ReasonNoUsablePeer, "no peer of this node can be configured; nothing is announced")
		return
	}
	p.bfdProfile(addr)
	p.report(priorityProblems(node, m.Mode)...)
	if bgp.LargeCommunities != nil && m.Mode == BGPModeNative {
		p.report(validate.Warnf("spec.loadBalancer.bgp.largeCommunities", stellarv1.ReasonUnsupportedByMetalLB,
			"large communities cannot take effect in MetalLB's native BGP mode and are left out of the BGPAdvertisement"))
	}
	v4, v6 := bgp.EffectiveAggregation()
	if addr.IsValid() {
		// Only the address's family matters; the other keeps its default so the advertisement
		// can still be limited to this node's Service.
		if addr.Is4() {
			v6 = stellarv1.DefaultAggregationLengthV6
		} else {
			v4 = stellarv1.DefaultAggregationLength
		}
	}
	adv := metallbv1beta1.BGPAdvertisementSpec{
		AggregationLength:   ptr.To(v4),
		AggregationLengthV6: ptr.To(v6),
		Communities:         AnnouncedCommunities(node, m.Mode),
		IPAddressPools:      []string{pool.name},
		NodeSelectors:       bgp.EffectiveNodeSelectors(),
		Peers:               peerRefs,
	}
	if lp := bgp.EffectiveLocalPref(); lp != nil {
		adv.LocalPref = uint32(*lp)
	}
	if v4 == stellarv1.DefaultAggregationLength && v6 == stellarv1.DefaultAggregationLengthV6 {
		adv.ServiceSelectors = serviceSelector(node)
	} else if !p.aggregationAllowed(pool, addr, &adv) {
		return
	}
	p.add(&metallbv1beta1.BGPAdvertisement{
		TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "BGPAdvertisement"},
		ObjectMeta: metallbMeta(node, m, PerNodeName(node), false),
		Spec:       adv,
	})
	if addr.IsValid() {
		if prefix, err := addr.Prefix(int(bgp.AggregationFor(addr))); err == nil {
			p.status.AdvertisedPrefixes = []string{prefix.String()}
		}
	}
	p.status.Communities = adv.Communities
	p.status.LocalPref = bgp.EffectiveLocalPref()
}

// aggregationAllowed decides a non-default aggregation. MetalLB then drops serviceSelectors, so
// the advertisement (its communities, localPref, nodes) applies to every Service of the pool: it is
// allowed only on someone else's pool reserved for this node's namespace and used by no other
// StellarNode, and only where MetalLB would accept it.
func (p *lbPlan) aggregationAllowed(pool poolChoice, addr netip.Addr, adv *metallbv1beta1.BGPAdvertisementSpec) bool {
	field := "spec.loadBalancer.bgp.advertisement.aggregationLength"
	if addr.Is6() {
		field += "V6"
	}
	length := p.node.Spec.LoadBalancer.BGP.AggregationFor(addr)
	if pool.ours {
		p.fail(field, stellarv1.ReasonAggregationTooShort,
			fmt.Sprintf("aggregation /%d is shorter than the /%d host prefix of the operator's pool %s, which MetalLB rejects; an aggregate needs an IPAddressPool of that size (addressPool)",
				length, addr.BitLen(), pool.name))
		return false
	}
	if bits, ok := PoolContains(pool.existing.Addresses, addr); ok && int(length) < bits {
		p.fail(field, stellarv1.ReasonAggregationTooShort,
			fmt.Sprintf("aggregation /%d is shorter than the pool's /%d prefix, which MetalLB rejects", length, bits))
		return false
	}
	alloc := pool.existing.Allocation
	if alloc == nil || len(alloc.Namespaces) != 1 || alloc.Namespaces[0] != p.node.Namespace {
		p.fail(field, stellarv1.ReasonAdvertisementWouldWiden,
			fmt.Sprintf("with aggregation /%d MetalLB cannot limit the advertisement to this node's Service: it would apply to every Service of IPAddressPool %s; reserve the pool for namespace %s (serviceAllocation.namespaces) or announce /%d",
				length, pool.name, p.node.Namespace, addr.BitLen()))
		return false
	}
	for _, other := range p.facts.Claims.ByPool(pool.name) {
		if !sameNode(other, p.node) {
			p.fail(field, stellarv1.ReasonAdvertisementWouldWiden,
				fmt.Sprintf("with aggregation /%d the advertisement would also apply to StellarNode %s, which uses IPAddressPool %s too", length, NodeKey(other), pool.name))
			return false
		}
	}
	for _, other := range p.facts.Advertisements {
		if advertisesPool(other.Spec, pool.name) && len(other.Spec.ServiceSelectors) == 0 &&
			ptr.Deref(other.Spec.AggregationLength, 32) == ptr.Deref(adv.AggregationLength, 32) &&
			ptr.Deref(other.Spec.AggregationLengthV6, 128) == ptr.Deref(adv.AggregationLengthV6, 128) &&
			other.Spec.LocalPref != adv.LocalPref {
			p.fail("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefConflict,
				fmt.Sprintf("BGPAdvertisement %s already announces pool %s with localPref %d; MetalLB refuses a different one for the same prefix", other.Name, pool.name, other.Spec.LocalPref))
			return false
		}
	}
	return true
}

func advertisesPool(adv metallbv1beta1.BGPAdvertisementSpec, pool string) bool {
	if len(adv.IPAddressPools) == 0 && len(adv.IPAddressPoolSelectors) == 0 {
		return true
	}
	for _, name := range adv.IPAddressPools {
		if name == pool {
			return true
		}
	}
	return false
}

// peers renders the node's BGPPeers and password copies and returns the names its advertisement
// references.
func (p *lbPlan) peers() []string {
	node, m := p.node, p.facts
	bgp := node.Spec.LoadBalancer.BGP
	var refs []string
	rendered := map[string]PeerDefinition{}
	for i := range bgp.Peers {
		spec := &bgp.Peers[i]
		router, ok := spec.ParsedAddress()
		if !ok {
			continue
		}
		field := fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i)
		status := stellarv1.PeerStatus{Address: router.String(), ASN: spec.ASN}
		if foreign := foreignPeerFor(m.Peers, router); foreign != nil {
			if foreign.Spec.MyASN != uint32(bgp.LocalASN) || foreign.Spec.ASN != uint32(spec.ASN) {
				p.fail(field, stellarv1.ReasonPeerConflict,
					fmt.Sprintf("router %s is already configured by BGPPeer %s (not stellar-operator's) with myASN %d and peerASN %d; MetalLB peers with a router once",
						router, foreign.Name, foreign.Spec.MyASN, foreign.Spec.ASN))
				continue
			}
			status.Name = foreign.Name
			refs = append(refs, foreign.Name)
			p.status.Peers = append(p.status.Peers, status)
			continue
		}
		name := PeerName(router)
		status.Name = name
		def, defProblems := PeerDefinitionFor(node, i, m.Mode)
		p.report(defProblems...)
		if winner, winnerDef := p.routerWinner(router); winner != nil && !sameNode(winner, node) && !equalDefinitions(winnerDef, def) {
			p.report(validate.Warnf(field, stellarv1.ReasonPeerConflict,
				fmt.Sprintf("router %s is already defined differently by StellarNode %s; BGPPeer %s keeps that definition", router, NodeKey(winner), name)))
			refs = append(refs, name)
			p.status.Peers = append(p.status.Peers, status)
			continue
		}
		if spec.PasswordSecretRef != nil && m.PeerPasswords != nil {
			password, ok := m.PeerPasswords[i]
			if !ok {
				// No session, and so no announcement, without its password.
				problem, known := m.PeerPasswordProblems[i]
				if !known {
					problem = validate.Errorf(field+".passwordSecretRef", stellarv1.ReasonSecretMissing, "the MD5 password of router "+router.String()+" could not be read")
				}
				problem.Severity, problem.Scope = validate.SeverityError, validate.ScopeLoadBalancer
				p.report(problem)
				continue
			}
			secretMeta := metallbMeta(node, m, PeerPasswordSecretName(router), true)
			secretMeta.Annotations = map[string]string{AnnotationRouter: router.String()}
			p.add(&corev1.Secret{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
				ObjectMeta: secretMeta,
				Type:       corev1.SecretTypeBasicAuth,
				Data:       map[string][]byte{MD5PasswordKey: password},
			})
		}
		rendered[name] = def
		p.add(&metallbv1beta2.BGPPeer{
			TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta2.GroupVersion.String(), Kind: "BGPPeer"},
			ObjectMeta: metallbMeta(node, m, name, true),
			Spec:       def.Spec,
		})
		refs = append(refs, name)
		p.status.Peers = append(p.status.Peers, status)
	}
	if m.Mode != BGPModeNative {
		p.checkFRRPeers(rendered)
	}
	return refs
}

// routerWinner is the oldest allowed node peering with router, and its definition of the session.
func (p *lbPlan) routerWinner(router netip.Addr) (*stellarv1.StellarNode, PeerDefinition) {
	for _, n := range p.facts.Claims.ByRouter(router) {
		if !p.allowed(n) {
			continue
		}
		for j := range n.Spec.LoadBalancer.BGP.Peers {
			if addr, ok := n.Spec.LoadBalancer.BGP.Peers[j].ParsedAddress(); ok && addr == router {
				def, _ := PeerDefinitionFor(n, j, p.facts.Mode)
				return n, def
			}
		}
	}
	return nil, PeerDefinition{}
}

func foreignPeerFor(peers []ExistingPeer, router netip.Addr) *ExistingPeer {
	for i := range peers {
		if addr, ok := stellarv1.ParseAddress(peers[i].Spec.Address); ok && addr == router && !peers[i].Ours {
			return &peers[i]
		}
	}
	return nil
}

// checkFRRPeers applies MetalLB's FRR-mode rules to the peers this node writes: every BGPPeer that
// may run on the same Kubernetes node must share one myASN and one router ID.
func (p *lbPlan) checkFRRPeers(rendered map[string]PeerDefinition) {
	names := sortedDefinitionNames(rendered)
	for _, name := range names {
		def := rendered[name]
		for _, other := range p.facts.Peers {
			if _, mine := rendered[other.Name]; mine || other.Spec.VRFName != "" {
				continue
			}
			if !validate.SelectorsMayOverlap(def.Spec.NodeSelectors, other.Spec.NodeSelectors) {
				continue
			}
			owner := "stellar-operator's"
			if !other.Ours {
				owner = "not stellar-operator's"
			}
			if other.Spec.MyASN != def.Spec.MyASN {
				p.fail("spec.loadBalancer.bgp.localASN", stellarv1.ReasonMyASNConflict,
					fmt.Sprintf("BGPPeer %s (%s) uses myASN %d on nodes this node's peer %s may run on; in FRR mode MetalLB refuses two local ASNs on one node: use localASN %d or advertisement.nodeSelectors that exclude those nodes",
						other.Name, owner, other.Spec.MyASN, name, other.Spec.MyASN))
				return
			}
			if other.Spec.RouterID != def.Spec.RouterID {
				p.fail("spec.loadBalancer.bgp.peers", stellarv1.ReasonRouterIDConflict,
					fmt.Sprintf("BGPPeer %s (%s) sets routerID %q on nodes this node's peer %s may run on; in FRR mode MetalLB refuses different router IDs on one node",
						other.Name, owner, other.Spec.RouterID, name))
				return
			}
		}
	}
}

func sortedDefinitionNames(defs map[string]PeerDefinition) []string {
	out := make([]string, 0, len(defs))
	for k := range defs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bfdProfile renders the node's BFD profile when it is the operator's to create.
func (p *lbPlan) bfdProfile(addr netip.Addr) {
	bgp := p.node.Spec.LoadBalancer.BGP
	name := bgp.EffectiveBFDProfile()
	if name == "" || p.facts.Mode == BGPModeNative {
		return
	}
	p.status.BFDProfile = name
	for _, existing := range p.facts.BFDProfiles {
		if existing.Name != name || existing.Ours {
			continue
		}
		if existing.EchoMode && addr.Is6() {
			p.fail("spec.loadBalancer.bgp.bfdProfile", stellarv1.ReasonBFDEchoWithIPv6,
				fmt.Sprintf("BFDProfile %s has echo mode on, which MetalLB refuses for peers announcing IPv6", name))
		}
		return
	}
	p.add(&metallbv1beta1.BFDProfile{
		TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "BFDProfile"},
		ObjectMeta: metallbMeta(p.node, p.facts, name, true),
		Spec: metallbv1beta1.BFDProfileSpec{
			ReceiveInterval: ptr.To[uint32](300), TransmitInterval: ptr.To[uint32](300), DetectMultiplier: ptr.To[uint32](3),
		},
	})
}

// service is the node's LoadBalancer Service. It is separate from the ClusterIP Service so that
// turning the load balancer on or off never changes the in-cluster address clients use, and so
// MetalLB's annotations and the external ports live on one object the operator fully owns.
func (p *lbPlan) service(pool string) *corev1.Service {
	node := p.node
	lb := node.Spec.LoadBalancer
	annotations := map[string]string{}
	for k, v := range lb.Annotations {
		if validate.ControlledAnnotation(k) == "" {
			annotations[k] = v
		}
	}
	for k, v := range externalDNSAnnotations(node, p.discovery) {
		annotations[k] = v
	}
	annotations[AnnotationAddressPool] = pool
	ports := LBPorts(node)
	etp := lb.EffectiveExternalTrafficPolicy()
	if addr, ok := lb.Address(); ok {
		annotations[AnnotationLBIPs] = addr.String()
		var others []IPClaim
		for _, o := range p.facts.Claims.ByAddress(addr) {
			// A Service of another load-balancer class is another implementation's (another
			// cluster's, in the e2e): MetalLB never has to share the address with it.
			if !sameNode(o, node) && p.allowed(o) && o.Spec.LoadBalancer.LoadBalancerClass == lb.LoadBalancerClass {
				others = append(others, IPClaim{Node: NodeKey(o), Ports: LBPorts(o), ExternalTrafficPolicy: o.Spec.LoadBalancer.EffectiveExternalTrafficPolicy()})
			}
		}
		shareProblems := sharedIPProblems(node, addr, others, ports, etp)
		p.report(shareProblems...)
		if len(others) > 0 && len(shareProblems) == 0 {
			annotations[AnnotationAllowSharedIP] = "stellar-" + dashed(addr.String())
		}
	}
	meta := owned(node, LoadBalancerServiceName(node), ComponentLoadBalancer)
	meta.Annotations = annotations
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: etp,
			Selector:              SelectorLabels(node),
			Ports:                 ports,
		},
	}
	if lb.LoadBalancerClass != "" {
		svc.Spec.LoadBalancerClass = ptr.To(lb.LoadBalancerClass)
	}
	withDiscovery(svc, node, p.discovery)
	return svc
}

// LBPorts are the LoadBalancer Service's ports: the node's client ports plus the health sidecar's
// public readiness port, so external load balancers and DNS health checks can probe it. The
// sidecar's /status and /metrics listen on another port that is never exposed here.
func LBPorts(node *stellarv1.StellarNode) []corev1.ServicePort {
	ports := ServicePorts(node)
	if enabled, port := node.HealthCheck(); enabled {
		ports = append(ports, corev1.ServicePort{Name: ContainerHealth, Port: port, TargetPort: intstr.FromString(ContainerHealth), Protocol: corev1.ProtocolTCP})
	}
	return ports
}

// SharedObjectNames are the shared MetalLB objects (pool, peers, password copies, BFD profile) a
// node wants, by kind; objects that are not the operator's are not listed. The controller keeps
// every shared object some StellarNode still wants and deletes the rest.
func SharedObjectNames(node *stellarv1.StellarNode, m MetalLBFacts) map[string][]string {
	out := map[string][]string{}
	if !node.LoadBalancerEnabled() || !node.DeletionTimestamp.IsZero() || !validate.PolicyAllows(node, m.Policy) {
		return out
	}
	plan := &lbPlan{node: node, facts: m}
	if plan.facts.Claims == nil {
		plan.facts.Claims = NewClaims(node)
	}
	if pool, ok := plan.resolvePool(); ok && pool.ours {
		out["IPAddressPool"] = append(out["IPAddressPool"], pool.name)
	}
	bgp := node.BGP()
	if bgp == nil {
		return out
	}
	for i := range bgp.Peers {
		router, ok := bgp.Peers[i].ParsedAddress()
		if !ok || foreignPeerFor(m.Peers, router) != nil {
			continue
		}
		out["BGPPeer"] = append(out["BGPPeer"], PeerName(router))
		if bgp.Peers[i].PasswordSecretRef != nil {
			out["Secret"] = append(out["Secret"], PeerPasswordSecretName(router))
		}
	}
	if name := bgp.EffectiveBFDProfile(); name != "" && m.Mode != BGPModeNative && !foreignBFDProfile(m.BFDProfiles, name) {
		out["BFDProfile"] = append(out["BFDProfile"], name)
	}
	return out
}

func foreignBFDProfile(profiles []ExistingBFDProfile, name string) bool {
	for _, p := range profiles {
		if p.Name == name && !p.Ours {
			return true
		}
	}
	return false
}

// sharedIPProblems: MetalLB gives one IP to several Services only with allow-shared-ip, no port
// clash, and — with externalTrafficPolicy Local — identical selectors, which two StellarNodes never
// have. Anycast siblings belong in different clusters.
func sharedIPProblems(node *stellarv1.StellarNode, addr netip.Addr, others []IPClaim, ports []corev1.ServicePort, etp corev1.ServiceExternalTrafficPolicy) []validate.Problem {
	if len(others) == 0 {
		return nil
	}
	names := make([]string, 0, len(others))
	for _, o := range others {
		names = append(names, o.Node)
	}
	sort.Strings(names)
	field := "spec.loadBalancer.loadBalancerIP"
	if etp == corev1.ServiceExternalTrafficPolicyLocal {
		return []validate.Problem{validate.Warnf(field, stellarv1.ReasonIPConflict, fmt.Sprintf(
			"%s is also asked for by %s in this cluster: MetalLB shares an IP between Services with externalTrafficPolicy Local only when they select the same pods; announce anycast siblings from different clusters",
			addr, strings.Join(names, ", ")))}
	}
	for _, o := range others {
		for _, mine := range ports {
			for _, theirs := range o.Ports {
				if mine.Port == theirs.Port && mine.Protocol == theirs.Protocol {
					return []validate.Problem{validate.Warnf(field, stellarv1.ReasonIPConflict, fmt.Sprintf(
						"%s is also used by %s with the same port %d/%s: MetalLB cannot share it", addr, o.Node, mine.Port, mine.Protocol))}
				}
			}
		}
		if o.ExternalTrafficPolicy != etp {
			return []validate.Problem{validate.Warnf(field, stellarv1.ReasonIPConflict, fmt.Sprintf(
				"%s is also used by %s with another externalTrafficPolicy: MetalLB cannot share it", addr, o.Node))}
		}
	}
	return nil
}

// PoolContains reports whether ip is in one of a pool's entries (CIDR or a-b range), and the
// prefix length of the CIDR holding it (a range counts as host prefixes).
func PoolContains(addresses []string, ip netip.Addr) (int, bool) {
	return parsePoolAddresses(addresses).contains(ip)
}

// poolEntries are a pool's addresses parsed once: an operator's pool holds an address per node,
// and a pass over a fleet asks it about every sibling's address. Host prefixes are looked up,
// wider CIDRs and a-b ranges scanned.
type poolEntries struct {
	hosts    map[netip.Addr]bool
	prefixes []netip.Prefix
	ranges   [][2]netip.Addr
}

func parsePoolAddresses(addresses []string) poolEntries {
	var entries poolEntries
	for _, a := range addresses {
		a = strings.TrimSpace(a)
		if prefix, err := netip.ParsePrefix(a); err == nil {
			if prefix.IsSingleIP() {
				if entries.hosts == nil {
					entries.hosts = map[netip.Addr]bool{}
				}
				entries.hosts[prefix.Addr()] = true
			} else {
				entries.prefixes = append(entries.prefixes, prefix.Masked())
			}
			continue
		}
		from, to, ok := strings.Cut(a, "-")
		if !ok {
			continue
		}
		lo, ok1 := stellarv1.ParseAddress(from)
		hi, ok2 := stellarv1.ParseAddress(to)
		if ok1 && ok2 {
			entries.ranges = append(entries.ranges, [2]netip.Addr{lo, hi})
		}
	}
	return entries
}

// contains is PoolContains on parsed entries: the prefix length of a CIDR holding ip; a host
// prefix and a range count as host prefixes. (Entries never overlap: MetalLB refuses that.)
func (entries poolEntries) contains(ip netip.Addr) (int, bool) {
	for _, prefix := range entries.prefixes {
		if prefix.Contains(ip) {
			return prefix.Bits(), true
		}
	}
	if entries.hosts[ip] {
		return ip.BitLen(), true
	}
	for _, r := range entries.ranges {
		if r[0].Compare(ip) <= 0 && ip.Compare(r[1]) <= 0 {
			return ip.BitLen(), true
		}
	}
	return 0, false
}
