// Package plan explains the anycast topology of StellarNode manifests that may each live in a
// different cluster (anycast siblings do): which node announces which address to which router,
// with which LOCAL_PREF, communities and priority, and in which order regions take the traffic when
// the preferred one withdraws. It is pure: the CLI feeds it admitted manifests and the problems the
// operator would report for each, and prints what it decides.
package plan

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Input is one StellarNode manifest, judged on its own: each may be applied to another cluster.
type Input struct {
	// Source names the manifest (file, and document when a file holds several nodes).
	Source string
	// Key is namespace/name, which names the manifest when it did not even decode (Node nil).
	Key  string
	Node *stellarv1.StellarNode
	// Refused is true when the apiserver would refuse the manifest (Problems say why).
	Refused bool
	// Problems are the admission errors, or the problems the operator would report.
	Problems []validate.Problem
}

// Plan is the topology of a set of manifests.
type Plan struct {
	// Addresses are the announced addresses (or pools, for nodes naming only a pool), in order.
	Addresses []Address `json:"addresses"`
	// WithoutLoadBalancer are the nodes that announce nothing.
	WithoutLoadBalancer []string `json:"withoutLoadBalancer,omitempty"`
	// Problems are every node's problems, in input order.
	Problems []NodeProblem `json:"problems,omitempty"`
}

// Address is one announced address and everyone announcing it.
type Address struct {
	// Address is the loadBalancerIP; empty when the nodes name only a pool.
	Address    string      `json:"address,omitempty"`
	Pool       string      `json:"pool,omitempty"`
	Announcers []Announcer `json:"announcers"`
	// Failover is the order in which announcers take the traffic; equal ranks share it.
	Failover []Step `json:"failover"`
	// RankedBy says what decides the order: "localPref", "priority" or "nothing".
	RankedBy string `json:"rankedBy"`
	// Notes explain the order and what in the manifests undermines it.
	Notes []string `json:"notes,omitempty"`
}

// Announcer is one node announcing an address.
type Announcer struct {
	Node     string `json:"node"`
	Source   string `json:"source"`
	Refused  bool   `json:"refused,omitempty"`
	Region   string `json:"region,omitempty"`
	Zone     string `json:"zone,omitempty"`
	Priority *int32 `json:"priority,omitempty"`
	NodeType string `json:"nodeType"`
	Network  string `json:"network"`
	Mode     string `json:"mode"`
	Pool     string `json:"pool,omitempty"`
	// Prefix is what the routers see: the address at the advertisement's aggregation length.
	Prefix   string `json:"prefix,omitempty"`
	LocalASN int64  `json:"localASN,omitempty"`
	// Routers are the BGP sessions; empty in BGP mode means every BGPPeer of the cluster's MetalLB.
	Routers     []Router `json:"routers,omitempty"`
	LocalPref   *int64   `json:"localPref,omitempty"`
	Communities []string `json:"communities,omitempty"`
	// AnnouncingNodes says which Kubernetes nodes announce.
	AnnouncingNodes string `json:"announcingNodes"`
	// HealthDriven is true when a node withdraws the route while its pods are not ready
	// (externalTrafficPolicy Local).
	HealthDriven bool `json:"healthDriven"`
}

// Router is one BGP session of an announcer.
type Router struct {
	Address string `json:"address"`
	ASN     int64  `json:"asn"`
	// Session is iBGP (the router is in the announcer's AS) or eBGP.
	Session string `json:"session"`
}

// Step is one place in the failover order.
type Step struct {
	Rank   int    `json:"rank"`
	Node   string `json:"node"`
	Region string `json:"region,omitempty"`
	// By is the value that ranks it, e.g. "localPref 100" or "priority 90".
	By string `json:"by"`
}

// NodeProblem is a problem of one node.
type NodeProblem struct {
	Node     string            `json:"node"`
	Source   string            `json:"source"`
	Severity validate.Severity `json:"severity"`
	Reason   string            `json:"reason"`
	Field    string            `json:"field"`
	Message  string            `json:"message"`
}

// Session types.
const (
	IBGP = "iBGP"
	EBGP = "eBGP"
)

// What ranks the failover order.
const (
	RankedByLocalPref = "localPref"
	RankedByPriority  = "priority"
	RankedByNothing   = "nothing"
)

// defaultLocalPref is what a router assumes for a path without LOCAL_PREF (RFC 4271 leaves it to
// the implementation; FRR, BIRD, Junos and IOS all use 100).
const defaultLocalPref = 100

// Build decides the plan of inputs, in MetalLB's BGP mode (it decides which communities are sent).
func Build(inputs []Input, mode render.BGPMode) Plan {
	var p Plan
	groups := map[string]*Address{}
	var order []string
	for _, in := range inputs {
		key := in.Key
		if in.Node != nil {
			key = render.NodeKey(in.Node)
		}
		for _, problem := range in.Problems {
			p.Problems = append(p.Problems, NodeProblem{Node: key, Source: in.Source,
				Severity: problem.Severity, Reason: problem.Reason, Field: problem.Field, Message: problem.Message})
		}
		if in.Node == nil {
			continue
		}
		if !in.Node.LoadBalancerEnabled() {
			p.WithoutLoadBalancer = append(p.WithoutLoadBalancer, key)
			continue
		}
		group := groupKey(in.Node)
		if groups[group] == nil {
			groups[group] = &Address{Pool: render.DeclaredPool(in.Node)}
			if addr, ok := in.Node.Spec.LoadBalancer.Address(); ok {
				groups[group].Address = addr.String()
			}
			order = append(order, group)
		}
		groups[group].Announcers = append(groups[group].Announcers, announcer(in, mode))
	}
	for _, key := range order {
		a := groups[key]
		a.Failover, a.RankedBy, a.Notes = failover(a.Announcers)
		p.Addresses = append(p.Addresses, *a)
	}
	return p
}

// groupKey puts siblings together: by address, else by the pool they name.
func groupKey(node *stellarv1.StellarNode) string {
	if addr, ok := node.Spec.LoadBalancer.Address(); ok {
		return "address " + addr.String()
	}
	return "pool " + render.DeclaredPool(node)
}

func announcer(in Input, mode render.BGPMode) Announcer {
	node := in.Node
	lb := node.Spec.LoadBalancer
	a := Announcer{
		Node:         render.NodeKey(node),
		Source:       in.Source,
		Refused:      in.Refused,
		NodeType:     string(node.Spec.NodeType),
		Network:      string(node.Spec.Network),
		Mode:         string(lb.EffectiveMode()),
		Pool:         render.DeclaredPool(node),
		HealthDriven: lb.EffectiveExternalTrafficPolicy() == "Local",
	}
	if gd := node.EffectiveGlobalDiscovery(); gd != nil {
		a.Region, a.Zone = gd.Region, gd.Zone
		priority := gd.EffectivePriority()
		a.Priority = &priority
	}
	addr, hasAddr := lb.Address()
	if hasAddr {
		a.Prefix = netip.PrefixFrom(addr, addr.BitLen()).String()
	}
	bgp := node.BGP()
	if bgp == nil {
		a.AnnouncingNodes = "L2: one node at a time answers ARP/NDP on the cluster's segment"
		return a
	}
	if hasAddr {
		if prefix, err := addr.Prefix(int(bgp.AggregationFor(addr))); err == nil {
			a.Prefix = prefix.String()
		}
	}
	a.LocalASN = bgp.LocalASN
	for i := range bgp.Peers {
		peer := &bgp.Peers[i]
		router := Router{Address: peer.Address, ASN: peer.ASN, Session: EBGP}
		if parsed, ok := peer.ParsedAddress(); ok {
			router.Address = parsed.String()
		}
		if bgp.IBGP(peer) {
			router.Session = IBGP
		}
		a.Routers = append(a.Routers, router)
	}
	a.LocalPref = bgp.EffectiveLocalPref()
	a.Communities = render.Communities(bgp, mode)
	a.AnnouncingNodes = announcingNodes(bgp.EffectiveNodeSelectors())
	if a.HealthDriven {
		a.AnnouncingNodes += " with a ready pod"
	}
	return a
}

func announcingNodes(selectors []metav1.LabelSelector) string {
	if len(selectors) == 0 {
		return "every node"
	}
	var parts []string
	for _, s := range selectors {
		parts = append(parts, metav1.FormatLabelSelector(&s))
	}
	return "nodes matching " + strings.Join(parts, " or ")
}

// failover ranks the announcers of one address. LOCAL_PREF orders paths only inside one AS (it is
// never sent over eBGP), so it ranks the siblings only when every one of them peers over iBGP in
// one and the same AS. Otherwise the BGP attributes the operator sets cannot order regions that
// sit in different ASes, and the order shown is globalDiscovery.priority — the DNS weight — with a
// note saying what would make the routers follow it.
func failover(announcers []Announcer) ([]Step, string, []string) {
	var notes []string
	var bgp []Announcer
	for _, a := range announcers {
		if a.Mode == string(stellarv1.LoadBalancerBGP) {
			bgp = append(bgp, a)
		}
	}
	if l2 := len(announcers) - len(bgp); l2 > 0 && len(announcers) > 1 {
		notes = append(notes, fmt.Sprintf("%d of %d announce in L2 mode: an L2 address is reachable only on its own cluster's network segment, so it is not anycast and not in the order below", l2, len(announcers)))
	}
	notes = append(notes, consistencyNotes(bgp)...)
	if refused := countRefused(bgp); refused > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d manifests are refused by the apiserver as written (see the problems): the order is what they would give once admitted", refused, len(bgp)))
	}
	switch {
	case len(bgp) == 0:
		return nil, RankedByNothing, notes
	case len(bgp) == 1:
		return rank(bgp, RankedByNothing), RankedByNothing, notes
	}
	if as, ok := oneIBGPDomain(bgp); ok {
		notes = append(notes, fmt.Sprintf("every announcer peers over iBGP inside AS %d, so its routers compare LOCAL_PREF (higher wins; unset counts as %d)", as, defaultLocalPref))
		if allEqual(bgp, func(a Announcer) string { return fmt.Sprint(effectiveLocalPref(a)) }) {
			notes = append(notes, "every announcer has the same LOCAL_PREF: the routers pick by IGP cost to the next hop, then router ID (or spread the traffic with multipath)")
		}
		return rank(bgp, RankedByLocalPref), RankedByLocalPref, notes
	}
	notes = append(notes, whyLocalPrefDoesNotOrder(bgp)...)
	notes = append(notes, communityNote(bgp))
	if allEqual(bgp, func(a Announcer) string { return fmt.Sprint(effectivePriority(a)) }) {
		return rank(bgp, RankedByNothing), RankedByNothing, append(notes,
			"no globalDiscovery.priority tells the regions apart either: nothing the manifests set orders them; the routers pick by AS-path length, MED and router ID")
	}
	return rank(bgp, RankedByPriority), RankedByPriority, append(notes,
		"the order shown is globalDiscovery.priority (higher first): the DNS weight of globalDiscovery.externalDns; for BGP to follow it, give each region a community of its own that the routers map to a local-pref, or prepend the AS path of the lower ones")
}

// oneIBGPDomain reports whether every announcer peers, only over iBGP, in one AS.
func oneIBGPDomain(announcers []Announcer) (int64, bool) {
	as := announcers[0].LocalASN
	for _, a := range announcers {
		if a.LocalASN != as || len(a.Routers) == 0 {
			return 0, false
		}
		for _, r := range a.Routers {
			if r.Session != IBGP {
				return 0, false
			}
		}
	}
	return as, true
}

// whyLocalPrefDoesNotOrder names what keeps LOCAL_PREF from ordering the siblings.
func whyLocalPrefDoesNotOrder(announcers []Announcer) []string {
	var notes []string
	asns := map[int64]bool{}
	var ebgp, unknown []string
	for _, a := range announcers {
		asns[a.LocalASN] = true
		if len(a.Routers) == 0 {
			unknown = append(unknown, a.Node)
		}
		for _, r := range a.Routers {
			if r.Session == EBGP {
				ebgp = append(ebgp, fmt.Sprintf("%s → %s (AS %d)", a.Node, r.Address, r.ASN))
			}
		}
	}
	if len(asns) > 1 {
		notes = append(notes, fmt.Sprintf("the announcers are in different ASes (%s): LOCAL_PREF does not travel between ASes (it is never sent over eBGP), so each one's localPref orders paths only inside its own AS, never one region against another", joinASNs(asns)))
	}
	if len(ebgp) > 0 {
		notes = append(notes, "eBGP sessions carry no LOCAL_PREF at all: "+strings.Join(ebgp, ", "))
	}
	if len(unknown) > 0 {
		notes = append(notes, "no peers listed (the announcement goes to every BGPPeer of the cluster's MetalLB, iBGP or eBGP): "+strings.Join(unknown, ", "))
	}
	return notes
}

// communityNote says whether communities can tell the siblings apart.
func communityNote(announcers []Announcer) string {
	if allEqual(announcers, func(a Announcer) string { return strings.Join(a.Communities, ",") }) {
		if len(announcers[0].Communities) == 0 {
			return "no announcer sets communities, so routers cannot map them to a preference"
		}
		return fmt.Sprintf("every announcer sends the same communities (%s): they cannot tell the regions apart", strings.Join(announcers[0].Communities, ", "))
	}
	var parts []string
	for _, a := range announcers {
		parts = append(parts, fmt.Sprintf("%s %s", label(a), orNone(a.Communities)))
	}
	return "communities differ per region (" + strings.Join(parts, "; ") + "): routers that map them to local-pref decide the order with that mapping; check it matches the order below"
}

// consistencyNotes are what makes siblings of one address unequal whatever the preference.
func consistencyNotes(announcers []Announcer) []string {
	var notes []string
	if !allEqual(announcers, func(a Announcer) string { return a.Prefix }) {
		var parts []string
		for _, a := range announcers {
			parts = append(parts, label(a)+" "+a.Prefix)
		}
		notes = append(notes, "the announced prefixes differ ("+strings.Join(parts, ", ")+"): routers prefer the longest prefix before any LOCAL_PREF, so its announcer takes every client that can reach it")
	}
	if !allEqual(announcers, func(a Announcer) string { return a.NodeType + "/" + a.Network }) {
		var parts []string
		for _, a := range announcers {
			parts = append(parts, label(a)+" "+a.NodeType+" on "+a.Network)
		}
		notes = append(notes, "the siblings do not serve the same thing ("+strings.Join(parts, ", ")+"): a client of the address gets whichever is nearest")
	}
	var notHealthDriven []string
	for _, a := range announcers {
		if !a.HealthDriven {
			notHealthDriven = append(notHealthDriven, a.Node)
		}
	}
	if len(notHealthDriven) > 0 {
		notes = append(notes, "externalTrafficPolicy Cluster: these keep announcing while their pods are not ready, so they never fail over: "+strings.Join(notHealthDriven, ", "))
	}
	return notes
}

// rank orders announcers by what ranks them; announcers with equal values share a rank.
func rank(announcers []Announcer, by string) []Step {
	key := func(a Announcer) int64 {
		switch by {
		case RankedByLocalPref:
			return effectiveLocalPref(a)
		case RankedByPriority:
			return int64(effectivePriority(a))
		}
		return 0
	}
	sorted := append([]Announcer(nil), announcers...)
	sort.SliceStable(sorted, func(i, j int) bool { return key(sorted[i]) > key(sorted[j]) })
	steps := make([]Step, len(sorted))
	for i, a := range sorted {
		r := i + 1
		if i > 0 && key(a) == key(sorted[i-1]) {
			r = steps[i-1].Rank
		}
		steps[i] = Step{Rank: r, Node: a.Node, Region: a.Region, By: describe(a, by)}
	}
	return steps
}

func describe(a Announcer, by string) string {
	switch by {
	case RankedByLocalPref:
		if a.LocalPref == nil {
			return fmt.Sprintf("localPref unset (%d)", defaultLocalPref)
		}
		return fmt.Sprintf("localPref %d", *a.LocalPref)
	case RankedByPriority:
		return fmt.Sprintf("priority %d", effectivePriority(a))
	}
	return "-"
}

func effectiveLocalPref(a Announcer) int64 {
	if a.LocalPref == nil {
		return defaultLocalPref
	}
	return *a.LocalPref
}

// effectivePriority is the announcer's priority; a node without global discovery has the default.
func effectivePriority(a Announcer) int32 {
	if a.Priority == nil {
		return stellarv1.DefaultPriority
	}
	return *a.Priority
}

func countRefused(announcers []Announcer) int {
	n := 0
	for _, a := range announcers {
		if a.Refused {
			n++
		}
	}
	return n
}

func allEqual(announcers []Announcer, value func(Announcer) string) bool {
	for _, a := range announcers[1:] {
		if value(a) != value(announcers[0]) {
			return false
		}
	}
	return true
}

// label names an announcer by region when it has one.
func label(a Announcer) string {
	if a.Region != "" {
		return a.Region
	}
	return a.Node
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ",")
}

func joinASNs(asns map[int64]bool) string {
	list := make([]int64, 0, len(asns))
	for as := range asns {
		list = append(list, as)
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	parts := make([]string, len(list))
	for i, as := range list {
		parts[i] = fmt.Sprint(as)
	}
	return strings.Join(parts, ", ")
}
