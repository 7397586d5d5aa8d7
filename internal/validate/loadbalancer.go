package validate

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// LoadBalancerOptions are the cluster settings a single node's load balancer is checked against.
type LoadBalancerOptions struct {
	// NativeBGP is true when MetalLB runs its native BGP implementation.
	NativeBGP bool
}

// lbCheck is one named rule of a load balancer.
type lbCheck struct {
	name  string
	check func(node *stellarv1.StellarNode, opts LoadBalancerOptions) []Problem
}

// lbChecks are the single-node rules, in the order their problems are reported. They repeat what
// admission (CRD schema and CEL) enforces, for objects that never met an apiserver (the CLI), and
// add what CEL cannot say.
func lbChecks() []lbCheck {
	return []lbCheck{
		{"address is announceable", checkAddress},
		{"an address or a pool is named", checkAddressOrPool},
		{"pool name is valid", checkPoolName},
		{"annotations leave MetalLB and external-dns keys to the spec", checkAnnotations},
		{"health port is free", checkHealthPort},
		{"BGP uses externalTrafficPolicy Local", checkTrafficPolicy},
		{"ASNs are 32-bit", checkASNs},
		{"peers are valid and distinct", checkPeers},
		{"communities are valid", checkCommunities},
		{"LOCAL_PREF can reach the peers", checkLocalPrefOverEBGP},
		{"node selectors are valid", checkNodeSelectors},
		{"BFD profile name is valid", checkBFDProfileName},
		{"native BGP mode announces IPv4 only", checkNativeIPv6},
	}
}

// LoadBalancer runs every single-node check of a node's load balancer. Errors stop the load
// balancer only (scope LoadBalancer); warnings explain what will not behave as the spec suggests.
func LoadBalancer(node *stellarv1.StellarNode, opts LoadBalancerOptions) []Problem {
	if !node.LoadBalancerEnabled() {
		return nil
	}
	var problems []Problem
	for _, c := range lbChecks() {
		problems = append(problems, c.check(node, opts)...)
	}
	return WithScope(problems, ScopeLoadBalancer)
}

// Announceable explains why addr can never be announced to clients, or returns nil.
func Announceable(addr netip.Addr) error {
	switch {
	case addr.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address", addr)
	case addr.IsLoopback():
		return fmt.Errorf("%s is a loopback address", addr)
	case addr.IsLinkLocalUnicast():
		return fmt.Errorf("%s is a link-local address", addr)
	case addr.IsMulticast():
		return fmt.Errorf("%s is a multicast address", addr)
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is the broadcast address", addr)
	case addr.Is4() && addr.As4()[0] == 0:
		return fmt.Errorf("%s is in 0.0.0.0/8 (this network)", addr)
	}
	return nil
}

func checkAddress(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	lb := node.Spec.LoadBalancer
	if lb.LoadBalancerIP == "" {
		return nil
	}
	field := "spec.loadBalancer.loadBalancerIP"
	addr, ok := lb.Address()
	if !ok {
		return []Problem{Errorf(field, stellarv1.ReasonInvalidSpec, fmt.Sprintf("%q is not an IP address", lb.LoadBalancerIP))}
	}
	if err := Announceable(addr); err != nil {
		return []Problem{Errorf(field, stellarv1.ReasonInvalidSpec, err.Error()+": it can never be announced")}
	}
	return nil
}

func checkAddressOrPool(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	lb := node.Spec.LoadBalancer
	if lb.LoadBalancerIP == "" && lb.AddressPool == "" {
		return []Problem{Errorf("spec.loadBalancer", stellarv1.ReasonInvalidSpec,
			"name a loadBalancerIP or an addressPool: without either MetalLB would pick any pool, and the advertisement could not be limited to it")}
	}
	return nil
}

func checkPoolName(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	pool := node.Spec.LoadBalancer.AddressPool
	if pool != "" && len(validation.IsDNS1123Label(pool)) > 0 {
		return []Problem{Errorf("spec.loadBalancer.addressPool", stellarv1.ReasonInvalidSpec,
			fmt.Sprintf("%q is not a valid IPAddressPool name (lowercase letters, digits and '-', at most 63)", pool))}
	}
	return nil
}

// ControlledAnnotation explains why the spec, not a user annotation, owns key; "" when the key is
// the user's. MetalLB's keys would bypass every address and pool check; external-dns' hostname and
// ttl belong to globalDiscovery.externalDns.
func ControlledAnnotation(key string) string {
	for _, prefix := range []string{"metallb.io/", "metallb.universe.tf/"} {
		if strings.HasPrefix(key, prefix) {
			return "MetalLB annotations are set by the operator from loadBalancer (addressPool, loadBalancerIP)"
		}
	}
	for _, prefix := range []string{"external-dns.alpha.kubernetes.io/", "external-dns.kubernetes.io/"} {
		if key == prefix+"hostname" || key == prefix+"ttl" {
			return "external-dns hostname and ttl are set from globalDiscovery.externalDns"
		}
	}
	return ""
}

func checkAnnotations(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	var problems []Problem
	check := func(field string, annotations map[string]string, allowExternalDNS bool) {
		keys := make([]string, 0, len(annotations))
		for k := range annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			why := ControlledAnnotation(k)
			if why == "" && !allowExternalDNS && strings.Contains(k, "external-dns") {
				why = "external-dns annotations belong in globalDiscovery.externalDns.annotations"
			}
			if why != "" {
				problems = append(problems, Errorf(field+"["+k+"]", stellarv1.ReasonInvalidSpec, fmt.Sprintf("annotation %s is not allowed: %s", k, why)))
			}
		}
	}
	check("spec.loadBalancer.annotations", node.Spec.LoadBalancer.Annotations, false)
	if gd := node.Spec.GlobalDiscovery; gd != nil && gd.ExternalDNS != nil {
		check("spec.globalDiscovery.externalDns.annotations", gd.ExternalDNS.Annotations, true)
	}
	return problems
}

func checkHealthPort(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	enabled, port := node.HealthCheck()
	if !enabled {
		return nil
	}
	for _, reserved := range node.Spec.NodeType.ReservedPorts() {
		if port == reserved {
			return []Problem{Errorf("spec.loadBalancer.healthCheckPort", stellarv1.ReasonInvalidSpec,
				fmt.Sprintf("port %d is used by the node's own containers (%s)", port, joinPorts(node.Spec.NodeType.ReservedPorts())))}
		}
	}
	return nil
}

func joinPorts(ports []int32) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = strconv.Itoa(int(p))
	}
	return strings.Join(parts, ", ")
}

func checkTrafficPolicy(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	if node.BGP() == nil || node.Spec.LoadBalancer.EffectiveExternalTrafficPolicy() != corev1.ServiceExternalTrafficPolicyCluster {
		return nil
	}
	return []Problem{Warnf("spec.loadBalancer.externalTrafficPolicy", stellarv1.ReasonNoHealthDrivenWithdrawal,
		"with externalTrafficPolicy Cluster every node announces the IP while any pod anywhere is ready: an unsynced region keeps its route; use Local for health-driven anycast failover")}
}

func checkASN(field string, asn int64) []Problem {
	if asn < 1 || asn > 4294967295 {
		return []Problem{Errorf(field, stellarv1.ReasonInvalidBGP, fmt.Sprintf("ASN %d is outside 1..4294967295", asn))}
	}
	return nil
}

func checkASNs(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	bgp := node.BGP()
	if bgp == nil {
		return nil
	}
	problems := checkASN("spec.loadBalancer.bgp.localASN", bgp.LocalASN)
	for i, p := range bgp.Peers {
		problems = append(problems, checkASN(fmt.Sprintf("spec.loadBalancer.bgp.peers[%d].asn", i), p.ASN)...)
	}
	return problems
}

func checkPeers(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	bgp := node.BGP()
	if bgp == nil {
		return nil
	}
	var problems []Problem
	seen := map[netip.Addr]int{}
	for i := range bgp.Peers {
		p := &bgp.Peers[i]
		field := fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i)
		addr, ok := p.ParsedAddress()
		switch {
		case !ok:
			problems = append(problems, Errorf(field+".address", stellarv1.ReasonInvalidBGP, fmt.Sprintf("%q is not an IP address", p.Address)))
		case Announceable(addr) != nil:
			problems = append(problems, Errorf(field+".address", stellarv1.ReasonInvalidBGP, Announceable(addr).Error()+": no BGP router can have it"))
		default:
			if first, dup := seen[addr]; dup {
				problems = append(problems, Errorf(field+".address", stellarv1.ReasonInvalidBGP,
					fmt.Sprintf("router %s is already peers[%d]: MetalLB peers with a router once", addr, first)))
			}
			seen[addr] = i
		}
		hold := p.EffectiveHoldTime()
		if hold != 0 && hold < 3 {
			problems = append(problems, Errorf(field+".holdTime", stellarv1.ReasonInvalidBGP, "holdTime must be 0 or at least 3 seconds"))
		}
		if p.KeepaliveTime != nil && *p.KeepaliveTime > hold {
			problems = append(problems, Errorf(field+".keepaliveTime", stellarv1.ReasonInvalidBGP,
				fmt.Sprintf("keepaliveTime %d s exceeds holdTime %d s", *p.KeepaliveTime, hold)))
		}
		if p.EBGPMultiHop && bgp.IBGP(p) {
			problems = append(problems, Errorf(field+".ebgpMultiHop", stellarv1.ReasonEBGPMultiHopOnIBGP,
				fmt.Sprintf("peer %s is iBGP (asn %d equals localASN): ebgpMultiHop applies to eBGP sessions only", p.Address, p.ASN)))
		}
	}
	return problems
}

var (
	communityPattern      = regexp.MustCompile(`^[0-9]{1,5}:[0-9]{1,5}$`)
	largeCommunityPattern = regexp.MustCompile(`^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$`)
)

// WellKnownCommunity reports whether c is a well-known community name the API accepts.
func WellKnownCommunity(c string) bool {
	switch c {
	case "no-export", "no-advertise", "local-as", "no-peer", "blackhole", "graceful-shutdown", "accept-own":
		return true
	}
	return false
}

func checkCommunities(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	bgp := node.BGP()
	if bgp == nil {
		return nil
	}
	var problems []Problem
	for i, c := range bgp.Communities {
		if !WellKnownCommunity(c) && !validParts(c, communityPattern, 65535) {
			problems = append(problems, Errorf(fmt.Sprintf("spec.loadBalancer.bgp.communities[%d]", i), stellarv1.ReasonInvalidBGP,
				fmt.Sprintf("%q is not A:B with 16-bit parts nor a well-known community", c)))
		}
	}
	for i, c := range bgp.LargeCommunities {
		if !validParts(c, largeCommunityPattern, 4294967295) {
			problems = append(problems, Errorf(fmt.Sprintf("spec.loadBalancer.bgp.largeCommunities[%d]", i), stellarv1.ReasonInvalidBGP,
				fmt.Sprintf("%q is not G:L1:L2 with 32-bit parts", c)))
		}
	}
	return problems
}

func validParts(c string, pattern *regexp.Regexp, max uint64) bool {
	if !pattern.MatchString(c) {
		return false
	}
	for _, part := range strings.Split(c, ":") {
		if n, err := strconv.ParseUint(part, 10, 64); err != nil || n > max {
			return false
		}
	}
	return true
}

func checkLocalPrefOverEBGP(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	bgp := node.BGP()
	if bgp == nil || bgp.EffectiveLocalPref() == nil {
		return nil
	}
	var ebgp []string
	for i := range bgp.Peers {
		if !bgp.IBGP(&bgp.Peers[i]) {
			ebgp = append(ebgp, bgp.Peers[i].Address)
		}
	}
	if len(ebgp) == 0 {
		return nil
	}
	return []Problem{Warnf("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefOverEBGP,
		fmt.Sprintf("LOCAL_PREF is not sent to eBGP peers (%s: asn differs from localASN %d); to steer them use communities the router maps to local-pref (globalDiscovery.priority does this), or AS-path prepending",
			strings.Join(ebgp, ", "), bgp.LocalASN))}
}

func checkNodeSelectors(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	bgp := node.BGP()
	if bgp == nil {
		return nil
	}
	var problems []Problem
	seen := map[string]int{}
	for i, sel := range bgp.EffectiveNodeSelectors() {
		field := fmt.Sprintf("spec.loadBalancer.bgp.advertisement.nodeSelectors[%d]", i)
		if err := CheckSelector(sel); err != nil {
			problems = append(problems, Errorf(field, stellarv1.ReasonInvalidBGP, err.Error()))
			continue
		}
		key := metav1.FormatLabelSelector(&sel)
		if first, dup := seen[key]; dup {
			problems = append(problems, Errorf(field, stellarv1.ReasonInvalidBGP, fmt.Sprintf("repeats nodeSelectors[%d]: MetalLB refuses duplicate selectors", first)))
		}
		seen[key] = i
	}
	return problems
}

// CheckSelector validates a label selector as MetalLB and the apiserver read it: known operators,
// values only with In and NotIn (and at least one there), valid keys and values, no duplicates.
func CheckSelector(sel metav1.LabelSelector) error {
	if _, err := metav1.LabelSelectorAsSelector(&sel); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, req := range sel.MatchExpressions {
		key := req.String()
		if seen[key] {
			return fmt.Errorf("match expression %s is repeated", key)
		}
		seen[key] = true
		values := map[string]bool{}
		for _, v := range req.Values {
			if values[v] {
				return fmt.Errorf("value %q is repeated in the expression on %s", v, req.Key)
			}
			values[v] = true
		}
	}
	return nil
}

func checkBFDProfileName(node *stellarv1.StellarNode, _ LoadBalancerOptions) []Problem {
	bgp := node.BGP()
	if bgp == nil || bgp.BFDProfile == "" || len(validation.IsDNS1123Label(bgp.BFDProfile)) == 0 {
		return nil
	}
	return []Problem{Errorf("spec.loadBalancer.bgp.bfdProfile", stellarv1.ReasonInvalidSpec, fmt.Sprintf("%q is not a valid BFDProfile name", bgp.BFDProfile))}
}

func checkNativeIPv6(node *stellarv1.StellarNode, opts LoadBalancerOptions) []Problem {
	addr, ok := node.Spec.LoadBalancer.Address()
	if !opts.NativeBGP || node.BGP() == nil || !ok || !addr.Is6() {
		return nil
	}
	// A BGP advertisement of an IPv6 pool makes a native speaker refuse its whole configuration.
	return []Problem{Errorf("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonUnsupportedByMetalLB,
		"MetalLB's native BGP mode cannot advertise IPv6 prefixes (it would refuse its whole configuration): use an FRR mode or an IPv4 address")}
}
